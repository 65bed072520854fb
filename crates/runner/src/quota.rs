//! The hourly log quota (`log_quota_hour`): bytes of job output allowed per hour, counted in
//! one-hour windows from the moment the job was submitted.

use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuota {
    limit: u64,
    window: u64,
    used: u64,
}

impl LogQuota {
    /// `None` for no quota (`null` or 0).
    pub fn new(limit: Option<u64>) -> Option<Self> {
        limit.filter(|limit| *limit > 0).map(|limit| Self {
            limit,
            window: 0,
            used: 0,
        })
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Counts `bytes` written `since_submit` after the submit; false when they would go over
    /// the quota of their hour, and then they are not counted.
    pub fn admit(&mut self, bytes: usize, since_submit: Duration) -> bool {
        let window = since_submit.as_secs() / HOUR.as_secs();
        if window != self.window {
            self.window = window;
            self.used = 0;
        }
        let used = self
            .used
            .saturating_add(u64::try_from(bytes).unwrap_or(u64::MAX));
        if used > self.limit {
            return false;
        }
        self.used = used;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_quota_for_null_or_zero() {
        assert_eq!(LogQuota::new(None), None);
        assert_eq!(LogQuota::new(Some(0)), None);
    }

    #[test]
    fn output_over_the_quota_of_an_hour_is_refused_and_the_next_hour_starts_afresh() {
        let mut quota = LogQuota::new(Some(100)).unwrap();
        let minute = Duration::from_secs(60);
        assert!(quota.admit(60, minute));
        assert!(quota.admit(40, minute * 2));
        assert!(!quota.admit(1, minute * 59));
        assert!(quota.admit(100, minute * 61));
        assert!(!quota.admit(101, minute * 130));
    }
}

//! `HealthStatus`: an instance's last DCGM health verdict.

use super::wire_enum::wire_enum;

wire_enum! {
    /// The health of an instance; a `failure` instance gets no new jobs.
    pub enum HealthStatus {
        /// No problem found.
        Healthy = "healthy",
        /// A problem that does not block new jobs.
        Warning = "warning",
        /// A problem that keeps new jobs away.
        Failure = "failure",
    }
}

impl HealthStatus {
    /// Whether an instance in this health may take new jobs.
    pub const fn accepts_jobs(self) -> bool {
        !matches!(self, Self::Failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::test_support::assert_members;

    #[test]
    fn only_failure_keeps_jobs_away() {
        assert_members(
            HealthStatus::ALL,
            &[HealthStatus::Healthy, HealthStatus::Warning],
            HealthStatus::accepts_jobs,
        );
    }
}

//! Scheduled runs (`schedule.cron`): when a run fires next. A scheduled run waits in
//! `pending` until then; each time it fires it gets new job submissions, and when they end
//! (unless the user stopped it) it waits for the next time.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;

use crate::db::to_micros;
use crate::services::ServiceError;

/// The first time after `after` that any of the crontab `lines` (UTC) fires, in microseconds;
/// `None` for a run without a schedule.
pub fn next_trigger(lines: &[String], after: DateTime<Utc>) -> Result<Option<i64>, ServiceError> {
    let mut next: Option<DateTime<Utc>> = None;
    for line in lines {
        let cron = Cron::from_str(line).map_err(|error| {
            ServiceError::Invalid(format!("schedule.cron {line:?} is invalid: {error}"))
        })?;
        let fires = cron.find_next_occurrence(&after, false).map_err(|error| {
            ServiceError::Invalid(format!("schedule.cron {line:?} never fires: {error}"))
        })?;
        next = Some(next.map_or(fires, |earliest| earliest.min(fires)));
    }
    Ok(next.map(to_micros))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_earliest_line_wins_and_times_are_utc() {
        let after = Utc.with_ymd_and_hms(2026, 11, 23, 10, 7, 30).unwrap();
        let lines = ["0 12 * * *".to_owned(), "*/15 * * * *".to_owned()];
        let next = next_trigger(&lines, after).unwrap().unwrap();
        let expected = Utc.with_ymd_and_hms(2026, 11, 23, 10, 15, 0).unwrap();
        assert_eq!(next, to_micros(expected));
        assert_eq!(next_trigger(&[], after).unwrap(), None);
    }

    #[test]
    fn a_bad_line_is_named() {
        let error = next_trigger(&["61 * * * *".to_owned()], Utc::now()).unwrap_err();
        assert!(error.to_string().contains("61 * * * *"), "{error}");
    }
}

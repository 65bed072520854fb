//! `--since T` of `logs` and `event`: a duration ago (`90`, `10s`, `5m`, `2h`, `1d`, `1w`) or
//! an RFC 3339 time with an offset (`2023-09-24T15:30:00Z`), as dstack accepts it.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

/// Why a `--since` value was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SinceError {
    /// A date or time without an offset: which zone it means is a guess.
    #[error("Timestamp {0} is not offset-aware. Specify timezone, e.g. 2023-09-24T15:30:00Z")]
    NoOffset(String),
    /// Neither a duration nor a time.
    #[error("Invalid datetime format: {0}. Use a duration (10s, 5m, 1d) or an RFC 3339 time")]
    Invalid(String),
}

/// The instant `given` names, durations counted back from `now`.
pub fn parse_since(given: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, SinceError> {
    if let Ok(duration) = dstack_core::duration::Duration::parse(given) {
        return Ok(now - TimeDelta::seconds(duration.as_secs()));
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(given) {
        return Ok(time.with_timezone(&Utc));
    }
    if is_naive(given) {
        return Err(SinceError::NoOffset(given.to_owned()));
    }
    Err(SinceError::Invalid(given.to_owned()))
}

/// Whether `given` is a date, or a date and time, without an offset.
fn is_naive(given: &str) -> bool {
    let times = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ];
    NaiveDate::parse_from_str(given, "%Y-%m-%d").is_ok()
        || times
            .iter()
            .any(|format| NaiveDateTime::parse_from_str(given, format).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("a time")
            .with_timezone(&Utc)
    }

    #[test]
    fn durations_count_back_from_now() {
        let now = at("2026-01-10T12:00:00Z");
        for (given, expected) in [
            ("30", "2026-01-10T11:59:30Z"),
            ("10s", "2026-01-10T11:59:50Z"),
            ("30m", "2026-01-10T11:30:00Z"),
            ("1h", "2026-01-10T11:00:00Z"),
            ("2d", "2026-01-08T12:00:00Z"),
            ("1w", "2026-01-03T12:00:00Z"),
        ] {
            assert_eq!(parse_since(given, now), Ok(at(expected)), "{given}");
        }
    }

    #[test]
    fn times_need_an_offset() {
        let now = Utc::now();
        assert_eq!(
            parse_since("2023-09-24T15:30:00+02:00", now),
            Ok(at("2023-09-24T13:30:00Z"))
        );
        assert_eq!(
            parse_since("2023-09-24T15:30:00.5Z", now),
            Ok(at("2023-09-24T15:30:00.5Z"))
        );
        for naive in ["2023-09-24", "2023-09-24T15:30:00", "2023-09-24 15:30:00"] {
            assert_eq!(
                parse_since(naive, now),
                Err(SinceError::NoOffset(naive.to_owned()))
            );
        }
        for invalid in ["5x", "yesterday", "1h30m", ""] {
            assert_eq!(
                parse_since(invalid, now),
                Err(SinceError::Invalid(invalid.to_owned()))
            );
        }
    }
}

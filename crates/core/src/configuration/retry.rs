//! `retry:` (spec §3): `true`/`false`, or `{on_events, duration}`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::forms::{FormError, Forms, impl_deserialize_forms, impl_schema_forms};
use crate::duration::Duration;
pub use crate::status::RetryEvent;

/// The object form of `retry`: unset fields mean every event, for one hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRetry {
    /// The events to retry on; all of them when unset.
    #[serde(default)]
    pub on_events: Option<Vec<RetryEvent>>,
    /// How long to keep retrying; one hour when unset.
    #[serde(default)]
    pub duration: Option<Duration>,
}

/// `retry` as written: a switch or a policy. dstack sends back the form it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Retry {
    /// `true`: every event for one hour; `false`: no retry.
    Enabled(bool),
    /// An explicit policy.
    Policy(ProfileRetry),
}

impl Forms for Retry {
    type Object = ProfileRetry;
    const EXPECTING: &'static str = "`true`, `false` or {on_events, duration}";

    fn from_object(policy: ProfileRetry) -> Result<Self, String> {
        if policy.on_events.as_ref().is_some_and(Vec::is_empty) {
            return Err("`on_events` cannot be empty".into());
        }
        if policy
            .duration
            .is_some_and(|duration| duration.as_secs() < 0)
        {
            return Err("retry `duration` cannot be negative".into());
        }
        Ok(Self::Policy(policy))
    }

    fn from_bool(value: bool) -> Result<Self, FormError> {
        Ok(Self::Enabled(value))
    }
}
impl_deserialize_forms!(Retry);
impl_schema_forms!(Retry, "Retry", [{"type": "boolean"}]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_written_form() {
        for json in ["true", r#"{"on_events":["no-capacity"],"duration":3600}"#] {
            let retry: Retry = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&retry).unwrap(), json);
        }
    }

    #[test]
    fn rejects_empty_events_and_unknown_events() {
        assert!(serde_json::from_str::<Retry>(r#"{"on_events":[]}"#).is_err());
        assert!(serde_json::from_str::<Retry>(r#"{"on_events":["oom"]}"#).is_err());
        assert!(serde_json::from_str::<Retry>("3").is_err());
    }
}

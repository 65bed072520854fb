//! `GET /api/pull?timestamp=T`: the job states and log events newer than `T`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use dstack_core::status::{JobStatus, JobTerminationReason};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Everything the runner recorded after the asked-for timestamp.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponse {
    pub job_states: Vec<JobStateEvent>,
    /// The job's output.
    pub job_logs: Vec<LogEvent>,
    /// The runner's own messages about the job.
    pub runner_logs: Vec<LogEvent>,
    /// The latest timestamp the runner issued; pass it back as the next `timestamp`.
    pub last_updated: i64,
    /// Seconds since the last SSH connection into the container ended.
    pub no_connections_secs: i64,
    /// False once the job has ended and everything has been pulled.
    pub has_more: bool,
}

/// A change of the job's state. The runner sends `running`, `done`, `failed` and
/// `terminated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStateEvent {
    pub state: JobStatus,
    pub timestamp: i64,
    /// Travels as `""` when there is none.
    #[serde(with = "empty_as_none")]
    pub termination_reason: Option<JobTerminationReason>,
    #[serde(default)]
    pub termination_message: String,
    /// The commands' exit code, `-1` when a signal killed them; `null` when they did not run.
    #[serde(default)]
    pub exit_status: Option<i32>,
}

/// A piece of output, as the bytes were read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEvent {
    /// Travels as base64.
    #[serde(with = "base64_bytes")]
    pub message: Vec<u8>,
    pub timestamp: i64,
}

mod base64_bytes {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

mod empty_as_none {
    use super::*;

    pub fn serialize<S: Serializer>(
        reason: &Option<JobTerminationReason>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(reason.map_or("", JobTerminationReason::as_str))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<JobTerminationReason>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
        match text.as_str() {
            "" => Ok(None),
            text => text.parse().map(Some).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pull_response_matches_the_recorded_shape() {
        let wire = json!({
            "job_states": [{"state": "running", "timestamp": 1718000000001_i64,
                            "termination_reason": "", "termination_message": "",
                            "exit_status": null},
                           {"state": "failed", "timestamp": 1718000000003_i64,
                            "termination_reason": "container_exited_with_error",
                            "termination_message": "exit code 3", "exit_status": 3}],
            "job_logs": [{"message": "aGVsbG8K", "timestamp": 1718000000002_i64}],
            "runner_logs": [],
            "last_updated": 1718000000003_i64, "no_connections_secs": 0, "has_more": true
        });
        let response: PullResponse = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(response.job_logs[0].message, b"hello\n");
        assert_eq!(response.job_states[0].termination_reason, None);
        assert_eq!(
            response.job_states[1].termination_reason,
            Some(JobTerminationReason::ContainerExitedWithError)
        );
        assert_eq!(serde_json::to_value(&response).unwrap(), wire);
    }

    #[test]
    fn unknown_reason_and_bad_base64_are_refused() {
        let state = json!({"state": "failed", "timestamp": 1, "termination_reason": "oops",
                           "termination_message": "", "exit_status": null});
        assert!(serde_json::from_value::<JobStateEvent>(state).is_err());
        let log = json!({"message": "not base64!", "timestamp": 1});
        assert!(serde_json::from_value::<LogEvent>(log).is_err());
    }
}

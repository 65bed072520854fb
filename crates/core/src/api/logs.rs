//! Job logs: `/api/project/{p}/logs/poll`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::{Limit, Uuid4, null_as_default, utc};

/// `logs/poll` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollLogsRequest {
    /// The run.
    pub run_name: String,
    /// The job submission.
    pub job_submission_id: Uuid4,
    /// Only events after this time (exclusive).
    #[serde(with = "utc::option", default)]
    pub start_time: Option<DateTime<Utc>>,
    /// Only events up to this time.
    #[serde(with = "utc::option", default)]
    pub end_time: Option<DateTime<Utc>>,
    /// Newest first.
    #[serde(default, deserialize_with = "null_as_default")]
    pub descending: bool,
    /// Where the previous poll stopped.
    #[serde(default)]
    pub next_token: Option<String>,
    /// At most this many events, 0 to 1000.
    #[serde(default, deserialize_with = "null_as_default")]
    pub limit: Limit<100>,
    /// The runner's own logs instead of the job's output.
    #[serde(default, deserialize_with = "null_as_default")]
    pub diagnose: bool,
}

/// Which stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogEventSource {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One chunk of log output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEvent {
    /// When it was written.
    #[serde(with = "utc")]
    pub timestamp: DateTime<Utc>,
    /// The stream.
    pub log_source: LogEventSource,
    /// The raw bytes, base64-encoded.
    pub message: String,
}

/// `logs/poll` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSubmissionLogs {
    /// The events.
    pub logs: Vec<LogEvent>,
    /// A link to an external log viewer.
    #[serde(default)]
    pub external_url: Option<String>,
    /// Where to continue; `null` when there is nothing more right now.
    #[serde(default)]
    pub next_token: Option<String>,
}

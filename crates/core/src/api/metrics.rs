//! Job metrics: `GET /api/project/{p}/metrics/job/{run_name}`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::common::utc;

/// The query string of the metrics request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMetricsQuery {
    /// The run id, to pick a deleted run.
    #[serde(default)]
    pub run_id: Option<Uuid>,
    /// The replica.
    #[serde(default)]
    pub replica_num: u32,
    /// The job within the replica.
    #[serde(default)]
    pub job_num: u32,
    /// At most this many samples per metric.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Only samples after this time.
    #[serde(with = "utc::option", default)]
    pub after: Option<DateTime<Utc>>,
    /// Only samples before this time.
    #[serde(with = "utc::option", default)]
    pub before: Option<DateTime<Utc>>,
}

/// One metric's samples, latest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// The metric name, e.g. `cpu_usage_percent`.
    pub name: String,
    /// When each sample was taken.
    #[serde(with = "utc::list")]
    pub timestamps: Vec<DateTime<Utc>>,
    /// The samples, integers or floats by metric.
    pub values: Vec<Value>,
}

/// The metrics response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobMetrics {
    /// One entry per metric; empty when there are no samples.
    pub metrics: Vec<Metric>,
}

//! Small runner responses: healthcheck, job info and metrics.

use serde::{Deserialize, Serialize};

/// `GET /api/healthcheck`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Healthcheck {
    /// Always `dstack-runner`.
    pub service: String,
    /// The runner's version; a non-release version enables every server feature.
    pub version: String,
}

/// What `POST /api/run` answers once the job's user and working directory are known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobInfo {
    /// The job's working directory inside the container.
    pub working_dir: String,
    /// The job user's name; empty for a uid without a passwd entry.
    pub username: String,
}

/// `GET /api/metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemMetrics {
    /// Wall clock when sampled, in microseconds since the epoch.
    pub timestamp_micro: i64,
    /// CPU time used by the container, in microseconds.
    pub cpu_usage_micro: u64,
    pub memory_usage_bytes: u64,
    /// Usage minus inactive file cache.
    pub memory_working_set_bytes: u64,
    /// One entry per GPU; empty without GPUs or when the GPU tool failed.
    pub gpus: Vec<GpuMetrics>,
}

/// One GPU's entry in [`SystemMetrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuMetrics {
    pub gpu_memory_usage_bytes: u64,
    pub gpu_util_percent: u32,
}

//! The dstack-runner HTTP API (agents.md §3): its wire types and a typed client.
//!
//! - [`submit`]: the `POST /api/submit` body ([`SubmitBody`]).
//! - [`pull`]: the `GET /api/pull` response: job states and log events ([`PullResponse`]).
//! - [`info`]: healthcheck, the job info `POST /api/run` answers, and `GET /api/metrics`.
//! - [`client`]: [`RunnerClient`], one method per endpoint.

pub mod client;
pub mod info;
pub mod pull;
pub mod submit;

pub use client::{RunnerClient, RunnerClientError};
pub use info::{GpuMetrics, Healthcheck, JobInfo, SystemMetrics};
pub use pull::{JobStateEvent, LogEvent, PullResponse};
pub use submit::{
    ClusterInfo, SubmitBody, SubmitJobSpec, SubmitRun, SubmitRunSpec, SubmitSubmission,
};

/// The port the runner listens on unless told otherwise.
pub const DEFAULT_HTTP_PORT: u16 = 10999;

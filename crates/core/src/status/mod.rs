//! Statuses of every resource, termination reasons, and the rules that connect them.
//!
//! - [`RunStatus`], [`RunTerminationReason`] (`run`): run states and why a run ends.
//! - [`JobStatus`], [`JobTerminationReason`] (`job`): job states, why a job ends, its retry
//!   event and message.
//! - [`InstanceStatus`], [`InstanceTerminationReason`] (`instance`), [`HealthStatus`]
//!   (`health`).
//! - [`FleetStatus`], [`VolumeStatus`], [`GatewayStatus`], [`GatewayReplicaStatus`].
//! - [`RetryEvent`] (`retry`): the failure classes of a retry policy.
//! - [`Transitions`], [`IncorrectStatus`] (`transition`): allowed status changes.
//! - [`decide_active_run`] (`active_run`): an active run's next status from its jobs.
//! - [`UnknownValue`]: a string that is no value of the enum it was parsed as.

mod wire_enum;

mod active_run;
mod fleet;
mod gateway;
mod health;
mod instance;
mod job;
mod retry;
mod run;
mod transition;
mod volume;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod wire_tests;

pub use active_run::{
    ActiveRun, ActiveRunDecision, LatestJob, RetryPolicy, RunStep, decide_active_run,
};
pub use fleet::FleetStatus;
pub use gateway::{GatewayReplicaStatus, GatewayStatus};
pub use health::HealthStatus;
pub use instance::{InstanceStatus, InstanceTerminationReason};
pub use job::{JobStatus, JobTerminationReason};
pub use retry::RetryEvent;
pub use run::{RunStatus, RunTerminationReason};
pub use transition::{IncorrectStatus, Transitions};
pub use volume::VolumeStatus;
pub use wire_enum::UnknownValue;

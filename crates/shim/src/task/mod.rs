//! Tasks: what the shim knows about each container it runs.
//!
//! - [`Task`]: one task's configuration and current state.
//! - [`TaskStore`] (`store`): every task, with the status rules applied on each change.
//! - [`container_name`] (`name`): the container's unique, stable name.

mod name;
mod store;

use std::sync::Arc;

use dstack_agents::shim::{
    ImagePullProgress, PortMapping, TaskInfoResponse, TaskStatus, TaskSubmitRequest,
};
use dstack_core::status::JobTerminationReason;
use tokio_util::sync::CancellationToken;

pub use name::container_name;
pub use store::{TaskStore, TaskStoreError};

/// Why a task ended: the reason the server sees and a message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    pub reason: Option<JobTerminationReason>,
    pub message: String,
}

impl Termination {
    /// A termination with a reason and its message.
    pub fn new(reason: JobTerminationReason, message: impl Into<String>) -> Self {
        Self {
            reason: Some(reason),
            message: message.into(),
        }
    }
}

/// One task: what was submitted and where it is now.
#[derive(Debug, Clone)]
pub struct Task {
    pub config: TaskSubmitRequest,
    pub status: TaskStatus,
    pub termination: Option<Termination>,
    /// Set by a terminate request before the container is stopped, so that the exit the stop
    /// causes is reported with the server's reason rather than as a crash.
    pub requested_termination: Option<Termination>,
    pub ports: Option<Vec<PortMapping>>,
    pub image_pull_progress: Option<ImagePullProgress>,
    pub container_name: String,
    pub container_id: String,
    pub gpu_ids: Vec<String>,
    /// Fired by a terminate request: stops the task's pipeline where it waits.
    pub cancel: CancellationToken,
    /// Held by terminate and remove, so that two of them on one task run one after the other.
    pub operation: Arc<tokio::sync::Mutex<()>>,
}

impl Task {
    /// A new, pending task for a submitted configuration.
    pub fn new(config: TaskSubmitRequest) -> Self {
        let container_name = container_name(&config.name, &config.id);
        Self {
            config,
            status: TaskStatus::Pending,
            termination: None,
            requested_termination: None,
            ports: None,
            image_pull_progress: None,
            container_name,
            container_id: String::new(),
            gpu_ids: Vec::new(),
            cancel: CancellationToken::new(),
            operation: Arc::default(),
        }
    }

    /// The task as `GET /api/tasks/{id}` shows it.
    pub fn info(&self) -> TaskInfoResponse {
        let (termination_reason, termination_message) = self
            .termination
            .clone()
            .map_or((None, String::new()), |t| (t.reason, t.message));
        TaskInfoResponse {
            id: self.config.id.clone(),
            status: self.status,
            termination_reason,
            termination_message,
            ports: self.ports.clone(),
            image_pull_progress: self.image_pull_progress,
            container_name: self.container_name.clone(),
            container_id: self.container_id.clone(),
            gpus_ids: self.gpu_ids.clone(),
        }
    }
}

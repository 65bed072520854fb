//! The terminating-jobs pipeline (lifecycle.md §4.5): stops the job's container through the
//! shim (gracefully, unless aborted), gives the instance's block back, and gives the job its
//! final status from its termination reason.

use std::time::Duration;

use chrono::Utc;
use dstack_agents::shim::TaskTerminateRequest;
use dstack_core::status::{JobStatus, JobTerminationReason};

use super::context::Scheduler;
use super::hints::Kind;
use super::jobs::{self, load, release};
use super::lease::{self, Claimed, Table};
use super::worker::Reconciler;
use crate::db::instances as instance_rows;
use crate::db::jobs::JobRow;
use crate::db::{scheduling, to_micros};
use crate::services::ServiceError;

/// Every terminating job, at once.
pub const TABLE: Table = Table {
    name: "jobs",
    eligible: "status = 'terminating'",
    order: "last_processed_at ASC",
};

/// How long the job's processes get to exit on a stop before they are killed.
const GRACEFUL_STOP: Duration = Duration::from_secs(10);

/// Stops and releases terminating jobs.
pub struct TerminatingJobs(pub Scheduler);

impl Reconciler for TerminatingJobs {
    async fn process(&self, claimed: Claimed) {
        if let Err(error) = self.finish(claimed).await {
            jobs::log_failure("terminating jobs", claimed, &error);
        }
    }
}

impl TerminatingJobs {
    async fn finish(&self, claimed: Claimed) -> Result<(), ServiceError> {
        let db = &self.0.db;
        let Some((job, run)) = load(db, claimed).await? else {
            return release(db, &TABLE, claimed).await;
        };
        if job.status != JobStatus::Terminating {
            return release(db, &TABLE, claimed).await;
        }
        let reason = job
            .termination_reason
            .unwrap_or(JobTerminationReason::TerminatedByServer);
        if let Some(instance_id) = &job.instance_id {
            self.stop_task(&job, instance_id, reason).await?;
        }
        let mut tx = db.pool().begin().await?;
        if !lease::finish(&mut *tx, &TABLE, claimed).await? {
            return Ok(());
        }
        let message = job.termination_reason_message.as_deref();
        if !jobs::end(&mut tx, &job, &run, reason.to_status(), reason, message).await? {
            return Ok(());
        }
        if let Some(instance_id) = &job.instance_id {
            scheduling::release_block(&mut *tx, instance_id, to_micros(Utc::now())).await?;
        }
        tx.commit().await?;
        self.0.wake(&[Kind::Runs, Kind::Instances, Kind::Jobs]);
        Ok(())
    }

    /// Stops and removes the job's task; an instance that is gone or does not answer has
    /// nothing left to stop (its tasks go with it).
    async fn stop_task(
        &self,
        job: &JobRow,
        instance_id: &str,
        reason: JobTerminationReason,
    ) -> Result<(), ServiceError> {
        let Some(instance) = instance_rows::find_any(self.0.db.pool(), instance_id).await? else {
            return Ok(());
        };
        let Ok(shim) = self.0.shim(&instance) else {
            return Ok(());
        };
        let graceful = !matches!(
            reason,
            JobTerminationReason::AbortedByUser | JobTerminationReason::DoneByRunner
        );
        let request = TaskTerminateRequest {
            termination_reason: Some(reason),
            termination_message: job.termination_reason_message.clone().unwrap_or_default(),
            timeout: if graceful { GRACEFUL_STOP.as_secs() } else { 0 },
        };
        let task_id = job.id.to_string();
        if let Err(error) = shim.terminate_task(&task_id, &request).await {
            tracing::debug!(job = %job.job_name, "terminating the task: {error}");
        }
        if let Err(error) = shim.remove_task(&task_id).await {
            tracing::debug!(job = %job.job_name, "removing the task: {error}");
        }
        Ok(())
    }
}

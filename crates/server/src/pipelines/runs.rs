//! The runs pipeline (lifecycle.md §1.1, §5.1): derives an active run's status from the
//! latest submissions of its jobs, resubmits failed replicas under the retry policy, and
//! finishes terminating runs once their jobs have ended.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use dstack_core::api::common::Uuid4;
use dstack_core::api::jobs::JobSpec;
use dstack_core::status::{
    ActiveRun, JobStatus, LatestJob, RetryPolicy, RunStatus, RunStep, RunTerminationReason,
    decide_active_run,
};

use super::context::Scheduler;
use super::hints::Kind;
use super::jobs;
use super::lease::{self, Claimed, Table};
use super::worker::Reconciler;
use crate::db::jobs::{self as job_rows, JobRow, NewJob};
use crate::db::runs::{self as run_rows, RunRow};
use crate::db::{scheduling, to_micros};
use crate::services::ServiceError;
use crate::services::events::{self, status_changed, upper};
use crate::services::runs::job_specs;
use crate::services::runs::run_target;
use crate::services::runs::schedule::next_trigger;
use crate::services::runs::spec::scheduling as scheduling_of;

/// Unfinished runs whose jobs changed since the run was last looked at, and every unfinished
/// run once a second.
pub const TABLE: Table = Table {
    name: "runs",
    eligible: "deleted = 0 AND status NOT IN ('terminated', 'failed', 'done') \
               AND (last_processed_at <= $1 - 1000000 OR EXISTS (SELECT 1 FROM jobs j \
               WHERE j.run_id = runs.id AND j.last_processed_at > runs.last_processed_at))",
    order: "last_processed_at ASC",
};

/// The waits before resubmitting a run, by resubmission attempt (dstack's back-off).
const RETRY_BACKOFF: [Duration; 6] = [
    Duration::from_secs(15),
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(120),
    Duration::from_secs(300),
    Duration::from_secs(600),
];

/// Moves runs along with their jobs.
pub struct Runs(pub Scheduler);

impl Reconciler for Runs {
    async fn process(&self, claimed: Claimed) {
        if let Err(error) = self.advance(claimed).await {
            tracing::warn!(id = %claimed.id, "run pass failed, will retry: {error}");
        }
    }
}

impl Runs {
    async fn advance(&self, claimed: Claimed) -> Result<(), ServiceError> {
        let db = &self.0.db;
        let id = Uuid4::try_from(claimed.id)
            .map_err(|_| ServiceError::Invalid(format!("corrupt run id {}", claimed.id)))?;
        let run = run_rows::find_any(db.pool(), id).await?;
        let Some(run) = run.filter(|run| !run.status.is_finished()) else {
            lease::finish(db.pool(), &TABLE, claimed).await?;
            return Ok(());
        };
        let all = job_rows::list_for_runs(db.pool(), &[run.id]).await?;
        let latest = latest_submissions(&all);
        let mut tx = db.pool().begin().await?;
        if !lease::finish(&mut *tx, &TABLE, claimed).await? {
            return Ok(());
        }
        let now = to_micros(Utc::now());
        let changed = match run.status {
            RunStatus::Terminating => finish_terminating(&mut tx, &run, &latest, now).await?,
            RunStatus::Pending => resubmit_when_due(&mut tx, &run, &all, &latest, now).await?,
            _ => decide(&mut tx, &run, &all, &latest, now).await?,
        };
        tx.commit().await?;
        if changed {
            self.0.wake(&[Kind::Jobs, Kind::Runs]);
        }
        Ok(())
    }
}

/// The newest submission of every (replica, job).
fn latest_submissions(all: &[JobRow]) -> Vec<&JobRow> {
    let mut latest: BTreeMap<(i64, i64), &JobRow> = BTreeMap::new();
    for job in all {
        latest.insert((job.replica_num, job.job_num), job);
    }
    latest.into_values().collect()
}

/// Applies the active-run rules.
async fn decide(
    tx: &mut sqlx::AnyConnection,
    run: &RunRow,
    all: &[JobRow],
    latest: &[&JobRow],
    now: i64,
) -> Result<bool, ServiceError> {
    let spec: Option<JobSpec> = latest
        .first()
        .and_then(|job| serde_json::from_str(&job.job_spec).ok());
    let retry = spec.as_ref().and_then(|spec| spec.retry.as_ref());
    let on_events: Vec<_> = retry
        .map(|retry| retry.on_events.clone())
        .unwrap_or_default();
    let policy = retry.map(|retry| RetryPolicy {
        on_events: &on_events,
        duration: Duration::from_secs(retry.duration),
    });
    let stop_on_master_done = serde_json::from_str(&run.run_spec)
        .map(|spec| scheduling_of(&spec).stop_on_master_done)
        .unwrap_or(false);
    let views: Vec<LatestJob> = latest
        .iter()
        .map(|job| LatestJob {
            replica_num: u32::try_from(job.replica_num).unwrap_or_default(),
            job_num: u32::try_from(job.job_num).unwrap_or_default(),
            status: job.status,
            termination_reason: job.termination_reason,
            since_last_provisioned: all
                .iter()
                .filter(|row| {
                    row.replica_num == job.replica_num
                        && row.job_num == job.job_num
                        && row.instance_id.is_some()
                })
                .map(|row| elapsed(row.last_processed_at, now))
                .min(),
        })
        .collect();
    let decision = decide_active_run(&ActiveRun {
        jobs: &views,
        retry: policy,
        since_submitted: elapsed(run.next_triggered_at.unwrap_or(run.submitted_at), now),
        stop_on_master_done,
        gateway_failed: false,
    });
    let mut changed = false;
    if let RunStep::Active(_) = decision.step {
        for replica in &decision.replicas_to_retry {
            resubmit_replica(tx, run, latest, i64::from(*replica), now).await?;
            changed = true;
        }
    }
    let (status, reason) = match decision.step {
        RunStep::Active(status) => (status, None),
        RunStep::Terminate(reason) => (RunStatus::Terminating, Some(reason)),
        RunStep::Resubmit => (RunStatus::Pending, None),
    };
    if status != run.status {
        move_run(tx, run, status, reason, now).await?;
        if status == RunStatus::Pending {
            scheduling::set_resubmission_attempt(tx, run.id, run.resubmission_attempt + 1).await?;
        } else if status == RunStatus::Provisioning {
            scheduling::set_resubmission_attempt(tx, run.id, 0).await?;
        }
        changed = true;
    }
    Ok(changed)
}

/// Ends the run's unfinished jobs with the run's reason, then the run once they have ended.
async fn finish_terminating(
    tx: &mut sqlx::AnyConnection,
    run: &RunRow,
    latest: &[&JobRow],
    now: i64,
) -> Result<bool, ServiceError> {
    let reason = run
        .termination_reason
        .unwrap_or(RunTerminationReason::ServerError);
    let job_reason = reason.to_job_termination_reason();
    let mut changed = false;
    for job in latest.iter().filter(|job| !job.status.is_finished()) {
        if job.status != JobStatus::Terminating {
            changed |= jobs::end(tx, job, run, JobStatus::Terminating, job_reason, None).await?;
        }
    }
    if latest.iter().all(|job| job.status.is_finished()) {
        let by_user = matches!(
            reason,
            RunTerminationReason::StoppedByUser | RunTerminationReason::AbortedByUser
        );
        let schedule = jobs::parse_stored(&run.run_spec).map(|spec| scheduling_of(&spec).schedule);
        let next = match schedule {
            Ok(lines) if !by_user => next_trigger(&lines, Utc::now())?,
            _ => None,
        };
        if let Some(fires_at) = next {
            // A scheduled run waits for its next time.
            move_run(tx, run, RunStatus::Pending, None, now).await?;
            run_rows::set_next_trigger(&mut *tx, run.id, Some(fires_at)).await?;
            scheduling::set_resubmission_attempt(tx, run.id, 0).await?;
        } else {
            move_run(tx, run, reason.to_status(), Some(reason), now).await?;
        }
        changed = true;
    }
    Ok(changed)
}

/// Resubmits a pending run once its back-off has passed, or a scheduled run when it fires.
async fn resubmit_when_due(
    tx: &mut sqlx::AnyConnection,
    run: &RunRow,
    all: &[JobRow],
    latest: &[&JobRow],
    now: i64,
) -> Result<bool, ServiceError> {
    if latest.iter().any(|job| !job.status.is_finished()) {
        return Ok(false);
    }
    if let Some(fires_at) = run.next_triggered_at {
        if now < fires_at {
            return Ok(false);
        }
        if latest.is_empty() {
            submit_first_jobs(tx, run, now).await?;
        } else {
            for replica in replicas_of(latest) {
                resubmit_replica(tx, run, latest, replica, now).await?;
            }
        }
        move_run(tx, run, RunStatus::Submitted, None, now).await?;
        return Ok(true);
    }
    let last_change = all
        .iter()
        .map(|job| job.last_processed_at)
        .max()
        .unwrap_or(now);
    let attempt = usize::try_from(run.resubmission_attempt.max(1) - 1).unwrap_or(0);
    let wait = RETRY_BACKOFF[attempt.min(RETRY_BACKOFF.len() - 1)];
    if elapsed(last_change, now) < wait {
        return Ok(false);
    }
    for replica in replicas_of(latest) {
        resubmit_replica(tx, run, latest, replica, now).await?;
    }
    move_run(tx, run, RunStatus::Submitted, None, now).await?;
    Ok(true)
}

/// The replicas of the latest submissions, in order.
fn replicas_of(latest: &[&JobRow]) -> Vec<i64> {
    let mut replicas: Vec<i64> = latest.iter().map(|job| job.replica_num).collect();
    replicas.dedup();
    replicas
}

/// The jobs of a scheduled run's first firing, built from its spec.
async fn submit_first_jobs(
    tx: &mut sqlx::AnyConnection,
    run: &RunRow,
    now: i64,
) -> Result<(), ServiceError> {
    let spec = jobs::parse_stored(&run.run_spec)?;
    for job in job_specs::build(&spec, &run.run_name)? {
        let job_spec = serde_json::to_string(&job)
            .map_err(|error| ServiceError::Invalid(error.to_string()))?;
        job_rows::insert(
            &mut *tx,
            &NewJob {
                id: Uuid4::new_random(),
                project_id: run.project_id,
                run_id: run.id,
                run_name: &run.run_name,
                job_num: i64::from(job.job_num),
                job_name: &job.job_name,
                replica_num: i64::from(job.replica_num),
                submission_num: 0,
                deployment_num: run.deployment_num,
                submitted_at: now,
                job_spec: &job_spec,
            },
        )
        .await?;
    }
    Ok(())
}

/// Ends the replica's unfinished jobs and submits each of its jobs again.
async fn resubmit_replica(
    tx: &mut sqlx::AnyConnection,
    run: &RunRow,
    latest: &[&JobRow],
    replica: i64,
    now: i64,
) -> Result<(), ServiceError> {
    for job in latest.iter().filter(|job| job.replica_num == replica) {
        if !job.status.is_finished() && job.status != JobStatus::Terminating {
            jobs::end(
                tx,
                job,
                run,
                JobStatus::Terminating,
                dstack_core::status::JobTerminationReason::TerminatedByServer,
                Some("the replica is resubmitted"),
            )
            .await?;
        }
        let id = Uuid4::new_random();
        job_rows::insert(
            &mut *tx,
            &NewJob {
                id,
                project_id: run.project_id,
                run_id: run.id,
                run_name: &run.run_name,
                job_num: job.job_num,
                job_name: &job.job_name,
                replica_num: job.replica_num,
                submission_num: job.submission_num + 1,
                deployment_num: job.deployment_num,
                submitted_at: now,
                job_spec: &job.job_spec,
            },
        )
        .await?;
    }
    Ok(())
}

async fn move_run(
    tx: &mut sqlx::AnyConnection,
    run: &RunRow,
    status: RunStatus,
    reason: Option<RunTerminationReason>,
    now: i64,
) -> Result<(), ServiceError> {
    let reason = reason.or(run.termination_reason);
    if !run_rows::set_status(&mut *tx, run.id, run.status, status, reason, now).await? {
        return Ok(());
    }
    let mut message = status_changed("Run", run.status, status);
    if status == RunStatus::Terminating
        && let Some(reason) = reason
    {
        message = format!("{message}. Termination reason: {}", upper(reason));
    }
    events::record(tx, None, &message, &[run_target(run)]).await
}

fn elapsed(since_micros: i64, now: i64) -> Duration {
    Duration::from_micros(u64::try_from(now.saturating_sub(since_micros)).unwrap_or(0))
}

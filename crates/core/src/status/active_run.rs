//! How an active run's next status follows from the latest submissions of its jobs.
//!
//! Each replica first gets a verdict from its jobs: failed (with a run reason), needs a
//! retry, or the set of run statuses its jobs stand for. The run then takes the first that
//! applies, in this priority: a failed replica, a gateway failure, master-done, running,
//! provisioning, submitted, every replica done, and last pending (resubmit the whole run).

use std::collections::BTreeMap;
use std::time::Duration;

use super::job::{JobStatus, JobTerminationReason};
use super::retry::RetryEvent;
use super::run::{RunStatus, RunTerminationReason};

/// The retry policy of the run's jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy<'a> {
    /// The failure classes that are retried.
    pub on_events: &'a [RetryEvent],
    /// How long failures are retried before the run gives up.
    pub duration: Duration,
}

/// The latest submission of one job, as the run sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatestJob {
    /// The replica the job belongs to.
    pub replica_num: u32,
    /// The job's number within its replica; 0 is the master.
    pub job_num: u32,
    /// The submission's status.
    pub status: JobStatus,
    /// The submission's termination reason, if it has one.
    pub termination_reason: Option<JobTerminationReason>,
    /// Time since the newest submission of this job that got an instance was last processed;
    /// `None` when no submission of the job was ever provisioned.
    pub since_last_provisioned: Option<Duration>,
}

/// Everything the decision needs about an active run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveRun<'a> {
    /// The latest submission of every job of the run.
    pub jobs: &'a [LatestJob],
    /// The run's retry policy; `None` means failures are never retried.
    pub retry: Option<RetryPolicy<'a>>,
    /// Time since the run was submitted, or since its current trigger for a scheduled run.
    /// No-capacity retries of never-provisioned jobs count from there.
    pub since_submitted: Duration,
    /// Whether the run stops once its master job (job 0) is done (`stop_criteria: master-done`).
    pub stop_on_master_done: bool,
    /// Whether registering the service failed on every running gateway replica.
    pub gateway_failed: bool,
}

/// What the run should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveRunDecision {
    /// The run's next step.
    pub step: RunStep,
    /// Replicas whose jobs failed in a retryable way. While the run stays active they get new
    /// submissions at once and their unfinished siblings are terminated; when the run goes
    /// pending their unfinished jobs are terminated.
    pub replicas_to_retry: Vec<u32>,
}

/// The run's next status, and its termination reason when it terminates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStep {
    /// Stay active in `submitted`, `provisioning` or `running`.
    Active(RunStatus),
    /// Move to `terminating` with this reason.
    Terminate(RunTerminationReason),
    /// No replica is active and every failure is retryable: move to `pending` to resubmit.
    Resubmit,
}

impl RunStep {
    /// The status the run moves to.
    pub const fn status(self) -> RunStatus {
        match self {
            Self::Active(status) => status,
            Self::Terminate(_) => RunStatus::Terminating,
            Self::Resubmit => RunStatus::Pending,
        }
    }
}

/// Decides the next step of a run in `submitted`, `provisioning` or `running`.
pub fn decide_active_run(run: &ActiveRun<'_>) -> ActiveRunDecision {
    let mut replicas: BTreeMap<u32, Vec<&LatestJob>> = BTreeMap::new();
    for job in run.jobs {
        replicas.entry(job.replica_num).or_default().push(job);
    }

    let mut seen = Seen::default();
    let mut replicas_to_retry = Vec::new();
    for (replica_num, jobs) in replicas {
        match judge_replica(run, &jobs) {
            Replica::Failed(reason) => seen.failure(reason),
            Replica::Retry => replicas_to_retry.push(replica_num),
            Replica::Statuses(statuses) => seen.merge(statuses),
        }
    }

    let master_done = run.stop_on_master_done
        && run
            .jobs
            .iter()
            .any(|job| job.job_num == 0 && job.status == JobStatus::Done);

    let step = if let Some(reason) = seen.failure {
        RunStep::Terminate(reason)
    } else if run.gateway_failed {
        RunStep::Terminate(RunTerminationReason::GatewayError)
    } else if master_done {
        RunStep::Terminate(RunTerminationReason::AllJobsDone)
    } else if seen.running {
        RunStep::Active(RunStatus::Running)
    } else if seen.provisioning {
        RunStep::Active(RunStatus::Provisioning)
    } else if seen.submitted {
        RunStep::Active(RunStatus::Submitted)
    } else if seen.done && replicas_to_retry.is_empty() {
        RunStep::Terminate(RunTerminationReason::AllJobsDone)
    } else {
        RunStep::Resubmit
    };
    ActiveRunDecision {
        step,
        replicas_to_retry,
    }
}

/// The run statuses the contributing replicas stand for, and the strongest failure seen.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    failure: Option<RunTerminationReason>,
    running: bool,
    provisioning: bool,
    submitted: bool,
    done: bool,
}

impl Seen {
    /// `job_failed` wins over `retry_limit_exceeded`: a failure no retry could fix says more.
    fn failure(&mut self, reason: RunTerminationReason) {
        if self.failure != Some(RunTerminationReason::JobFailed) {
            self.failure = Some(reason);
        }
    }

    fn merge(&mut self, other: Seen) {
        self.running |= other.running;
        self.provisioning |= other.provisioning;
        self.submitted |= other.submitted;
        self.done |= other.done;
    }
}

enum Replica {
    Failed(RunTerminationReason),
    Retry,
    Statuses(Seen),
}

fn judge_replica(run: &ActiveRun<'_>, jobs: &[&LatestJob]) -> Replica {
    let mut seen = Seen::default();
    let mut needs_retry = false;
    for job in jobs {
        match judge_job(run, job) {
            Job::Done => seen.done = true,
            Job::ScaledDown => {}
            Job::Running => seen.running = true,
            Job::Provisioning => seen.provisioning = true,
            Job::Submitted => seen.submitted = true,
            Job::Retry => needs_retry = true,
            Job::Failed(reason) => seen.failure(reason),
        }
    }
    match seen.failure {
        Some(reason) => Replica::Failed(reason),
        None if needs_retry => Replica::Retry,
        None => Replica::Statuses(seen),
    }
}

enum Job {
    Done,
    ScaledDown,
    Running,
    Provisioning,
    Submitted,
    Retry,
    Failed(RunTerminationReason),
}

fn judge_job(run: &ActiveRun<'_>, job: &LatestJob) -> Job {
    let reason = job.termination_reason;
    if job.status == JobStatus::Done || reason == Some(JobTerminationReason::DoneByRunner) {
        return Job::Done;
    }
    if reason == Some(JobTerminationReason::ScaledDown) {
        return Job::ScaledDown;
    }
    match job.status {
        JobStatus::Running => Job::Running,
        JobStatus::Provisioning | JobStatus::Pulling => Job::Provisioning,
        JobStatus::Submitted => Job::Submitted,
        // Any other ending (failed, or stopped by a limit or the server) is judged by the retry
        // policy, so a job stopped by `max_duration` fails the run.
        JobStatus::Terminating
        | JobStatus::Terminated
        | JobStatus::Aborted
        | JobStatus::Failed
        | JobStatus::Done => match retry_elapsed(run, job) {
            None => Job::Failed(RunTerminationReason::JobFailed),
            Some((elapsed, limit)) if elapsed > limit => {
                Job::Failed(RunTerminationReason::RetryLimitExceeded)
            }
            Some(_) => Job::Retry,
        },
    }
}

/// How long this job's failure has been retried and for how long it may be, or `None` when the
/// policy does not cover it. A no-capacity failure of a job that never got an instance counts
/// from the run's submission; any covered failure after a provisioned submission counts from
/// that submission.
fn retry_elapsed(run: &ActiveRun<'_>, job: &LatestJob) -> Option<(Duration, Duration)> {
    let policy = run.retry?;
    let event = job.termination_reason?.to_retry_event()?;
    if !policy.on_events.contains(&event) {
        return None;
    }
    let elapsed = match (event, job.since_last_provisioned) {
        (_, Some(since_provisioned)) => since_provisioned,
        (RetryEvent::NoCapacity, None) => run.since_submitted,
        (RetryEvent::Interruption | RetryEvent::Error, None) => return None,
    };
    Some((elapsed, policy.duration))
}

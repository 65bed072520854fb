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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::status::Transitions;
    use JobStatus as J;
    use JobTerminationReason as R;
    use RunTerminationReason as Run;

    const HOUR: Duration = Duration::from_secs(3600);
    const ALL_EVENTS: &[RetryEvent] = RetryEvent::ALL;

    fn job(replica_num: u32, job_num: u32, status: JobStatus) -> LatestJob {
        LatestJob {
            replica_num,
            job_num,
            status,
            termination_reason: None,
            since_last_provisioned: None,
        }
    }

    fn ended(replica_num: u32, status: JobStatus, reason: JobTerminationReason) -> LatestJob {
        LatestJob {
            termination_reason: Some(reason),
            ..job(replica_num, 0, status)
        }
    }

    fn provisioned(mut latest: LatestJob, ago: Duration) -> LatestJob {
        latest.since_last_provisioned = Some(ago);
        latest
    }

    fn run(jobs: &[LatestJob]) -> ActiveRun<'_> {
        ActiveRun {
            jobs,
            retry: Some(RetryPolicy {
                on_events: ALL_EVENTS,
                duration: HOUR,
            }),
            since_submitted: Duration::from_secs(60),
            stop_on_master_done: false,
            gateway_failed: false,
        }
    }

    fn no_capacity(replica_num: u32) -> LatestJob {
        ended(replica_num, J::Failed, R::FailedToStartDueToNoCapacity)
    }

    struct Case {
        name: &'static str,
        jobs: Vec<LatestJob>,
        tweak: fn(&mut ActiveRun<'_>),
        step: RunStep,
        retry: &'static [u32],
    }

    fn keep(_: &mut ActiveRun<'_>) {}

    fn cases() -> Vec<Case> {
        let failed = ended(0, J::Failed, R::ContainerExitedWithError);
        vec![
            Case {
                name: "a non-retryable failure beats a gateway failure and a running replica",
                jobs: vec![failed, job(1, 0, J::Running)],
                tweak: |run| {
                    run.retry = None;
                    run.gateway_failed = true;
                },
                step: RunStep::Terminate(Run::JobFailed),
                retry: &[],
            },
            Case {
                name: "job_failed beats retry_limit_exceeded",
                jobs: vec![
                    provisioned(ended(0, J::Failed, R::InstanceUnreachable), 2 * HOUR),
                    ended(1, J::Terminated, R::MaxDurationExceeded),
                ],
                tweak: keep,
                step: RunStep::Terminate(Run::JobFailed),
                retry: &[],
            },
            Case {
                name: "a failure retried past the duration exceeds the retry limit",
                jobs: vec![provisioned(
                    ended(0, J::Failed, R::InstanceUnreachable),
                    2 * HOUR,
                )],
                tweak: keep,
                step: RunStep::Terminate(Run::RetryLimitExceeded),
                retry: &[],
            },
            Case {
                name: "a failed replica is not retried even if another of its jobs could be",
                jobs: vec![
                    ended(0, J::Failed, R::ExecutorError),
                    LatestJob {
                        job_num: 1,
                        ..no_capacity(0)
                    },
                ],
                tweak: keep,
                step: RunStep::Terminate(Run::JobFailed),
                retry: &[],
            },
            Case {
                name: "a gateway failure beats master-done and running",
                jobs: vec![job(0, 0, J::Done), job(0, 1, J::Running)],
                tweak: |run| {
                    run.gateway_failed = true;
                    run.stop_on_master_done = true;
                },
                step: RunStep::Terminate(Run::GatewayError),
                retry: &[],
            },
            Case {
                name: "master-done ends the run while workers still run",
                jobs: vec![job(0, 0, J::Done), job(0, 1, J::Running)],
                tweak: |run| run.stop_on_master_done = true,
                step: RunStep::Terminate(Run::AllJobsDone),
                retry: &[],
            },
            Case {
                name: "without master-done a running worker keeps the run running",
                jobs: vec![job(0, 0, J::Done), job(0, 1, J::Running)],
                tweak: keep,
                step: RunStep::Active(RunStatus::Running),
                retry: &[],
            },
            Case {
                name: "running beats provisioning and submitted",
                jobs: vec![
                    job(0, 0, J::Submitted),
                    job(1, 0, J::Pulling),
                    job(2, 0, J::Running),
                ],
                tweak: keep,
                step: RunStep::Active(RunStatus::Running),
                retry: &[],
            },
            Case {
                name: "pulling counts as provisioning",
                jobs: vec![job(0, 0, J::Submitted), job(1, 0, J::Pulling)],
                tweak: keep,
                step: RunStep::Active(RunStatus::Provisioning),
                retry: &[],
            },
            Case {
                name: "provisioning beats submitted",
                jobs: vec![job(0, 0, J::Submitted), job(1, 0, J::Provisioning)],
                tweak: keep,
                step: RunStep::Active(RunStatus::Provisioning),
                retry: &[],
            },
            Case {
                name: "submitted beats done",
                jobs: vec![job(0, 0, J::Submitted), job(1, 0, J::Done)],
                tweak: keep,
                step: RunStep::Active(RunStatus::Submitted),
                retry: &[],
            },
            Case {
                name: "all done, finishing done, or scaled down ends the run",
                jobs: vec![
                    job(0, 0, J::Done),
                    ended(1, J::Terminating, R::DoneByRunner),
                    ended(2, J::Terminated, R::ScaledDown),
                ],
                tweak: keep,
                step: RunStep::Terminate(Run::AllJobsDone),
                retry: &[],
            },
            Case {
                name: "a retry beside an active replica keeps the run active",
                jobs: vec![job(0, 0, J::Running), no_capacity(1)],
                tweak: keep,
                step: RunStep::Active(RunStatus::Running),
                retry: &[1],
            },
            Case {
                name: "a retry beside done replicas resubmits the run",
                jobs: vec![job(0, 0, J::Done), no_capacity(1)],
                tweak: keep,
                step: RunStep::Resubmit,
                retry: &[1],
            },
            Case {
                name: "a retrying replica hides its running sibling",
                jobs: vec![no_capacity(0), job(0, 1, J::Running)],
                tweak: keep,
                step: RunStep::Resubmit,
                retry: &[0],
            },
            Case {
                name: "a run with no jobs is resubmitted",
                jobs: vec![],
                tweak: keep,
                step: RunStep::Resubmit,
                retry: &[],
            },
            Case {
                name: "no retry policy fails the run",
                jobs: vec![no_capacity(0)],
                tweak: |run| run.retry = None,
                step: RunStep::Terminate(Run::JobFailed),
                retry: &[],
            },
            Case {
                name: "an event outside on_events fails the run",
                jobs: vec![provisioned(
                    ended(0, J::Failed, R::CreatingContainerError),
                    HOUR / 2,
                )],
                tweak: |run| {
                    run.retry = Some(RetryPolicy {
                        on_events: &[RetryEvent::NoCapacity, RetryEvent::Interruption],
                        duration: HOUR,
                    });
                },
                step: RunStep::Terminate(Run::JobFailed),
                retry: &[],
            },
            Case {
                name: "no capacity is retried from the run's submission until the duration",
                jobs: vec![no_capacity(0)],
                tweak: |run| run.since_submitted = 2 * HOUR,
                step: RunStep::Terminate(Run::RetryLimitExceeded),
                retry: &[],
            },
            Case {
                name: "no capacity after a provisioned submission counts from that submission",
                jobs: vec![provisioned(no_capacity(0), HOUR / 2)],
                tweak: |run| run.since_submitted = 2 * HOUR,
                step: RunStep::Resubmit,
                retry: &[0],
            },
            Case {
                name: "an error before anything was provisioned is not retried",
                jobs: vec![ended(0, J::Failed, R::VolumeError)],
                tweak: keep,
                step: RunStep::Terminate(Run::JobFailed),
                retry: &[],
            },
            Case {
                name: "an interruption within the duration is retried",
                jobs: vec![provisioned(
                    ended(0, J::Terminating, R::InterruptedByNoCapacity),
                    HOUR,
                )],
                tweak: keep,
                step: RunStep::Resubmit,
                retry: &[0],
            },
            Case {
                name: "a job stopped by max_duration fails the run",
                jobs: vec![provisioned(
                    ended(0, J::Terminated, R::MaxDurationExceeded),
                    HOUR / 2,
                )],
                tweak: keep,
                step: RunStep::Terminate(Run::JobFailed),
                retry: &[],
            },
            Case {
                name: "a job that ended without a reason fails the run",
                jobs: vec![provisioned(job(0, 0, J::Failed), HOUR / 2)],
                tweak: keep,
                step: RunStep::Terminate(Run::JobFailed),
                retry: &[],
            },
        ]
    }

    #[test]
    fn decisions_follow_the_priority_order() {
        for case in cases() {
            let mut input = run(&case.jobs);
            (case.tweak)(&mut input);
            let decision = decide_active_run(&input);
            assert_eq!(decision.step, case.step, "{}", case.name);
            assert_eq!(decision.replicas_to_retry, case.retry, "{}", case.name);
        }
    }

    #[test]
    fn step_status_matches_the_step() {
        assert_eq!(
            RunStep::Active(RunStatus::Running).status(),
            RunStatus::Running
        );
        assert_eq!(
            RunStep::Terminate(Run::JobFailed).status(),
            RunStatus::Terminating
        );
        assert_eq!(RunStep::Resubmit.status(), RunStatus::Pending);
    }

    fn any_job() -> impl Strategy<Value = LatestJob> {
        (
            0u32..3,
            0u32..3,
            proptest::sample::select(JobStatus::ALL),
            proptest::option::of(proptest::sample::select(JobTerminationReason::ALL)),
            proptest::option::of(0u64..7200),
        )
            .prop_map(|(replica_num, job_num, status, termination_reason, ago)| {
                LatestJob {
                    replica_num,
                    job_num,
                    status,
                    termination_reason,
                    since_last_provisioned: ago.map(Duration::from_secs),
                }
            })
    }

    proptest! {
        #[test]
        fn every_decision_is_an_allowed_move_from_an_active_run(
            jobs in proptest::collection::vec(any_job(), 0..8),
            gateway_failed: bool,
            stop_on_master_done: bool,
        ) {
            let mut input = run(&jobs);
            input.gateway_failed = gateway_failed;
            input.stop_on_master_done = stop_on_master_done;
            let decision = decide_active_run(&input);
            let next = decision.step.status();
            for from in [RunStatus::Submitted, RunStatus::Provisioning, RunStatus::Running] {
                prop_assert!(from == next || from.can_transition_to(next), "{from} -> {next}");
            }
            if let RunStep::Active(status) = decision.step {
                prop_assert!(!status.is_finished() && status != RunStatus::Terminating);
            }
            for replica in &decision.replicas_to_retry {
                prop_assert!(jobs.iter().any(|job| job.replica_num == *replica));
            }
        }
    }
}

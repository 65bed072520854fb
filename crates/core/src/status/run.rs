//! `RunStatus` and `RunTerminationReason`, with the run's allowed transitions and the mapping
//! of a run's reason to its final status and to the reason given to its still-active jobs.

use super::job::JobTerminationReason;
use super::transition::Transitions;
use super::wire_enum::wire_enum;

wire_enum! {
    /// The status of a run.
    pub enum RunStatus {
        /// Waiting for a retry back-off, a schedule, or a scale-up; the run has no active jobs.
        Pending = "pending",
        /// Its jobs wait for capacity.
        Submitted = "submitted",
        /// Some job has an instance and is being started.
        Provisioning = "provisioning",
        /// Some job is running.
        Running = "running",
        /// Its jobs are being stopped; the final status follows the termination reason.
        Terminating = "terminating",
        /// Stopped by a user.
        Terminated = "terminated",
        /// Ended by a failure.
        Failed = "failed",
        /// Every job finished successfully.
        Done = "done",
    }
}

impl RunStatus {
    /// Whether the run has reached a final status.
    pub const fn is_finished(self) -> bool {
        matches!(self, Self::Terminated | Self::Failed | Self::Done)
    }
}

impl Transitions for RunStatus {
    fn can_transition_to(self, next: Self) -> bool {
        use RunStatus::*;
        match self {
            Pending => matches!(next, Submitted | Terminating),
            Submitted | Provisioning | Running => {
                matches!(
                    next,
                    Submitted | Provisioning | Running | Pending | Terminating
                ) && next != self
            }
            // Scheduled runs go back to pending after each execution.
            Terminating => matches!(next, Terminated | Failed | Done | Pending),
            Terminated | Failed | Done => false,
        }
    }
}

wire_enum! {
    /// Why a run left its active statuses.
    pub enum RunTerminationReason {
        /// Every job that counts finished successfully.
        AllJobsDone = "all_jobs_done",
        /// A job failed and the retry policy does not cover it.
        JobFailed = "job_failed",
        /// A job kept failing past the retry duration.
        RetryLimitExceeded = "retry_limit_exceeded",
        /// A user stopped the run.
        StoppedByUser = "stopped_by_user",
        /// A user aborted the run.
        AbortedByUser = "aborted_by_user",
        /// The server failed while handling the run.
        ServerError = "server_error",
        /// The service could not be registered on a gateway.
        GatewayError = "gateway_error",
    }
}

impl RunTerminationReason {
    /// The status the run ends in once all its jobs are finished.
    pub const fn to_status(self) -> RunStatus {
        match self {
            Self::AllJobsDone => RunStatus::Done,
            Self::StoppedByUser | Self::AbortedByUser => RunStatus::Terminated,
            Self::JobFailed | Self::RetryLimitExceeded | Self::ServerError | Self::GatewayError => {
                RunStatus::Failed
            }
        }
    }

    /// The reason given to the run's jobs that are still active when the run terminates.
    pub const fn to_job_termination_reason(self) -> JobTerminationReason {
        match self {
            Self::AllJobsDone => JobTerminationReason::DoneByRunner,
            Self::StoppedByUser => JobTerminationReason::TerminatedByUser,
            Self::AbortedByUser => JobTerminationReason::AbortedByUser,
            Self::JobFailed | Self::RetryLimitExceeded | Self::ServerError | Self::GatewayError => {
                JobTerminationReason::TerminatedByServer
            }
        }
    }

    /// What happened to the run and what the user can do next.
    pub const fn message(self) -> &'static str {
        match self {
            Self::AllJobsDone => "all jobs of the run finished successfully",
            Self::JobFailed => {
                "a job of the run failed and the run's retry policy does not cover that failure; \
                 see the job's termination reason and its logs, fix the cause and apply the run \
                 again, or add the failure's event to `retry.on_events`"
            }
            Self::RetryLimitExceeded => {
                "a job kept failing until the run's retry duration ran out; see the last job's \
                 termination reason, fix the cause, or raise `retry.duration`"
            }
            Self::StoppedByUser => {
                "a user stopped the run; its jobs were asked to shut down gracefully"
            }
            Self::AbortedByUser => {
                "a user aborted the run; its jobs were killed without a graceful shutdown"
            }
            Self::ServerError => {
                "the server hit an internal error while handling the run; see the server logs \
                 and apply the run again"
            }
            Self::GatewayError => {
                "the service could not be registered on its gateway; check that the gateway is \
                 running and reachable (`dstack gateway list`), then apply the run again"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::test_support::{assert_members, assert_messages, assert_transitions, row};
    use RunStatus::*;

    /// lifecycle.md §1.1, run termination reasons: final status, reason for active jobs.
    const REASONS: &[(RunTerminationReason, (RunStatus, JobTerminationReason))] = &[
        (
            RunTerminationReason::AllJobsDone,
            (Done, JobTerminationReason::DoneByRunner),
        ),
        (
            RunTerminationReason::JobFailed,
            (Failed, JobTerminationReason::TerminatedByServer),
        ),
        (
            RunTerminationReason::RetryLimitExceeded,
            (Failed, JobTerminationReason::TerminatedByServer),
        ),
        (
            RunTerminationReason::StoppedByUser,
            (Terminated, JobTerminationReason::TerminatedByUser),
        ),
        (
            RunTerminationReason::AbortedByUser,
            (Terminated, JobTerminationReason::AbortedByUser),
        ),
        (
            RunTerminationReason::ServerError,
            (Failed, JobTerminationReason::TerminatedByServer),
        ),
        (
            RunTerminationReason::GatewayError,
            (Failed, JobTerminationReason::TerminatedByServer),
        ),
    ];

    /// lifecycle.md §1.1, run transitions.
    const ALLOWED: &[(RunStatus, RunStatus)] = &[
        (Submitted, Provisioning),
        (Submitted, Running),
        (Provisioning, Submitted),
        (Provisioning, Running),
        (Running, Submitted),
        (Running, Provisioning),
        (Pending, Terminating),
        (Submitted, Terminating),
        (Provisioning, Terminating),
        (Running, Terminating),
        (Submitted, Pending),
        (Provisioning, Pending),
        (Running, Pending),
        (Pending, Submitted),
        (Terminating, Terminated),
        (Terminating, Done),
        (Terminating, Failed),
        (Terminating, Pending),
    ];

    #[test]
    fn every_reason_maps_to_its_final_status_and_job_reason() {
        for &reason in RunTerminationReason::ALL {
            let (status, job_reason) = *row(REASONS, &reason);
            assert_eq!(reason.to_status(), status, "{reason}");
            assert_eq!(reason.to_job_termination_reason(), job_reason, "{reason}");
        }
    }

    #[test]
    fn final_statuses_are_terminated_failed_done() {
        assert_members(
            RunStatus::ALL,
            &[Terminated, Failed, Done],
            RunStatus::is_finished,
        );
    }

    #[test]
    fn a_reason_always_leads_to_a_finished_status() {
        for &reason in RunTerminationReason::ALL {
            assert!(reason.to_status().is_finished(), "{reason}");
        }
    }

    #[test]
    fn transitions_follow_the_table() {
        assert_transitions(RunStatus::ALL, ALLOWED);
    }

    #[test]
    fn finished_runs_never_move() {
        for &from in RunStatus::ALL.iter().filter(|status| status.is_finished()) {
            let error = from.check_transition(Running).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("cannot move from status {from} to running")
            );
        }
    }

    #[test]
    fn every_reason_has_its_own_message() {
        assert_messages(RunTerminationReason::ALL, RunTerminationReason::message);
    }
}

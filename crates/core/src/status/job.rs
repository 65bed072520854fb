//! `JobStatus` and `JobTerminationReason`, with the job's allowed transitions, the mapping of
//! a reason to the job's final status and retry event, and a human message per reason.

use super::retry::RetryEvent;
use super::transition::Transitions;
use super::wire_enum::wire_enum;

wire_enum! {
    /// The status of one job submission.
    pub enum JobStatus {
        /// Waiting for an instance.
        Submitted = "submitted",
        /// An instance is assigned or being created; no container runs yet.
        Provisioning = "provisioning",
        /// The shim is pulling the image and creating the container.
        Pulling = "pulling",
        /// The runner executes the job's commands.
        Running = "running",
        /// The container is being stopped and the instance released.
        Terminating = "terminating",
        /// Stopped by a user, the server, or a limit.
        Terminated = "terminated",
        /// Aborted by a user.
        Aborted = "aborted",
        /// Ended by a failure.
        Failed = "failed",
        /// The commands finished successfully.
        Done = "done",
    }
}

impl JobStatus {
    /// Whether the job has reached a final status.
    pub const fn is_finished(self) -> bool {
        matches!(
            self,
            Self::Terminated | Self::Aborted | Self::Failed | Self::Done
        )
    }
}

impl Transitions for JobStatus {
    fn can_transition_to(self, next: Self) -> bool {
        use JobStatus::*;
        match self {
            Submitted => matches!(next, Provisioning | Terminating),
            // Container backends without a shim skip `pulling`.
            Provisioning => matches!(next, Pulling | Running | Terminating),
            Pulling => matches!(next, Running | Terminating),
            Running => next == Terminating,
            Terminating => next.is_finished(),
            Terminated | Aborted | Failed | Done => false,
        }
    }
}

wire_enum! {
    /// Why a job was terminated.
    pub enum JobTerminationReason {
        /// No fleet, instance or offer could take the job.
        FailedToStartDueToNoCapacity = "failed_to_start_due_to_no_capacity",
        /// A spot instance stopped answering while the job ran.
        InterruptedByNoCapacity = "interrupted_by_no_capacity",
        /// An on-demand instance stopped answering while the job ran.
        InstanceUnreachable = "instance_unreachable",
        /// The instance's fleet is no longer imported into the project.
        InstanceAccessRevoked = "instance_access_revoked",
        /// The instance was terminated before it got an address.
        WaitingInstanceLimitExceeded = "waiting_instance_limit_exceeded",
        /// The shim or runner did not answer within the backend's provisioning timeout.
        WaitingRunnerLimitExceeded = "waiting_runner_limit_exceeded",
        /// A volume could not be attached.
        VolumeError = "volume_error",
        /// The service could not be registered on a gateway.
        GatewayError = "gateway_error",
        /// A user stopped the run.
        TerminatedByUser = "terminated_by_user",
        /// The service scaled in.
        ScaledDown = "scaled_down",
        /// The job's commands finished successfully.
        DoneByRunner = "done_by_runner",
        /// A user aborted the run.
        AbortedByUser = "aborted_by_user",
        /// The server stopped the job (run termination, retry of a sibling, interpolation error).
        TerminatedByServer = "terminated_by_server",
        /// A dev environment stayed without connections too long.
        InactivityDurationExceeded = "inactivity_duration_exceeded",
        /// GPU utilization stayed under the utilization policy's threshold.
        TerminatedDueToUtilizationPolicy = "terminated_due_to_utilization_policy",
        /// The job's commands, or the repo setup, exited with an error.
        ContainerExitedWithError = "container_exited_with_error",
        /// The container's ports could not be bound.
        PortsBindingFailed = "ports_binding_failed",
        /// The image could not be pulled or the container could not be created.
        CreatingContainerError = "creating_container_error",
        /// The shim or runner failed to prepare the job (GPUs, mounts, user, working directory).
        ExecutorError = "executor_error",
        /// The job ran longer than its `max_duration`.
        MaxDurationExceeded = "max_duration_exceeded",
        /// The job wrote more logs than the server's hourly quota.
        LogQuotaExceeded = "log_quota_exceeded",
    }
}

impl JobTerminationReason {
    /// The status the job ends in once its container is stopped and its instance released.
    pub const fn to_status(self) -> JobStatus {
        match self {
            Self::FailedToStartDueToNoCapacity
            | Self::InterruptedByNoCapacity
            | Self::InstanceUnreachable
            | Self::InstanceAccessRevoked
            | Self::WaitingInstanceLimitExceeded
            | Self::WaitingRunnerLimitExceeded
            | Self::VolumeError
            | Self::GatewayError
            | Self::ContainerExitedWithError
            | Self::PortsBindingFailed
            | Self::CreatingContainerError
            | Self::ExecutorError
            | Self::LogQuotaExceeded => JobStatus::Failed,
            Self::TerminatedByUser
            | Self::ScaledDown
            | Self::TerminatedByServer
            | Self::InactivityDurationExceeded
            | Self::TerminatedDueToUtilizationPolicy
            | Self::MaxDurationExceeded => JobStatus::Terminated,
            Self::DoneByRunner => JobStatus::Done,
            Self::AbortedByUser => JobStatus::Aborted,
        }
    }

    /// The retry event this failure raises, or `None` when it is not retryable. The two
    /// capacity reasons have their own events; every other failure is an `error`.
    pub const fn to_retry_event(self) -> Option<RetryEvent> {
        match self {
            Self::FailedToStartDueToNoCapacity => Some(RetryEvent::NoCapacity),
            Self::InterruptedByNoCapacity => Some(RetryEvent::Interruption),
            other => match other.to_status() {
                JobStatus::Failed => Some(RetryEvent::Error),
                _ => None,
            },
        }
    }

    /// The reason for a job whose runner or shim reported it `failed` or `terminated`. Agents
    /// may leave the reason empty (a command's non-zero exit) or send one we do not know; both
    /// mean the container exited with an error.
    pub fn from_agent_report(reason: &str) -> Self {
        reason
            .trim()
            .to_ascii_lowercase()
            .parse()
            .unwrap_or(Self::ContainerExitedWithError)
    }

    /// The reason for a job whose instance stopped answering while the job ran. A spot
    /// instance that goes silent is taken as interrupted, which has its own retry event.
    pub const fn for_lost_instance(spot: bool) -> Self {
        if spot {
            Self::InterruptedByNoCapacity
        } else {
            Self::InstanceUnreachable
        }
    }

    /// What failed or stopped the job, and what the user can do about it.
    pub const fn message(self) -> &'static str {
        match self {
            Self::FailedToStartDueToNoCapacity => {
                "no capacity for the job: no fleet matched its requirements, no idle instance \
                 was free, the fleet is at `nodes.max`, or every offer failed; create or extend \
                 a matching fleet, relax the resources, or set `retry` to wait for capacity"
            }
            Self::InterruptedByNoCapacity => {
                "the spot instance stopped answering for over two minutes and is taken as \
                 interrupted; use on-demand instances or retry on `interruption`"
            }
            Self::InstanceUnreachable => {
                "the instance stopped answering for over two minutes while the job ran; check \
                 the host's network and the shim, or retry on `error`"
            }
            Self::InstanceAccessRevoked => {
                "the instance's fleet is no longer imported into this project; import the \
                 fleet again or use a fleet of this project"
            }
            Self::WaitingInstanceLimitExceeded => {
                "the instance was terminated before it got an address; see the instance's \
                 termination reason and apply the run again"
            }
            Self::WaitingRunnerLimitExceeded => {
                "the instance's agents did not answer within the backend's provisioning \
                 timeout; check that the host can reach the server and that the shim starts"
            }
            Self::VolumeError => {
                "a volume could not be attached: it may be in another region or backend, or \
                 attached elsewhere; check the volume with `dstack volume list`"
            }
            Self::GatewayError => {
                "the service could not be registered on its gateway; check that the gateway is \
                 running and reachable"
            }
            Self::TerminatedByUser => "a user stopped the run",
            Self::ScaledDown => "the service scaled in and removed this replica",
            Self::DoneByRunner => "the job's commands finished successfully",
            Self::AbortedByUser => "a user aborted the run without a graceful shutdown",
            Self::TerminatedByServer => {
                "the server stopped the job, because its run terminated, a sibling job is \
                 being retried, or its secrets could not be interpolated; see the run's \
                 termination reason"
            }
            Self::InactivityDurationExceeded => {
                "the dev environment had no connection for longer than `inactivity_duration`; \
                 raise or turn off `inactivity_duration` to keep it"
            }
            Self::TerminatedDueToUtilizationPolicy => {
                "GPU utilization stayed under the `utilization_policy` threshold for its whole \
                 time window; check that the job uses its GPUs, or relax the policy"
            }
            Self::ContainerExitedWithError => {
                "the container failed to start, the job's commands exited with an error, or \
                 the repository could not be set up; see the exit status, the termination \
                 message and `dstack logs`"
            }
            Self::PortsBindingFailed => {
                "the container's ports could not be bound, usually because another process on \
                 the host already uses them; free the ports or change `ports`"
            }
            Self::CreatingContainerError => {
                "the container could not be created: the image could not be pulled (wrong \
                 name, missing registry credentials, or pull timeout), the user does not exist \
                 in the image, or Docker refused the container; check `image`, \
                 `registry_auth` and `user`"
            }
            Self::ExecutorError => {
                "the agents could not prepare the job: GPUs could not be reserved on the host, \
                 volumes or instance mounts could not be set up, or inside the container the \
                 user, working directory or files could not be set; see the termination \
                 message and check `user`, `working_dir`, `files` and `volumes`"
            }
            Self::MaxDurationExceeded => {
                "the job ran longer than its `max_duration` and was stopped; raise or turn off \
                 `max_duration`"
            }
            Self::LogQuotaExceeded => {
                "the job wrote more logs than the server's hourly quota per job; log less, or \
                 raise `DSTACK_SERVER_LOG_QUOTA_PER_JOB_HOUR` on the server"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::test_support::{assert_members, assert_messages, assert_transitions, row};
    use JobStatus::*;
    use JobTerminationReason as R;
    use RetryEvent::{Error, Interruption, NoCapacity};

    /// lifecycle.md §1.2, job termination reasons: final status and retry event.
    const REASONS: &[(JobTerminationReason, (JobStatus, Option<RetryEvent>))] = &[
        (R::FailedToStartDueToNoCapacity, (Failed, Some(NoCapacity))),
        (R::InterruptedByNoCapacity, (Failed, Some(Interruption))),
        (R::InstanceUnreachable, (Failed, Some(Error))),
        (R::InstanceAccessRevoked, (Failed, Some(Error))),
        (R::WaitingInstanceLimitExceeded, (Failed, Some(Error))),
        (R::WaitingRunnerLimitExceeded, (Failed, Some(Error))),
        (R::VolumeError, (Failed, Some(Error))),
        (R::GatewayError, (Failed, Some(Error))),
        (R::TerminatedByUser, (Terminated, None)),
        (R::ScaledDown, (Terminated, None)),
        (R::DoneByRunner, (Done, None)),
        (R::AbortedByUser, (Aborted, None)),
        (R::TerminatedByServer, (Terminated, None)),
        (R::InactivityDurationExceeded, (Terminated, None)),
        (R::TerminatedDueToUtilizationPolicy, (Terminated, None)),
        (R::ContainerExitedWithError, (Failed, Some(Error))),
        (R::PortsBindingFailed, (Failed, Some(Error))),
        (R::CreatingContainerError, (Failed, Some(Error))),
        (R::ExecutorError, (Failed, Some(Error))),
        (R::MaxDurationExceeded, (Terminated, None)),
        (R::LogQuotaExceeded, (Failed, Some(Error))),
    ];

    /// lifecycle.md §1.2, job transitions.
    const ALLOWED: &[(JobStatus, JobStatus)] = &[
        (Submitted, Provisioning),
        (Submitted, Terminating),
        (Provisioning, Pulling),
        (Provisioning, Running),
        (Provisioning, Terminating),
        (Pulling, Running),
        (Pulling, Terminating),
        (Running, Terminating),
        (Terminating, Terminated),
        (Terminating, Aborted),
        (Terminating, Failed),
        (Terminating, Done),
    ];

    #[test]
    fn every_reason_maps_to_its_final_status_and_retry_event() {
        for &reason in JobTerminationReason::ALL {
            let (status, event) = *row(REASONS, &reason);
            assert_eq!(reason.to_status(), status, "{reason}");
            assert_eq!(reason.to_retry_event(), event, "{reason}");
        }
    }

    #[test]
    fn final_statuses_are_terminated_aborted_failed_done() {
        assert_members(
            JobStatus::ALL,
            &[Terminated, Aborted, Failed, Done],
            JobStatus::is_finished,
        );
    }

    #[test]
    fn transitions_follow_the_table() {
        assert_transitions(JobStatus::ALL, ALLOWED);
    }

    #[test]
    fn every_reason_has_its_own_message() {
        assert_messages(JobTerminationReason::ALL, JobTerminationReason::message);
    }

    #[test]
    fn agent_reports_parse_known_reasons_in_any_case() {
        for &reason in JobTerminationReason::ALL {
            let shouted = reason.as_str().to_uppercase();
            assert_eq!(JobTerminationReason::from_agent_report(&shouted), reason);
            assert_eq!(
                JobTerminationReason::from_agent_report(reason.as_str()),
                reason
            );
        }
    }

    #[test]
    fn agent_reports_without_a_known_reason_are_container_errors() {
        for text in ["", "  ", "segfault", "no-capacity"] {
            assert_eq!(
                JobTerminationReason::from_agent_report(text),
                R::ContainerExitedWithError
            );
        }
    }

    #[test]
    fn a_lost_spot_instance_is_an_interruption() {
        assert_eq!(
            JobTerminationReason::for_lost_instance(true),
            R::InterruptedByNoCapacity
        );
        assert_eq!(
            JobTerminationReason::for_lost_instance(false),
            R::InstanceUnreachable
        );
        assert_eq!(
            R::InterruptedByNoCapacity.to_retry_event(),
            Some(Interruption)
        );
    }

    #[test]
    fn creating_container_message_names_the_likely_causes() {
        let message = R::CreatingContainerError.message();
        for cause in ["image", "user", "Docker"] {
            assert!(message.contains(cause), "missing {cause:?} in {message:?}");
        }
    }
}

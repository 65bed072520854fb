//! `InstanceStatus` and `InstanceTerminationReason`, with the instance's allowed transitions.

use super::transition::Transitions;
use super::wire_enum::wire_enum;

wire_enum! {
    /// The status of an instance of a fleet.
    pub enum InstanceStatus {
        /// Waiting to be created (cloud), deployed (SSH), or a job's placeholder.
        Pending = "pending",
        /// Created; waiting for the shim to answer.
        Provisioning = "provisioning",
        /// Ready and running no job.
        Idle = "idle",
        /// Running jobs.
        Busy = "busy",
        /// Being destroyed in its backend.
        Terminating = "terminating",
        /// Gone.
        Terminated = "terminated",
    }
}

impl InstanceStatus {
    /// Whether the instance can run jobs now.
    pub const fn is_available(self) -> bool {
        matches!(self, Self::Idle | Self::Busy)
    }

    /// Whether the instance is on its way out. Unlike runs and jobs, this includes
    /// `terminating`: such an instance takes no more jobs.
    pub const fn is_finished(self) -> bool {
        matches!(self, Self::Terminating | Self::Terminated)
    }
}

impl Transitions for InstanceStatus {
    fn can_transition_to(self, next: Self) -> bool {
        use InstanceStatus::*;
        match self {
            // SSH hosts go straight to idle once deployed; failures to create or deploy go
            // straight to terminated, as there is nothing to destroy.
            Pending => matches!(next, Provisioning | Idle | Terminating | Terminated),
            Provisioning => matches!(next, Idle | Busy | Terminating),
            Idle => matches!(next, Busy | Terminating),
            Busy => matches!(next, Idle | Terminating),
            Terminating => next == Terminated,
            Terminated => false,
        }
    }
}

wire_enum! {
    /// Why an instance was terminated.
    pub enum InstanceTerminationReason {
        /// A user deleted the instance or its fleet.
        TerminatedByUser = "terminated_by_user",
        /// It stayed idle longer than the fleet's `idle_duration`.
        IdleTimeout = "idle_timeout",
        /// It did not become ready within the backend's provisioning timeout.
        ProvisioningTimeout = "provisioning_timeout",
        /// Creating, deploying or checking it failed.
        Error = "error",
        /// Its job finished and the instance cannot be reused.
        JobFinished = "job_finished",
        /// It stopped answering for too long.
        Unreachable = "unreachable",
        /// No offer could create it.
        NoOffers = "no_offers",
        /// The master instance of its cluster could not be created.
        MasterFailed = "master_failed",
        /// Its fleet had more instances than `nodes.max`.
        MaxInstancesLimit = "max_instances_limit",
        /// Its fleet's configuration changed and no longer matches it.
        FleetSpecMismatch = "fleet_spec_mismatch",
        /// The backend account ran out of balance.
        NoBalance = "no_balance",
    }
}

impl InstanceTerminationReason {
    /// What ended the instance, and what the user can do about it.
    pub const fn message(self) -> &'static str {
        match self {
            Self::TerminatedByUser => "a user deleted the instance or its fleet",
            Self::IdleTimeout => {
                "the instance stayed idle longer than the fleet's `idle_duration`; raise it to \
                 keep instances longer"
            }
            Self::ProvisioningTimeout => {
                "the instance did not become ready within the backend's provisioning timeout; \
                 check the host's network, its SSH access and that the shim can start"
            }
            Self::Error => {
                "creating, deploying or checking the instance failed; see the termination \
                 message and the server logs"
            }
            Self::JobFinished => {
                "the instance's job finished and this kind of instance is not reused"
            }
            Self::Unreachable => {
                "the instance stopped answering for too long; check the host and its network"
            }
            Self::NoOffers => {
                "no offer could create the instance; relax the fleet's resources, or add \
                 backends or regions"
            }
            Self::MasterFailed => {
                "the master instance of the cluster could not be created, so the cluster's \
                 other instances were dropped"
            }
            Self::MaxInstancesLimit => {
                "the fleet had more instances than `nodes.max`; this one was removed"
            }
            Self::FleetSpecMismatch => {
                "the fleet's configuration changed and this instance no longer matches it; a \
                 matching one replaces it"
            }
            Self::NoBalance => "the backend account ran out of balance; top it up",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::test_support::{assert_members, assert_messages, assert_transitions};
    use InstanceStatus::*;

    /// lifecycle.md §1.3, instance transitions.
    const ALLOWED: &[(InstanceStatus, InstanceStatus)] = &[
        (Pending, Provisioning),
        (Pending, Idle),
        (Pending, Terminating),
        (Pending, Terminated),
        (Provisioning, Idle),
        (Provisioning, Busy),
        (Provisioning, Terminating),
        (Idle, Busy),
        (Idle, Terminating),
        (Busy, Idle),
        (Busy, Terminating),
        (Terminating, Terminated),
    ];

    #[test]
    fn available_means_idle_or_busy() {
        assert_members(
            InstanceStatus::ALL,
            &[Idle, Busy],
            InstanceStatus::is_available,
        );
    }

    #[test]
    fn finished_means_terminating_or_terminated() {
        assert_members(
            InstanceStatus::ALL,
            &[Terminating, Terminated],
            InstanceStatus::is_finished,
        );
    }

    #[test]
    fn transitions_follow_the_table() {
        assert_transitions(InstanceStatus::ALL, ALLOWED);
    }

    #[test]
    fn every_reason_has_its_own_message() {
        assert_messages(
            InstanceTerminationReason::ALL,
            InstanceTerminationReason::message,
        );
    }
}

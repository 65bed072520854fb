//! `GatewayStatus` and `GatewayReplicaStatus`.

use super::wire_enum::wire_enum;

wire_enum! {
    /// The status of a gateway.
    pub enum GatewayStatus {
        /// Waiting for its load balancer and replicas to be created.
        Submitted = "submitted",
        /// Replicas are being created and configured.
        Provisioning = "provisioning",
        /// Every replica is running.
        Running = "running",
        /// Creation failed, or a replica died while provisioning.
        Failed = "failed",
    }
}

wire_enum! {
    /// The status of one replica (compute instance) of a gateway.
    pub enum GatewayReplicaStatus {
        /// Waiting for its instance to be created.
        Submitted = "submitted",
        /// Connecting and configuring the gateway application.
        Provisioning = "provisioning",
        /// Serving and syncing service registrations.
        Running = "running",
        /// Its instance is being terminated.
        Terminating = "terminating",
        /// Its instance is gone.
        Terminated = "terminated",
    }
}

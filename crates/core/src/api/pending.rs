//! Stand-ins for types that other modules of the crate do not define yet.
//!
//! Each alias keeps the wire value as it came (so round trips stay exact) until the owning
//! module lands; then the alias is replaced by the real type.

/// `status::RunStatus`.
pub type RunStatus = String;
/// `status::JobStatus`.
pub type JobStatus = String;
/// `status::InstanceStatus`.
pub type InstanceStatus = String;
/// `status::FleetStatus`.
pub type FleetStatus = String;
/// `status::VolumeStatus`.
pub type VolumeStatus = String;
/// `status::GatewayStatus`.
pub type GatewayStatus = String;
/// `status::GatewayReplicaStatus`.
pub type GatewayReplicaStatus = String;

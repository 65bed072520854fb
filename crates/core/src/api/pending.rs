//! Stand-ins for types that other modules of the crate do not define yet.
//!
//! Each alias keeps the wire value as it came (so round trips stay exact) until the owning
//! module lands; then the alias is replaced by a re-export of the real type.

use serde_json::Value;

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
/// `status::RetryEvent`.
pub type RetryEvent = String;

/// `backend::BackendType`.
pub type BackendType = String;
/// `resources::gpu` vendor enum.
pub type AcceleratorVendor = String;
/// `memory::Memory`.
pub type Memory = f64;
/// `range::Range<u32>`.
pub type IntRange = Value;
/// `range::Range<f64>`.
pub type FloatRange = Value;
/// `mounts::MountPoint`.
pub type MountPoint = Value;
/// `offers::InstanceType`.
pub type InstanceType = Value;
/// `offers::InstanceAvailability`.
pub type InstanceAvailability = String;
/// `offers::InstanceOfferWithAvailability`.
pub type InstanceOfferWithAvailability = Value;
/// `offers::Requirements`.
pub type Requirements = Value;

/// `configuration::AnyRunConfiguration`.
pub type AnyRunConfiguration = Value;
/// `configuration::profile::Profile`.
pub type Profile = Value;
/// `configuration::fleet::FleetConfiguration`.
pub type FleetConfiguration = Value;
/// `configuration::volume::VolumeConfiguration`.
pub type VolumeConfiguration = Value;
/// `configuration::gateway::GatewayConfiguration`.
pub type GatewayConfiguration = Value;
/// `configuration::run::RegistryAuth`.
pub type RegistryAuth = Value;
/// `configuration::profile::UtilizationPolicy`.
pub type UtilizationPolicy = Value;
/// `configuration::repos::RepoExistsAction`.
pub type RepoExistsAction = String;
/// `configuration::probes::HttpHeaderSpec`.
pub type HttpHeaderSpec = Value;
/// `configuration::probes::ProbeMethod`.
pub type ProbeMethod = String;

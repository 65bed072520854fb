//! Instances: `/api/instances/list` and `/api/project/{p}/instances/*`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::common::{CreatedAtPage, null_as_default, utc};
use super::jobs::GpuDriverInfo;
use crate::backend::BackendType;
use crate::offers::InstanceType;
use crate::status::{HealthStatus, InstanceStatus, InstanceTerminationReason};

/// An instance of a fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// The instance id.
    pub id: Uuid,
    /// The project.
    pub project_name: String,
    /// The backend; `remote` for SSH hosts.
    #[serde(default)]
    pub backend: Option<BackendType>,
    /// The instance type.
    #[serde(default)]
    pub instance_type: Option<InstanceType>,
    /// `<fleet>-<num>`.
    pub name: String,
    /// The fleet id.
    #[serde(default)]
    pub fleet_id: Option<Uuid>,
    /// The fleet name.
    #[serde(default)]
    pub fleet_name: Option<String>,
    /// The index within the fleet.
    pub instance_num: u32,
    /// Deprecated, always `null`.
    #[serde(default)]
    pub job_name: Option<String>,
    /// The host.
    #[serde(default)]
    pub hostname: Option<String>,
    /// The instance status.
    pub status: InstanceStatus,
    /// Whether the server lost contact with it.
    #[serde(default)]
    pub unreachable: bool,
    /// The result of the last health checks.
    #[serde(default = "healthy")]
    pub health_status: HealthStatus,
    /// Why it was terminated.
    #[serde(default)]
    pub termination_reason: Option<InstanceTerminationReason>,
    /// The human explanation of `termination_reason`.
    #[serde(default)]
    pub termination_reason_message: Option<String>,
    /// When it was created (note the name).
    #[serde(with = "utc")]
    pub created: DateTime<Utc>,
    /// When it finished.
    #[serde(with = "utc::option", default)]
    pub finished_at: Option<DateTime<Utc>>,
    /// The region.
    #[serde(default)]
    pub region: Option<String>,
    /// The availability zone.
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// USD per hour.
    #[serde(default)]
    pub price: Option<f64>,
    /// How many blocks the instance is cut into.
    #[serde(default)]
    pub total_blocks: Option<u32>,
    /// How many blocks are in use.
    #[serde(default)]
    pub busy_blocks: u32,
    /// The GPU driver.
    #[serde(default)]
    pub gpu_driver: Option<GpuDriverInfo>,
}

fn healthy() -> HealthStatus {
    HealthStatus::Healthy
}

/// `POST /api/instances/list` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListInstancesRequest {
    /// Only these projects.
    #[serde(default)]
    pub project_names: Option<Vec<String>>,
    /// Only these fleets.
    #[serde(default)]
    pub fleet_ids: Option<Vec<Uuid>>,
    /// Leave out terminated instances.
    #[serde(default, deserialize_with = "null_as_default")]
    pub only_active: bool,
    /// Include instances of imported fleets.
    #[serde(default, deserialize_with = "null_as_default")]
    pub include_imported: bool,
    /// The page, by creation time.
    #[serde(flatten)]
    pub page: CreatedAtPage<1000>,
}

/// `instances/get` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetInstanceRequest {
    /// The instance id.
    pub id: Uuid,
}

/// `instances/get_instance_health_checks` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetInstanceHealthChecksRequest {
    /// The fleet.
    pub fleet_name: String,
    /// The instance within the fleet.
    pub instance_num: u32,
    /// Only checks after this time.
    #[serde(with = "utc::option", default)]
    pub after: Option<DateTime<Utc>>,
    /// Only checks before this time.
    #[serde(with = "utc::option", default)]
    pub before: Option<DateTime<Utc>>,
    /// At most this many checks.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One finding of a health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthEvent {
    /// When it was found.
    #[serde(with = "utc")]
    pub timestamp: DateTime<Utc>,
    /// How bad it is.
    pub status: HealthStatus,
    /// What was found.
    pub message: String,
}

/// One health check of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// When it ran.
    #[serde(with = "utc")]
    pub collected_at: DateTime<Utc>,
    /// The overall result.
    pub status: HealthStatus,
    /// What it found.
    pub events: Vec<HealthEvent>,
}

/// `instances/get_instance_health_checks` response, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceHealthChecks {
    /// The checks.
    pub health_checks: Vec<HealthCheck>,
}

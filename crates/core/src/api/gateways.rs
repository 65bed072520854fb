//! Gateways: `/api/project/{p}/gateways/*`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::common::{ApplyAction, NameRequest, NamesRequest, null_as_default, utc};
use crate::backend::BackendType;
use crate::configuration::gateway::GatewayConfiguration;
use crate::status::{GatewayReplicaStatus, GatewayStatus};

/// A gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gateway {
    /// The gateway id.
    pub id: Uuid,
    /// The gateway name.
    pub name: String,
    /// The project.
    pub project_name: String,
    /// What was asked.
    pub configuration: GatewayConfiguration,
    /// When it was created.
    #[serde(with = "utc")]
    pub created_at: DateTime<Utc>,
    /// The gateway status.
    pub status: GatewayStatus,
    /// A status text.
    #[serde(default)]
    pub status_message: Option<String>,
    /// The load balancer host.
    #[serde(default)]
    pub hostname: Option<String>,
    /// The domain services get names under.
    #[serde(default)]
    pub wildcard_domain: Option<String>,
    /// Whether services use it by default.
    pub default: bool,
    /// Its replicas.
    #[serde(default)]
    pub replicas: Vec<GatewayReplica>,
    /// Legacy, for clients before 0.21.1.
    #[serde(default)]
    pub backend: Option<BackendType>,
    /// Legacy, for clients before 0.21.1.
    #[serde(default)]
    pub region: Option<String>,
    /// Legacy, for clients before 0.21.1.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// Legacy, for clients before 0.21.1.
    #[serde(default)]
    pub instance_id: Option<String>,
}

/// One replica of a gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayReplica {
    /// Its host.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Its index.
    pub replica_num: u32,
    /// Its backend.
    #[serde(default)]
    pub backend: Option<BackendType>,
    /// Its region.
    #[serde(default)]
    pub region: Option<String>,
    /// When it was created.
    #[serde(with = "utc")]
    pub created_at: DateTime<Utc>,
    /// Its status.
    pub status: GatewayReplicaStatus,
    /// A status text.
    #[serde(default)]
    pub status_message: Option<String>,
}

/// What the user asked for in a gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewaySpec {
    /// The gateway configuration.
    pub configuration: GatewayConfiguration,
    /// The configuration file on the client.
    #[serde(default)]
    pub configuration_path: Option<String>,
}

/// `gateways/get_plan` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayPlan {
    /// The project.
    pub project_name: String,
    /// The user asking.
    pub user: String,
    /// The spec as sent.
    pub spec: GatewaySpec,
    /// The spec with server defaults applied.
    pub effective_spec: GatewaySpec,
    /// The gateway with the same name.
    #[serde(default)]
    pub current_resource: Option<Gateway>,
    /// Whether applying creates or updates.
    pub action: ApplyAction,
}

/// `gateways/list` request; the body may be absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListGatewaysRequest {
    /// Include gateways imported through exports.
    #[serde(default, deserialize_with = "null_as_default")]
    pub include_imported: bool,
}

/// `gateways/get` request.
pub type GetGatewayRequest = NameRequest;

/// `gateways/get_plan` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetGatewayPlanRequest {
    /// What to plan.
    pub spec: GatewaySpec,
}

/// The gateway plan the client applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyGatewayPlanInput {
    /// The spec.
    pub spec: GatewaySpec,
    /// The gateway the plan saw.
    #[serde(default)]
    pub current_resource: Option<Gateway>,
}

/// `gateways/apply` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyGatewayPlanRequest {
    /// The plan to apply.
    pub plan: ApplyGatewayPlanInput,
    /// Apply even if the gateway changed since the plan.
    #[serde(default, deserialize_with = "null_as_default")]
    pub force: bool,
}

/// `gateways/create` request (deprecated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateGatewayRequest {
    /// The gateway configuration.
    pub configuration: GatewayConfiguration,
}

/// `gateways/delete` request.
pub type DeleteGatewaysRequest = NamesRequest;

/// `gateways/set_default` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetDefaultGatewayRequest {
    /// The gateway.
    pub name: String,
    /// The project that owns it, when imported.
    #[serde(default)]
    pub gateway_project: Option<String>,
}

/// `gateways/set_wildcard_domain` request (deprecated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetWildcardDomainRequest {
    /// The gateway.
    pub name: String,
    /// The domain.
    pub wildcard_domain: String,
}

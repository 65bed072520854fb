//! The audit log: `/api/events/list`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::common::{Limit, null_as_default, utc};

/// The target types an `include_target_types` filter may name (0.22.x adds `gateway-replica`
/// and `preset`).
pub const TARGET_TYPES: &[&str] = &[
    "project",
    "user",
    "fleet",
    "instance",
    "run",
    "job",
    "volume",
    "gateway",
    "secret",
    "gateway-replica",
    "preset",
];

/// `events/list` request: at most one `target_*` and one `within_*` filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListEventsRequest {
    /// Events about these projects.
    #[serde(default)]
    pub target_projects: Option<Vec<Uuid>>,
    /// Events about these users.
    #[serde(default)]
    pub target_users: Option<Vec<Uuid>>,
    /// Events about these fleets.
    #[serde(default)]
    pub target_fleets: Option<Vec<Uuid>>,
    /// Events about these instances.
    #[serde(default)]
    pub target_instances: Option<Vec<Uuid>>,
    /// Events about these runs.
    #[serde(default)]
    pub target_runs: Option<Vec<Uuid>>,
    /// Events about these jobs.
    #[serde(default)]
    pub target_jobs: Option<Vec<Uuid>>,
    /// Events about these volumes.
    #[serde(default)]
    pub target_volumes: Option<Vec<Uuid>>,
    /// Events about these gateways.
    #[serde(default)]
    pub target_gateways: Option<Vec<Uuid>>,
    /// Events about these gateway replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_gateway_replicas: Option<Vec<Uuid>>,
    /// Events about these secrets.
    #[serde(default)]
    pub target_secrets: Option<Vec<Uuid>>,
    /// Events about these presets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_presets: Option<Vec<Uuid>>,
    /// Events within these projects.
    #[serde(default)]
    pub within_projects: Option<Vec<Uuid>>,
    /// Events within these fleets.
    #[serde(default)]
    pub within_fleets: Option<Vec<Uuid>>,
    /// Events within these runs.
    #[serde(default)]
    pub within_runs: Option<Vec<Uuid>>,
    /// Events within these gateways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_gateways: Option<Vec<Uuid>>,
    /// Only events with a target of these types.
    #[serde(default)]
    pub include_target_types: Option<Vec<String>>,
    /// Only events by these users; `null` in the list means the system.
    #[serde(default)]
    pub actors: Option<Vec<Option<Uuid>>>,
    /// The `recorded_at` of the last event of the previous page.
    #[serde(with = "utc::option", default)]
    pub prev_recorded_at: Option<DateTime<Utc>>,
    /// The id of the last event of the previous page.
    #[serde(default)]
    pub prev_id: Option<Uuid>,
    /// The page size, 1 to 100.
    #[serde(default, deserialize_with = "null_as_default")]
    pub limit: Limit<100>,
    /// Oldest first instead of newest first.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ascending: bool,
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventTarget {
    /// The kind: `project`, `run`, `fleet`, ...; a free string on the client.
    #[serde(rename = "type")]
    pub target_type: String,
    /// The target's project.
    #[serde(default)]
    pub project_id: Option<Uuid>,
    /// The target's project name.
    #[serde(default)]
    pub project_name: Option<String>,
    /// Whether that project was deleted.
    #[serde(default)]
    pub is_project_deleted: Option<bool>,
    /// The target id.
    pub id: Uuid,
    /// The target name.
    pub name: String,
}

/// An audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The event id.
    pub id: Uuid,
    /// What happened.
    pub message: String,
    /// When.
    #[serde(with = "utc")]
    pub recorded_at: DateTime<Utc>,
    /// Who did it; `null` for the system.
    #[serde(default)]
    pub actor_user_id: Option<Uuid>,
    /// Their user name.
    #[serde(default)]
    pub actor_user: Option<String>,
    /// Whether they were deleted since.
    #[serde(default)]
    pub is_actor_user_deleted: Option<bool>,
    /// What it is about.
    pub targets: Vec<EventTarget>,
}

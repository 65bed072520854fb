//! Fleets: `/api/fleets/list` and `/api/project/{p}/fleets/*`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::common::{ApplyAction, CreatedAtPage, NamesRequest, null_as_default, utc};
use super::instances::Instance;
use crate::configuration::Profile;
use crate::configuration::fleet::FleetConfiguration;
use crate::offers::InstanceOfferWithAvailability;
use crate::status::FleetStatus;

/// What the user asked for in a fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetSpec {
    /// The fleet configuration.
    pub configuration: FleetConfiguration,
    /// The configuration file on the client.
    #[serde(default)]
    pub configuration_path: Option<String>,
    /// The profile.
    pub profile: Profile,
    /// Whether the server created the fleet for a run.
    #[serde(default)]
    pub autocreated: bool,
}

/// A fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fleet {
    /// The fleet id.
    pub id: Uuid,
    /// The fleet name.
    pub name: String,
    /// The project.
    pub project_name: String,
    /// What was asked; SSH private keys are stripped.
    pub spec: FleetSpec,
    /// When it was created.
    #[serde(with = "utc")]
    pub created_at: DateTime<Utc>,
    /// The fleet status.
    pub status: FleetStatus,
    /// A status text.
    #[serde(default)]
    pub status_message: Option<String>,
    /// Its non-deleted instances.
    pub instances: Vec<Instance>,
}

/// `fleets/get_plan` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetPlan {
    /// The project.
    pub project_name: String,
    /// The user asking.
    pub user: String,
    /// The spec as sent, without private keys.
    pub spec: FleetSpec,
    /// The spec with server defaults applied.
    #[serde(default)]
    pub effective_spec: Option<FleetSpec>,
    /// The fleet with the same name.
    #[serde(default)]
    pub current_resource: Option<Fleet>,
    /// The best offers; none for SSH fleets.
    pub offers: Vec<InstanceOfferWithAvailability>,
    /// How many offers there are in all.
    pub total_offers: u64,
    /// The highest price among the offers.
    #[serde(default)]
    pub max_offer_price: Option<f64>,
    /// Whether applying creates or updates; always set, or the CLI takes its legacy path.
    #[serde(default)]
    pub action: Option<ApplyAction>,
}

/// `POST /api/fleets/list` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListFleetsRequest {
    /// Only this project.
    #[serde(default)]
    pub project_name: Option<String>,
    /// Leave out terminated fleets.
    #[serde(default, deserialize_with = "null_as_default")]
    pub only_active: bool,
    /// Include fleets imported through exports.
    #[serde(default, deserialize_with = "null_as_default")]
    pub include_imported: bool,
    /// The page, by creation time.
    #[serde(flatten)]
    pub page: CreatedAtPage<100>,
}

/// `POST /api/project/{p}/fleets/list` request; the body may be absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListProjectFleetsRequest {
    /// Include fleets imported through exports.
    #[serde(default, deserialize_with = "null_as_default")]
    pub include_imported: bool,
}

/// `fleets/get` request: one of `name` or `id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetFleetRequest {
    /// The name; finds non-deleted fleets only.
    #[serde(default)]
    pub name: Option<String>,
    /// The id; finds deleted fleets too.
    #[serde(default)]
    pub id: Option<Uuid>,
}

/// `fleets/get_plan` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetFleetPlanRequest {
    /// What to plan.
    pub spec: FleetSpec,
}

/// The fleet plan the client applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyFleetPlanInput {
    /// The spec, with SSH private keys inlined.
    pub spec: FleetSpec,
    /// The fleet the plan saw.
    #[serde(default)]
    pub current_resource: Option<Fleet>,
}

/// `fleets/apply` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyFleetPlanRequest {
    /// The plan to apply.
    pub plan: ApplyFleetPlanInput,
    /// Apply even if the fleet changed since the plan.
    #[serde(default, deserialize_with = "null_as_default")]
    pub force: bool,
}

/// `fleets/delete` request.
pub type DeleteFleetsRequest = NamesRequest;

/// `fleets/delete_instances` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteFleetInstancesRequest {
    /// The fleet.
    pub name: String,
    /// The instances to remove.
    pub instance_nums: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_page_fields_sit_beside_the_filters() {
        let body = json!({
            "project_name": "main", "only_active": true, "include_imported": false,
            "prev_created_at": "2026-11-23T08:35:10.654460+02:00",
            "prev_id": "74ae6a55-8ef9-498b-9923-6bcd84da83c5", "limit": 5, "ascending": true,
        });
        let request: ListFleetsRequest = serde_json::from_value(body).expect("list request");
        assert_eq!(request.page.limit.0, 5);
        assert!(request.page.ascending);
        let written = serde_json::to_value(&request).expect("serializes");
        assert_eq!(
            written["prev_created_at"],
            json!("2026-11-23T06:35:10.654460Z")
        );
        assert_eq!(written["limit"], json!(5));
    }

    #[test]
    fn a_missing_page_takes_the_default_limit() {
        let request: ListFleetsRequest =
            serde_json::from_value(json!({"limit": null})).expect("list request");
        assert_eq!(request, ListFleetsRequest::default());
        assert_eq!(request.page.limit.0, 100);
    }
}

//! Runs: `/api/runs/list` and `/api/project/{p}/runs/*`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::common::{ApplyAction, Limit, Uuid4, default_true, null_as_default, utc};
use super::files::FileArchiveMapping;
use super::jobs::{Job, JobSpec, JobSubmission};
use super::repos::RunRepoData;
use crate::configuration::{AnyRunConfiguration, Profile};
use crate::offers::InstanceOfferWithAvailability;
use crate::status::{RunStatus, RunTerminationReason};

/// What the user asked to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The run name; generated when unset.
    #[serde(default)]
    pub run_name: Option<String>,
    /// The repo id; `none` for no repo.
    #[serde(default)]
    pub repo_id: Option<String>,
    /// The repo to set up.
    #[serde(default)]
    pub repo_data: Option<RunRepoData>,
    /// The hash of the uploaded code.
    #[serde(default)]
    pub repo_code_hash: Option<String>,
    /// Where the repo goes in the container.
    #[serde(default)]
    pub repo_dir: Option<String>,
    /// Archives to unpack.
    #[serde(default)]
    pub file_archives: Vec<FileArchiveMapping>,
    /// Ignored by the server.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// The configuration file on the client.
    #[serde(default)]
    pub configuration_path: Option<String>,
    /// The run configuration.
    pub configuration: AnyRunConfiguration,
    /// The profile; the CLI always sends one named `default`.
    #[serde(default)]
    pub profile: Option<Profile>,
    /// The key the CLI attaches with; the server fills in the user's key.
    #[serde(default)]
    pub ssh_key_pub: Option<String>,
}

/// The fleet a run landed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFleet {
    /// The fleet id.
    pub id: Uuid4,
    /// The fleet name.
    pub name: String,
}

/// The model a service serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceModelSpec {
    /// The model name.
    pub name: String,
    /// The OpenAI-compatible base URL.
    pub base_url: String,
    /// The model type, e.g. `chat`.
    #[serde(rename = "type")]
    pub model_type: String,
}

/// Where a service is reachable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// The URL, relative to the server when there is no gateway.
    pub url: String,
    /// The model, if the service declares one.
    #[serde(default)]
    pub model: Option<ServiceModelSpec>,
    /// Gateway options.
    #[serde(default)]
    pub options: Map<String, Value>,
}

/// A run. The specs are typed by default; a server may pass its stored JSON through
/// unparsed (`serde_json::value::RawValue`), which is the same text on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run<Spec = RunSpec, JobSpecOf = JobSpec> {
    /// The run id.
    pub id: Uuid4,
    /// The project.
    pub project_name: String,
    /// The submitter's user name.
    pub user: String,
    /// The fleet the run landed on.
    #[serde(default)]
    pub fleet: Option<RunFleet>,
    /// When it was submitted.
    #[serde(with = "utc")]
    pub submitted_at: DateTime<Utc>,
    /// When the server last processed it.
    #[serde(with = "utc")]
    pub last_processed_at: DateTime<Utc>,
    /// The run status.
    pub status: RunStatus,
    /// The status text for the CLI table.
    #[serde(default)]
    pub status_message: String,
    /// Why the run ended.
    #[serde(default)]
    pub termination_reason: Option<RunTerminationReason>,
    /// What was asked.
    pub run_spec: Spec,
    /// The jobs, by replica and job number.
    pub jobs: Vec<Job<JobSpecOf>>,
    /// The last submission of the first job.
    #[serde(default)]
    pub latest_job_submission: Option<JobSubmission>,
    /// USD spent so far.
    #[serde(default)]
    pub cost: f64,
    /// Where a service is reachable.
    #[serde(default)]
    pub service: Option<ServiceSpec>,
    /// The current deployment.
    #[serde(default)]
    pub deployment_num: u32,
    /// A short error text.
    #[serde(default)]
    pub error: Option<String>,
    /// Whether the run was deleted.
    #[serde(default)]
    pub deleted: Option<bool>,
    /// When a scheduled run starts next.
    #[serde(with = "utc::option", default)]
    pub next_triggered_at: Option<DateTime<Utc>>,
}

/// The plan of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPlan {
    /// What the job would run.
    pub job_spec: JobSpec,
    /// The best offers, available first.
    pub offers: Vec<InstanceOfferWithAvailability>,
    /// How many offers there are in all.
    pub total_offers: u64,
    /// The highest price among the offers.
    #[serde(default)]
    pub max_price: Option<f64>,
}

/// `runs/get_plan` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    /// The project.
    pub project_name: String,
    /// The user asking.
    pub user: String,
    /// The spec as sent, re-serialized.
    pub run_spec: RunSpec,
    /// The spec with server defaults applied.
    #[serde(default)]
    pub effective_run_spec: Option<RunSpec>,
    /// One per job; the CLI needs at least one.
    pub job_plans: Vec<JobPlan>,
    /// The non-deleted run with the same name.
    #[serde(default)]
    pub current_resource: Option<Run>,
    /// Whether applying creates or updates.
    pub action: ApplyAction,
}

/// The plan the client applies: its original spec and the run it saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyRunPlanInput {
    /// The spec from `RunPlan.run_spec`.
    pub run_spec: RunSpec,
    /// The run from `RunPlan.current_resource`.
    #[serde(default)]
    pub current_resource: Option<Run>,
}

/// `POST /api/runs/list` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListRunsRequest {
    /// Only this project.
    #[serde(default)]
    pub project_name: Option<String>,
    /// Only this repo; needs `project_name`.
    #[serde(default)]
    pub repo_id: Option<String>,
    /// Only this submitter.
    #[serde(default)]
    pub username: Option<String>,
    /// Leave out finished runs.
    #[serde(default, deserialize_with = "null_as_default")]
    pub only_active: bool,
    /// Whether to include jobs.
    #[serde(default = "default_true")]
    pub include_jobs: bool,
    /// Submissions kept per job, 0 to 10; `null` means 10.
    #[serde(default)]
    pub job_submissions_limit: Option<u32>,
    /// The `submitted_at` of the last run of the previous page.
    #[serde(with = "utc::option", default)]
    pub prev_submitted_at: Option<DateTime<Utc>>,
    /// The id of the last run of the previous page.
    #[serde(default)]
    pub prev_run_id: Option<Uuid>,
    /// The page size, 0 to 100.
    #[serde(default, deserialize_with = "null_as_default")]
    pub limit: Limit<100>,
    /// Oldest first instead of newest first.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ascending: bool,
}

/// `runs/get` request: one of `run_name` or `id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetRunRequest {
    /// The run name; finds non-deleted runs only.
    #[serde(default)]
    pub run_name: Option<String>,
    /// The run id; finds deleted runs too.
    #[serde(default)]
    pub id: Option<Uuid>,
}

/// `runs/get_plan` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetRunPlanRequest {
    /// What to plan.
    pub run_spec: RunSpec,
    /// Offers kept per job, 1 to 10000.
    #[serde(default)]
    pub max_offers: Option<u32>,
    /// Whether to list every offer of an instance type.
    #[serde(default, deserialize_with = "null_as_default")]
    pub full_offers: bool,
    /// Whether to list the unallocated share of busy instances.
    #[serde(default, deserialize_with = "null_as_default")]
    pub unallocated_resources: bool,
    /// Skip fleet selection and list raw offers (`dstack offer`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub for_offers_only: bool,
    /// Most expensive offers first. Left out when false, as the CLI does: servers before
    /// 0.22.5 reject the field.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub reverse_offers: bool,
}

/// `runs/apply` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyRunPlanRequest {
    /// The plan to apply.
    pub plan: ApplyRunPlanInput,
    /// Apply even if the run changed since the plan.
    #[serde(default, deserialize_with = "null_as_default")]
    pub force: bool,
}

/// `runs/stop` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRunsRequest {
    /// The runs.
    pub runs_names: Vec<String>,
    /// Abort instead of a graceful stop.
    #[serde(default, deserialize_with = "null_as_default")]
    pub abort: bool,
}

/// `runs/delete` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRunsRequest {
    /// The runs; they must be finished.
    pub runs_names: Vec<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn plan_request(reverse_offers: bool) -> serde_json::Value {
        let body = json!({
            "run_spec": {"configuration": {"type": "task", "commands": ["echo hi"]}},
            "reverse_offers": reverse_offers,
        });
        let request: GetRunPlanRequest = serde_json::from_value(body).expect("plan request");
        serde_json::to_value(&request).expect("serializes")
    }

    #[test]
    fn reverse_offers_is_sent_only_when_set() {
        assert!(plan_request(false).get("reverse_offers").is_none());
        assert_eq!(plan_request(true)["reverse_offers"], json!(true));
    }
}

//! The calls the CLI makes, one method per endpoint, with the request bodies dstack's CLI
//! sends (api.md §4).

use dstack_core::api::common::{NameRequest, NamesRequest};
use dstack_core::api::events::{Event, ListEventsRequest};
use dstack_core::api::files::FileArchive;
use dstack_core::api::fleets::{
    ApplyFleetPlanRequest, DeleteFleetInstancesRequest, Fleet, FleetPlan, GetFleetPlanRequest,
    GetFleetRequest, ListProjectFleetsRequest,
};
use dstack_core::api::gateways::{
    ApplyGatewayPlanRequest, Gateway, GatewayPlan, GetGatewayPlanRequest, ListGatewaysRequest,
    SetDefaultGatewayRequest,
};
use dstack_core::api::gpus::{GpuGroups, ListGpusRequest};
use dstack_core::api::logs::{JobSubmissionLogs, PollLogsRequest};
use dstack_core::api::metrics::JobMetrics;
use dstack_core::api::projects::Project;
use dstack_core::api::repos::{GetRepoRequest, InitRepoRequest, RepoHeadWithCreds};
use dstack_core::api::runs::{
    ApplyRunPlanRequest, DeleteRunsRequest, GetRunPlanRequest, GetRunRequest, ListRunsRequest, Run,
    RunPlan, StopRunsRequest,
};
use dstack_core::api::secrets::{CreateOrUpdateSecretRequest, DeleteSecretsRequest, Secret};
use dstack_core::api::users::User;
use dstack_core::api::volumes::{CreateVolumeRequest, Volume};
use reqwest::Method;

use super::client::{ApiClient, ApiError, Body};
use super::excludes;

fn to_value<T: serde::Serialize>(request: &T) -> serde_json::Value {
    serde_json::to_value(request).expect("request models always serialize")
}

/// A client bound to one project: what every project command uses.
#[derive(Debug, Clone)]
pub struct ProjectClient {
    api: ApiClient,
    project: String,
}

impl ProjectClient {
    /// Binds `api` to `project`.
    pub fn new(api: ApiClient, project: &str) -> Self {
        Self {
            api,
            project: project.to_owned(),
        }
    }

    /// The project name.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The underlying client.
    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    fn path(&self, group_action: &str) -> String {
        format!("/api/project/{}/{group_action}", self.project)
    }

    /// `POST /api/projects/{p}/get`: the project, which also proves the token can see it.
    pub async fn get_project(&self) -> Result<Project, ApiError> {
        let path = format!("/api/projects/{}/get", self.project);
        self.api.post_empty(&path).await
    }

    /// `POST /api/users/get_my_user`.
    pub async fn get_my_user(&self) -> Result<User, ApiError> {
        self.api.post_empty("/api/users/get_my_user").await
    }

    /// `POST /api/runs/list` for this project, newest first, with the latest submission of
    /// each job.
    pub async fn list_runs(&self, only_active: bool, limit: u32) -> Result<Vec<Run>, ApiError> {
        let request = ListRunsRequest {
            project_name: Some(self.project.clone()),
            repo_id: None,
            username: None,
            only_active,
            include_jobs: true,
            job_submissions_limit: Some(1),
            prev_submitted_at: None,
            prev_run_id: None,
            limit: dstack_core::api::common::Limit(limit),
            ascending: false,
        };
        self.api.post("/api/runs/list", &request).await
    }

    /// `runs/get` by name.
    pub async fn get_run(&self, name: &str) -> Result<Run, ApiError> {
        let request = GetRunRequest {
            run_name: Some(name.to_owned()),
            id: None,
        };
        self.api.post(&self.path("runs/get"), &request).await
    }

    /// `runs/get_plan`.
    pub async fn get_run_plan(&self, request: &GetRunPlanRequest) -> Result<RunPlan, ApiError> {
        let mut body = to_value(request);
        excludes::run_spec(&mut body["run_spec"]);
        self.api.post(&self.path("runs/get_plan"), &body).await
    }

    /// `runs/apply`.
    pub async fn apply_run_plan(&self, request: &ApplyRunPlanRequest) -> Result<Run, ApiError> {
        let mut body = to_value(request);
        excludes::run_spec(&mut body["plan"]["run_spec"]);
        excludes::current_run(&mut body["plan"]["current_resource"]);
        self.api.post(&self.path("runs/apply"), &body).await
    }

    /// `runs/stop`.
    pub async fn stop_runs(&self, names: &[String], abort: bool) -> Result<(), ApiError> {
        let request = StopRunsRequest {
            runs_names: names.to_vec(),
            abort,
        };
        self.api.post(&self.path("runs/stop"), &request).await
    }

    /// `runs/delete`.
    pub async fn delete_runs(&self, names: &[String]) -> Result<(), ApiError> {
        let request = DeleteRunsRequest {
            runs_names: names.to_vec(),
        };
        self.api.post(&self.path("runs/delete"), &request).await
    }

    /// `logs/poll`.
    pub async fn poll_logs(
        &self,
        request: &PollLogsRequest,
    ) -> Result<JobSubmissionLogs, ApiError> {
        self.api.post(&self.path("logs/poll"), request).await
    }

    /// `GET metrics/job/{run}` for one job.
    pub async fn get_job_metrics(
        &self,
        run: &str,
        replica_num: u32,
        job_num: u32,
    ) -> Result<JobMetrics, ApiError> {
        let path = format!(
            "{}?replica_num={replica_num}&job_num={job_num}&limit=1000",
            self.path(&format!("metrics/job/{run}"))
        );
        self.api.call(Method::GET, &path, Body::None).await
    }

    /// `repos/get` with the caller's stored creds; 400 `resource_not_exists` when the repo was
    /// never initialised.
    pub async fn get_repo(&self, repo_id: &str) -> Result<RepoHeadWithCreds, ApiError> {
        let request = GetRepoRequest {
            repo_id: repo_id.to_owned(),
            include_creds: true,
        };
        self.api.post(&self.path("repos/get"), &request).await
    }

    /// `repos/init`.
    pub async fn init_repo(&self, request: &InitRepoRequest) -> Result<(), ApiError> {
        self.api.post(&self.path("repos/init"), request).await
    }

    /// `repos/upload_code?repo_id=`: the code blob, named by its sha256.
    pub async fn upload_code(
        &self,
        repo_id: &str,
        hash: &str,
        blob: &[u8],
    ) -> Result<(), ApiError> {
        let path = format!("{}?repo_id={repo_id}", self.path("repos/upload_code"));
        let body = Body::File {
            name: hash.to_owned(),
            bytes: blob,
        };
        self.api.call(Method::POST, &path, body).await
    }

    /// `POST /api/files/upload_archive`: a tar named by its sha256.
    pub async fn upload_archive(&self, hash: &str, blob: &[u8]) -> Result<FileArchive, ApiError> {
        let body = Body::File {
            name: hash.to_owned(),
            bytes: blob,
        };
        self.api
            .call(Method::POST, "/api/files/upload_archive", body)
            .await
    }

    /// `fleets/list`, imported fleets included.
    pub async fn list_fleets(&self) -> Result<Vec<Fleet>, ApiError> {
        let request = ListProjectFleetsRequest {
            include_imported: true,
        };
        self.api.post(&self.path("fleets/list"), &request).await
    }

    /// `fleets/get` by name.
    pub async fn get_fleet(&self, name: &str) -> Result<Fleet, ApiError> {
        let request = GetFleetRequest {
            name: Some(name.to_owned()),
            id: None,
        };
        self.api.post(&self.path("fleets/get"), &request).await
    }

    /// `fleets/get` by id.
    pub async fn get_fleet_by_id(&self, id: uuid::Uuid) -> Result<Fleet, ApiError> {
        let request = GetFleetRequest {
            name: None,
            id: Some(id),
        };
        self.api.post(&self.path("fleets/get"), &request).await
    }

    /// `fleets/get_plan`.
    pub async fn get_fleet_plan(
        &self,
        request: &GetFleetPlanRequest,
    ) -> Result<FleetPlan, ApiError> {
        let mut body = to_value(request);
        excludes::fleet_spec(&mut body["spec"]);
        self.api.post(&self.path("fleets/get_plan"), &body).await
    }

    /// `fleets/apply`.
    pub async fn apply_fleet_plan(
        &self,
        request: &ApplyFleetPlanRequest,
    ) -> Result<Fleet, ApiError> {
        let mut body = to_value(request);
        excludes::fleet_spec(&mut body["plan"]["spec"]);
        if let Some(spec) = body["plan"]["current_resource"].get_mut("spec") {
            excludes::fleet_spec(spec);
        }
        self.api.post(&self.path("fleets/apply"), &body).await
    }

    /// `fleets/delete`.
    pub async fn delete_fleets(&self, names: &[String]) -> Result<(), ApiError> {
        let request = NamesRequest {
            names: names.to_vec(),
        };
        self.api.post(&self.path("fleets/delete"), &request).await
    }

    /// `fleets/delete_instances`.
    pub async fn delete_fleet_instances(&self, name: &str, nums: &[u32]) -> Result<(), ApiError> {
        let request = DeleteFleetInstancesRequest {
            name: name.to_owned(),
            instance_nums: nums.to_vec(),
        };
        self.api
            .post(&self.path("fleets/delete_instances"), &request)
            .await
    }

    /// `gpus/list`.
    pub async fn list_gpus(&self, request: &ListGpusRequest) -> Result<GpuGroups, ApiError> {
        let mut body = to_value(request);
        excludes::run_spec(&mut body["run_spec"]);
        self.api.post(&self.path("gpus/list"), &body).await
    }

    /// `secrets/list`: names only.
    pub async fn list_secrets(&self) -> Result<Vec<Secret>, ApiError> {
        self.api.post_empty(&self.path("secrets/list")).await
    }

    /// `secrets/get`: with the value.
    pub async fn get_secret(&self, name: &str) -> Result<Secret, ApiError> {
        let request = NameRequest {
            name: name.to_owned(),
        };
        self.api.post(&self.path("secrets/get"), &request).await
    }

    /// `secrets/create_or_update`.
    pub async fn set_secret(&self, name: &str, value: &str) -> Result<Secret, ApiError> {
        let request = CreateOrUpdateSecretRequest {
            name: name.to_owned(),
            value: value.to_owned(),
        };
        self.api
            .post(&self.path("secrets/create_or_update"), &request)
            .await
    }

    /// `secrets/delete`.
    pub async fn delete_secrets(&self, names: &[String]) -> Result<(), ApiError> {
        let request = DeleteSecretsRequest {
            secrets_names: names.to_vec(),
        };
        self.api.post(&self.path("secrets/delete"), &request).await
    }

    /// `volumes/list`.
    pub async fn list_volumes(&self) -> Result<Vec<Volume>, ApiError> {
        self.api.post_empty(&self.path("volumes/list")).await
    }

    /// `volumes/get`.
    pub async fn get_volume(&self, name: &str) -> Result<Volume, ApiError> {
        let request = NameRequest {
            name: name.to_owned(),
        };
        self.api.post(&self.path("volumes/get"), &request).await
    }

    /// `volumes/create`.
    pub async fn create_volume(&self, request: &CreateVolumeRequest) -> Result<Volume, ApiError> {
        self.api.post(&self.path("volumes/create"), request).await
    }

    /// `volumes/delete`.
    pub async fn delete_volumes(&self, names: &[String]) -> Result<(), ApiError> {
        let request = NamesRequest {
            names: names.to_vec(),
        };
        self.api.post(&self.path("volumes/delete"), &request).await
    }

    /// `gateways/list`, imported gateways included.
    pub async fn list_gateways(&self) -> Result<Vec<Gateway>, ApiError> {
        let request = ListGatewaysRequest {
            include_imported: true,
        };
        self.api.post(&self.path("gateways/list"), &request).await
    }

    /// `gateways/get`.
    pub async fn get_gateway(&self, name: &str) -> Result<Gateway, ApiError> {
        let request = NameRequest {
            name: name.to_owned(),
        };
        self.api.post(&self.path("gateways/get"), &request).await
    }

    /// `gateways/get_plan`.
    pub async fn get_gateway_plan(
        &self,
        request: &GetGatewayPlanRequest,
    ) -> Result<GatewayPlan, ApiError> {
        self.api
            .post(&self.path("gateways/get_plan"), request)
            .await
    }

    /// `gateways/apply`.
    pub async fn apply_gateway_plan(
        &self,
        request: &ApplyGatewayPlanRequest,
    ) -> Result<Gateway, ApiError> {
        self.api.post(&self.path("gateways/apply"), request).await
    }

    /// `gateways/delete`.
    pub async fn delete_gateways(&self, names: &[String]) -> Result<(), ApiError> {
        let request = NamesRequest {
            names: names.to_vec(),
        };
        self.api.post(&self.path("gateways/delete"), &request).await
    }

    /// `gateways/set_default`.
    pub async fn set_default_gateway(&self, name: &str) -> Result<(), ApiError> {
        let request = SetDefaultGatewayRequest {
            name: name.to_owned(),
            gateway_project: None,
        };
        self.api
            .post(&self.path("gateways/set_default"), &request)
            .await
    }

    /// `POST /api/events/list`.
    pub async fn list_events(&self, request: &ListEventsRequest) -> Result<Vec<Event>, ApiError> {
        self.api.post("/api/events/list", request).await
    }
}

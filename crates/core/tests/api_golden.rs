//! Golden test of the API wire models against recorded dstack 0.22.5 traffic.
//!
//! Every line of `fixtures/api-traffic-0.22.5.jsonl` is mapped, by method and path, to the
//! endpoint's request and response types. Request bodies must deserialize (and survive their
//! own round trip); 200 bodies must deserialize and serialize back to the same JSON; 4xx
//! bodies must deserialize into the error body.

use dstack_core::api::backends::{
    BackendConfig, BackendTypes, BackendYaml, BackendYamlRequest, DeleteBackendsRequest,
};
use dstack_core::api::common::{ErrorBody, NameRequest, NamesRequest};
use dstack_core::api::events::{Event, ListEventsRequest};
use dstack_core::api::exports::{
    CreateExportRequest, DeleteImportRequest, Export, ExportsList, ImportsList, UpdateExportRequest,
};
use dstack_core::api::files::{FileArchive, GetArchiveByHashRequest};
use dstack_core::api::fleets::{
    ApplyFleetPlanRequest, DeleteFleetInstancesRequest, Fleet, FleetPlan, GetFleetPlanRequest,
    GetFleetRequest, ListFleetsRequest, ListProjectFleetsRequest,
};
use dstack_core::api::gateways::{
    ApplyGatewayPlanRequest, CreateGatewayRequest, Gateway, GatewayPlan, GetGatewayPlanRequest,
    ListGatewaysRequest, SetDefaultGatewayRequest, SetWildcardDomainRequest,
};
use dstack_core::api::gpus::{GpuGroups, ListGpusRequest};
use dstack_core::api::instances::{
    GetInstanceHealthChecksRequest, GetInstanceRequest, Instance, InstanceHealthChecks,
    ListInstancesRequest,
};
use dstack_core::api::logs::{JobSubmissionLogs, PollLogsRequest};
use dstack_core::api::metrics::JobMetrics;
use dstack_core::api::projects::{
    CreateProjectRequest, DeleteProjectsRequest, ListProjectsRequest, Project, ProjectsList,
    RemoveMembersRequest, SetMembersRequest, UpdateProjectRequest,
};
use dstack_core::api::repos::{
    DeleteReposRequest, GetRepoRequest, InitRepoRequest, RepoHead, RepoHeadWithCreds,
};
use dstack_core::api::runs::{
    ApplyRunPlanRequest, DeleteRunsRequest, GetRunPlanRequest, GetRunRequest, ListRunsRequest, Run,
    RunPlan, StopRunsRequest,
};
use dstack_core::api::secrets::{CreateOrUpdateSecretRequest, DeleteSecretsRequest, Secret};
use dstack_core::api::server::{
    AuthCallbackRequest, AuthProvider, AuthorizationUrl, AuthorizeRequest, GetNextRedirectRequest,
    HealthcheckStatus, NextRedirect, ServerInfo,
};
use dstack_core::api::sshproxy::{GetUpstreamRequest, Upstream};
use dstack_core::api::templates::UiTemplate;
use dstack_core::api::users::{
    AddPublicKeyRequest, CreateUserRequest, DeletePublicKeysRequest, DeleteUsersRequest,
    ListUsersRequest, PublicKeyInfo, User, UserWithCreds, UsernameRequest, UsersList,
};
use dstack_core::api::volumes::{CreateVolumeRequest, ListVolumesRequest, Volume};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

const FIXTURES: &str = include_str!("fixtures/api-traffic-0.22.5.jsonl");

type Check = fn(&str) -> Result<(), String>;

/// What an endpoint takes as its body.
enum RequestBody {
    /// No body at all.
    Absent,
    /// A JSON body that the client may also leave out.
    Optional(Check),
    /// A JSON body.
    Json(Check),
    /// A multipart upload; not JSON, so not typed here.
    Multipart,
}

struct Endpoint {
    method: &'static str,
    /// Path segments in braces match any one segment.
    path: &'static str,
    request: RequestBody,
    response: Check,
}

/// One row of the endpoint table: `METHOD "path", request => Response`.
macro_rules! endpoint {
    ($method:ident $path:literal, - => $resp:ty) => {
        endpoint!(@row $method $path, RequestBody::Absent, $resp)
    };
    ($method:ident $path:literal, multipart => $resp:ty) => {
        endpoint!(@row $method $path, RequestBody::Multipart, $resp)
    };
    ($method:ident $path:literal, optional $req:ty => $resp:ty) => {
        endpoint!(@row $method $path, RequestBody::Optional(check_request::<$req>), $resp)
    };
    ($method:ident $path:literal, $req:ty => $resp:ty) => {
        endpoint!(@row $method $path, RequestBody::Json(check_request::<$req>), $resp)
    };
    (@row $method:ident $path:literal, $request:expr, $resp:ty) => {
        Endpoint {
            method: stringify!($method),
            path: $path,
            request: $request,
            response: check_response::<$resp>,
        }
    };
}

/// Every endpoint of api.md §2, with `()` for the literal `null` body.
fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(POST "/api/server/get_info", - => ServerInfo),
        endpoint!(POST "/api/auth/list_providers", - => Vec<AuthProvider>),
        endpoint!(GET "/healthcheck", - => HealthcheckStatus),
        endpoint!(POST "/api/auth/get_next_redirect", GetNextRedirectRequest => NextRedirect),
        endpoint!(POST "/api/auth/{provider}/authorize", AuthorizeRequest => AuthorizationUrl),
        endpoint!(POST "/api/auth/{provider}/callback", AuthCallbackRequest => UserWithCreds),
        // users
        endpoint!(POST "/api/users/list", optional ListUsersRequest => UsersList),
        endpoint!(POST "/api/users/get_my_user", - => UserWithCreds),
        endpoint!(POST "/api/users/get_user", UsernameRequest => UserWithCreds),
        endpoint!(POST "/api/users/create", CreateUserRequest => User),
        endpoint!(POST "/api/users/update", CreateUserRequest => User),
        endpoint!(POST "/api/users/refresh_ssh_key", UsernameRequest => UserWithCreds),
        endpoint!(POST "/api/users/refresh_token", UsernameRequest => UserWithCreds),
        endpoint!(POST "/api/users/delete", DeleteUsersRequest => ()),
        endpoint!(POST "/api/users/public_keys/list", - => Vec<PublicKeyInfo>),
        endpoint!(POST "/api/users/public_keys/add", AddPublicKeyRequest => PublicKeyInfo),
        endpoint!(POST "/api/users/public_keys/delete", DeletePublicKeysRequest => ()),
        // projects
        endpoint!(POST "/api/projects/list", optional ListProjectsRequest => ProjectsList),
        endpoint!(POST "/api/projects/list_only_no_fleets", - => Vec<Project>),
        endpoint!(POST "/api/projects/create", CreateProjectRequest => Project),
        endpoint!(POST "/api/projects/delete", DeleteProjectsRequest => ()),
        endpoint!(POST "/api/projects/{p}/get", - => Project),
        endpoint!(POST "/api/projects/{p}/set_members", SetMembersRequest => Project),
        endpoint!(POST "/api/projects/{p}/add_members", SetMembersRequest => Project),
        endpoint!(POST "/api/projects/{p}/remove_members", RemoveMembersRequest => Project),
        endpoint!(POST "/api/projects/{p}/update", UpdateProjectRequest => Project),
        // backends
        endpoint!(POST "/api/backends/list_types", - => BackendTypes),
        endpoint!(POST "/api/project/{p}/backends/create", BackendConfig => BackendConfig),
        endpoint!(POST "/api/project/{p}/backends/update", BackendConfig => BackendConfig),
        endpoint!(POST "/api/project/{p}/backends/delete", DeleteBackendsRequest => ()),
        endpoint!(POST "/api/project/{p}/backends/{b}/config_info", - => BackendConfig),
        endpoint!(POST "/api/project/{p}/backends/create_yaml", BackendYamlRequest => ()),
        endpoint!(POST "/api/project/{p}/backends/update_yaml", BackendYamlRequest => ()),
        endpoint!(POST "/api/project/{p}/backends/{b}/get_yaml", - => BackendYaml),
        // repos and files
        endpoint!(POST "/api/project/{p}/repos/list", - => Vec<RepoHead>),
        endpoint!(POST "/api/project/{p}/repos/get", GetRepoRequest => RepoHeadWithCreds),
        endpoint!(POST "/api/project/{p}/repos/init", InitRepoRequest => ()),
        endpoint!(POST "/api/project/{p}/repos/delete", DeleteReposRequest => ()),
        endpoint!(POST "/api/project/{p}/repos/upload_code", multipart => ()),
        endpoint!(POST "/api/files/upload_archive", multipart => FileArchive),
        endpoint!(POST "/api/files/get_archive_by_hash", GetArchiveByHashRequest => FileArchive),
        // runs
        endpoint!(POST "/api/runs/list", ListRunsRequest => Vec<Run>),
        endpoint!(POST "/api/project/{p}/runs/get", GetRunRequest => Run),
        endpoint!(POST "/api/project/{p}/runs/get_plan", GetRunPlanRequest => RunPlan),
        endpoint!(POST "/api/project/{p}/runs/apply", ApplyRunPlanRequest => Run),
        endpoint!(POST "/api/project/{p}/runs/stop", StopRunsRequest => ()),
        endpoint!(POST "/api/project/{p}/runs/delete", DeleteRunsRequest => ()),
        // fleets and instances
        endpoint!(POST "/api/fleets/list", ListFleetsRequest => Vec<Fleet>),
        endpoint!(POST "/api/project/{p}/fleets/list", optional ListProjectFleetsRequest => Vec<Fleet>),
        endpoint!(POST "/api/project/{p}/fleets/get", GetFleetRequest => Fleet),
        endpoint!(POST "/api/project/{p}/fleets/get_plan", GetFleetPlanRequest => FleetPlan),
        endpoint!(POST "/api/project/{p}/fleets/apply", ApplyFleetPlanRequest => Fleet),
        endpoint!(POST "/api/project/{p}/fleets/delete", NamesRequest => ()),
        endpoint!(POST "/api/project/{p}/fleets/delete_instances", DeleteFleetInstancesRequest => ()),
        endpoint!(POST "/api/instances/list", ListInstancesRequest => Vec<Instance>),
        endpoint!(POST "/api/project/{p}/instances/get", GetInstanceRequest => Instance),
        endpoint!(POST "/api/project/{p}/instances/get_instance_health_checks",
            GetInstanceHealthChecksRequest => InstanceHealthChecks),
        // offers, logs, metrics
        endpoint!(POST "/api/project/{p}/gpus/list", ListGpusRequest => GpuGroups),
        endpoint!(POST "/api/project/{p}/logs/poll", PollLogsRequest => JobSubmissionLogs),
        endpoint!(GET "/api/project/{p}/metrics/job/{run}", - => JobMetrics),
        // secrets
        endpoint!(POST "/api/project/{p}/secrets/list", - => Vec<Secret>),
        endpoint!(POST "/api/project/{p}/secrets/get", NameRequest => Secret),
        endpoint!(POST "/api/project/{p}/secrets/create_or_update", CreateOrUpdateSecretRequest => Secret),
        endpoint!(POST "/api/project/{p}/secrets/delete", DeleteSecretsRequest => ()),
        // volumes
        endpoint!(POST "/api/volumes/list", ListVolumesRequest => Vec<Volume>),
        endpoint!(POST "/api/project/{p}/volumes/list", - => Vec<Volume>),
        endpoint!(POST "/api/project/{p}/volumes/get", NameRequest => Volume),
        endpoint!(POST "/api/project/{p}/volumes/create", CreateVolumeRequest => Volume),
        endpoint!(POST "/api/project/{p}/volumes/delete", NamesRequest => ()),
        // gateways
        endpoint!(POST "/api/project/{p}/gateways/list", optional ListGatewaysRequest => Vec<Gateway>),
        endpoint!(POST "/api/project/{p}/gateways/get", NameRequest => Gateway),
        endpoint!(POST "/api/project/{p}/gateways/get_plan", GetGatewayPlanRequest => GatewayPlan),
        endpoint!(POST "/api/project/{p}/gateways/apply", ApplyGatewayPlanRequest => Gateway),
        endpoint!(POST "/api/project/{p}/gateways/create", CreateGatewayRequest => Gateway),
        endpoint!(POST "/api/project/{p}/gateways/delete", NamesRequest => ()),
        endpoint!(POST "/api/project/{p}/gateways/set_default", SetDefaultGatewayRequest => ()),
        endpoint!(POST "/api/project/{p}/gateways/set_wildcard_domain",
            SetWildcardDomainRequest => Gateway),
        // events, exports, sshproxy
        endpoint!(POST "/api/events/list", ListEventsRequest => Vec<Event>),
        endpoint!(POST "/api/project/{p}/exports/create", CreateExportRequest => Export),
        endpoint!(POST "/api/project/{p}/exports/update", UpdateExportRequest => Export),
        endpoint!(POST "/api/project/{p}/exports/delete", NameRequest => ()),
        endpoint!(POST "/api/project/{p}/exports/list", - => ExportsList),
        endpoint!(POST "/api/project/{p}/imports/list", - => ImportsList),
        endpoint!(POST "/api/project/{p}/imports/delete", DeleteImportRequest => ()),
        endpoint!(POST "/api/project/{p}/templates/list", - => Vec<UiTemplate>),
        endpoint!(POST "/api/sshproxy/get_upstream", GetUpstreamRequest => Upstream),
    ]
}

/// Deserializes a request body and checks that the value survives its own round trip.
fn check_request<T>(body: &str) -> Result<(), String>
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let value: T = deserialize_str(body)?;
    let written = serde_json::to_string(&value).map_err(|err| format!("serialize: {err}"))?;
    let again: T = deserialize_str(&written)?;
    if again == value {
        Ok(())
    } else {
        Err(format!(
            "request does not survive its round trip: {written}"
        ))
    }
}

/// Deserializes a response body and checks that it serializes back to the same JSON.
fn check_response<T>(body: &str) -> Result<(), String>
where
    T: DeserializeOwned + Serialize,
{
    let original: Value =
        serde_json::from_str(body).map_err(|err| format!("body is not JSON: {err}"))?;
    let typed: T = deserialize_str(body)?;
    let written = serde_json::to_value(&typed).map_err(|err| format!("serialize: {err}"))?;
    match first_difference(&original, &written, "$") {
        None => Ok(()),
        Some(difference) => Err(difference),
    }
}

fn deserialize_str<T: DeserializeOwned>(body: &str) -> Result<T, String> {
    let deserializer = &mut serde_json::Deserializer::from_str(body);
    serde_path_to_error::deserialize(deserializer)
        .map_err(|err| format!("deserialize at {}: {}", err.path(), err.inner()))
}

/// Where two JSON values differ, for a readable failure; `None` when they are equal.
fn first_difference(original: &Value, written: &Value, path: &str) -> Option<String> {
    match (original, written) {
        (Value::Object(left), Value::Object(right)) => {
            let missing = left.keys().find(|key| !right.contains_key(*key));
            let extra = right.keys().find(|key| !left.contains_key(*key));
            if let Some(key) = missing {
                return Some(format!("{path}.{key}: missing in serialized output"));
            }
            if let Some(key) = extra {
                return Some(format!("{path}.{key}: not in the original"));
            }
            left.iter().find_map(|(key, value)| {
                first_difference(value, &right[key], &format!("{path}.{key}"))
            })
        }
        (Value::Array(left), Value::Array(right)) if left.len() == right.len() => left
            .iter()
            .zip(right)
            .enumerate()
            .find_map(|(index, (l, r))| first_difference(l, r, &format!("{path}[{index}]"))),
        _ if original == written => None,
        _ => Some(format!("{path}: original {original}, serialized {written}")),
    }
}

struct Exchange {
    line: usize,
    method: String,
    path: String,
    status: u64,
    req_body: String,
    resp_body: String,
}

fn exchanges() -> Vec<Exchange> {
    FIXTURES
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let record: Value = serde_json::from_str(line).expect("fixture line is JSON");
            let text = |key: &str| record[key].as_str().expect("string field").to_owned();
            Exchange {
                line: index + 1,
                method: text("method"),
                path: text("path"),
                status: record["status"].as_u64().expect("status"),
                req_body: text("req_body"),
                resp_body: text("resp_body"),
            }
        })
        .collect()
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let pattern: Vec<&str> = pattern.split('/').collect();
    let actual: Vec<&str> = path.split('/').collect();
    pattern.len() == actual.len()
        && pattern
            .iter()
            .zip(&actual)
            .all(|(want, got)| want.starts_with('{') || want == got)
}

fn find_endpoint<'a>(table: &'a [Endpoint], exchange: &Exchange) -> Option<&'a Endpoint> {
    table.iter().find(|endpoint| {
        endpoint.method == exchange.method && path_matches(endpoint.path, &exchange.path)
    })
}

fn check_exchange(endpoint: &Endpoint, exchange: &Exchange) -> Result<(), String> {
    let body = exchange.req_body.as_str();
    match (&endpoint.request, body.is_empty()) {
        (RequestBody::Absent, true) | (RequestBody::Optional(_), true) => {}
        (RequestBody::Absent, false) => return Err("unexpected request body".into()),
        (RequestBody::Optional(check) | RequestBody::Json(check), false) => {
            check(body).map_err(|err| format!("request: {err}"))?
        }
        (RequestBody::Json(_), true) => return Err("missing request body".into()),
        (RequestBody::Multipart, _) if body.starts_with("<multipart") => {}
        (RequestBody::Multipart, _) => return Err("expected a multipart body".into()),
    }
    match exchange.status {
        200 => (endpoint.response)(&exchange.resp_body).map_err(|err| format!("response: {err}")),
        400..500 => check_response::<ErrorBody>(&exchange.resp_body)
            .map_err(|err| format!("error body: {err}")),
        other => Err(format!("unexpected status {other}")),
    }
}

#[test]
fn every_recorded_exchange_matches_its_wire_types() {
    let table = endpoints();
    let exchanges = exchanges();
    assert!(exchanges.len() > 100, "fixture file looks truncated");
    let failures: Vec<String> = exchanges
        .iter()
        .filter_map(|exchange| {
            let outcome = match find_endpoint(&table, exchange) {
                Some(endpoint) => check_exchange(endpoint, exchange),
                None => Err("no endpoint in the table".into()),
            };
            outcome.err().map(|err| {
                format!(
                    "line {} {} {}: {err}",
                    exchange.line, exchange.method, exchange.path
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn endpoint_table_has_no_duplicates() {
    let table = endpoints();
    for (index, endpoint) in table.iter().enumerate() {
        let twin = table[index + 1..]
            .iter()
            .find(|other| other.method == endpoint.method && other.path == endpoint.path);
        assert!(
            twin.is_none(),
            "{} {} listed twice",
            endpoint.method,
            endpoint.path
        );
    }
}

#[test]
fn a_changed_number_form_is_reported() {
    // The comparison must tell 8.0 from 8, or number forms could drift unnoticed.
    let original = serde_json::json!({"memory": {"min": 8.0}});
    let written = serde_json::json!({"memory": {"min": 8}});
    let difference = first_difference(&original, &written, "$");
    assert_eq!(
        difference.as_deref(),
        Some("$.memory.min: original 8.0, serialized 8")
    );
}

#[test]
fn a_dropped_null_field_is_reported() {
    let original = serde_json::json!({"a": null, "b": 1});
    let written = serde_json::json!({"b": 1});
    let difference = first_difference(&original, &written, "$");
    assert_eq!(
        difference.as_deref(),
        Some("$.a: missing in serialized output")
    );
}

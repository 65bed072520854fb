//! Our API client against the recorded dstack 0.22.5 traffic (issue 3).
//!
//! A replay server answers each recorded exchange with its recorded status and body. For every
//! exchange of an endpoint the client has, the test makes the same call through the client and
//! checks that the request matches the recording (method, path and query, headers, JSON body)
//! and that the client reads the recorded answer: 200 bodies parse into the models, errors
//! become the matching `ApiError`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use dstack_cli::api::{ApiClient, ApiError, ProjectClient};
use serde::Deserialize;
use serde_json::Value;

const FIXTURES: &str = include_str!("../../core/tests/fixtures/api-traffic-0.22.5.jsonl");

/// The token the recording shows in place of the real one.
const RECORDED_TOKEN: &str = "<token>";

#[derive(Debug, Deserialize)]
struct Exchange {
    method: String,
    path: String,
    req_headers: serde_json::Map<String, Value>,
    req_body: Option<String>,
    status: u16,
    resp_body: String,
}

/// What the replay server saw.
#[derive(Debug, Clone)]
struct Received {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Default)]
struct Replay {
    answer: Option<(u16, String)>,
    received: Option<Received>,
}

type Shared = Arc<Mutex<Replay>>;

async fn replay(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let mut replay = state.lock().expect("replay state");
    replay.received = Some(Received {
        method,
        uri,
        headers,
        body,
    });
    let (status, body) = replay.answer.take().expect("an answer was set");
    (
        StatusCode::from_u16(status).expect("a recorded status"),
        [("content-type", "application/json")],
        body,
    )
}

async fn start_replay() -> (String, Shared) {
    let state = Shared::default();
    let app = Router::new().fallback(replay).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (url, state)
}

fn field<'a>(body: &'a Value, key: &str) -> &'a Value {
    &body[key]
}

fn string(body: &Value, key: &str) -> String {
    field(body, key)
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string in {body}"))
        .to_owned()
}

fn strings(body: &Value, key: &str) -> Vec<String> {
    serde_json::from_value(field(body, key).clone()).expect("a list of strings")
}

fn typed<T: serde::de::DeserializeOwned>(body: &Value) -> T {
    serde_json::from_value(body.clone()).expect("the recorded request reads as our model")
}

/// Makes the call the recorded exchange shows; `None` for endpoints the client does not have.
async fn perform(
    client: &ProjectClient,
    method: &str,
    action: &str,
    body: &Value,
) -> Option<Result<(), ApiError>> {
    let result = match (method, action) {
        ("POST", "projects/get") => client.get_project().await.map(drop),
        ("POST", "users/get_my_user") => client.get_my_user().await.map(drop),
        // The CLI always asks for the latest submission; calls without the limit come from
        // the SDK.
        ("POST", "runs/list") if body["job_submissions_limit"].is_null() => return None,
        ("POST", "runs/list") => {
            let only_active = body["only_active"].as_bool().expect("only_active");
            let limit = body["limit"].as_u64().expect("limit") as u32;
            client.list_runs(only_active, limit).await.map(drop)
        }
        ("POST", "runs/get") => client.get_run(&string(body, "run_name")).await.map(drop),
        ("POST", "runs/get_plan") => client.get_run_plan(&typed(body)).await.map(drop),
        ("POST", "runs/apply") => client.apply_run_plan(&typed(body)).await.map(drop),
        ("POST", "runs/stop") => {
            let abort = body["abort"].as_bool().expect("abort");
            client.stop_runs(&strings(body, "runs_names"), abort).await
        }
        ("POST", "runs/delete") => client.delete_runs(&strings(body, "runs_names")).await,
        ("POST", "logs/poll") => client.poll_logs(&typed(body)).await.map(drop),
        ("GET", "metrics/job") => client.get_job_metrics("hello", 0, 0).await.map(drop),
        ("POST", "repos/init") => client.init_repo(&typed(body)).await,
        ("POST", "fleets/list") => client.list_fleets().await.map(drop),
        ("POST", "fleets/get") => client.get_fleet(&string(body, "name")).await.map(drop),
        ("POST", "fleets/get_plan") => client.get_fleet_plan(&typed(body)).await.map(drop),
        ("POST", "fleets/apply") => client.apply_fleet_plan(&typed(body)).await.map(drop),
        ("POST", "fleets/delete") => client.delete_fleets(&strings(body, "names")).await,
        ("POST", "gpus/list") => client.list_gpus(&typed(body)).await.map(drop),
        ("POST", "secrets/list") => client.list_secrets().await.map(drop),
        ("POST", "secrets/get") => client.get_secret(&string(body, "name")).await.map(drop),
        ("POST", "secrets/create_or_update") => client
            .set_secret(&string(body, "name"), &string(body, "value"))
            .await
            .map(drop),
        ("POST", "secrets/delete") => client.delete_secrets(&strings(body, "secrets_names")).await,
        ("POST", "volumes/list") => client.list_volumes().await.map(drop),
        ("POST", "volumes/get") => client.get_volume(&string(body, "name")).await.map(drop),
        ("POST", "gateways/list") => client.list_gateways().await.map(drop),
        ("POST", "gateways/get") => client.get_gateway(&string(body, "name")).await.map(drop),
        ("POST", "events/list") => client.list_events(&typed(body)).await.map(drop),
        _ => return None,
    };
    Some(result)
}

/// `(project, action)` of a recorded path: `/api/project/main/runs/get` is `runs/get` in
/// `main`, `/api/projects/p3/get` is `projects/get` in `p3`, `/api/runs/list` is `runs/list`.
fn route(path: &str) -> (String, String) {
    let path = path.split('?').next().unwrap_or(path);
    let rest = path.strip_prefix("/api/").expect("an API path");
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        ["project", project, "metrics", "job", _run] => {
            ((*project).to_owned(), "metrics/job".to_owned())
        }
        ["project", project, group, action] => ((*project).to_owned(), format!("{group}/{action}")),
        ["projects", project, action] if *action == "get" => {
            ((*project).to_owned(), "projects/get".to_owned())
        }
        [group, action] => ("main".to_owned(), format!("{group}/{action}")),
        _ => ("main".to_owned(), rest.to_owned()),
    }
}

fn check_request(exchange: &Exchange, received: &Received) {
    let what = format!("{} {}", exchange.method, exchange.path);
    assert_eq!(received.method.as_str(), exchange.method, "{what}");
    let sent_path = received
        .uri
        .path_and_query()
        .map(ToString::to_string)
        .unwrap_or_default();
    // The recorded metrics call without a limit comes from `dstack metrics`'s error path; the
    // client always sends the limit it uses for the table.
    if !exchange.path.contains("/metrics/job/nope") {
        assert_eq!(sent_path, exchange.path, "{what}");
    }
    let header = |name: &str| {
        received
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    for name in ["X-API-VERSION", "Authorization"] {
        let recorded = exchange.req_headers[name].as_str().map(str::to_owned);
        assert_eq!(header(name), recorded, "{what}: header {name}");
    }
    let recorded_type = exchange
        .req_headers
        .get("Content-Type")
        .and_then(Value::as_str);
    assert_eq!(
        header("content-type").as_deref(),
        recorded_type,
        "{what}: content type"
    );
    match exchange.req_body.as_deref().filter(|body| !body.is_empty()) {
        None => assert!(received.body.is_empty(), "{what}: sent a body"),
        Some(recorded) => {
            let recorded: Value = serde_json::from_str(recorded).expect("recorded JSON");
            let sent: Value = serde_json::from_slice(&received.body).expect("sent JSON");
            let mut differences = Vec::new();
            json_differences(&sent, &recorded, "", &mut differences);
            assert!(
                differences.is_empty(),
                "{what}: request body differs at {differences:#?}"
            );
        }
    }
}

/// The paths where `sent` and `recorded` differ, with both values.
fn json_differences(sent: &Value, recorded: &Value, path: &str, out: &mut Vec<String>) {
    match (sent, recorded) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let (x, y) = (a.get(key), b.get(key));
                match (x, y) {
                    (Some(x), Some(y)) => json_differences(x, y, &format!("{path}.{key}"), out),
                    _ => out.push(format!("{path}.{key}: sent {x:?}, recorded {y:?}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                json_differences(x, y, &format!("{path}[{index}]"), out);
            }
        }
        _ if sent != recorded => out.push(format!("{path}: sent {sent}, recorded {recorded}")),
        _ => {}
    }
}

fn check_outcome(exchange: &Exchange, outcome: &Result<(), ApiError>) {
    let what = format!(
        "{} {} ({})",
        exchange.method, exchange.path, exchange.status
    );
    let body: Value = serde_json::from_str(&exchange.resp_body).expect("recorded JSON");
    let error = &body["detail"][0];
    match (exchange.status, outcome) {
        (200, Ok(())) => {}
        (400, Err(ApiError::NotFound(msg))) => {
            assert_eq!(error["code"], "resource_not_exists", "{what}");
            assert_eq!(error["msg"], msg.as_str(), "{what}");
        }
        (400, Err(ApiError::Server(msg))) => {
            assert_eq!(error["code"], "error", "{what}");
            assert_eq!(error["msg"], msg.as_str(), "{what}");
        }
        (404, Err(ApiError::ProjectNotFound { project, .. })) => {
            assert!(exchange.path.contains(&format!("/{project}/")), "{what}")
        }
        (_, outcome) => panic!("{what}: unexpected outcome {outcome:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn client_matches_recorded_dstack_traffic() {
    let (url, state) = start_replay().await;
    let mut covered = BTreeSet::new();
    for line in FIXTURES.lines() {
        let exchange: Exchange = serde_json::from_str(line).expect("a recorded exchange");
        let (project, action) = route(&exchange.path);
        let body: Value = exchange
            .req_body
            .as_deref()
            .and_then(|body| serde_json::from_str(body).ok())
            .unwrap_or(Value::Null);
        let client = ProjectClient::new(
            ApiClient::new(&url, RECORDED_TOKEN).expect("a client"),
            &project,
        );
        state.lock().expect("state").answer = Some((exchange.status, exchange.resp_body.clone()));
        let Some(outcome) = perform(&client, &exchange.method, &action, &body).await else {
            state.lock().expect("state").answer = None;
            continue;
        };
        let received = state
            .lock()
            .expect("state")
            .received
            .take()
            .expect("the client sent a request");
        check_request(&exchange, &received);
        check_outcome(&exchange, &outcome);
        covered.insert(action);
    }
    // Every endpoint the CLI's commands use that the recording has.
    for action in [
        "projects/get",
        "users/get_my_user",
        "runs/list",
        "runs/get",
        "runs/get_plan",
        "runs/apply",
        "runs/stop",
        "runs/delete",
        "logs/poll",
        "metrics/job",
        "repos/init",
        "fleets/list",
        "fleets/get",
        "fleets/get_plan",
        "fleets/apply",
        "fleets/delete",
        "gpus/list",
        "secrets/list",
        "secrets/get",
        "secrets/create_or_update",
        "secrets/delete",
        "volumes/list",
        "volumes/get",
        "gateways/list",
        "gateways/get",
        "events/list",
    ] {
        assert!(covered.contains(action), "no recorded exchange of {action}");
    }
}

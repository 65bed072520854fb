//! `/api/runs/list` and `/api/project/{p}/runs/*`: plans against the recorded 0.22.5 plans,
//! apply, get, list, stop and delete, name rules and who may see what.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{
    ADMIN_TOKEN, TestServer, business_error, one_of_concurrent_creates_wins, recorded_exchanges,
};

const PLAN: &str = "/api/project/main/runs/get_plan";
const APPLY: &str = "/api/project/main/runs/apply";
const GET: &str = "/api/project/main/runs/get";
const STOP: &str = "/api/project/main/runs/stop";
const DELETE: &str = "/api/project/main/runs/delete";
const LIST: &str = "/api/runs/list";

/// A task spec as the CLI sends it, with the fields the server must default left out.
pub fn task_spec(name: Option<&str>, command: &str) -> Value {
    json!({
        "run_name": name,
        "repo_id": "none",
        "repo_data": {"repo_type": "virtual"},
        "configuration_path": "task.dstack.yml",
        "configuration": {"type": "task", "name": name, "commands": [command]},
        "profile": {"name": "default", "default": false},
        "ssh_key_pub": null,
    })
}

fn apply_body(spec: Value) -> Value {
    json!({"plan": {"run_spec": spec, "current_resource": null}, "force": false})
}

/// Applies a task named `name` in `project` as `token`; returns the run.
pub async fn apply_task(server: &TestServer, project: &str, token: &str, name: &str) -> Value {
    let path = format!("/api/project/{project}/runs/apply");
    server
        .ok(&path, token, apply_body(task_spec(Some(name), "echo hi")))
        .await
}

async fn get_by_name(server: &TestServer, name: &str) -> Value {
    server
        .ok(GET, ADMIN_TOKEN, json!({"run_name": name, "id": null}))
        .await
}

async fn plans_match_the_recorded_plans(server: &TestServer) {
    let mut compared = 0;
    for exchange in recorded_exchanges() {
        if exchange["path"] != PLAN || exchange["status"] != 200 {
            continue;
        }
        let request: Value =
            serde_json::from_str(exchange["req_body"].as_str().expect("body")).expect("json");
        let recorded: Value =
            serde_json::from_str(exchange["resp_body"].as_str().expect("body")).expect("json");
        let ours = server.ok(PLAN, ADMIN_TOKEN, request).await;
        let label = recorded["run_spec"]["configuration"]["type"].clone();
        assert_eq!(ours["run_spec"], recorded["run_spec"], "{label}");
        let mut effective = recorded["effective_run_spec"].clone();
        // The key is the submitter's, which differs between the recording and this server.
        effective["ssh_key_pub"] = ours["effective_run_spec"]["ssh_key_pub"].clone();
        assert!(ours["effective_run_spec"]["ssh_key_pub"].is_string());
        assert_eq!(ours["effective_run_spec"], effective, "{label}");
        let jobs = |plan: &Value| -> Vec<Value> {
            plan["job_plans"]
                .as_array()
                .expect("job plans")
                .iter()
                .map(|plan| plan["job_spec"].clone())
                .collect()
        };
        assert_eq!(jobs(&ours), jobs(&recorded), "{label}");
        assert_eq!(ours["job_plans"][0]["offers"], json!([]));
        assert_eq!(ours["action"], "create");
        compared += 1;
    }
    assert_eq!(
        compared, 6,
        "the recorded task, dev-environment and service plans"
    );
}

/// `value` with ids, times and keys, which differ between servers, replaced by their key.
fn without_identities(value: &Value) -> Value {
    const VARYING: &[&str] = &["id", "submitted_at", "last_processed_at", "ssh_key_pub"];
    match value {
        Value::Object(object) => object
            .iter()
            .map(|(key, item)| {
                let item = match VARYING.contains(&key.as_str()) && !item.is_null() {
                    true => Value::String(key.clone()),
                    false => without_identities(item),
                };
                (key.clone(), item)
            })
            .collect(),
        Value::Array(items) => items.iter().map(without_identities).collect(),
        other => other.clone(),
    }
}

async fn applied_runs_match_the_recorded_runs(server: &TestServer) {
    let mut compared = 0;
    for exchange in recorded_exchanges() {
        if exchange["path"] != APPLY || exchange["status"] != 200 {
            continue;
        }
        let request: Value =
            serde_json::from_str(exchange["req_body"].as_str().expect("body")).expect("json");
        if !request["plan"]["current_resource"].is_null() {
            // A re-apply over a run this server never had.
            continue;
        }
        let recorded: Value =
            serde_json::from_str(exchange["resp_body"].as_str().expect("body")).expect("json");
        let ours = server.ok(APPLY, ADMIN_TOKEN, request).await;
        assert_eq!(without_identities(&ours), without_identities(&recorded));
        compared += 1;
    }
    assert_eq!(compared, 2, "the recorded task and service applies");
}

async fn a_run_is_applied_read_stopped_and_deleted(server: &TestServer) {
    let run = apply_task(server, "main", ADMIN_TOKEN, "hello").await;
    assert_eq!(run["status"], "submitted");
    assert_eq!(run["status_message"], "submitted");
    assert_eq!(run["run_spec"]["configuration"]["priority"], 0);
    assert!(run["run_spec"]["ssh_key_pub"].is_string());
    let submission = &run["jobs"][0]["job_submissions"][0];
    assert_eq!(submission["status"], "submitted");
    assert_eq!(run["latest_job_submission"], *submission);
    assert_eq!(run["jobs"][0]["job_spec"]["job_name"], "hello-0-0");
    assert_eq!(run["deleted"], false);

    assert_eq!(get_by_name(server, "hello").await, run);
    let by_id = server
        .ok(GET, ADMIN_TOKEN, json!({"run_name": null, "id": run["id"]}))
        .await;
    assert_eq!(by_id, run);

    let plan = server
        .ok(
            PLAN,
            ADMIN_TOKEN,
            json!({"run_spec": task_spec(Some("hello"), "echo hi")}),
        )
        .await;
    assert_eq!(plan["current_resource"]["id"], run["id"]);
    assert_eq!(plan["action"], "update", "same spec on an active run");

    let refused = server
        .post(DELETE, ADMIN_TOKEN, json!({"runs_names": ["hello"]}))
        .await;
    business_error("error", &refused);
    assert_eq!(
        refused.body["detail"][0]["msg"],
        "Cannot delete active runs: ['hello']"
    );

    let stopped = server
        .ok(
            STOP,
            ADMIN_TOKEN,
            json!({"runs_names": ["hello", "nope"], "abort": false}),
        )
        .await;
    assert_eq!(stopped, Value::Null);
    let after = get_by_name(server, "hello").await;
    assert_eq!(after["status"], "terminated");
    assert_eq!(after["termination_reason"], "stopped_by_user");
    let job = &after["latest_job_submission"];
    assert_eq!(job["status"], "terminated");
    assert_eq!(job["termination_reason"], "terminated_by_user");
    assert_eq!(job["status_message"], "stopped");
    assert!(job["finished_at"].is_string());

    server
        .ok(DELETE, ADMIN_TOKEN, json!({"runs_names": ["hello"]}))
        .await;
    let gone = server
        .post(GET, ADMIN_TOKEN, json!({"run_name": "hello"}))
        .await;
    business_error("resource_not_exists", &gone);
    assert_eq!(gone.body["detail"][0]["msg"], "Run not found");
    let deleted = server.ok(GET, ADMIN_TOKEN, json!({"id": run["id"]})).await;
    assert_eq!(deleted["deleted"], true);
}

async fn abort_ends_jobs_as_aborted(server: &TestServer) {
    apply_task(server, "main", ADMIN_TOKEN, "aborted").await;
    server
        .ok(
            STOP,
            ADMIN_TOKEN,
            json!({"runs_names": ["aborted"], "abort": true}),
        )
        .await;
    let run = get_by_name(server, "aborted").await;
    assert_eq!(run["status"], "terminated");
    assert_eq!(run["termination_reason"], "aborted_by_user");
    assert_eq!(run["latest_job_submission"]["status"], "aborted");
}

async fn a_finished_run_is_replaced_and_an_active_one_refused(server: &TestServer) {
    let first = apply_task(server, "main", ADMIN_TOKEN, "again").await;
    let unplanned = server
        .post(
            APPLY,
            ADMIN_TOKEN,
            apply_body(task_spec(Some("again"), "echo changed")),
        )
        .await;
    business_error("resource_exists", &unplanned);
    let body = json!({
        "plan": {"run_spec": task_spec(Some("again"), "echo changed"), "current_resource": first},
        "force": false,
    });
    let changed = server.post(APPLY, ADMIN_TOKEN, body).await;
    business_error("error", &changed);
    assert_eq!(
        changed.body["detail"][0]["msg"],
        "Cannot override active run. Stop the run first."
    );
    server
        .ok(STOP, ADMIN_TOKEN, json!({"runs_names": ["again"]}))
        .await;
    let plan = server
        .ok(
            PLAN,
            ADMIN_TOKEN,
            json!({"run_spec": task_spec(Some("again"), "echo changed")}),
        )
        .await;
    assert_eq!(plan["action"], "create");
    assert_eq!(plan["current_resource"]["status"], "terminated");
    let second = server
        .ok(
            APPLY,
            ADMIN_TOKEN,
            apply_body(task_spec(Some("again"), "echo changed")),
        )
        .await;
    assert_ne!(second["id"], first["id"]);
    assert_eq!(second["status"], "submitted");
    let old = server
        .ok(GET, ADMIN_TOKEN, json!({"id": first["id"]}))
        .await;
    assert_eq!(old["deleted"], true, "the finished run was replaced");
}

async fn an_update_in_place_needs_the_plan_it_saw(server: &TestServer) {
    let run = apply_task(server, "main", ADMIN_TOKEN, "prio").await;
    let mut spec = task_spec(Some("prio"), "echo hi");
    spec["configuration"]["priority"] = json!(7);
    let mut other = run.clone();
    other["run_spec"]["configuration_path"] = json!("elsewhere.yml");
    let stale =
        json!({"plan": {"run_spec": spec.clone(), "current_resource": other}, "force": false});
    let stale = server.post(APPLY, ADMIN_TOKEN, stale).await;
    business_error("error", &stale);
    assert!(
        stale.body["detail"][0]["msg"]
            .as_str()
            .is_some_and(|msg| msg.contains("Resource has been changed")),
        "{}",
        stale.body
    );
    let body = json!({"plan": {"run_spec": spec, "current_resource": run}, "force": false});
    let updated = server.ok(APPLY, ADMIN_TOKEN, body).await;
    assert_eq!(updated["id"], run["id"]);
    assert_eq!(updated["deployment_num"], 1);
    assert_eq!(updated["run_spec"]["configuration"]["priority"], 7);
}

async fn concurrent_applies_of_a_new_name_create_one_run(server: &TestServer) {
    one_of_concurrent_creates_wins(server, APPLY, apply_body(task_spec(Some("race"), "x"))).await;
    let runs = server
        .ok(LIST, ADMIN_TOKEN, json!({"project_name": "main"}))
        .await;
    assert_eq!(runs.as_array().map(Vec::len), Some(1));
}

async fn runs_without_a_name_get_one(server: &TestServer) {
    let first = server
        .ok(APPLY, ADMIN_TOKEN, apply_body(task_spec(None, "echo a")))
        .await;
    let second = server
        .ok(APPLY, ADMIN_TOKEN, apply_body(task_spec(None, "echo b")))
        .await;
    let name = first["run_spec"]["run_name"].as_str().expect("a name");
    assert_eq!(name.split('-').count(), 3, "{name}");
    assert_ne!(
        first["run_spec"]["run_name"],
        second["run_spec"]["run_name"]
    );
    assert_eq!(
        first["jobs"][0]["job_spec"]["job_name"],
        format!("{name}-0-0")
    );
    let bad = server
        .post(
            APPLY,
            ADMIN_TOKEN,
            apply_body(task_spec(Some("Bad_Name"), "x")),
        )
        .await;
    business_error("error", &bad);
}

async fn list_pages_and_filters(server: &TestServer) {
    let bob = server.create_user("bob").await;
    server.create_project("other", ADMIN_TOKEN).await;
    for name in ["r-one", "r-two", "r-three"] {
        apply_task(server, "main", ADMIN_TOKEN, name).await;
    }
    apply_task(server, "other", ADMIN_TOKEN, "elsewhere").await;
    server
        .ok(STOP, ADMIN_TOKEN, json!({"runs_names": ["r-one"]}))
        .await;

    let names = |runs: &Value| -> Vec<String> {
        runs.as_array()
            .expect("a list")
            .iter()
            .map(|run| {
                run["run_spec"]["run_name"]
                    .as_str()
                    .expect("name")
                    .to_owned()
            })
            .collect()
    };
    let all = server
        .ok(LIST, ADMIN_TOKEN, json!({"project_name": "main"}))
        .await;
    assert_eq!(names(&all), ["r-three", "r-two", "r-one"]);
    let active = server
        .ok(
            LIST,
            ADMIN_TOKEN,
            json!({"project_name": "main", "only_active": true}),
        )
        .await;
    assert_eq!(names(&active), ["r-three", "r-two"]);

    let first = server.ok(LIST, ADMIN_TOKEN, json!({"limit": 2})).await;
    assert_eq!(names(&first), ["elsewhere", "r-three"]);
    let last = &first[1];
    let next = server
        .ok(
            LIST,
            ADMIN_TOKEN,
            json!({"limit": 2, "prev_submitted_at": last["submitted_at"], "prev_run_id": last["id"]}),
        )
        .await;
    assert_eq!(names(&next), ["r-two", "r-one"]);
    let oldest = server
        .ok(LIST, ADMIN_TOKEN, json!({"ascending": true, "limit": 1}))
        .await;
    assert_eq!(names(&oldest), ["r-one"]);

    let bare = server
        .ok(
            LIST,
            ADMIN_TOKEN,
            json!({"project_name": "main", "include_jobs": false, "limit": 1}),
        )
        .await;
    assert_eq!(bare[0]["jobs"], json!([]));
    assert_eq!(bare[0]["latest_job_submission"], Value::Null);
    let no_submissions = server
        .ok(
            LIST,
            ADMIN_TOKEN,
            json!({"project_name": "main", "job_submissions_limit": 0, "limit": 1}),
        )
        .await;
    assert_eq!(no_submissions[0]["jobs"][0]["job_submissions"], json!([]));

    let by_user = server
        .ok(LIST, ADMIN_TOKEN, json!({"username": "bob"}))
        .await;
    assert_eq!(by_user, json!([]));
    let unknown_user = server
        .post(LIST, ADMIN_TOKEN, json!({"username": "nobody"}))
        .await;
    business_error("resource_not_exists", &unknown_user);
    let unknown_repo = server
        .post(
            LIST,
            ADMIN_TOKEN,
            json!({"project_name": "main", "repo_id": "nope"}),
        )
        .await;
    business_error("repo_does_not_exist", &unknown_repo);
    let repo_without_project = server
        .ok(LIST, ADMIN_TOKEN, json!({"repo_id": "nope"}))
        .await;
    assert_eq!(repo_without_project, json!([]));

    // A user sees only the runs of their own projects.
    assert_eq!(server.ok(LIST, &bob, json!({})).await, json!([]));
    let hidden = server.ok(LIST, &bob, json!({"project_name": "main"})).await;
    assert_eq!(hidden, json!([]));
    let too_many = server.post(LIST, ADMIN_TOKEN, json!({"limit": 101})).await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(too_many.body["detail"][0]["type"], "less_than_equal");
    assert_eq!(too_many.body["detail"][0]["loc"], json!(["body", "limit"]));
    let submissions = json!({"job_submissions_limit": 11});
    let too_many = server.post(LIST, ADMIN_TOKEN, submissions).await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn members_of_another_project_cannot_reach_its_runs(server: &TestServer) {
    let carol = server.create_user("carol").await;
    server.create_project("carols", &carol).await;
    apply_task(server, "carols", &carol, "mine").await;
    apply_task(server, "main", ADMIN_TOKEN, "admins").await;

    let denied = server
        .post(GET, &carol, json!({"run_name": "admins"}))
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.body);
    let apply = server
        .post(APPLY, &carol, apply_body(task_spec(Some("intruder"), "x")))
        .await;
    assert_eq!(apply.status, StatusCode::FORBIDDEN);
    let stop = server
        .post(STOP, &carol, json!({"runs_names": ["admins"]}))
        .await;
    assert_eq!(stop.status, StatusCode::FORBIDDEN);
    let missing_project = server
        .post(
            "/api/project/nope/runs/get",
            &carol,
            json!({"run_name": "x"}),
        )
        .await;
    assert_eq!(missing_project.status, StatusCode::NOT_FOUND);

    let own = server.ok(LIST, &carol, json!({})).await;
    assert_eq!(own.as_array().map(Vec::len), Some(1));
    assert_eq!(own[0]["project_name"], "carols");
    let admin_sees_all = server.ok(LIST, ADMIN_TOKEN, json!({})).await;
    assert_eq!(admin_sees_all.as_array().map(Vec::len), Some(2));
    let neither = server.post(GET, ADMIN_TOKEN, json!({})).await;
    business_error("error", &neither);
}

async fn services_and_multi_node_tasks_get_their_jobs(server: &TestServer) {
    let service = json!({
        "run_name": "web", "repo_id": "none", "repo_data": {"repo_type": "virtual"},
        "configuration": {"type": "service", "port": 8000, "replicas": 2,
                          "commands": ["python -m http.server 8000"]},
    });
    let run = server.ok(APPLY, ADMIN_TOKEN, apply_body(service)).await;
    assert_eq!(
        run["service"],
        json!({"url": "/proxy/services/main/web/", "model": null, "options": {}})
    );
    let replicas: Vec<&Value> = run["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|job| &job["job_spec"]["replica_num"])
        .collect();
    assert_eq!(replicas, [&json!(0), &json!(1)]);
    assert_eq!(run["jobs"][1]["job_spec"]["service_port"], 8000);

    let mut task = task_spec(Some("multi"), "hostname");
    task["configuration"]["nodes"] = json!(3);
    let run = server.ok(APPLY, ADMIN_TOKEN, apply_body(task)).await;
    let jobs = run["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 3);
    assert_eq!(jobs[2]["job_spec"]["job_name"], "multi-2-0");
    assert_eq!(jobs[2]["job_spec"]["jobs_per_replica"], 3);
    assert_eq!(jobs[0]["job_spec"]["requirements"]["multinode"], true);
}

crate::engine_tests!(
    plans_match_the_recorded_plans,
    applied_runs_match_the_recorded_runs,
    a_run_is_applied_read_stopped_and_deleted,
    abort_ends_jobs_as_aborted,
    a_finished_run_is_replaced_and_an_active_one_refused,
    an_update_in_place_needs_the_plan_it_saw,
    concurrent_applies_of_a_new_name_create_one_run,
    runs_without_a_name_get_one,
    list_pages_and_filters,
    members_of_another_project_cannot_reach_its_runs,
    services_and_multi_node_tasks_get_their_jobs,
);

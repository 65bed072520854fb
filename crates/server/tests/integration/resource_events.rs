//! The events runs, jobs, fleets, instances, volumes and gateways record, read back through
//! `events/list` with the `target_*` and `within_*` filters.

use serde_json::{Value, json};

use crate::events::{events, messages};
use crate::fleets::{apply as apply_fleet, ssh_spec};
use crate::runs::{apply_task, task_spec};
use crate::support::{ADMIN_TOKEN, TestServer};

/// The events with `filters`, as sorted messages: one transaction may record several events
/// in the same microsecond, so their order is not part of the contract.
async fn sorted(server: &TestServer, filters: Value) -> Vec<String> {
    let found = events(server, ADMIN_TOKEN, filters).await;
    let mut list: Vec<String> = messages(&found).into_iter().map(str::to_owned).collect();
    list.sort();
    list
}

fn strings(list: &[&str]) -> Vec<String> {
    let mut list: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    list.sort();
    list
}

/// The one target of `event`, as (type, id, name).
fn only_target(event: &Value) -> (&str, &Value, &str) {
    let targets = event["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 1, "{event}");
    let target = &targets[0];
    (
        target["type"].as_str().expect("type"),
        &target["id"],
        target["name"].as_str().expect("name"),
    )
}

async fn runs_record_submission_jobs_updates_stop_and_delete(server: &TestServer) {
    let run = apply_task(server, "main", ADMIN_TOKEN, "ev-run").await;
    let run_id = run["id"].clone();
    let job_id = run["jobs"][0]["job_submissions"][0]["id"].clone();
    let submitted = events(server, ADMIN_TOKEN, json!({"target_runs": [run_id]})).await;
    assert_eq!(messages(&submitted), ["Run submitted. Status: SUBMITTED"]);
    assert_eq!(submitted[0]["actor_user"], "admin");
    assert_eq!(only_target(&submitted[0]), ("run", &run_id, "ev-run"));
    let jobs = events(server, ADMIN_TOKEN, json!({"target_jobs": [job_id]})).await;
    assert_eq!(
        messages(&jobs),
        ["Job created on run submission. Status: SUBMITTED"]
    );
    assert_eq!(
        jobs[0]["actor_user_id"],
        Value::Null,
        "the system creates jobs"
    );
    assert_eq!(only_target(&jobs[0]), ("job", &job_id, "ev-run-0-0"));

    let mut changed = task_spec(Some("ev-run"), "echo hi");
    changed["configuration"]["priority"] = json!(7);
    let update = json!({"plan": {"run_spec": changed, "current_resource": run}, "force": true});
    server
        .ok("/api/project/main/runs/apply", ADMIN_TOKEN, update)
        .await;
    server
        .ok(
            "/api/project/main/runs/stop",
            ADMIN_TOKEN,
            json!({"runs_names": ["ev-run"], "abort": false}),
        )
        .await;
    server
        .ok(
            "/api/project/main/runs/delete",
            ADMIN_TOKEN,
            json!({"runs_names": ["ev-run"]}),
        )
        .await;
    let run_events = [
        "Run submitted. Status: SUBMITTED",
        "Run updated. Deployment: 1. Changed fields: configuration.priority",
        "Run status changed SUBMITTED -> TERMINATING. Termination reason: STOPPED_BY_USER",
        "Run status changed TERMINATING -> TERMINATED",
        "Run deleted",
    ];
    let job_events = [
        "Job created on run submission. Status: SUBMITTED",
        "Job status changed SUBMITTED -> TERMINATED",
    ];
    assert_eq!(
        sorted(server, json!({"target_runs": [run_id]})).await,
        strings(&run_events)
    );
    let within: Vec<&str> = run_events.iter().chain(&job_events).copied().collect();
    assert_eq!(
        sorted(server, json!({"within_runs": [run_id]})).await,
        strings(&within)
    );
    let other = apply_task(server, "main", ADMIN_TOKEN, "ev-other").await;
    assert_eq!(
        sorted(server, json!({"within_runs": [other["id"]]}))
            .await
            .len(),
        2,
        "another run's events stay its own"
    );
}

async fn refused_changes_record_nothing(server: &TestServer) {
    let run = apply_task(server, "main", ADMIN_TOKEN, "ev-active").await;
    let refused = server
        .post(
            "/api/project/main/runs/delete",
            ADMIN_TOKEN,
            json!({"runs_names": ["ev-active"]}),
        )
        .await;
    assert!(refused.status.is_client_error(), "{}", refused.body);
    assert_eq!(
        sorted(server, json!({"target_runs": [run["id"]]})).await,
        strings(&["Run submitted. Status: SUBMITTED"])
    );
}

async fn fleets_record_creation_instances_and_deletion(server: &TestServer) {
    let fleet = apply_fleet(
        server,
        "main",
        ADMIN_TOKEN,
        ssh_spec(Some("ev-fleet"), &["10.2.0.1"]),
    )
    .await;
    let fleet_id = fleet["id"].clone();
    let first = fleet["instances"][0]["id"].clone();
    let created = events(server, ADMIN_TOKEN, json!({"target_fleets": [fleet_id]})).await;
    assert_eq!(messages(&created), ["Fleet created. Status: ACTIVE"]);
    assert_eq!(created[0]["actor_user"], "admin");
    assert_eq!(only_target(&created[0]), ("fleet", &fleet_id, "ev-fleet"));
    let instance = events(server, ADMIN_TOKEN, json!({"target_instances": [first]})).await;
    assert_eq!(
        messages(&instance),
        ["Instance created on fleet submission. Status: PENDING"]
    );
    assert_eq!(
        only_target(&instance[0]),
        ("instance", &first, "ev-fleet-0")
    );

    apply_fleet(
        server,
        "main",
        ADMIN_TOKEN,
        ssh_spec(Some("ev-fleet"), &["10.2.0.1", "10.2.0.2"]),
    )
    .await;
    server
        .ok(
            "/api/project/main/fleets/delete",
            ADMIN_TOKEN,
            json!({"names": ["ev-fleet"]}),
        )
        .await;
    let terminating =
        "Instance status changed PENDING -> TERMINATING. Termination reason: TERMINATED_BY_USER";
    assert_eq!(
        sorted(server, json!({"target_fleets": [fleet_id]})).await,
        strings(&[
            "Fleet created. Status: ACTIVE",
            "Fleet status changed ACTIVE -> TERMINATING"
        ])
    );
    assert_eq!(
        sorted(server, json!({"within_fleets": [fleet_id]})).await,
        strings(&[
            "Fleet created. Status: ACTIVE",
            "Instance created on fleet submission. Status: PENDING",
            "Instance created on fleet update. Status: PENDING",
            "Fleet status changed ACTIVE -> TERMINATING",
            terminating,
            terminating,
        ])
    );
    assert_eq!(
        sorted(
            server,
            json!({"within_fleets": [fleet_id], "include_target_types": ["instance"]})
        )
        .await
        .len(),
        4
    );
}

async fn volumes_and_gateways_record_creation_and_deletion(server: &TestServer) {
    let volume = server
        .ok(
            "/api/project/main/volumes/create",
            ADMIN_TOKEN,
            crate::volumes::aws_volume(Some("ev-volume")),
        )
        .await;
    let created = events(
        server,
        ADMIN_TOKEN,
        json!({"target_volumes": [volume["id"]]}),
    )
    .await;
    assert_eq!(messages(&created), ["Volume created. Status: SUBMITTED"]);
    assert_eq!(
        only_target(&created[0]),
        ("volume", &volume["id"], "ev-volume")
    );
    server
        .ok(
            "/api/project/main/volumes/delete",
            ADMIN_TOKEN,
            json!({"names": ["ev-volume"]}),
        )
        .await;
    assert_eq!(
        sorted(server, json!({"target_volumes": [volume["id"]]})).await,
        strings(&[
            "Volume created. Status: SUBMITTED",
            "Volume marked for deletion",
            "Volume deleted"
        ])
    );

    let gateway = crate::gateways::apply(
        server,
        crate::gateways::spec(Some("ev-gateway"), "ev.example.com"),
    )
    .await;
    let gateway_id = gateway["id"].clone();
    let created = events(
        server,
        ADMIN_TOKEN,
        json!({"target_gateways": [gateway_id]}),
    )
    .await;
    assert_eq!(messages(&created), ["Gateway created. Status: SUBMITTED"]);
    assert_eq!(
        only_target(&created[0]),
        ("gateway", &gateway_id, "ev-gateway")
    );
    server
        .ok(
            "/api/project/main/gateways/delete",
            ADMIN_TOKEN,
            json!({"names": ["ev-gateway"]}),
        )
        .await;
    assert_eq!(
        sorted(server, json!({"target_gateways": [gateway_id]})).await,
        strings(&[
            "Gateway created. Status: SUBMITTED",
            "Gateway marked for deletion",
            "Gateway deleted"
        ])
    );
}

crate::engine_tests!(
    runs_record_submission_jobs_updates_stop_and_delete,
    refused_changes_record_nothing,
    fleets_record_creation_instances_and_deletion,
    volumes_and_gateways_record_creation_and_deletion,
);

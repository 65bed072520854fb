//! Replays the recorded 0.22.5 CLI traffic for the endpoints this server has and compares
//! each answer's status and shape (same keys and value types; ids, tokens and dates differ).

use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestServer, recorded_exchanges};

/// Paths this server implements.
fn implemented(path: &str) -> bool {
    path.starts_with("/api/users/")
        || path.starts_with("/api/projects/")
        || path == "/api/backends/list_types"
        || path == "/api/server/get_info"
        || ["fleets", "gpus", "volumes", "gateways"]
            .iter()
            .any(|group| path.starts_with(&format!("/api/project/main/{group}/")))
}

/// The name a recorded `fleets/get` or `fleets/delete` names.
fn fleet_names(exchange: &Value) -> Vec<String> {
    let body: Value = exchange["req_body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or_default();
    let mut names: Vec<String> = body["names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect();
    names.extend(body["name"].as_str().map(str::to_owned));
    names
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences in shape between `recorded` and `ours`, as `path: reason` lines.
fn shape_differences(at: &str, recorded: &Value, ours: &Value, out: &mut Vec<String>) {
    if kind(recorded) != kind(ours) {
        out.push(format!(
            "{at}: recorded {} but got {}",
            kind(recorded),
            kind(ours)
        ));
        return;
    }
    match (recorded, ours) {
        (Value::Object(a), Value::Object(b)) => {
            let keys_a: Vec<_> = a.keys().collect();
            let keys_b: Vec<_> = b.keys().collect();
            if keys_a != keys_b {
                out.push(format!("{at}: keys {keys_a:?} but got {keys_b:?}"));
            }
            for (key, value) in a {
                if let Some(other) = b.get(key) {
                    shape_differences(&format!("{at}.{key}"), value, other, out);
                }
            }
        }
        // Lists may differ in length (our server has no cloud backends); items must agree.
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(first_a), Some(first_b)) = (a.first(), b.first()) {
                shape_differences(&format!("{at}[0]"), first_a, first_b, out);
            }
        }
        _ => {}
    }
}

async fn recorded_exchanges_get_the_same_answers(server: &TestServer) {
    // The recording was made with one more user and project in place.
    server.create_user("bob").await;
    server.create_project("proj2", ADMIN_TOKEN).await;

    let mut replayed = 0;
    let mut deleted_fleets: Vec<String> = Vec::new();
    for exchange in recorded_exchanges() {
        let path = exchange["path"].as_str().expect("path");
        if !implemented(path) {
            continue;
        }
        // The reference's pipeline finished a fleet delete some seconds later, while the CLI
        // polled; this server deletes a fleet without instances at once, so those polls are
        // already answered with `resource_not_exists`.
        let polls_a_deleted_fleet = path.ends_with("/fleets/get")
            && exchange["status"] == 200
            && fleet_names(&exchange)
                .iter()
                .any(|n| deleted_fleets.contains(n));
        if polls_a_deleted_fleet {
            continue;
        }
        if path.ends_with("/fleets/delete") {
            deleted_fleets.extend(fleet_names(&exchange));
        }
        let body = exchange["req_body"].as_str().filter(|b| !b.is_empty());
        let reply = server
            .send(
                path,
                Some(ADMIN_TOKEN),
                Some("0.22.5"),
                body.map(str::to_owned),
            )
            .await;
        let recorded_status = exchange["status"].as_u64().expect("status");
        assert_eq!(
            u64::from(reply.status.as_u16()),
            recorded_status,
            "{path}: {}",
            reply.body
        );
        let recorded: Value =
            serde_json::from_str(exchange["resp_body"].as_str().expect("resp_body")).expect("json");
        let mut differences = Vec::new();
        shape_differences("", &recorded, &reply.body, &mut differences);
        assert!(
            differences.is_empty(),
            "{path}:\n{}",
            differences.join("\n")
        );
        replayed += 1;
    }
    assert_eq!(
        replayed, 36,
        "the recording's user, project, backend, fleet, gpu, volume and gateway exchanges"
    );
    // The body of an error is the same text too.
    let again = server
        .post(
            "/api/users/create",
            ADMIN_TOKEN,
            json!({"username": "carol", "global_role": "user"}),
        )
        .await;
    assert_eq!(
        again.body,
        json!({"detail": [{"msg": "Resource exists", "code": "resource_exists"}]})
    );
}

crate::engine_tests!(recorded_exchanges_get_the_same_answers);

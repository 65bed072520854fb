//! `/api/fleets/list` and `/api/project/{p}/fleets/*`, with `instances/*`: plans, applies,
//! in-place updates, deletes, names, keys kept server-side, and who sees what.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestServer, business_error, one_of_concurrent_creates_wins};

const PLAN: &str = "/api/project/main/fleets/get_plan";
const APPLY: &str = "/api/project/main/fleets/apply";
const GET: &str = "/api/project/main/fleets/get";
const LIST: &str = "/api/project/main/fleets/list";
const DELETE: &str = "/api/project/main/fleets/delete";
const DELETE_INSTANCES: &str = "/api/project/main/fleets/delete_instances";

/// A private key as the CLI inlines it; the server must never send it back.
const PRIVATE_KEY: &str =
    "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n";

fn profile() -> Value {
    json!({"backends": null, "regions": null, "spot_policy": null, "max_price": null,
           "name": "default", "default": false})
}

/// A fleet spec as the 0.22.5 CLI sends it.
pub fn fleet_spec(configuration: Value) -> Value {
    json!({"configuration": configuration, "configuration_path": "fleet.dstack.yml",
           "profile": profile()})
}

/// An SSH fleet over `hosts`, with the key inlined.
pub fn ssh_spec(name: Option<&str>, hosts: &[&str]) -> Value {
    fleet_spec(json!({
        "type": "fleet", "name": name, "placement": null, "blocks": 1, "nodes": null,
        "ssh_config": {
            "user": "ubuntu", "port": null, "identity_file": "./idkey",
            "ssh_key": {"public": "ssh-ed25519 AAAA user@host\n", "private": PRIVATE_KEY},
            "proxy_jump": null, "hosts": hosts, "network": null,
        },
        "env": {},
    }))
}

/// A cloud fleet with `nodes`.
pub fn cloud_spec(name: Option<&str>, nodes: Value) -> Value {
    fleet_spec(json!({
        "type": "fleet", "name": name, "placement": null, "blocks": 1, "nodes": nodes,
        "resources": {"cpu": {"arch": null, "count": {"min": 2, "max": null}},
                      "memory": {"min": 8.0, "max": null}, "shm_size": null,
                      "gpu": {"vendor": null, "name": null, "count": {"min": 0, "max": 0},
                              "memory": null, "total_memory": null, "compute_capability": null},
                      "disk": {"size": {"min": 100.0, "max": null}}},
        "ssh_config": null, "env": {},
    }))
}

/// Applies `spec` as the CLI does: plan, then apply the plan it got back.
pub async fn apply(server: &TestServer, project: &str, token: &str, spec: Value) -> Value {
    let plan = server
        .ok(
            &format!("/api/project/{project}/fleets/get_plan"),
            token,
            json!({"spec": spec}),
        )
        .await;
    let body = json!({"plan": {"spec": plan["spec"], "current_resource": plan["current_resource"]},
                      "force": false});
    server
        .ok(&format!("/api/project/{project}/fleets/apply"), token, body)
        .await
}

async fn get(server: &TestServer, name: &str) -> Value {
    server
        .ok(GET, ADMIN_TOKEN, json!({"name": name, "id": null}))
        .await
}

fn statuses(fleet: &Value) -> Vec<(String, String)> {
    fleet["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| {
            (
                i["name"].as_str().expect("name").to_owned(),
                i["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

async fn an_ssh_fleet_is_planned_applied_read_and_deleted(server: &TestServer) {
    let spec = ssh_spec(Some("ssh-fleet"), &["127.0.0.1", "127.0.0.2"]);
    let plan = server.ok(PLAN, ADMIN_TOKEN, json!({"spec": spec})).await;
    assert_eq!(plan["action"], "create");
    assert_eq!(plan["user"], "admin");
    assert_eq!(plan["project_name"], "main");
    assert_eq!(plan["offers"], json!([]));
    assert_eq!(plan["total_offers"], 0);
    assert_eq!(plan["current_resource"], Value::Null);
    assert_eq!(
        plan["effective_spec"]["configuration"]["ssh_config"]["ssh_key"],
        Value::Null
    );
    // The plan's spec is the caller's request sent back: the CLI applies it as it is.
    assert_eq!(
        plan["spec"]["configuration"]["ssh_config"]["ssh_key"]["private"],
        PRIVATE_KEY
    );

    let fleet = apply(server, "main", ADMIN_TOKEN, spec.clone()).await;
    assert_eq!(fleet["name"], "ssh-fleet");
    assert_eq!(fleet["status"], "active");
    assert_eq!(
        fleet["spec"]["configuration"]["ssh_config"]["ssh_key"],
        Value::Null
    );
    assert_eq!(
        statuses(&fleet),
        pairs(&[("ssh-fleet-0", "pending"), ("ssh-fleet-1", "pending")])
    );
    let first = &fleet["instances"][0];
    assert_eq!(first["backend"], "remote");
    assert_eq!(first["hostname"], "127.0.0.1");
    assert_eq!(first["region"], "remote");
    assert_eq!(first["price"], 0.0);
    assert_eq!(first["total_blocks"], 1);
    assert_eq!(first["instance_type"]["name"], "ssh");
    assert_eq!(first["fleet_id"], fleet["id"]);

    let got = get(server, "ssh-fleet").await;
    assert_eq!(got, fleet);
    let listed = server
        .ok(LIST, ADMIN_TOKEN, json!({"include_imported": true}))
        .await;
    assert_eq!(listed, json!([fleet]));
    let listed_global = server.ok("/api/fleets/list", ADMIN_TOKEN, json!({})).await;
    for body in [
        &plan["effective_spec"],
        &fleet,
        &got,
        &listed,
        &listed_global,
    ] {
        assert!(!body.to_string().contains("not-a-real-key"), "{body}");
    }

    let instances = server
        .ok(
            "/api/instances/list",
            ADMIN_TOKEN,
            json!({"fleet_ids": [fleet["id"]]}),
        )
        .await;
    assert_eq!(instances.as_array().map(Vec::len), Some(2), "{instances}");
    let one = server
        .ok(
            "/api/project/main/instances/get",
            ADMIN_TOKEN,
            json!({"id": first["id"]}),
        )
        .await;
    assert_eq!(&one, first);

    server
        .ok(DELETE, ADMIN_TOKEN, json!({"names": ["ssh-fleet"]}))
        .await;
    // Its instances were pending, so the pipeline still has to end them.
    let terminating = get(server, "ssh-fleet").await;
    assert_eq!(terminating["status"], "terminating");
    assert_eq!(
        statuses(&terminating),
        pairs(&[
            ("ssh-fleet-0", "terminating"),
            ("ssh-fleet-1", "terminating")
        ])
    );
    assert_eq!(
        terminating["instances"][0]["termination_reason"],
        "terminated_by_user"
    );
}

async fn a_cloud_fleet_stores_target_instances_and_deletes_at_once(server: &TestServer) {
    let fleet = apply(
        server,
        "main",
        ADMIN_TOKEN,
        cloud_spec(Some("two"), json!({"min": 2, "max": 4})),
    )
    .await;
    assert_eq!(
        statuses(&fleet),
        pairs(&[("two-0", "pending"), ("two-1", "pending")])
    );
    assert_eq!(fleet["instances"][0]["backend"], Value::Null);
    assert_eq!(
        fleet["spec"]["configuration"]["nodes"],
        json!({"min": 2, "max": 4})
    );

    let empty = apply(
        server,
        "main",
        ADMIN_TOKEN,
        cloud_spec(Some("empty"), json!({"min": 0, "max": 2})),
    )
    .await;
    assert_eq!(empty["instances"], json!([]));
    server
        .ok(DELETE, ADMIN_TOKEN, json!({"names": ["empty"]}))
        .await;
    let gone = server
        .post(GET, ADMIN_TOKEN, json!({"name": "empty", "id": null}))
        .await;
    business_error("resource_not_exists", &gone);
    assert_eq!(gone.body["detail"][0]["msg"], "Resource not found");
    let by_id = server
        .ok(GET, ADMIN_TOKEN, json!({"name": null, "id": empty["id"]}))
        .await;
    assert_eq!(by_id["status"], "terminated");
    // The name is free again.
    apply(
        server,
        "main",
        ADMIN_TOKEN,
        cloud_spec(Some("empty"), json!({"min": 0, "max": 2})),
    )
    .await;
}

async fn reapplying_updates_in_place(server: &TestServer) {
    let spec = ssh_spec(Some("hosts"), &["10.0.0.1", "10.0.0.2"]);
    let fleet = apply(server, "main", ADMIN_TOKEN, spec.clone()).await;
    let plan = server.ok(PLAN, ADMIN_TOKEN, json!({"spec": spec})).await;
    assert_eq!(plan["action"], "update");
    assert_eq!(plan["current_resource"], fleet);
    let same = apply(server, "main", ADMIN_TOKEN, spec).await;
    assert_eq!(same["id"], fleet["id"]);
    assert_eq!(same["instances"], fleet["instances"]);

    // Adding one host and dropping another: a new instance with the lowest free number.
    let grown = apply(
        server,
        "main",
        ADMIN_TOKEN,
        ssh_spec(Some("hosts"), &["10.0.0.2", "10.0.0.3"]),
    )
    .await;
    assert_eq!(grown["id"], fleet["id"]);
    assert_eq!(
        statuses(&grown),
        pairs(&[
            ("hosts-0", "terminating"),
            ("hosts-1", "pending"),
            ("hosts-2", "pending")
        ])
    );

    // A plan seen before someone else's change is refused unless forced.
    let stale = json!({"plan": {"spec": ssh_spec(Some("hosts"), &["10.0.0.2"]),
                                "current_resource": fleet}, "force": false});
    let refused = server.post(APPLY, ADMIN_TOKEN, stale.clone()).await;
    business_error("error", &refused);
    let mut forced = stale;
    forced["force"] = json!(true);
    server.ok(APPLY, ADMIN_TOKEN, forced).await;

    // A cloud fleet cannot become an SSH fleet in place: the plan says create.
    apply(
        server,
        "main",
        ADMIN_TOKEN,
        cloud_spec(Some("cloud"), json!({"min": 0, "max": 1})),
    )
    .await;
    let plan = server
        .ok(
            PLAN,
            ADMIN_TOKEN,
            json!({"spec": ssh_spec(Some("cloud"), &["10.0.0.9"])}),
        )
        .await;
    assert_eq!(plan["action"], "create");
}

async fn hosts_belong_to_one_fleet(server: &TestServer) {
    apply(
        server,
        "main",
        ADMIN_TOKEN,
        ssh_spec(Some("first"), &["192.168.0.1"]),
    )
    .await;
    let reply = server
        .post(
            PLAN,
            ADMIN_TOKEN,
            json!({"spec": ssh_spec(Some("second"), &["192.168.0.1"])}),
        )
        .await;
    business_error("error", &reply);
    assert!(
        reply.body.to_string().contains("192.168.0.1"),
        "{}",
        reply.body
    );
}

async fn a_locked_fleet_is_being_processed(server: &TestServer) {
    let fleet = apply(
        server,
        "main",
        ADMIN_TOKEN,
        ssh_spec(Some("busy"), &["10.1.0.1"]),
    )
    .await;
    let db = crate::support::open_db(server).await;
    let id = uuid::Uuid::parse_str(fleet["id"].as_str().expect("id")).expect("uuid");
    let until = chrono::Utc::now().timestamp_micros() + 60_000_000;
    dstack_server::db::fleets::set_lock(db.pool(), id, Some(("pipeline", until)))
        .await
        .expect("lock");
    let update = server
        .post(
            APPLY,
            ADMIN_TOKEN,
            json!({"plan": {"spec": ssh_spec(Some("busy"), &["10.1.0.1", "10.1.0.2"]),
                                                   "current_resource": fleet}, "force": false}),
        )
        .await;
    business_error("error", &update);
    assert!(
        update.body.to_string().contains("being processed"),
        "{}",
        update.body
    );
    let delete = server
        .post(DELETE, ADMIN_TOKEN, json!({"names": ["busy"]}))
        .await;
    business_error("error", &delete);
    dstack_server::db::fleets::set_lock(db.pool(), id, None)
        .await
        .expect("unlock");
    server
        .ok(DELETE, ADMIN_TOKEN, json!({"names": ["busy"]}))
        .await;
    db.close().await;
}

/// Points run `run_id` at fleet `fleet_id`, as the scheduler does when it places the run.
async fn assign_run_to_fleet(server: &TestServer, run_id: &Value, fleet_id: &Value) {
    let db = crate::support::open_db(server).await;
    sqlx::query("UPDATE runs SET fleet_id = $1 WHERE id = $2")
        .bind(fleet_id.as_str().expect("fleet id"))
        .bind(run_id.as_str().expect("run id"))
        .execute(db.pool())
        .await
        .expect("assign the run");
    db.close().await;
}

async fn a_fleet_an_active_run_uses_is_not_deleted(server: &TestServer) {
    let fleet = apply(
        server,
        "main",
        ADMIN_TOKEN,
        ssh_spec(Some("used"), &["10.3.0.1"]),
    )
    .await;
    let run = crate::runs::apply_task(server, "main", ADMIN_TOKEN, "on-used").await;
    assign_run_to_fleet(server, &run["id"], &fleet["id"]).await;
    let refused = server
        .post(DELETE, ADMIN_TOKEN, json!({"names": ["used"]}))
        .await;
    business_error("error", &refused);
    assert_eq!(
        refused.body["detail"][0]["msg"],
        "Failed to delete fleet used. Fleet is in use."
    );
    assert_eq!(get(server, "used").await["status"], "active");
    server
        .ok(
            "/api/project/main/runs/stop",
            ADMIN_TOKEN,
            json!({"runs_names": ["on-used"], "abort": false}),
        )
        .await;
    server
        .ok(DELETE, ADMIN_TOKEN, json!({"names": ["used"]}))
        .await;
    assert_eq!(get(server, "used").await["status"], "terminating");
}

async fn delete_by_name_deletes_exactly_that_fleet(server: &TestServer) {
    for name in ["keep-a", "drop", "keep-b"] {
        apply(
            server,
            "main",
            ADMIN_TOKEN,
            cloud_spec(Some(name), json!({"min": 0, "max": 1})),
        )
        .await;
    }
    server
        .ok(DELETE, ADMIN_TOKEN, json!({"names": ["drop", "never-was"]}))
        .await;
    let listed = server
        .ok(LIST, ADMIN_TOKEN, json!({"include_imported": true}))
        .await;
    let names: Vec<&str> = listed
        .as_array()
        .expect("list")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["keep-a", "keep-b"]);
}

async fn delete_instances_ends_only_those(server: &TestServer) {
    apply(
        server,
        "main",
        ADMIN_TOKEN,
        ssh_spec(Some("three"), &["10.2.0.1", "10.2.0.2", "10.2.0.3"]),
    )
    .await;
    server
        .ok(
            DELETE_INSTANCES,
            ADMIN_TOKEN,
            json!({"name": "three", "instance_nums": [1]}),
        )
        .await;
    let fleet = get(server, "three").await;
    assert_eq!(fleet["status"], "active");
    assert_eq!(
        statuses(&fleet),
        pairs(&[
            ("three-0", "pending"),
            ("three-1", "terminating"),
            ("three-2", "pending")
        ])
    );
    let missing = server
        .post(
            DELETE_INSTANCES,
            ADMIN_TOKEN,
            json!({"name": "nope", "instance_nums": [0]}),
        )
        .await;
    business_error("resource_not_exists", &missing);
}

async fn concurrent_applies_of_one_name_create_one_fleet(server: &TestServer) {
    let body = json!({"plan": {"spec": cloud_spec(Some("race"), json!({"min": 1, "max": 1})),
                               "current_resource": null}, "force": false});
    one_of_concurrent_creates_wins(server, APPLY, body).await;
    let fleet = get(server, "race").await;
    assert_eq!(statuses(&fleet), pairs(&[("race-0", "pending")]));
}

async fn unnamed_fleets_get_generated_names(server: &TestServer) {
    let a = apply(
        server,
        "main",
        ADMIN_TOKEN,
        cloud_spec(None, json!({"min": 1, "max": 1})),
    )
    .await;
    let b = apply(
        server,
        "main",
        ADMIN_TOKEN,
        cloud_spec(None, json!({"min": 0, "max": 1})),
    )
    .await;
    let name = a["name"].as_str().expect("name");
    assert_ne!(a["name"], b["name"]);
    assert_eq!(name.split('-').count(), 3, "{name}");
    assert_eq!(a["spec"]["configuration"]["name"], a["name"]);
    assert_eq!(a["instances"][0]["name"], format!("{name}-0"));
}

async fn members_see_only_their_projects_fleets(server: &TestServer) {
    let alice = server.create_user("alice").await;
    let bob = server.create_user("bob").await;
    server.create_project("alpha", &alice).await;
    server.create_project("beta", &bob).await;
    apply(
        server,
        "alpha",
        &alice,
        cloud_spec(Some("a-fleet"), json!({"min": 0, "max": 1})),
    )
    .await;
    apply(
        server,
        "beta",
        &bob,
        ssh_spec(Some("b-fleet"), &["10.3.0.1"]),
    )
    .await;

    for path in [
        "fleets/list",
        "fleets/get",
        "fleets/get_plan",
        "fleets/apply",
        "fleets/delete",
        "fleets/delete_instances",
        "instances/get",
        "gpus/list",
    ] {
        let reply = server
            .post(&format!("/api/project/beta/{path}"), &alice, json!({}))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            reply.body
        );
    }
    let missing = server
        .post("/api/project/nope/fleets/list", &alice, json!({}))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let names = |body: &Value| -> Vec<String> {
        body.as_array()
            .expect("list")
            .iter()
            .map(|f| f["name"].as_str().expect("name").to_owned())
            .collect()
    };
    let alices = server.ok("/api/fleets/list", &alice, json!({})).await;
    assert_eq!(names(&alices), ["a-fleet"]);
    let all = server.ok("/api/fleets/list", ADMIN_TOKEN, json!({})).await;
    assert_eq!(names(&all), ["b-fleet", "a-fleet"], "newest first");
    let page = server
        .ok(
            "/api/fleets/list",
            ADMIN_TOKEN,
            json!({"limit": 1, "ascending": true}),
        )
        .await;
    assert_eq!(names(&page), ["a-fleet"]);
    let next = server
        .ok(
            "/api/fleets/list",
            ADMIN_TOKEN,
            json!({"limit": 1, "ascending": true,
            "prev_created_at": page[0]["created_at"], "prev_id": page[0]["id"]}),
        )
        .await;
    assert_eq!(names(&next), ["b-fleet"]);
    let too_big = server
        .post("/api/fleets/list", ADMIN_TOKEN, json!({"limit": 101}))
        .await;
    business_error("error", &too_big);
    let bobs_instances = server.ok("/api/instances/list", &alice, json!({})).await;
    assert_eq!(bobs_instances, json!([]), "alice sees no instance of beta");
    let admin_instances = server
        .ok(
            "/api/instances/list",
            ADMIN_TOKEN,
            json!({"project_names": ["beta"]}),
        )
        .await;
    assert_eq!(admin_instances.as_array().map(Vec::len), Some(1));
}

async fn bad_fleet_specs_are_refused_by_field(server: &TestServer) {
    let neither = fleet_spec(json!({"type": "fleet", "name": "bad-one"}));
    let reply = server
        .post(PLAN, ADMIN_TOKEN, json!({"spec": neither}))
        .await;
    business_error("error", &reply);
    assert!(reply.body.to_string().contains("nodes"), "{}", reply.body);
    let mut keyless = ssh_spec(Some("keyless"), &["10.4.0.1"]);
    keyless["configuration"]["ssh_config"]["ssh_key"]["private"] = Value::Null;
    let reply = server
        .post(
            APPLY,
            ADMIN_TOKEN,
            json!({"plan": {"spec": keyless, "current_resource": null}}),
        )
        .await;
    business_error("error", &reply);
    let missing = server
        .post(GET, ADMIN_TOKEN, json!({"name": "nope", "id": null}))
        .await;
    business_error("resource_not_exists", &missing);
    let unknown = server
        .post(
            "/api/project/main/instances/get",
            ADMIN_TOKEN,
            json!({"id": uuid::Uuid::new_v4()}),
        )
        .await;
    business_error("resource_not_exists", &unknown);
}

crate::engine_tests!(
    an_ssh_fleet_is_planned_applied_read_and_deleted,
    a_cloud_fleet_stores_target_instances_and_deletes_at_once,
    reapplying_updates_in_place,
    hosts_belong_to_one_fleet,
    a_locked_fleet_is_being_processed,
    a_fleet_an_active_run_uses_is_not_deleted,
    delete_by_name_deletes_exactly_that_fleet,
    delete_instances_ends_only_those,
    concurrent_applies_of_one_name_create_one_fleet,
    unnamed_fleets_get_generated_names,
    members_see_only_their_projects_fleets,
    bad_fleet_specs_are_refused_by_field,
);

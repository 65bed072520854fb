//! `/api/project/{p}/gateways/*`: plans, applies, the project's default, deletes, names,
//! roles.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestServer, business_error, one_of_concurrent_creates_wins};

const PLAN: &str = "/api/project/main/gateways/get_plan";
const APPLY: &str = "/api/project/main/gateways/apply";
const CREATE: &str = "/api/project/main/gateways/create";
const GET: &str = "/api/project/main/gateways/get";
const LIST: &str = "/api/project/main/gateways/list";
const DELETE: &str = "/api/project/main/gateways/delete";

fn configuration(name: Option<&str>, domain: &str) -> Value {
    json!({"type": "gateway", "name": name, "default": null, "backend": "aws",
           "region": "eu-west-1", "instance_type": null, "domain": domain, "public_ip": true,
           "certificate": {"type": "lets-encrypt"}, "replicas": null, "tags": null})
}

/// A gateway spec as the CLI sends it.
pub fn spec(name: Option<&str>, domain: &str) -> Value {
    json!({"configuration": configuration(name, domain), "configuration_path": "gw.dstack.yml"})
}

/// Plans and applies `spec` in `main` as the admin.
pub async fn apply(server: &TestServer, spec: Value) -> Value {
    let plan = server.ok(PLAN, ADMIN_TOKEN, json!({"spec": spec})).await;
    server
        .ok(
            APPLY,
            ADMIN_TOKEN,
            json!({"plan": {"spec": plan["spec"],
            "current_resource": plan["current_resource"]}, "force": false}),
        )
        .await
}

fn defaults(list: &Value) -> Vec<(&str, bool)> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|g| {
            (
                g["name"].as_str().expect("name"),
                g["default"].as_bool().expect("default"),
            )
        })
        .collect()
}

async fn a_gateway_is_planned_applied_updated_and_deleted(server: &TestServer) {
    let plan = server
        .ok(
            PLAN,
            ADMIN_TOKEN,
            json!({"spec": spec(Some("gw"), "a.example.com")}),
        )
        .await;
    assert_eq!(plan["action"], "create");
    assert_eq!(plan["current_resource"], Value::Null);
    let gateway = apply(server, spec(Some("gw"), "a.example.com")).await;
    assert_eq!(gateway["name"], "gw");
    assert_eq!(gateway["status"], "submitted");
    assert_eq!(
        gateway["default"], true,
        "the project's first gateway is its default"
    );
    assert_eq!(gateway["configuration"]["default"], true);
    assert_eq!(gateway["wildcard_domain"], "a.example.com");
    assert_eq!(gateway["replicas"], json!([]));
    assert_eq!(
        server.ok(GET, ADMIN_TOKEN, json!({"name": "gw"})).await,
        gateway
    );

    let plan = server
        .ok(
            PLAN,
            ADMIN_TOKEN,
            json!({"spec": spec(Some("gw"), "b.example.com")}),
        )
        .await;
    assert_eq!(plan["action"], "update");
    let updated = apply(server, spec(Some("gw"), "b.example.com")).await;
    assert_eq!(updated["id"], gateway["id"]);
    assert_eq!(updated["wildcard_domain"], "b.example.com");
    let mut other_region = spec(Some("gw"), "b.example.com");
    other_region["configuration"]["region"] = json!("us-east-1");
    let plan = server
        .ok(PLAN, ADMIN_TOKEN, json!({"spec": other_region}))
        .await;
    assert_eq!(plan["action"], "create");

    let second = server
        .ok(
            CREATE,
            ADMIN_TOKEN,
            json!({"configuration": configuration(Some("gw-two"), "c.example.com")}),
        )
        .await;
    assert_eq!(second["default"], false);
    server
        .ok(
            "/api/project/main/gateways/set_default",
            ADMIN_TOKEN,
            json!({"name": "gw-two"}),
        )
        .await;
    let listed = server
        .ok(LIST, ADMIN_TOKEN, json!({"include_imported": true}))
        .await;
    assert_eq!(defaults(&listed), [("gw", false), ("gw-two", true)]);
    let renamed = server
        .ok(
            "/api/project/main/gateways/set_wildcard_domain",
            ADMIN_TOKEN,
            json!({"name": "gw", "wildcard_domain": "d.example.com"}),
        )
        .await;
    assert_eq!(renamed["wildcard_domain"], "d.example.com");

    server
        .ok(DELETE, ADMIN_TOKEN, json!({"names": ["gw-two"]}))
        .await;
    let gone = server
        .post(GET, ADMIN_TOKEN, json!({"name": "gw-two"}))
        .await;
    business_error("resource_not_exists", &gone);
    assert_eq!(gone.body["detail"][0]["msg"], "Resource not found");
    let listed = server.post_empty(LIST, ADMIN_TOKEN).await;
    assert_eq!(defaults(&listed.body), [("gw", false)]);
    let missing = server
        .post(DELETE, ADMIN_TOKEN, json!({"names": ["nope"]}))
        .await;
    business_error("resource_not_exists", &missing);
}

async fn gateway_names_are_unique_or_generated(server: &TestServer) {
    let body = json!({"configuration": configuration(Some("one"), "e.example.com")});
    one_of_concurrent_creates_wins(server, CREATE, body).await;
    let a = apply(server, spec(None, "f.example.com")).await;
    let b = apply(server, spec(None, "g.example.com")).await;
    assert_ne!(a["name"], b["name"]);
    let listed = server.post_empty(LIST, ADMIN_TOKEN).await;
    let default_count = defaults(&listed.body).iter().filter(|(_, d)| *d).count();
    assert_eq!(default_count, 1, "{}", listed.body);
}

async fn only_project_admins_change_gateways(server: &TestServer) {
    let alice = server.create_user("alice").await;
    server
        .ok(
            "/api/projects/main/add_members",
            ADMIN_TOKEN,
            json!({"members": [{"username": "alice", "project_role": "user"}]}),
        )
        .await;
    server
        .ok(
            CREATE,
            ADMIN_TOKEN,
            json!({"configuration": configuration(Some("gw"), "h.example.com")}),
        )
        .await;
    assert_eq!(
        server.post(LIST, &alice, json!({})).await.status,
        StatusCode::OK
    );
    assert_eq!(
        server.post(GET, &alice, json!({"name": "gw"})).await.status,
        StatusCode::OK
    );
    for path in [
        "get_plan",
        "apply",
        "create",
        "delete",
        "set_default",
        "set_wildcard_domain",
    ] {
        let reply = server
            .post(
                &format!("/api/project/main/gateways/{path}"),
                &alice,
                json!({}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            reply.body
        );
    }
    let bob = server.create_user("bob").await;
    let reply = server.post(LIST, &bob, json!({})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "not a member of main");
}

crate::engine_tests!(
    a_gateway_is_planned_applied_updated_and_deleted,
    gateway_names_are_unique_or_generated,
    only_project_admins_change_gateways,
);

//! `/api/volumes/list` and `/api/project/{p}/volumes/*`: create, read, delete, names, roles.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fleets::{apply, ssh_spec};
use crate::support::{
    ADMIN_TOKEN, TestServer, business_error, one_of_concurrent_creates_wins, open_db,
};

const CREATE: &str = "/api/project/main/volumes/create";
const GET: &str = "/api/project/main/volumes/get";
const LIST: &str = "/api/project/main/volumes/list";
const DELETE: &str = "/api/project/main/volumes/delete";

/// A volume request for AWS, named `name` or not.
pub fn aws_volume(name: Option<&str>) -> Value {
    json!({"configuration": {"type": "volume", "backend": "aws", "name": name,
                             "region": "eu-west-1", "availability_zone": null,
                             "size": 100.0, "volume_id": null, "auto_cleanup_duration": null,
                             "tags": null}})
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|v| v["name"].as_str().expect("name"))
        .collect()
}

async fn a_volume_is_created_read_listed_and_deleted(server: &TestServer) {
    let created = server
        .ok(CREATE, ADMIN_TOKEN, aws_volume(Some("data")))
        .await;
    assert_eq!(created["name"], "data");
    assert_eq!(created["status"], "submitted");
    assert_eq!(created["user"], "admin");
    assert_eq!(created["project_name"], "main");
    assert_eq!(created["external"], false);
    assert_eq!(created["deleted"], false);
    assert_eq!(created["configuration"]["size"], 100.0);
    assert_eq!(created["attachments"], json!([]));

    let got = server.ok(GET, ADMIN_TOKEN, json!({"name": "data"})).await;
    assert_eq!(got, created);
    let listed = server.post_empty(LIST, ADMIN_TOKEN).await;
    assert_eq!(listed.body, json!([created]));
    let global = server.ok("/api/volumes/list", ADMIN_TOKEN, json!({})).await;
    assert_eq!(names(&global), ["data"]);

    let external = server
        .ok(
            CREATE,
            ADMIN_TOKEN,
            json!({"configuration": {"type": "volume", "backend": "aws",
            "name": "existing", "region": "eu-west-1", "volume_id": "vol-123"}}),
        )
        .await;
    assert_eq!(external["external"], true);

    server
        .ok(DELETE, ADMIN_TOKEN, json!({"names": ["data"]}))
        .await;
    let gone = server.post(GET, ADMIN_TOKEN, json!({"name": "data"})).await;
    business_error("resource_not_exists", &gone);
    assert_eq!(gone.body["detail"][0]["msg"], "Resource not found");
    let listed = server.post_empty(LIST, ADMIN_TOKEN).await;
    assert_eq!(names(&listed.body), ["existing"]);
    let with_deleted = server.ok("/api/volumes/list", ADMIN_TOKEN, json!({})).await;
    assert_eq!(names(&with_deleted), ["existing", "data"]);
    let active = server
        .ok(
            "/api/volumes/list",
            ADMIN_TOKEN,
            json!({"only_active": true}),
        )
        .await;
    assert_eq!(names(&active), ["existing"]);
    // The name is free again.
    server
        .ok(CREATE, ADMIN_TOKEN, aws_volume(Some("data")))
        .await;
    let missing = server
        .post(DELETE, ADMIN_TOKEN, json!({"names": ["nope"]}))
        .await;
    business_error("resource_not_exists", &missing);
}

async fn volume_names_are_unique_or_generated(server: &TestServer) {
    one_of_concurrent_creates_wins(server, CREATE, aws_volume(Some("shared"))).await;
    let a = server.ok(CREATE, ADMIN_TOKEN, aws_volume(None)).await;
    let b = server.ok(CREATE, ADMIN_TOKEN, aws_volume(None)).await;
    assert_ne!(a["name"], b["name"]);
    assert_eq!(a["configuration"]["name"], a["name"]);
    let bad = server
        .post(CREATE, ADMIN_TOKEN, aws_volume(Some("Bad Name")))
        .await;
    business_error("error", &bad);
    let sizeless = server
        .post(
            CREATE,
            ADMIN_TOKEN,
            json!({"configuration": {"type": "volume", "backend": "aws",
            "name": "no-size", "region": "eu-west-1"}}),
        )
        .await;
    business_error("error", &sizeless);
}

async fn an_attached_volume_is_not_deleted(server: &TestServer) {
    let volume = server
        .ok(CREATE, ADMIN_TOKEN, aws_volume(Some("attached")))
        .await;
    let fleet = apply(
        server,
        "main",
        ADMIN_TOKEN,
        ssh_spec(Some("hosts"), &["10.9.0.1"]),
    )
    .await;
    let db = open_db(server).await;
    let id = |value: &Value| Uuid::parse_str(value["id"].as_str().expect("id")).expect("uuid");
    dstack_server::db::volumes::attach(db.pool(), id(&volume), id(&fleet["instances"][0]))
        .await
        .expect("attach");
    let got = server
        .ok(GET, ADMIN_TOKEN, json!({"name": "attached"}))
        .await;
    assert_eq!(got["attachments"][0]["instance"]["name"], "hosts-0");
    assert_eq!(got["attachments"][0]["instance"]["fleet_name"], "hosts");
    let refused = server
        .post(DELETE, ADMIN_TOKEN, json!({"names": ["attached"]}))
        .await;
    business_error("error", &refused);
    server
        .ok(GET, ADMIN_TOKEN, json!({"name": "attached"}))
        .await;
    db.close().await;
}

async fn members_see_only_their_projects_volumes(server: &TestServer) {
    let alice = server.create_user("alice").await;
    server.create_project("alpha", &alice).await;
    server
        .ok(
            "/api/project/alpha/volumes/create",
            &alice,
            aws_volume(Some("mine")),
        )
        .await;
    server
        .ok(CREATE, ADMIN_TOKEN, aws_volume(Some("admins")))
        .await;
    for path in ["list", "get", "create", "delete"] {
        let reply = server
            .post(
                &format!("/api/project/main/volumes/{path}"),
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
    let alices = server.ok("/api/volumes/list", &alice, json!({})).await;
    assert_eq!(names(&alices), ["mine"]);
    let all = server.ok("/api/volumes/list", ADMIN_TOKEN, json!({})).await;
    assert_eq!(names(&all), ["admins", "mine"]);
}

crate::engine_tests!(
    a_volume_is_created_read_listed_and_deleted,
    volume_names_are_unique_or_generated,
    an_attached_volume_is_not_deleted,
    members_see_only_their_projects_volumes,
);

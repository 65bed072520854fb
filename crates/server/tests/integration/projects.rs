//! `/api/projects/*`: creation, visibility, members and their roles.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestServer, business_error, one_of_concurrent_creates_wins};

fn project_names(projects: &Value) -> Vec<&str> {
    projects
        .as_array()
        .expect("a list of projects")
        .iter()
        .map(|project| project["project_name"].as_str().expect("name"))
        .collect()
}

fn member_roles(project: &Value) -> Vec<(String, String)> {
    let mut roles: Vec<(String, String)> = project["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|member| {
            (
                member["user"]["username"]
                    .as_str()
                    .expect("username")
                    .to_owned(),
                member["project_role"].as_str().expect("role").to_owned(),
            )
        })
        .collect();
    roles.sort();
    roles
}

fn pair(name: &str, role: &str) -> (String, String) {
    (name.to_owned(), role.to_owned())
}

const DENIED: &str = r#"{"detail":{"msg":"Access denied","code":null}}"#;
const NOT_FOUND: &str = r#"{"detail":{"msg":"Not found","code":null}}"#;

fn assert_denied(reply: &crate::support::Reply) {
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
}

async fn the_creator_becomes_admin(server: &TestServer) {
    let bob = server.create_user("bob").await;
    let project = server.create_project("alpha", &bob).await;
    assert_eq!(project["owner"]["username"], "bob");
    assert_eq!(member_roles(&project), [pair("bob", "admin")]);
    assert_eq!(project["backends"], json!([]));
    assert_eq!(
        project["members"][0]["permissions"],
        json!({"can_manage_ssh_fleets": true, "can_manage_secrets": true})
    );
    let same = server
        .post(
            "/api/projects/create",
            ADMIN_TOKEN,
            json!({"project_name": "alpha"}),
        )
        .await;
    business_error("resource_exists", &same);
    let bad = server
        .post(
            "/api/projects/create",
            &bob,
            json!({"project_name": "bad/name"}),
        )
        .await;
    business_error("error", &bad);
}

async fn members_of_one_project_cannot_read_another(server: &TestServer) {
    let bob = server.create_user("bob").await;
    let dave = server.create_user("dave").await;
    server.create_project("alpha", &bob).await;
    server.create_project("beta", &dave).await;

    let listed = server
        .ok(
            "/api/projects/list",
            &bob,
            json!({"include_not_joined": true}),
        )
        .await;
    assert_eq!(project_names(&listed), ["alpha"]);
    let everything = server.post_empty("/api/projects/list", ADMIN_TOKEN).await;
    assert_eq!(project_names(&everything.body), ["beta", "alpha", "main"]);
    assert!(
        everything.body[0]["members"] == json!([]),
        "lists leave members out"
    );

    let foreign = server.post_empty("/api/projects/beta/get", &bob).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    assert_eq!(
        foreign.body,
        serde_json::from_str::<Value>(DENIED).expect("json")
    );
    let missing = server.post_empty("/api/projects/nope/get", &bob).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.body,
        serde_json::from_str::<Value>(NOT_FOUND).expect("json")
    );
    let admin_view = server
        .ok("/api/projects/beta/get", ADMIN_TOKEN, Value::Null)
        .await;
    assert_eq!(member_roles(&admin_view), [pair("dave", "admin")]);
}

async fn public_projects_are_visible_and_self_joinable(server: &TestServer) {
    let bob = server.create_user("bob").await;
    let dave = server.create_user("dave").await;
    server.create_project("alpha", &bob).await;
    let updated = server
        .ok(
            "/api/projects/alpha/update",
            &bob,
            json!({"is_public": true}),
        )
        .await;
    assert_eq!(updated["is_public"], true);

    let listed = server.ok("/api/projects/list", &dave, json!({})).await;
    assert_eq!(project_names(&listed), ["alpha"]);
    let joined_only = server
        .ok(
            "/api/projects/list",
            &dave,
            json!({"include_not_joined": false}),
        )
        .await;
    assert_eq!(project_names(&joined_only), Vec::<&str>::new());
    server
        .ok("/api/projects/alpha/get", &dave, Value::Null)
        .await;

    let grab = json!({"members": [{"username": "dave", "project_role": "admin"}]});
    assert_denied(
        &server
            .post("/api/projects/alpha/add_members", &dave, grab)
            .await,
    );
    let join = json!({"members": [{"username": "dave", "project_role": "user"}]});
    let joined = server
        .ok("/api/projects/alpha/add_members", &dave, join)
        .await;
    assert_eq!(
        member_roles(&joined),
        [pair("bob", "admin"), pair("dave", "user")]
    );
}

async fn managers_manage_members_but_users_do_not(server: &TestServer) {
    let bob = server.create_user("bob").await;
    let carol = server.create_user("carol").await;
    let dave = server.create_user("dave").await;
    server.create_project("alpha", &bob).await;
    let set = json!({"members": [
        {"username": "bob", "project_role": "admin"},
        {"username": "carol", "project_role": "manager"},
        {"username": "dave", "project_role": "user"},
    ]});
    let project = server
        .ok("/api/projects/alpha/set_members", &bob, set)
        .await;
    assert_eq!(
        member_roles(&project),
        [
            pair("bob", "admin"),
            pair("carol", "manager"),
            pair("dave", "user")
        ]
    );
    let manager = project["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["user"]["username"] == "carol")
        .expect("carol");
    assert_eq!(manager["permissions"]["can_manage_secrets"], false);

    // A project user cannot manage members.
    let by_user = json!({"members": [{"username": "dave", "project_role": "admin"}]});
    assert_denied(
        &server
            .post("/api/projects/alpha/set_members", &dave, by_user.clone())
            .await,
    );
    assert_denied(
        &server
            .post("/api/projects/alpha/add_members", &dave, by_user)
            .await,
    );
    let kick = json!({"usernames": ["carol"]});
    assert_denied(
        &server
            .post("/api/projects/alpha/remove_members", &dave, kick)
            .await,
    );
    assert_denied(
        &server
            .post(
                "/api/projects/alpha/update",
                &dave,
                json!({"is_public": true}),
            )
            .await,
    );

    // A manager adds users but cannot grant admin or remove the admin.
    let promote = json!({"members": [{"username": "dave", "project_role": "admin"}]});
    assert_denied(
        &server
            .post("/api/projects/alpha/add_members", &carol, promote)
            .await,
    );
    let oust = json!({"usernames": ["bob"]});
    assert_denied(
        &server
            .post("/api/projects/alpha/remove_members", &carol, oust)
            .await,
    );
    let eve = server.create_user("eve").await;
    let add = json!({"members": [{"username": "eve", "project_role": "user"}]});
    server
        .ok("/api/projects/alpha/add_members", &carol, add)
        .await;

    // Anyone may leave.
    let leave = json!({"usernames": ["eve"]});
    let left = server
        .ok("/api/projects/alpha/remove_members", &eve, leave)
        .await;
    assert_eq!(member_roles(&left).len(), 3);
    let unknown = json!({"members": [{"username": "nobody", "project_role": "user"}]});
    let reply = server
        .post("/api/projects/alpha/add_members", &bob, unknown)
        .await;
    business_error("resource_not_exists", &reply);
}

async fn only_project_admins_delete_and_names_come_back(server: &TestServer) {
    let bob = server.create_user("bob").await;
    let carol = server.create_user("carol").await;
    server.create_project("alpha", &bob).await;
    let add = json!({"members": [{"username": "carol", "project_role": "manager"}]});
    server
        .ok("/api/projects/alpha/add_members", &bob, add)
        .await;

    let by_manager = server
        .post(
            "/api/projects/delete",
            &carol,
            json!({"projects_names": ["alpha"]}),
        )
        .await;
    assert_eq!(by_manager.status, StatusCode::FORBIDDEN);
    let missing = server
        .post(
            "/api/projects/delete",
            &bob,
            json!({"projects_names": ["nope"]}),
        )
        .await;
    business_error("resource_not_exists", &missing);
    let deleted = server
        .ok(
            "/api/projects/delete",
            &bob,
            json!({"projects_names": ["alpha"]}),
        )
        .await;
    assert_eq!(deleted, Value::Null);
    let gone = server.post_empty("/api/projects/alpha/get", &bob).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let again = server.create_project("alpha", &carol).await;
    assert_eq!(member_roles(&again), [pair("carol", "admin")]);
}

async fn concurrent_creates_of_one_name_give_one_project(server: &TestServer) {
    let body = json!({"project_name": "race", "is_public": false, "templates_repo": null});
    one_of_concurrent_creates_wins(server, "/api/projects/create", body).await;
    let listed = server
        .ok(
            "/api/projects/list",
            ADMIN_TOKEN,
            json!({"name_pattern": "race"}),
        )
        .await;
    assert_eq!(project_names(&listed), ["race"]);
}

crate::engine_tests!(
    the_creator_becomes_admin,
    members_of_one_project_cannot_read_another,
    public_projects_are_visible_and_self_joinable,
    managers_manage_members_but_users_do_not,
    only_project_admins_delete_and_names_come_back,
    concurrent_creates_of_one_name_give_one_project,
);

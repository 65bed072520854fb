//! `/api/users/*`: accounts, roles, tokens, listing and pagination.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestServer, business_error, one_of_concurrent_creates_wins};

fn names(users: &Value) -> Vec<&str> {
    users
        .as_array()
        .expect("a list of users")
        .iter()
        .map(|user| user["username"].as_str().expect("username"))
        .collect()
}

async fn admins_create_users_and_names_stay_unique(server: &TestServer) {
    let body = json!({"username": "Carol", "global_role": "user", "email": null, "active": true});
    let carol = server
        .ok("/api/users/create", ADMIN_TOKEN, body.clone())
        .await;
    assert_eq!(carol["username"], "Carol");
    assert_eq!(carol["permissions"], json!({"can_create_projects": true}));
    assert!(carol.get("creds").is_none(), "create answers a plain User");
    business_error(
        "resource_exists",
        &server.post("/api/users/create", ADMIN_TOKEN, body).await,
    );
    let other_case =
        json!({"username": "carol", "global_role": "user", "email": null, "active": true});
    let reply = server
        .post("/api/users/create", ADMIN_TOKEN, other_case)
        .await;
    business_error("resource_exists", &reply);
    let bad_name = json!({"username": "no spaces", "global_role": "user"});
    business_error(
        "error",
        &server
            .post("/api/users/create", ADMIN_TOKEN, bad_name)
            .await,
    );
}

async fn only_admins_manage_users(server: &TestServer) {
    let bob = server.create_user("bob").await;
    let denied = json!({"detail": {"msg": "Access denied", "code": null}});
    for (path, body) in [
        (
            "/api/users/create",
            json!({"username": "eve", "global_role": "admin"}),
        ),
        (
            "/api/users/update",
            json!({"username": "bob", "global_role": "admin"}),
        ),
        ("/api/users/delete", json!({"users": ["admin"]})),
    ] {
        let reply = server.post(path, &bob, body).await;
        assert_eq!(
            (reply.status, &reply.body),
            (StatusCode::FORBIDDEN, &denied),
            "{path}"
        );
    }
    let other = server
        .post(
            "/api/users/refresh_token",
            &bob,
            json!({"username": "admin"}),
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
}

async fn non_admins_see_only_themselves(server: &TestServer) {
    let bob = server.create_user("bob").await;
    server.create_user("dave").await;
    let listed = server.ok("/api/users/list", &bob, json!({})).await;
    assert_eq!(names(&listed), ["bob"]);
    let hidden = server
        .post("/api/users/get_user", &bob, json!({"username": "dave"}))
        .await;
    business_error("resource_not_exists", &hidden);
    let own = server
        .ok("/api/users/get_user", &bob, json!({"username": "bob"}))
        .await;
    assert_eq!(own["creds"]["token"], bob.as_str());
    let admin_view = server
        .ok(
            "/api/users/get_user",
            ADMIN_TOKEN,
            json!({"username": "bob"}),
        )
        .await;
    assert_eq!(admin_view["username"], "bob");
    let missing = server
        .post(
            "/api/users/get_user",
            ADMIN_TOKEN,
            json!({"username": "nobody"}),
        )
        .await;
    business_error("resource_not_exists", &missing);
}

async fn lists_page_by_creation_time_with_a_total(server: &TestServer) {
    for name in ["u1", "u2", "u3"] {
        server.create_user(name).await;
    }
    let all = server.post_empty("/api/users/list", ADMIN_TOKEN).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(names(&all.body), ["u3", "u2", "u1", "admin"]);

    let first = server
        .ok(
            "/api/users/list",
            ADMIN_TOKEN,
            json!({"return_total_count": true, "limit": 2}),
        )
        .await;
    assert_eq!(first["total_count"], 4);
    assert_eq!(names(&first["users"]), ["u3", "u2"]);
    let last = &first["users"][1];
    let next = server
        .ok(
            "/api/users/list",
            ADMIN_TOKEN,
            json!({"prev_created_at": last["created_at"], "prev_id": last["id"], "limit": 2}),
        )
        .await;
    assert_eq!(names(&next), ["u1", "admin"]);

    let ascending = server
        .ok(
            "/api/users/list",
            ADMIN_TOKEN,
            json!({"ascending": true, "limit": 2}),
        )
        .await;
    assert_eq!(names(&ascending), ["admin", "u1"]);
    let filtered = server
        .ok(
            "/api/users/list",
            ADMIN_TOKEN,
            json!({"name_pattern": "U2"}),
        )
        .await;
    assert_eq!(names(&filtered), ["u2"]);
    let too_many = server
        .post("/api/users/list", ADMIN_TOKEN, json!({"limit": 2001}))
        .await;
    business_error("error", &too_many);
    let bad_pattern = server
        .post(
            "/api/users/list",
            ADMIN_TOKEN,
            json!({"name_pattern": "a%"}),
        )
        .await;
    business_error("error", &bad_pattern);
}

async fn refreshing_a_token_revokes_the_old_one(server: &TestServer) {
    let old = server.create_user("bob").await;
    let fresh = server
        .ok("/api/users/refresh_token", &old, json!({"username": "bob"}))
        .await;
    let new = fresh["creds"]["token"].as_str().expect("token");
    assert_ne!(new, old);
    assert_eq!(
        server
            .post_empty("/api/users/get_my_user", &old)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let me = server.ok("/api/users/get_my_user", new, Value::Null).await;
    assert_eq!(me["username"], "bob");
}

async fn updates_and_deletes_users(server: &TestServer) {
    let bob = server.create_user("bob").await;
    let updated = server
        .ok(
            "/api/users/update",
            ADMIN_TOKEN,
            json!({"username": "bob", "global_role": "admin", "email": "bob@example.com", "active": true}),
        )
        .await;
    assert_eq!(updated["global_role"], "admin");
    assert_eq!(updated["email"], "bob@example.com");
    let missing = server
        .post(
            "/api/users/update",
            ADMIN_TOKEN,
            json!({"username": "nobody", "global_role": "user"}),
        )
        .await;
    business_error("resource_not_exists", &missing);

    let deleted = server
        .ok("/api/users/delete", ADMIN_TOKEN, json!({"users": ["bob"]}))
        .await;
    assert_eq!(deleted, Value::Null);
    let gone = server.post_empty("/api/users/get_my_user", &bob).await;
    assert_eq!(gone.status, StatusCode::FORBIDDEN);
    // The name is free again.
    server.create_user("bob").await;
    let unknown = server
        .post(
            "/api/users/delete",
            ADMIN_TOKEN,
            json!({"users": ["nobody"]}),
        )
        .await;
    business_error("resource_not_exists", &unknown);
}

async fn deactivated_users_cannot_call(server: &TestServer) {
    let bob = server.create_user("bob").await;
    server
        .ok(
            "/api/users/update",
            ADMIN_TOKEN,
            json!({"username": "bob", "global_role": "user", "email": null, "active": false}),
        )
        .await;
    let reply = server.post_empty("/api/users/get_my_user", &bob).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

async fn concurrent_creates_of_one_name_give_one_user(server: &TestServer) {
    let body = json!({"username": "twin", "global_role": "user", "email": null, "active": true});
    one_of_concurrent_creates_wins(server, "/api/users/create", body).await;
}

crate::engine_tests!(
    concurrent_creates_of_one_name_give_one_user,
    admins_create_users_and_names_stay_unique,
    only_admins_manage_users,
    non_admins_see_only_themselves,
    lists_page_by_creation_time_with_a_total,
    refreshing_a_token_revokes_the_old_one,
    updates_and_deletes_users,
    deactivated_users_cannot_call,
);

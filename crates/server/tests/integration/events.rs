//! `/api/events/list`: what users, projects, members and secrets record, the filters,
//! keyset pagination, who sees what, and the shape rules of the request.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestServer};

const LIST: &str = "/api/events/list";

/// The events `token` sees with `filters`, oldest first.
pub async fn events(server: &TestServer, token: &str, filters: Value) -> Vec<Value> {
    let mut body = json!({"ascending": true, "limit": 100});
    for (key, value) in filters.as_object().expect("filters object") {
        body[key] = value.clone();
    }
    let reply = server.ok(LIST, token, body).await;
    reply.as_array().expect("a list of events").clone()
}

/// The messages of `events`, in order.
pub fn messages(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["message"].as_str().expect("message"))
        .collect()
}

async fn user_id(server: &TestServer, token: &str) -> Value {
    let me = server
        .ok("/api/users/get_my_user", token, Value::Null)
        .await;
    me["id"].clone()
}

/// Admin makes alice and bob, a project `p1` with alice in it, and a secret there.
struct Story {
    alice: String,
    alice_id: Value,
    bob: String,
    bob_id: Value,
    admin_id: Value,
    p1_id: Value,
}

async fn tell(server: &TestServer) -> Story {
    let alice = server.create_user("alice").await;
    let bob = server.create_user("bob").await;
    let project = server.create_project("p1", ADMIN_TOKEN).await;
    server
        .ok(
            "/api/projects/p1/add_members",
            ADMIN_TOKEN,
            json!({"members": [{"username": "alice", "project_role": "manager"}]}),
        )
        .await;
    server
        .ok(
            "/api/project/p1/secrets/create_or_update",
            ADMIN_TOKEN,
            json!({"name": "S", "value": "v"}),
        )
        .await;
    Story {
        alice_id: user_id(server, &alice).await,
        bob_id: user_id(server, &bob).await,
        admin_id: user_id(server, ADMIN_TOKEN).await,
        p1_id: project["project_id"].clone(),
        alice,
        bob,
    }
}

async fn changes_are_recorded_with_actor_and_targets(server: &TestServer) {
    let story = tell(server).await;
    let all = events(server, ADMIN_TOKEN, json!({})).await;
    assert_eq!(
        messages(&all),
        [
            "User created",
            "Project created",
            "User created",
            "API token refreshed",
            "User created",
            "API token refreshed",
            "Project created",
            "Member added as manager",
            "Secret created",
        ],
        "first start (admin, main), then the story"
    );
    let member = &all[7];
    assert_eq!(member["actor_user_id"], story.admin_id);
    assert_eq!(member["actor_user"], "admin");
    assert_eq!(member["is_actor_user_deleted"], false);
    assert_eq!(
        member["targets"],
        json!([
            {"type": "project", "project_id": story.p1_id, "project_name": "p1",
             "is_project_deleted": false, "id": story.p1_id, "name": "p1"},
            {"type": "user", "project_id": null, "project_name": null,
             "is_project_deleted": null, "id": story.alice_id, "name": "alice"},
        ])
    );
    let secret = &all[8]["targets"][0];
    assert_eq!(secret["type"], "secret");
    assert_eq!(secret["name"], "S");
    assert_eq!(secret["project_id"], story.p1_id);

    let refused = server
        .post(
            "/api/project/p1/secrets/create_or_update",
            &story.alice,
            json!({"name": "S", "value": "w"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    server
        .ok(
            "/api/projects/p1/update",
            ADMIN_TOKEN,
            json!({"is_public": true, "templates_repo": null, "reset_templates_repo": false}),
        )
        .await;
    server
        .ok("/api/users/delete", ADMIN_TOKEN, json!({"users": ["bob"]}))
        .await;
    server
        .ok(
            "/api/projects/delete",
            ADMIN_TOKEN,
            json!({"projects_names": ["p1"]}),
        )
        .await;
    let later = events(server, ADMIN_TOKEN, json!({})).await;
    assert_eq!(
        messages(&later[all.len()..]),
        [
            "Project updated: is_public=true",
            "User deleted",
            "Project deleted"
        ],
        "a manager may not manage secrets by default, so nothing was recorded for alice"
    );
    let deleted = &later[later.len() - 1]["targets"][0];
    assert_eq!(deleted["is_project_deleted"], true);
    assert_eq!(deleted["project_name"], "p1");
}

async fn filters_narrow_the_events(server: &TestServer) {
    let story = tell(server).await;
    let about_p1 = events(
        server,
        ADMIN_TOKEN,
        json!({"target_projects": [story.p1_id]}),
    )
    .await;
    assert_eq!(
        messages(&about_p1),
        ["Project created", "Member added as manager"]
    );
    let in_p1 = events(
        server,
        ADMIN_TOKEN,
        json!({"within_projects": [story.p1_id]}),
    )
    .await;
    assert_eq!(
        messages(&in_p1),
        [
            "Project created",
            "Member added as manager",
            "Secret created"
        ]
    );
    let about_alice = events(
        server,
        ADMIN_TOKEN,
        json!({"target_users": [story.alice_id]}),
    )
    .await;
    assert_eq!(
        messages(&about_alice),
        [
            "User created",
            "API token refreshed",
            "Member added as manager"
        ]
    );
    let secrets_in_p1 = events(
        server,
        ADMIN_TOKEN,
        json!({"within_projects": [story.p1_id], "include_target_types": ["secret"]}),
    )
    .await;
    assert_eq!(messages(&secrets_in_p1), ["Secret created"]);
    let by_system = events(server, ADMIN_TOKEN, json!({"actors": [null]})).await;
    assert!(
        by_system.is_empty(),
        "every change so far had a user: {by_system:?}"
    );
    let by_alice = events(
        server,
        ADMIN_TOKEN,
        json!({"actors": [story.alice_id, null]}),
    )
    .await;
    assert!(by_alice.is_empty(), "alice changed nothing: {by_alice:?}");
    let by_admin = events(server, ADMIN_TOKEN, json!({"actors": [story.admin_id]})).await;
    assert_eq!(by_admin.len(), 9, "{:?}", messages(&by_admin));
    let nothing = events(
        server,
        ADMIN_TOKEN,
        json!({"target_runs": [uuid::Uuid::new_v4()]}),
    )
    .await;
    assert!(nothing.is_empty());
}

async fn pages_follow_the_cursor_both_ways(server: &TestServer) {
    tell(server).await;
    let all = events(server, ADMIN_TOKEN, json!({})).await;
    for ascending in [true, false] {
        let mut expected = all.clone();
        if !ascending {
            expected.reverse();
        }
        let mut seen = Vec::new();
        let mut cursor = json!({});
        loop {
            let mut body = json!({"limit": 2, "ascending": ascending});
            for (key, value) in cursor.as_object().expect("cursor") {
                body[key] = value.clone();
            }
            let page = server.ok(LIST, ADMIN_TOKEN, body).await;
            let page = page.as_array().expect("page").clone();
            let Some(last) = page.last() else { break };
            assert!(page.len() <= 2);
            cursor = json!({"prev_recorded_at": last["recorded_at"], "prev_id": last["id"]});
            seen.extend(page);
        }
        assert_eq!(seen, expected, "ascending={ascending}");
    }
    let newest = server.ok(LIST, ADMIN_TOKEN, json!({"limit": 1})).await;
    assert_eq!(newest[0], all[all.len() - 1], "newest first by default");
    let no_body = server.post_empty(LIST, ADMIN_TOKEN).await;
    assert_eq!(no_body.status, StatusCode::OK, "{}", no_body.body);
    assert_eq!(no_body.body.as_array().map(Vec::len), Some(all.len()));
}

async fn users_see_their_projects_and_themselves(server: &TestServer) {
    let story = tell(server).await;
    let alice_sees = events(server, &story.alice, json!({})).await;
    assert_eq!(
        messages(&alice_sees),
        [
            "User created",
            "API token refreshed",
            "Project created",
            "Member added as manager",
            "Secret created",
        ]
    );
    let bob_sees = events(server, &story.bob, json!({})).await;
    assert_eq!(messages(&bob_sees), ["User created", "API token refreshed"]);
    assert!(
        bob_sees
            .iter()
            .all(|event| event["targets"][0]["id"] == story.bob_id)
    );
    let bob_asks = events(
        server,
        &story.bob,
        json!({"target_projects": [story.p1_id]}),
    )
    .await;
    assert!(bob_asks.is_empty(), "bob is not in p1: {bob_asks:?}");
    let anonymous = server
        .send(LIST, None, Some("0.22.5"), Some("{}".to_owned()))
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

async fn malformed_filters_are_422(server: &TestServer) {
    let id = uuid::Uuid::new_v4();
    let many: Vec<String> = (0..17).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let cases = [
        (
            json!({"target_projects": [id], "target_users": [id]}),
            vec!["body"],
        ),
        (
            json!({"within_projects": [id], "within_runs": [id]}),
            vec!["body"],
        ),
        (json!({"target_fleets": []}), vec!["body", "target_fleets"]),
        (
            json!({"within_fleets": many}),
            vec!["body", "within_fleets"],
        ),
        (json!({"actors": []}), vec!["body", "actors"]),
        (json!({"limit": 0}), vec!["body", "limit"]),
        (json!({"limit": 101}), vec!["body", "limit"]),
        (
            json!({"include_target_types": ["user", "planet"]}),
            vec!["body", "include_target_types", "1"],
        ),
        (
            json!({"target_runs": ["not-a-uuid"]}),
            vec!["body", "target_runs", "0"],
        ),
    ];
    for (body, loc) in cases {
        let reply = server.post(LIST, ADMIN_TOKEN, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            reply.body
        );
        assert_eq!(
            reply.body["detail"][0]["loc"],
            json!(loc),
            "{body}: {}",
            reply.body
        );
    }
    let one_of_each = json!({"target_runs": [id], "within_projects": [id], "limit": 100});
    let reply = server.post(LIST, ADMIN_TOKEN, one_of_each).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

crate::engine_tests!(
    changes_are_recorded_with_actor_and_targets,
    filters_narrow_the_events,
    pages_follow_the_cursor_both_ways,
    users_see_their_projects_and_themselves,
    malformed_filters_are_422,
);

//! Tokens, roles and the client version rule (api.md §1.4–§1.6), plus server info.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{ADMIN_TOKEN, TestServer};

async fn server_info_and_health_need_no_token(server: &TestServer) {
    let info = server.send("/api/server/get_info", None, None, None).await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.body, json!({"server_version": "0.22.5"}));
    let types = server
        .send("/api/backends/list_types", None, Some("0.22.5"), None)
        .await;
    assert_eq!((types.status, types.body), (StatusCode::OK, json!([])));
    let health = dstack_agents::http::plain_client()
        .get(format!("{}/healthcheck", server.url))
        .send()
        .await
        .expect("healthcheck");
    assert_eq!(health.status(), StatusCode::OK);
    let body: serde_json::Value = health.json().await.expect("json");
    assert_eq!(body, json!({"status": "running"}));
}

async fn a_missing_token_is_401_and_a_bad_one_403(server: &TestServer) {
    let missing = server
        .send("/api/users/get_my_user", None, Some("0.22.5"), None)
        .await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.body, json!({"detail": "Not authenticated"}));

    let bad = server
        .post_empty("/api/users/get_my_user", "no-such-token")
        .await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);
    assert_eq!(
        bad.body,
        json!({"detail": {"msg": "Invalid token", "code": null}})
    );

    let response = dstack_agents::http::plain_client()
        .post(format!("{}/api/users/get_my_user", server.url))
        .header("Authorization", format!("Basic {ADMIN_TOKEN}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let lower_scheme = dstack_agents::http::plain_client()
        .post(format!("{}/api/users/get_my_user", server.url))
        .header("Authorization", format!("bearer {ADMIN_TOKEN}"))
        .send()
        .await
        .expect("request");
    assert_eq!(lower_scheme.status(), StatusCode::OK);
}

async fn get_my_user_returns_the_presented_token(server: &TestServer) {
    let me = server
        .post_empty("/api/users/get_my_user", ADMIN_TOKEN)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["username"], "admin");
    assert_eq!(me.body["global_role"], "admin");
    assert_eq!(me.body["creds"]["token"], ADMIN_TOKEN);
    let key = me.body["ssh_public_key"].as_str().expect("public key");
    assert!(
        key.starts_with("ssh-") && key.ends_with(" admin\n"),
        "{key:?}"
    );
    assert!(me.body["ssh_private_key"].as_str().is_some());
    let id = uuid::Uuid::parse_str(me.body["id"].as_str().expect("id")).expect("uuid");
    assert_eq!(id.get_version_num(), 4);
}

async fn newer_minor_clients_are_refused(server: &TestServer) {
    let newer = server
        .send(
            "/api/users/get_my_user",
            Some(ADMIN_TOKEN),
            Some("0.23.0"),
            None,
        )
        .await;
    assert_eq!(newer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        newer.body,
        json!({"detail": [{
            "msg": "The client/CLI version (0.23.0) is incompatible with the server version (0.22.5).",
            "code": "error"
        }]})
    );
    let garbage = server
        .send("/api/server/get_info", None, Some("abc"), None)
        .await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        garbage.body,
        json!({"detail": [{"msg": "Invalid version: abc", "code": null}]})
    );
    for passing in [
        Some("0.22.9"),
        Some("0.21.0"),
        Some("0.0.0"),
        Some("latest"),
        None,
    ] {
        let reply = server
            .send("/api/users/get_my_user", Some(ADMIN_TOKEN), passing, None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{passing:?}");
    }
}

async fn unknown_routes_are_404_and_wrong_methods_405(server: &TestServer) {
    let missing = server.post_empty("/api/no/such", ADMIN_TOKEN).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body, json!({"detail": "Not Found"}));
    let response = dstack_agents::http::plain_client()
        .get(format!("{}/api/users/list", server.url))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

crate::engine_tests!(
    server_info_and_health_need_no_token,
    a_missing_token_is_401_and_a_bad_one_403,
    get_my_user_returns_the_presented_token,
    newer_minor_clients_are_refused,
    unknown_routes_are_404_and_wrong_methods_405,
);

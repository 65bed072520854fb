//! The small endpoints: templates, exports and imports, `/api/sshproxy/get_upstream` and
//! `GET /metrics` with the environment switches dstack reads.

use reqwest::StatusCode;
use serde_json::{Value, json};

use dstack_server::settings::Secret;

use crate::support::{ADMIN_TOKEN, Engine, PROXY_TOKEN, TestServer, business_error};

/// dstack 0.22.5's answer to every exports call (api.md §2.19, observed).
const EXPORTS_REFUSED: &str = "This dstack server does not support exports. Export support is \
                               available in dstack Sky and dstack Factory.";

async fn templates_are_empty_for_members_only(server: &TestServer) {
    let listed = server
        .post_empty("/api/project/main/templates/list", ADMIN_TOKEN)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body, json!([]));
    let outsider = server.create_user("outsider").await;
    let refused = server
        .post_empty("/api/project/main/templates/list", &outsider)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let missing = server
        .post_empty("/api/project/nope/templates/list", ADMIN_TOKEN)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

async fn exports_and_imports_are_refused_as_oss_dstack_does(server: &TestServer) {
    let calls = [
        (
            "exports/create",
            Some(
                json!({"name": "e", "is_global": false, "importer_projects": [],
                        "exported_fleets": [], "exported_gateways": []}),
            ),
        ),
        (
            "exports/update",
            Some(json!({"name": "e", "set_global": true})),
        ),
        ("exports/delete", Some(json!({"name": "e"}))),
        ("exports/list", None),
        ("imports/list", None),
        (
            "imports/delete",
            Some(json!({"export_name": "e", "export_project_name": "other"})),
        ),
    ];
    let outsider = server.create_user("outsider").await;
    for (action, body) in calls {
        let path = format!("/api/project/main/{action}");
        let reply = match &body {
            Some(body) => server.post(&path, ADMIN_TOKEN, body.clone()).await,
            None => server.post_empty(&path, ADMIN_TOKEN).await,
        };
        business_error("error", &reply);
        assert_eq!(reply.body["detail"][0]["msg"], EXPORTS_REFUSED, "{path}");
        let denied = match body {
            Some(body) => server.post(&path, &outsider, body).await,
            None => server.post_empty(&path, &outsider).await,
        };
        assert_eq!(
            denied.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            denied.body
        );
    }
    let malformed = server
        .post(
            "/api/project/main/exports/delete",
            ADMIN_TOKEN,
            json!({"name": 5}),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn sshproxy_is_forbidden_without_its_token_variable(server: &TestServer) {
    let malformed = server
        .send(
            "/api/sshproxy/get_upstream",
            None,
            None,
            Some("{".to_owned()),
        )
        .await;
    assert_eq!(
        malformed.status,
        StatusCode::FORBIDDEN,
        "auth comes before the body"
    );
    for token in [Some(ADMIN_TOKEN), None] {
        let reply = server
            .send(
                "/api/sshproxy/get_upstream",
                token,
                None,
                Some(json!({"id": "x"}).to_string()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    }
}

async fn metrics_are_off_by_default(server: &TestServer) {
    let (status, _, body) = server.get_text("/metrics", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body, json!({"detail": {"msg": "Not found", "code": null}}));
}

crate::engine_tests!(
    templates_are_empty_for_members_only,
    exports_and_imports_are_refused_as_oss_dstack_does,
    sshproxy_is_forbidden_without_its_token_variable,
    metrics_are_off_by_default,
);

async fn sshproxy_answers_its_token_only(engine: Engine) {
    let server = TestServer::start_configured(engine, |settings| {
        settings.integrations.sshproxy_api_token = Some(Secret(PROXY_TOKEN.to_owned()));
    })
    .await;
    let call = |token: Option<&'static str>| {
        server.send(
            "/api/sshproxy/get_upstream",
            token,
            None,
            Some(json!({"id": "abc"}).to_string()),
        )
    };
    assert_eq!(call(None).await.status, StatusCode::UNAUTHORIZED);
    let wrong = call(Some(ADMIN_TOKEN)).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.body);
    let unknown = call(Some(PROXY_TOKEN)).await;
    business_error("resource_not_exists", &unknown);
    let malformed = server
        .send(
            "/api/sshproxy/get_upstream",
            Some(PROXY_TOKEN),
            None,
            Some("{}".to_owned()),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY);
    server.stop().await.expect("clean stop");
}

async fn metrics_count_users_and_projects_behind_their_token(engine: Engine) {
    let server = TestServer::start_configured(engine, |settings| {
        settings.integrations.prometheus_metrics = true;
    })
    .await;
    server.create_user("alice").await;
    server.create_project("second", ADMIN_TOKEN).await;
    let (status, content_type, text) = server.get_text("/metrics", None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(
        text.contains("# TYPE dstack_users gauge\ndstack_users 2\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE dstack_projects gauge\ndstack_projects 2\n"),
        "{text}"
    );
    server
        .ok(
            "/api/users/delete",
            ADMIN_TOKEN,
            json!({"users": ["alice"]}),
        )
        .await;
    let (_, _, text) = server.get_text("/metrics", None).await;
    assert!(text.contains("\ndstack_users 1\n"), "{text}");
    server.stop().await.expect("clean stop");

    let guarded = TestServer::start_configured(engine, |settings| {
        settings.integrations.prometheus_metrics = true;
        settings.integrations.prometheus_auth_token = Some(Secret("scrape".to_owned()));
    })
    .await;
    assert_eq!(
        guarded.get_text("/metrics", None).await.0,
        StatusCode::FORBIDDEN
    );
    let wrong = guarded.get_text("/metrics", Some("other")).await;
    assert_eq!(wrong.0, StatusCode::FORBIDDEN);
    let (status, _, text) = guarded.get_text("/metrics", Some("scrape")).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("dstack_users 1\n"), "{text}");
    guarded.stop().await.expect("clean stop");
}

crate::per_engine!(
    sshproxy_answers_its_token_only,
    metrics_count_users_and_projects_behind_their_token,
);

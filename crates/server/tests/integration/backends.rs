//! `/api/project/{p}/backends/*` and the `backends` of `config.yml`: this server implements no
//! backend type yet, so every configuration is refused with its type named; stored backends
//! read back with their credentials and delete; only project admins get in.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::support::{ADMIN_TOKEN, Engine, Storage, TestServer, business_error};

const BASE: &str = "/api/project/main/backends";

fn message(reply: &crate::support::Reply) -> &str {
    reply.body["detail"][0]["msg"].as_str().unwrap_or_default()
}

async fn unimplemented_types_are_refused_by_name(server: &TestServer) {
    let aws = json!({"type": "aws", "creds": {"type": "access_key", "access_key": "a",
                     "secret_key": "s"}, "regions": ["us-east-1"]});
    for action in ["create", "update"] {
        let path = format!("{BASE}/{action}");
        let reply = server.post(&path, ADMIN_TOKEN, aws.clone()).await;
        business_error("error", &reply);
        assert_eq!(
            message(&reply),
            "Backend type aws is not supported by this server; supported types: none yet",
        );
        let unknown = server
            .post(&path, ADMIN_TOKEN, json!({"type": "planet"}))
            .await;
        business_error("error", &unknown);
        assert_eq!(message(&unknown), "Unknown backend type: planet");
        let untyped = server
            .post(&path, ADMIN_TOKEN, json!({"regions": []}))
            .await;
        business_error("error", &untyped);
        assert!(message(&untyped).contains("`type`"), "{}", untyped.body);

        let yaml_path = format!("{BASE}/{action}_yaml");
        let yaml = json!({"config_yaml": "type: gcp\nproject_id: x\ncreds:\n  type: default\n"});
        let reply = server.post(&yaml_path, ADMIN_TOKEN, yaml).await;
        business_error("error", &reply);
        assert!(message(&reply).starts_with("Backend type gcp is not supported"));
        for bad in ["type: [unclosed", "- a list", "just text"] {
            let reply = server
                .post(&yaml_path, ADMIN_TOKEN, json!({"config_yaml": bad}))
                .await;
            business_error("error", &reply);
        }
    }
    let types = server
        .send("/api/backends/list_types", None, Some("0.22.5"), None)
        .await;
    assert_eq!(types.body, json!([]));
}

async fn missing_backends_are_not_found(server: &TestServer) {
    for path in [
        format!("{BASE}/aws/config_info"),
        format!("{BASE}/aws/get_yaml"),
        format!("{BASE}/planet/config_info"),
    ] {
        let reply = server.post_empty(&path, ADMIN_TOKEN).await;
        business_error("resource_not_exists", &reply);
    }
    let delete = format!("{BASE}/delete");
    let reply = server
        .post(&delete, ADMIN_TOKEN, json!({"backends_names": ["aws"]}))
        .await;
    business_error("resource_not_exists", &reply);
    assert_eq!(message(&reply), "Backend aws not found");
    let reply = server
        .post(&delete, ADMIN_TOKEN, json!({"backends_names": ["planet"]}))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
}

async fn only_project_admins_manage_backends(server: &TestServer) {
    let manager = server.create_user("manager").await;
    server
        .ok(
            "/api/projects/main/add_members",
            ADMIN_TOKEN,
            json!({"members": [{"username": "manager", "project_role": "manager"}]}),
        )
        .await;
    let outsider = server.create_user("outsider").await;
    for token in [&manager, &outsider] {
        for (action, body) in [
            ("create", Some(json!({"type": "aws"}))),
            ("create_yaml", Some(json!({"config_yaml": "type: aws"}))),
            ("delete", Some(json!({"backends_names": ["aws"]}))),
            ("aws/config_info", None),
            ("aws/get_yaml", None),
        ] {
            let path = format!("{BASE}/{action}");
            let reply = match body {
                Some(body) => server.post(&path, token, body).await,
                None => server.post_empty(&path, token).await,
            };
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{path}: {}",
                reply.body
            );
        }
    }
    let missing = server
        .post_empty("/api/project/nope/backends/aws/config_info", ADMIN_TOKEN)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

async fn stored_backends_read_back_with_creds_and_delete(server: &TestServer) {
    let project = server
        .ok("/api/projects/main/get", ADMIN_TOKEN, Value::Null)
        .await;
    let storage = server.storage.as_ref().expect("storage");
    // As a server that implements `aws` would store it: creds apart, in stored form.
    let mut connection = storage.connect().await;
    sqlx::query(
        "INSERT INTO backends (id, project_id, backend_type, config, creds, created_at, \
         updated_at) VALUES ($1, $2, 'aws', $3, $4, 0, 0)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(project["project_id"].as_str().expect("project id"))
    .bind(r#"{"type":"aws","regions":["us-east-1"]}"#)
    .bind(r#"enc:identity:noname:{"type":"access_key","access_key":"a","secret_key":"s"}"#)
    .execute(&mut connection)
    .await
    .expect("seed a backend");
    connection.close().await.expect("close");

    let info = server
        .ok(&format!("{BASE}/aws/config_info"), ADMIN_TOKEN, Value::Null)
        .await;
    assert_eq!(
        info,
        json!({"type": "aws", "regions": ["us-east-1"],
               "creds": {"type": "access_key", "access_key": "a", "secret_key": "s"}})
    );
    let shown = server
        .ok("/api/projects/main/get", ADMIN_TOKEN, Value::Null)
        .await;
    assert_eq!(
        shown["backends"],
        json!([{"name": "aws", "config": {"type": "aws", "regions": ["us-east-1"]}}]),
        "projects show their backends without credentials"
    );
    let yaml = server
        .ok(&format!("{BASE}/aws/get_yaml"), ADMIN_TOKEN, Value::Null)
        .await;
    assert_eq!(yaml["name"], "aws");
    let text = yaml["config_yaml"].as_str().expect("yaml");
    assert!(
        text.contains("type: aws") && text.contains("secret_key: s") && text.contains("us-east-1"),
        "{text}"
    );
    let created = server
        .post(
            &format!("{BASE}/create"),
            ADMIN_TOKEN,
            json!({"type": "aws"}),
        )
        .await;
    business_error("error", &created);

    server
        .ok(
            &format!("{BASE}/delete"),
            ADMIN_TOKEN,
            json!({"backends_names": ["aws"]}),
        )
        .await;
    let gone = server
        .post_empty(&format!("{BASE}/aws/config_info"), ADMIN_TOKEN)
        .await;
    business_error("resource_not_exists", &gone);
    let shown = server
        .ok("/api/projects/main/get", ADMIN_TOKEN, Value::Null)
        .await;
    assert_eq!(shown["backends"], json!([]));
}

crate::engine_tests!(
    unimplemented_types_are_refused_by_name,
    missing_backends_are_not_found,
    only_project_admins_manage_backends,
    stored_backends_read_back_with_creds_and_delete,
);

/// `config.yml` backends of types the server lacks are skipped: it starts, creates the
/// projects, and stores nothing.
async fn config_yml_backends_are_refused_without_stopping_the_server(engine: Engine) {
    let storage = Storage::new(engine).await;
    let dir = storage.settings().server_dir();
    std::fs::create_dir_all(&dir).expect("server dir");
    let text = "projects:\n- name: main\n  backends:\n  - type: aws\n    creds:\n      \
                type: default\n  - type: planet\n  - just-text\n- name: second\n  backends:\n  \
                - type: lambda\n    creds:\n      type: api_key\n      api_key: k\n";
    std::fs::write(dir.join("config.yml"), text).expect("write config.yml");
    let mut server = TestServer::start_with(storage.settings()).await;
    server.storage = Some(storage);
    let second = server
        .post_empty("/api/projects/second/get", ADMIN_TOKEN)
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    for (project, backend) in [("main", "aws"), ("second", "lambda")] {
        let reply = server
            .post_empty(
                &format!("/api/project/{project}/backends/{backend}/config_info"),
                ADMIN_TOKEN,
            )
            .await;
        business_error("resource_not_exists", &reply);
    }
    server.stop().await.expect("clean stop");
}

crate::per_engine!(config_yml_backends_are_refused_without_stopping_the_server);

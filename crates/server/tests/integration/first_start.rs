//! First start and restarts (config-cli.md §15.19, §16, §17): the admin user, the `main`
//! project, `~/.dstack/config.yml`, the server's `config.yml`, and refusing a newer schema.

use dstack_server::ServeError;
use dstack_server::db::DbError;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{AnyConnection, Connection};
use tokio::net::TcpListener;

use crate::support::{ADMIN_TOKEN, Engine, Storage, TestServer};

fn read_client_config(storage: &Storage) -> String {
    std::fs::read_to_string(storage.client_config()).expect("~/.dstack/config.yml is written")
}

async fn first_start_configures_admin_main_and_the_client(engine: Engine) {
    let server = TestServer::start(engine).await;
    let main = server
        .ok("/api/projects/main/get", ADMIN_TOKEN, Value::Null)
        .await;
    assert_eq!(main["owner"]["username"], "admin");
    assert_eq!(main["members"][0]["project_role"], "admin");

    let storage = server.storage.as_ref().expect("storage");
    let expected = format!(
        "projects:\n- default: true\n  name: main\n  token: {ADMIN_TOKEN}\n  url: {}\n",
        server.url
    );
    assert_eq!(read_client_config(storage), expected);
    let server_config = storage.home.path().join(".dstack/server/config.yml");
    let text = std::fs::read_to_string(server_config).expect("server config.yml is written");
    assert!(text.starts_with("projects:\n- name: main\n"), "{text}");

    // A restart keeps the admin and the project, and creates neither again.
    let storage = server.stop_keeping_storage().await;
    let mut again = TestServer::start_with(storage.settings()).await;
    again.storage = Some(storage);
    let users = again.ok("/api/users/list", ADMIN_TOKEN, json!({})).await;
    assert_eq!(users.as_array().map(Vec::len), Some(1));
    let projects = again.ok("/api/projects/list", ADMIN_TOKEN, json!({})).await;
    assert_eq!(projects.as_array().map(Vec::len), Some(1));
    again.stop().await.expect("clean stop");
}

async fn a_generated_admin_token_reaches_the_client_config(engine: Engine) {
    let storage = Storage::new(engine).await;
    let mut settings = storage.settings();
    settings.admin_token = None;
    let server = TestServer::start_with(settings).await;
    // The first call waits until start-up is done, as the listener queues it.
    let health = dstack_agents::http::plain_client()
        .get(format!("{}/healthcheck", server.url))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), StatusCode::OK);
    let config = read_client_config(&storage);
    let token = config
        .lines()
        .find_map(|line| line.trim().strip_prefix("token: "))
        .expect("a token line");
    let parsed = uuid::Uuid::parse_str(token).expect("a uuid token");
    assert_eq!(parsed.get_version_num(), 4);
    let me = server
        .ok("/api/users/get_my_user", token, Value::Null)
        .await;
    assert_eq!(me["username"], "admin");
    server.stop().await.expect("clean stop");
}

async fn another_default_project_is_kept_unless_yes(engine: Engine) {
    let storage = Storage::new(engine).await;
    let path = storage.client_config();
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    let other = "projects:\n- default: true\n  name: other\n  token: t\n  url: http://elsewhere\n";
    std::fs::write(&path, other).expect("write");

    let server = TestServer::start_with(storage.settings()).await;
    server
        .ok("/api/users/get_my_user", ADMIN_TOKEN, Value::Null)
        .await;
    server.stop().await.expect("clean stop");
    assert_eq!(read_client_config(&storage), other);

    let mut settings = storage.settings();
    settings.yes = true;
    let server = TestServer::start_with(settings).await;
    server
        .ok("/api/users/get_my_user", ADMIN_TOKEN, Value::Null)
        .await;
    let written = read_client_config(&storage);
    assert_eq!(
        written,
        format!(
            "projects:\n- default: false\n  name: other\n  token: t\n  url: http://elsewhere\n\
             - default: true\n  name: main\n  token: {ADMIN_TOKEN}\n  url: {}\n",
            server.url
        )
    );
    server.stop().await.expect("clean stop");
}

async fn a_schema_from_a_newer_server_is_refused(engine: Engine) {
    let server = TestServer::start(engine).await;
    let storage = server.stop_keeping_storage().await;
    let (url, insert) = match &storage.postgres {
        Some(db) => (
            db.url.clone(),
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99990101000000, 'from the future', TRUE, '\\x00'::bytea, 0)",
        ),
        None => (
            format!(
                "sqlite://{}",
                storage
                    .home
                    .path()
                    .join(".dstack/server/data/sqlite.db")
                    .display()
            ),
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99990101000000, 'from the future', TRUE, X'00', 0)",
        ),
    };
    sqlx::any::install_default_drivers();
    let mut connection = AnyConnection::connect(&url).await.expect("connect");
    sqlx::query(insert)
        .execute(&mut connection)
        .await
        .expect("insert");
    connection.close().await.expect("close");

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let result = dstack_server::serve(storage.settings(), listener, std::future::pending()).await;
    match result {
        Err(ServeError::Database(DbError::SchemaTooNew { version })) => {
            assert_eq!(version, 99990101000000);
        }
        other => panic!("expected a refused schema, got {other:?}"),
    }
}

crate::per_engine!(
    first_start_configures_admin_main_and_the_client,
    a_generated_admin_token_reaches_the_client_config,
    another_default_project_is_kept_unless_yes,
    a_schema_from_a_newer_server_is_refused,
);

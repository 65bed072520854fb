//! `/api/project/{p}/secrets/*`: the lifecycle, names, who may manage secrets, and values
//! encrypted at rest with the keys of `config.yml`.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::support::{ADMIN_TOKEN, Engine, Storage, TestServer, business_error};

const SET: &str = "/api/project/main/secrets/create_or_update";
const GET: &str = "/api/project/main/secrets/get";
const LIST: &str = "/api/project/main/secrets/list";
const DELETE: &str = "/api/project/main/secrets/delete";

/// Base64 of 32 bytes: 0, 1, ..., 31.
const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// Base64 of 32 bytes of 0xff.
const KEY_B: &str = "//////////////////////////////////////////8=";

async fn set(server: &TestServer, name: &str, value: &str) -> Value {
    server
        .ok(SET, ADMIN_TOKEN, json!({"name": name, "value": value}))
        .await
}

/// Each member of `project` as `name:<can_manage_secrets>`, from `projects/{p}/get`.
async fn can_manage_secrets(server: &TestServer, project: &str) -> Vec<String> {
    let path = format!("/api/projects/{project}/get");
    let shown = server.ok(&path, ADMIN_TOKEN, Value::Null).await;
    let mut members: Vec<String> = shown["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|member| {
            let name = member["user"]["username"]
                .as_str()
                .expect("name")
                .to_owned();
            let allowed = member["permissions"]["can_manage_secrets"]
                .as_bool()
                .expect("flag");
            format!("{name}:{allowed}")
        })
        .collect();
    members.sort();
    members
}

async fn a_secret_is_created_updated_read_listed_and_deleted(server: &TestServer) {
    let created = set(server, "HF_TOKEN", "hf-1").await;
    assert_eq!(created["name"], "HF_TOKEN");
    assert_eq!(created["value"], "hf-1");
    let updated = set(server, "HF_TOKEN", "hf-2").await;
    assert_eq!(updated["id"], created["id"], "an update keeps the id");
    assert_eq!(updated["value"], "hf-2");
    set(server, "A_KEY", "a").await;

    let got = server
        .ok(GET, ADMIN_TOKEN, json!({"name": "HF_TOKEN"}))
        .await;
    assert_eq!(
        got,
        json!({"id": created["id"], "name": "HF_TOKEN", "value": "hf-2"})
    );
    let listed = server.post_empty(LIST, ADMIN_TOKEN).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let names: Vec<(&str, &Value)> = listed
        .body
        .as_array()
        .expect("a list")
        .iter()
        .map(|secret| (secret["name"].as_str().expect("name"), &secret["value"]))
        .collect();
    assert_eq!(
        names,
        [("A_KEY", &Value::Null), ("HF_TOKEN", &Value::Null)],
        "values are hidden in lists"
    );

    let deleted = server
        .ok(DELETE, ADMIN_TOKEN, json!({"secrets_names": ["HF_TOKEN"]}))
        .await;
    assert_eq!(deleted, Value::Null);
    let gone = server
        .post(GET, ADMIN_TOKEN, json!({"name": "HF_TOKEN"}))
        .await;
    business_error("resource_not_exists", &gone);
    let missing = server
        .post(
            DELETE,
            ADMIN_TOKEN,
            json!({"secrets_names": ["A_KEY", "NOPE"]}),
        )
        .await;
    business_error("resource_not_exists", &missing);
    assert!(
        missing.body["detail"][0]["msg"]
            .as_str()
            .is_some_and(|msg| msg.contains("NOPE")),
        "{}",
        missing.body
    );
    server.ok(GET, ADMIN_TOKEN, json!({"name": "A_KEY"})).await;
}

async fn bad_secret_names_are_refused(server: &TestServer) {
    for name in ["", "bad name", "a/b", "ключ", &"x".repeat(201)] {
        let reply = server
            .post(SET, ADMIN_TOKEN, json!({"name": name, "value": "v"}))
            .await;
        business_error("error", &reply);
        let msg = reply.body["detail"][0]["msg"].as_str().unwrap_or_default();
        assert!(msg.contains("Secret name should match"), "{name:?}: {msg}");
    }
    set(server, &"x".repeat(200), "v").await;
}

async fn only_project_admins_manage_secrets(server: &TestServer) {
    let bob = server.create_user("bob").await;
    let carol = server.create_user("carol").await;
    let dave = server.create_user("dave").await;
    let eve = server.create_user("eve").await;
    server.create_project("alpha", &bob).await;
    let members = json!({"members": [
        {"username": "bob", "project_role": "admin"},
        {"username": "carol", "project_role": "manager"},
        {"username": "dave", "project_role": "user"},
    ]});
    server
        .ok("/api/projects/alpha/set_members", &bob, members)
        .await;
    let set_path = "/api/project/alpha/secrets/create_or_update";
    let get_path = "/api/project/alpha/secrets/get";
    let created = server
        .ok(set_path, &bob, json!({"name": "S", "value": "v"}))
        .await;
    assert_eq!(created["value"], "v");

    // Managers pass the endpoint's level but not `allow_managers_manage_secrets` (off by
    // default), users and non-members fail the level: all are 403.
    for token in [&carol, &dave, &eve] {
        for (path, body) in [
            (get_path, json!({"name": "S"})),
            (set_path, json!({"name": "S", "value": "x"})),
            (
                "/api/project/alpha/secrets/delete",
                json!({"secrets_names": ["S"]}),
            ),
        ] {
            let reply = server.post(path, token, body).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{path}: {}",
                reply.body
            );
        }
        let listed = server
            .post_empty("/api/project/alpha/secrets/list", token)
            .await;
        assert_eq!(listed.status, StatusCode::FORBIDDEN, "{}", listed.body);
    }
    let got = server.ok(get_path, &bob, json!({"name": "S"})).await;
    assert_eq!(got["value"], "v", "refused writes changed nothing");
    assert_eq!(
        can_manage_secrets(server, "alpha").await,
        ["bob:true", "carol:false", "dave:false"],
        "members' permissions say the same"
    );
    let admin = server.ok(get_path, ADMIN_TOKEN, json!({"name": "S"})).await;
    assert_eq!(
        admin["value"], "v",
        "global admins manage every project's secrets"
    );
    let no_project = server
        .post(
            "/api/project/nope/secrets/get",
            ADMIN_TOKEN,
            json!({"name": "S"}),
        )
        .await;
    assert_eq!(
        no_project.status,
        StatusCode::NOT_FOUND,
        "{}",
        no_project.body
    );
}

crate::engine_tests!(
    a_secret_is_created_updated_read_listed_and_deleted,
    bad_secret_names_are_refused,
    only_project_admins_manage_secrets,
);

fn write_server_config(storage: &Storage, keys: &str) {
    let dir = storage.settings().server_dir();
    std::fs::create_dir_all(&dir).expect("server dir");
    let text = format!("projects:\n- name: main\nencryption:\n  keys:\n{keys}");
    std::fs::write(dir.join("config.yml"), text).expect("write config.yml");
}

fn aes_key(name: &str, secret: &str) -> String {
    format!("  - type: aes\n    name: {name}\n    secret: {secret}\n")
}

/// The stored value of the `main` project's secret, read straight from the database.
async fn stored_value(storage: &Storage, name: &str) -> String {
    let mut connection = storage.connect().await;
    let value: String = sqlx::query_scalar("SELECT value FROM secrets WHERE name = $1")
        .bind(name)
        .fetch_one(&mut connection)
        .await
        .expect("the secret's row");
    connection.close().await.expect("close");
    value
}

async fn start(storage: Storage) -> TestServer {
    let mut server = TestServer::start_with(storage.settings()).await;
    server.storage = Some(storage);
    server
}

async fn values_are_encrypted_at_rest_and_need_their_key(engine: Engine) {
    let storage = Storage::new(engine).await;
    write_server_config(&storage, &aes_key("key1", KEY_A));
    let server = start(storage).await;
    set(&server, "TOKEN", "plain-value").await;
    let storage = server.stop_keeping_storage().await;
    let stored = stored_value(&storage, "TOKEN").await;
    assert!(stored.starts_with("enc:aes:key1:"), "{stored}");
    assert!(!stored.contains("plain-value"), "{stored}");

    // A rotated configuration still reads values of an older key it lists.
    write_server_config(
        &storage,
        &format!("{}{}", aes_key("key2", KEY_B), aes_key("key1", KEY_A)),
    );
    let server = start(storage).await;
    let got = server.ok(GET, ADMIN_TOKEN, json!({"name": "TOKEN"})).await;
    assert_eq!(got["value"], "plain-value");
    let mut storage = server.stop_keeping_storage().await;

    // A wrong key, or none, is a clear business error naming the key, not a 500.
    for keys in [aes_key("key1", KEY_B), "  - type: identity\n".to_owned()] {
        write_server_config(&storage, &keys);
        let server = start(storage).await;
        let reply = server
            .post(GET, ADMIN_TOKEN, json!({"name": "TOKEN"}))
            .await;
        business_error("error", &reply);
        let msg = reply.body["detail"][0]["msg"].as_str().unwrap_or_default();
        assert!(
            msg.contains("cannot decrypt secret TOKEN") && msg.contains("aes key key1"),
            "{keys}: {msg}"
        );
        let listed = server.post_empty(LIST, ADMIN_TOKEN).await;
        assert_eq!(
            listed.status,
            StatusCode::OK,
            "lists need no key: {}",
            listed.body
        );
        storage = server.stop_keeping_storage().await;
    }
}

async fn without_keys_values_are_stored_under_identity(engine: Engine) {
    let server = TestServer::start(engine).await;
    set(&server, "TOKEN", "plain-value").await;
    let storage = server.stop_keeping_storage().await;
    let stored = stored_value(&storage, "TOKEN").await;
    assert_eq!(stored, "enc:identity:noname:plain-value");
}

crate::per_engine!(
    values_are_encrypted_at_rest_and_need_their_key,
    without_keys_values_are_stored_under_identity,
);

/// With `allow_managers_manage_secrets: true`, managers manage secrets; users still may not.
async fn managers_manage_secrets_when_the_server_allows_it(engine: Engine) {
    let storage = Storage::new(engine).await;
    let dir = storage.settings().server_dir();
    std::fs::create_dir_all(&dir).expect("server dir");
    let text =
        "projects:\n- name: main\ndefault_permissions:\n  allow_managers_manage_secrets: true\n";
    std::fs::write(dir.join("config.yml"), text).expect("write config.yml");
    let server = start(storage).await;
    let carol = server.create_user("carol").await;
    let dave = server.create_user("dave").await;
    let members = json!({"members": [
        {"username": "carol", "project_role": "manager"},
        {"username": "dave", "project_role": "user"},
    ]});
    server
        .ok("/api/projects/main/add_members", ADMIN_TOKEN, members)
        .await;
    assert_eq!(
        can_manage_secrets(&server, "main").await,
        ["admin:true", "carol:true", "dave:false"]
    );
    let created = server
        .ok(SET, &carol, json!({"name": "S", "value": "by-carol"}))
        .await;
    assert_eq!(created["value"], "by-carol");
    let got = server.ok(GET, &carol, json!({"name": "S"})).await;
    assert_eq!(got["value"], "by-carol");
    let listed = server.post_empty(LIST, &carol).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let refused = server.post(GET, &dave, json!({"name": "S"})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    server
        .ok(DELETE, &carol, json!({"secrets_names": ["S"]}))
        .await;
    server.stop().await.expect("clean stop");
}

crate::per_engine!(managers_manage_secrets_when_the_server_allows_it);

//! `/api/project/{p}/repos/*` and `/api/files/*`: repos with per-user creds, code and archive
//! uploads, their idempotence and the upload size limit.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, Engine, Storage, TestServer, business_error};

const INIT: &str = "/api/project/main/repos/init";
const GET: &str = "/api/project/main/repos/get";
const LIST: &str = "/api/project/main/repos/list";
const DELETE: &str = "/api/project/main/repos/delete";
const UPLOAD_ARCHIVE: &str = "/api/files/upload_archive";
const ARCHIVE_BY_HASH: &str = "/api/files/get_archive_by_hash";

fn remote(creds: Option<&str>) -> Value {
    json!({
        "repo_id": "github.com/org/repo",
        "repo_info": {"repo_type": "remote", "repo_name": "github.com/org/repo"},
        "repo_creds": creds.map(|token| json!({
            "clone_url": "https://github.com/org/repo.git", "private_key": null,
            "oauth_token": token,
        })),
    })
}

fn upload_code_path(repo_id: &str) -> String {
    format!("/api/project/main/repos/upload_code?repo_id={repo_id}")
}

async fn repos_are_initialised_read_and_deleted(server: &TestServer) {
    let virtual_repo =
        json!({"repo_id": "none", "repo_info": {"repo_type": "virtual"}, "repo_creds": null});
    assert_eq!(
        server.ok(INIT, ADMIN_TOKEN, virtual_repo.clone()).await,
        Value::Null
    );
    server.ok(INIT, ADMIN_TOKEN, virtual_repo).await;
    server
        .ok(INIT, ADMIN_TOKEN, remote(Some("secret-token")))
        .await;

    let listed = server.post_empty(LIST, ADMIN_TOKEN).await;
    assert_eq!(
        listed.body,
        json!([
            {"repo_id": "none", "repo_info": {"repo_type": "virtual"}},
            {"repo_id": "github.com/org/repo",
             "repo_info": {"repo_type": "remote", "repo_name": "github.com/org/repo"}},
        ])
    );
    let with_creds = server
        .ok(
            GET,
            ADMIN_TOKEN,
            json!({"repo_id": "github.com/org/repo", "include_creds": true}),
        )
        .await;
    assert_eq!(with_creds["repo_creds"]["oauth_token"], "secret-token");
    let without = server
        .ok(
            GET,
            ADMIN_TOKEN,
            json!({"repo_id": "github.com/org/repo", "include_creds": false}),
        )
        .await;
    assert_eq!(without["repo_creds"], Value::Null);

    // Creds belong to the user who gave them.
    let bob = server.create_user("bob").await;
    server
        .ok(
            "/api/projects/main/add_members",
            ADMIN_TOKEN,
            json!({"members": [{"username": "bob", "project_role": "user"}]}),
        )
        .await;
    let bobs = server
        .ok(
            GET,
            &bob,
            json!({"repo_id": "github.com/org/repo", "include_creds": true}),
        )
        .await;
    assert_eq!(bobs["repo_creds"], Value::Null);
    server.ok(INIT, ADMIN_TOKEN, remote(None)).await;
    let forgotten = server
        .ok(
            GET,
            ADMIN_TOKEN,
            json!({"repo_id": "github.com/org/repo", "include_creds": true}),
        )
        .await;
    assert_eq!(forgotten["repo_creds"], Value::Null);

    let missing = server
        .post(
            GET,
            ADMIN_TOKEN,
            json!({"repo_id": "nope", "include_creds": false}),
        )
        .await;
    assert_eq!(
        missing.body,
        json!({"detail": [{"msg": "Resource not found", "code": "resource_not_exists"}]})
    );
    server
        .ok(
            DELETE,
            ADMIN_TOKEN,
            json!({"repos_ids": ["github.com/org/repo", "nope"]}),
        )
        .await;
    let gone = server
        .post(GET, ADMIN_TOKEN, json!({"repo_id": "github.com/org/repo"}))
        .await;
    business_error("resource_not_exists", &gone);

    let outsider = server.create_user("eve").await;
    let denied = server.post_empty(LIST, &outsider).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
}

async fn code_uploads_are_idempotent_and_need_the_repo(server: &TestServer) {
    let unknown = server
        .upload(&upload_code_path("nope"), ADMIN_TOKEN, "abc", b"diff")
        .await;
    business_error("repo_does_not_exist", &unknown);
    server.ok(INIT, ADMIN_TOKEN, remote(None)).await;
    let path = upload_code_path("github.com/org/repo");
    for _ in 0..2 {
        let reply = server.upload(&path, ADMIN_TOKEN, "abc", b"diff").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body, Value::Null);
    }
}

async fn archives_are_kept_per_user_and_hash(server: &TestServer) {
    let first = server
        .upload(UPLOAD_ARCHIVE, ADMIN_TOKEN, "hash-a", b"tar bytes")
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["hash"], "hash-a");
    let again = server
        .upload(UPLOAD_ARCHIVE, ADMIN_TOKEN, "hash-a", b"tar bytes")
        .await;
    assert_eq!(
        again.body, first.body,
        "the same hash answers the stored archive"
    );
    let found = server
        .ok(ARCHIVE_BY_HASH, ADMIN_TOKEN, json!({"hash": "hash-a"}))
        .await;
    assert_eq!(found, first.body);

    let bob = server.create_user("bob").await;
    let not_bobs = server
        .post(ARCHIVE_BY_HASH, &bob, json!({"hash": "hash-a"}))
        .await;
    business_error("resource_not_exists", &not_bobs);
    let bobs = server
        .upload(UPLOAD_ARCHIVE, &bob, "hash-a", b"tar bytes")
        .await;
    assert_ne!(bobs.body["id"], first.body["id"]);

    let no_file = server.post_empty(UPLOAD_ARCHIVE, ADMIN_TOKEN).await;
    assert_eq!(
        no_file.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        no_file.body
    );
}

async fn uploads_over_the_limit_are_refused(engine: Engine) {
    let storage = Storage::new(engine).await;
    let mut settings = storage.settings();
    settings.code_upload_limit = 1024;
    let mut server = TestServer::start_with(settings).await;
    server.storage = Some(storage);
    server.ok(INIT, ADMIN_TOKEN, remote(None)).await;
    let big = vec![7u8; 4096];
    let code = server
        .upload(
            &upload_code_path("github.com/org/repo"),
            ADMIN_TOKEN,
            "big",
            &big,
        )
        .await;
    business_error("error", &code);
    let archive = server
        .upload(UPLOAD_ARCHIVE, ADMIN_TOKEN, "big", &big)
        .await;
    business_error("error", &archive);
    let small = server
        .upload(UPLOAD_ARCHIVE, ADMIN_TOKEN, "small", &[1; 16])
        .await;
    assert_eq!(small.status, StatusCode::OK, "{}", small.body);
    server.stop().await.expect("clean stop");
}

crate::engine_tests!(
    repos_are_initialised_read_and_deleted,
    code_uploads_are_idempotent_and_need_the_repo,
    archives_are_kept_per_user_and_hash,
);
crate::per_engine!(uploads_over_the_limit_are_refused);

//! Bad input never gets a 500: malformed, wrong-typed and random bodies to every endpoint.

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use dstack_server::settings::Secret;

use crate::support::{ADMIN_TOKEN, Engine, PROXY_TOKEN, TestServer};

/// Every endpoint, and whether it reads a body at all.
const ENDPOINTS: &[(&str, bool)] = &[
    ("/api/server/get_info", false),
    ("/api/backends/list_types", false),
    ("/api/users/get_my_user", false),
    ("/api/users/list", true),
    ("/api/users/get_user", true),
    ("/api/users/create", true),
    ("/api/users/update", true),
    ("/api/users/refresh_token", true),
    ("/api/users/delete", true),
    ("/api/projects/list", true),
    ("/api/projects/create", true),
    ("/api/projects/delete", true),
    ("/api/projects/main/get", false),
    ("/api/projects/main/set_members", true),
    ("/api/projects/main/add_members", true),
    ("/api/projects/main/remove_members", true),
    ("/api/projects/main/update", true),
    ("/api/events/list", true),
    ("/api/users/public_keys/list", false),
    ("/api/users/public_keys/add", true),
    ("/api/users/public_keys/delete", true),
    ("/api/users/refresh_ssh_key", true),
    ("/api/project/main/backends/create", true),
    ("/api/project/main/backends/update", true),
    ("/api/project/main/backends/create_yaml", true),
    ("/api/project/main/backends/update_yaml", true),
    ("/api/project/main/backends/delete", true),
    ("/api/project/main/backends/aws/config_info", false),
    ("/api/project/main/backends/aws/get_yaml", false),
    ("/api/project/main/templates/list", false),
    ("/api/project/main/exports/create", true),
    ("/api/project/main/exports/update", true),
    ("/api/project/main/exports/delete", true),
    ("/api/project/main/exports/list", false),
    ("/api/project/main/imports/list", false),
    ("/api/project/main/imports/delete", true),
    ("/api/runs/list", true),
    ("/api/project/main/runs/get", true),
    ("/api/project/main/runs/get_plan", true),
    ("/api/project/main/runs/apply", true),
    ("/api/project/main/runs/submit", true),
    ("/api/project/main/runs/stop", true),
    ("/api/project/main/runs/delete", true),
    ("/api/project/main/repos/list", false),
    ("/api/project/main/repos/get", true),
    ("/api/project/main/repos/init", true),
    ("/api/project/main/repos/delete", true),
    ("/api/project/main/repos/upload_code?repo_id=none", true),
    ("/api/files/upload_archive", true),
    ("/api/files/get_archive_by_hash", true),
    ("/api/project/main/logs/poll", true),
    ("/api/project/main/metrics/job/nope", false),
    ("/api/fleets/list", true),
    ("/api/project/main/fleets/list", true),
    ("/api/project/main/fleets/get", true),
    ("/api/project/main/fleets/get_plan", true),
    ("/api/project/main/fleets/apply", true),
    ("/api/project/main/fleets/delete", true),
    ("/api/project/main/fleets/delete_instances", true),
    ("/api/instances/list", true),
    ("/api/project/main/instances/get", true),
    ("/api/project/main/gpus/list", true),
    ("/api/volumes/list", true),
    ("/api/project/main/volumes/list", false),
    ("/api/project/main/volumes/get", true),
    ("/api/project/main/volumes/create", true),
    ("/api/project/main/volumes/delete", true),
    ("/api/project/main/gateways/list", true),
    ("/api/project/main/gateways/get", true),
    ("/api/project/main/gateways/get_plan", true),
    ("/api/project/main/gateways/apply", true),
    ("/api/project/main/gateways/create", true),
    ("/api/project/main/gateways/delete", true),
    ("/api/project/main/gateways/set_default", true),
    ("/api/project/main/gateways/set_wildcard_domain", true),
];

/// Bodies that are not JSON, or not the JSON any endpoint expects.
fn malformed() -> Vec<String> {
    let mut bodies: Vec<String> = [
        "{",
        "}",
        "[]",
        "123",
        "\"text\"",
        "true",
        "{\"a\":",
        "{} {}",
        "\u{0}",
        "nul",
        r#"{"username": 5, "global_role": "root", "users": "x", "members": [{"username": 1}]}"#,
        r#"{"project_name": [], "projects_names": [1], "usernames": {}, "limit": -1}"#,
        r#"{"limit": 99999999999999999999, "prev_created_at": "yesterday", "prev_id": "x"}"#,
        r#"{"is_public": "yes", "reset_templates_repo": 3, "return_total_count": "no"}"#,
        r#"{"members": [{"username": "admin", "project_role": "owner"}]}"#,
        r#"{"run_spec": {"configuration": {"type": "task", "nodes": -1}}, "max_offers": 0}"#,
        r#"{"run_spec": {"configuration": {"type": "service", "port": "x"}}}"#,
        r#"{"run_spec": {"run_name": "Bad Name", "configuration": {"type": "dev-environment", "ide": "vim"}}}"#,
        r#"{"plan": {"run_spec": {"configuration": {"type": "task"}}, "current_resource": 5}, "force": "no"}"#,
        r#"{"plan": {"run_spec": {"configuration": {"type": "task", "commands": ["x"], "image": "a", "python": "3.12"}}}}"#,
        r#"{"runs_names": "hello", "abort": 1, "run_name": 5, "id": "not-a-uuid"}"#,
        r#"{"repo_id": 5, "repo_info": {"repo_type": "svn"}, "repo_creds": {"clone_url": null}}"#,
        r#"{"run_name": "x", "job_submission_id": "nope", "limit": 5000, "next_token": 7}"#,
        r#"{"job_submissions_limit": 99, "prev_submitted_at": "2020-01-01", "prev_run_id": 3}"#,
        r#"{"name": 7, "id": "not-a-uuid", "names": [null], "instance_nums": [-1]}"#,
        r#"{"spec": {"configuration": {"type": "fleet", "nodes": "x", "ssh_config": 1}}}"#,
        r#"{"spec": {"configuration": {"type": "task"}, "profile": {}}}"#,
        r#"{"plan": {"spec": null, "current_resource": {"id": 1}}, "force": "yes"}"#,
        r#"{"project_names": "main", "fleet_ids": ["x"], "only_active": 2}"#,
        r#"{"run_spec": {"configuration": {"type": "service"}}, "group_by": ["gpu"]}"#,
        r#"{"configuration": {"type": "volume", "backend": "nfs", "size": "big"}}"#,
        r#"{"configuration": {"type": "volume", "backend": "aws", "region": 1, "size": -5}}"#,
        r#"{"configuration": {"type": "gateway", "backend": "aws", "certificate": {"type": 1}}}"#,
        r#"{"spec": {"configuration": {"type": "gateway", "replicas": -1}}, "wildcard_domain": 5}"#,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    bodies.push("[".repeat(10_000));
    bodies.push(format!("{{\"username\": \"{}\"}}", "a".repeat(100_000)));
    bodies.extend(random_bodies(40));
    bodies
}

/// Deterministic noise: random bytes and random JSON-ish text (xorshift, fixed seed).
fn random_bodies(count: usize) -> Vec<String> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet: Vec<char> = "{}[]\":,0123456789.-eEtruefalsnl abcxyz_\\/\u{e9}\u{1f600}"
        .chars()
        .collect();
    (0..count)
        .map(|_| {
            let len = usize::try_from(next() % 200).unwrap_or(0);
            (0..len)
                .map(|_| alphabet[usize::try_from(next()).unwrap_or(0) % alphabet.len()])
                .collect()
        })
        .collect()
}

async fn no_body_gets_a_server_error(server: &TestServer) {
    check_bodies(server, ENDPOINTS, ADMIN_TOKEN).await;
}

/// `/api/sshproxy` takes its own token, so it runs on a server that has one.
async fn no_sshproxy_body_gets_a_server_error(engine: Engine) {
    let server = TestServer::start_configured(engine, |settings| {
        settings.integrations.sshproxy_api_token = Some(Secret(PROXY_TOKEN.to_owned()));
    })
    .await;
    check_bodies(
        &server,
        &[("/api/sshproxy/get_upstream", true)],
        PROXY_TOKEN,
    )
    .await;
    server.stop().await.expect("clean stop");
}

/// Sends every malformed body to each endpoint as `token`: never a 5xx, and 422 naming the
/// body for text that is not JSON where a body is read.
async fn check_bodies(server: &TestServer, endpoints: &[(&str, bool)], token: &str) {
    for (path, reads_body) in endpoints {
        for body in malformed() {
            let reply = server
                .send(path, Some(token), Some("0.22.5"), Some(body.clone()))
                .await;
            let shown: String = body.chars().take(80).collect();
            assert!(
                !reply.status.is_server_error(),
                "{path} answered {} to {shown:?}: {}",
                reply.status,
                reply.body
            );
            let not_json = serde_json::from_str::<serde_json::Value>(&body).is_err();
            // A blank body means defaults where a body is optional (api.md §1.2).
            if *reads_body && not_json && !body.trim().is_empty() {
                assert_eq!(
                    reply.status,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{path} {shown:?}"
                );
                assert!(
                    reply.body["detail"][0]["loc"][0] == "body",
                    "{}",
                    reply.body
                );
            }
        }
    }
}

async fn a_wrong_type_names_the_field(server: &TestServer) {
    let reply = server
        .post(
            "/api/users/create",
            ADMIN_TOKEN,
            json!({"username": "x", "global_role": 5}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.body["detail"][0]["loc"],
        json!(["body", "global_role"])
    );
    let nested = server
        .post(
            "/api/projects/main/add_members",
            ADMIN_TOKEN,
            json!({"members": [{"username": "admin", "project_role": "owner"}]}),
        )
        .await;
    assert_eq!(nested.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        nested.body["detail"][0]["loc"],
        json!(["body", "members", "0", "project_role"])
    );
    let missing = server.post_empty("/api/users/create", ADMIN_TOKEN).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.body["detail"][0]["type"], "missing");
}

async fn unknown_fields_are_ignored(server: &TestServer) {
    let body = json!({"project_name": "extra", "is_public": false, "templates_repo": null, "future": {"x": 1}});
    server.ok("/api/projects/create", ADMIN_TOKEN, body).await;
}

/// A request no route takes (an unknown path, a wrong method) has its body read before the
/// answer: hyper closes a connection whose request body is left unread, and a client that
/// reuses it for its next request gets a broken connection instead of an answer.
async fn unrouted_requests_keep_the_connection(server: &TestServer) {
    let address = server.url.trim_start_matches("http://");
    let stream = TcpStream::connect(address).await.expect("connect");
    let mut stream = BufReader::new(stream);
    let body = format!("{{\"username\": \"{}\"}}", "a".repeat(100_000));
    let requests = [
        ("POST", "/api/project/main/metrics/job/nope", 405),
        ("POST", "/api/no/such/endpoint", 404),
        ("GET", "/api/users/get_my_user", 405),
        ("GET", "/api/project/main/repos/upload_code", 405),
        ("POST", "/api/users/get_my_user", 200),
    ];
    for (method, path, expected) in requests {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: the server closed the connection: {e}"));
        let status = read_response(&mut stream)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: no answer on the kept connection: {e}"));
        assert_eq!(status, expected, "{method} {path}");
    }
}

/// Reads one HTTP/1.1 response with a `Content-Length` body; returns its status.
async fn read_response(stream: &mut BufReader<TcpStream>) -> std::io::Result<u16> {
    let mut status = None;
    let mut length = 0;
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if status.is_none() {
            status = line.split(' ').nth(1).and_then(|code| code.parse().ok());
        } else if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    status.ok_or_else(|| std::io::Error::other("no status line"))
}

crate::engine_tests!(
    unrouted_requests_keep_the_connection,
    no_body_gets_a_server_error,
    a_wrong_type_names_the_field,
    unknown_fields_are_ignored,
);

crate::per_engine!(no_sshproxy_body_gets_a_server_error);

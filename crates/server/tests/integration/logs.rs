//! `/api/project/{p}/logs/poll` over lines written through the database layer (nothing else
//! writes logs yet), and `/api/project/{p}/metrics/job/{run}` of a run without samples.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use dstack_server::db::Database;
use dstack_server::db::logs::{self, LogProducer};
use dstack_server::db::metrics::{self, MetricsPoint};
use serde_json::{Value, json};

use crate::runs::apply_task;
use crate::support::{ADMIN_TOKEN, TestServer, business_error};

const POLL: &str = "/api/project/main/logs/poll";

/// A second connection to the test server's database.
async fn open_database(server: &TestServer) -> Database {
    let settings = server.storage.as_ref().expect("storage").settings();
    let url = settings.database_url.as_ref().map(|url| url.0.as_str());
    Database::open(url, &settings.server_dir())
        .await
        .expect("the test database opens")
}

fn poll_body(submission: &Value, extra: Value) -> Value {
    let mut body = json!({
        "run_name": "logged", "job_submission_id": submission, "start_time": null,
        "end_time": null, "descending": false, "next_token": null, "limit": 2,
        "diagnose": false,
    });
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    body
}

fn messages(page: &Value) -> Vec<String> {
    page["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .map(|event| {
            let bytes = STANDARD
                .decode(event["message"].as_str().expect("base64"))
                .expect("valid base64");
            String::from_utf8(bytes).expect("utf-8")
        })
        .collect()
}

/// Microseconds of the lines written: one second apart from a fixed start.
const START: i64 = 1_795_000_000_000_000;

async fn logs_are_polled_in_pages(server: &TestServer) {
    let run = apply_task(server, "main", ADMIN_TOKEN, "logged").await;
    let submission = run["latest_job_submission"]["id"].clone();
    let job_id = submission.as_str().expect("id");
    let db = open_database(server).await;
    for (index, source) in ["stdout", "stderr", "stdout", "stdout", "stdout"]
        .iter()
        .enumerate()
    {
        let at = START + i64::try_from(index).expect("small") * 1_000_000;
        let line = format!("line {index}\n");
        logs::insert(
            db.pool(),
            job_id,
            LogProducer::Job,
            source,
            at,
            line.as_bytes(),
        )
        .await
        .expect("insert");
    }
    logs::insert(
        db.pool(),
        job_id,
        LogProducer::Runner,
        "stdout",
        START,
        b"runner says hi",
    )
    .await
    .expect("insert");
    db.close().await;

    let first = server
        .ok(POLL, ADMIN_TOKEN, poll_body(&submission, json!({})))
        .await;
    assert_eq!(messages(&first), ["line 0\n", "line 1\n"]);
    assert_eq!(first["logs"][1]["log_source"], "stderr");
    assert_eq!(first["logs"][0]["timestamp"], "2026-11-18T11:06:40Z");
    assert_eq!(first["external_url"], Value::Null);
    let token = first["next_token"].clone();
    assert!(token.is_string(), "{first}");
    let second = server
        .ok(
            POLL,
            ADMIN_TOKEN,
            poll_body(&submission, json!({"next_token": token})),
        )
        .await;
    assert_eq!(messages(&second), ["line 2\n", "line 3\n"]);
    let third = server
        .ok(
            POLL,
            ADMIN_TOKEN,
            poll_body(&submission, json!({"next_token": second["next_token"]})),
        )
        .await;
    assert_eq!(messages(&third), ["line 4\n"]);
    assert_eq!(
        third["next_token"],
        Value::Null,
        "a short page ends the poll"
    );

    let newest = server
        .ok(
            POLL,
            ADMIN_TOKEN,
            poll_body(&submission, json!({"descending": true})),
        )
        .await;
    assert_eq!(messages(&newest), ["line 4\n", "line 3\n"]);
    let after_first = server
        .ok(
            POLL,
            ADMIN_TOKEN,
            poll_body(
                &submission,
                json!({"start_time": first["logs"][0]["timestamp"], "limit": 1000}),
            ),
        )
        .await;
    assert_eq!(messages(&after_first).len(), 4, "start_time is exclusive");
    let runner = server
        .ok(
            POLL,
            ADMIN_TOKEN,
            poll_body(&submission, json!({"diagnose": true})),
        )
        .await;
    assert_eq!(messages(&runner), ["runner says hi"]);

    let unknown = json!({"job_submission_id": "2b0ad8cb-2a31-4cd9-9c8c-bb3f7c15d3e1"});
    let nothing = server
        .ok(POLL, ADMIN_TOKEN, poll_body(&submission, unknown))
        .await;
    assert_eq!(
        nothing,
        json!({"logs": [], "external_url": null, "next_token": null})
    );
    let other_run = server
        .ok(
            POLL,
            ADMIN_TOKEN,
            poll_body(&submission, json!({"run_name": "other"})),
        )
        .await;
    assert_eq!(other_run["logs"], json!([]));
    let bad_token = server
        .post(
            POLL,
            ADMIN_TOKEN,
            poll_body(&submission, json!({"next_token": "x"})),
        )
        .await;
    business_error("error", &bad_token);
}

/// A sample at `second` seconds after [`START`] with `cpu_secs` of CPU time used so far.
fn sample(second: i64, cpu_secs: i64) -> MetricsPoint {
    MetricsPoint {
        timestamp: START + second * 1_000_000,
        cpu_usage_micro: cpu_secs * 1_000_000,
        memory_usage_bytes: 1000 + second,
        memory_working_set_bytes: 500,
        gpus_memory_usage_bytes: "[]".to_owned(),
        gpus_util_percent: "[]".to_owned(),
    }
}

/// A `GET` as the CLI sends it; the status and JSON body.
async fn get_json(server: &TestServer, path: String) -> (reqwest::StatusCode, Value) {
    let response = dstack_agents::http::plain_client()
        .get(format!("{}{path}", server.url))
        .bearer_auth(ADMIN_TOKEN)
        .header("X-API-VERSION", "0.22.5")
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

async fn metrics_are_derived_from_samples(server: &TestServer) {
    const METRICS: &str = "/api/project/main/metrics/job/measured?replica_num=0&job_num=0";
    let (_, unknown) = get_json(
        server,
        "/api/project/main/metrics/job/nope?replica_num=0&job_num=0".to_owned(),
    )
    .await;
    assert_eq!(
        unknown,
        json!({"detail": [{"msg": "Found no job with given parameters", "code": "resource_not_exists"}]})
    );
    let get = |query: &str| get_json(server, format!("{METRICS}{query}"));
    let run = apply_task(server, "main", ADMIN_TOKEN, "measured").await;
    let (status, empty) = get("").await;
    assert_eq!(status, reqwest::StatusCode::OK, "{empty}");
    assert_eq!(empty, json!({"metrics": []}));

    let job_id = run["latest_job_submission"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let db = open_database(server).await;
    for point in [sample(0, 0), sample(2, 1), sample(4, 3)] {
        metrics::insert(db.pool(), &job_id, &point)
            .await
            .expect("insert");
    }
    db.close().await;
    let (_, all) = get("").await;
    let by_name = |name: &str| -> Value {
        all["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .find(|metric| metric["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {all}"))
            .clone()
    };
    let cpu = by_name("cpu_usage_percent");
    assert_eq!(cpu["values"], json!([100.0, 50.0]), "latest first");
    assert_eq!(
        cpu["timestamps"],
        json!(["2026-11-18T11:06:44Z", "2026-11-18T11:06:42Z"])
    );
    assert_eq!(by_name("memory_usage_bytes")["values"], json!([1004, 1002]));
    assert_eq!(by_name("gpus_detected_num")["values"], json!([0, 0]));
    let (_, one) = get("&limit=1").await;
    assert_eq!(
        one["metrics"][0]["timestamps"].as_array().map(Vec::len),
        Some(1)
    );
    let (status, _) = get_json(
        server,
        "/api/project/main/metrics/job/measured?replica_num=0&job_num=1".to_owned(),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST);
    let (status, bad) = get("&limit=many").await;
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["detail"][0]["loc"], json!(["query"]));
}

crate::engine_tests!(logs_are_polled_in_pages, metrics_are_derived_from_samples);

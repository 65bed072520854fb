//! Fills a server with runs through its API, the way the CLI submits them.

use anyhow::bail;
use serde_json::{Value, json};

/// The project every benchmark uses.
pub const PROJECT: &str = "main";

/// The name of the `n`-th seeded run.
pub fn run_name(n: usize) -> String {
    format!("bench-run-{n}")
}

/// Submits `count` tasks with `clients` concurrent clients, then stops nine in ten of them so
/// the table holds mostly finished runs, as a server with history does.
pub async fn runs(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    count: usize,
    clients: usize,
) -> anyhow::Result<()> {
    let project = format!("{base}/api/project/{PROJECT}");
    post(
        http,
        &format!("{project}/repos/init"),
        token,
        json!({"repo_id": "none", "repo_info": {"repo_type": "virtual"}, "repo_creds": null}),
    )
    .await?;
    let apply = crate::latency::Request {
        path: format!("/api/project/{PROJECT}/runs/apply"),
        body: Box::new(|n| apply_body(&run_name(n))),
    };
    crate::latency::measure(http, base, token, apply, clients, count).await?;
    let stopped: Vec<String> = (0..count).filter(|n| n % 10 != 0).map(run_name).collect();
    for names in stopped.chunks(100) {
        post(
            http,
            &format!("{project}/runs/stop"),
            token,
            json!({"runs_names": names, "abort": false}),
        )
        .await?;
    }
    Ok(())
}

/// The `runs/apply` body of a small task named `name`.
fn apply_body(name: &str) -> Value {
    json!({
        "plan": {
            "run_spec": {
                "run_name": name,
                "repo_id": "none",
                "repo_data": {"repo_type": "virtual"},
                "configuration_path": "bench.dstack.yml",
                "configuration": {
                    "type": "task",
                    "name": name,
                    "commands": ["echo hello"],
                    "resources": {"cpu": 1, "memory": "1GB"},
                },
                "profile": {"name": "default"},
            },
            "current_resource": null,
        },
        "force": false,
    })
}

/// POSTs `body` and fails on a non-2xx answer.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let response = http.post(url).bearer_auth(token).json(&body).send().await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("{url} answered {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

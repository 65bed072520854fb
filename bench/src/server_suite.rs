//! The server suite: for each number of stored runs, a fresh server's idle memory and the
//! latency of the listing and lookup endpoints under a fixed number of concurrent clients.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::latency::{self, Percentiles, Request};
use crate::seed::{self, PROJECT};
use crate::server_process::{ADMIN_TOKEN, ServerProcess};

/// Options of `dstack-bench server`.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// The `dstack` binary to start (a release build).
    #[arg(long, default_value_os_t = crate::default_dstack_binary())]
    dstack: PathBuf,
    /// The numbers of stored runs to measure with, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,10000")]
    runs: Vec<usize>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Requests per endpoint.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
}

/// How long the server is left alone before its idle memory is read.
const SETTLE: Duration = Duration::from_secs(2);

/// Runs the suite and prints one Markdown table.
pub async fn run(options: Options) -> anyhow::Result<()> {
    let http = dstack_agents::http::plain_client();
    println!(
        "| runs stored | idle RSS (MiB) | endpoint | p50 (ms) | p99 (ms) | req/s | server CPU per request (ms) | peak RSS (MiB) |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|---:|");
    for &count in &options.runs {
        let server = ServerProcess::start(&options.dstack)?;
        seed::runs(&http, &server.url, ADMIN_TOKEN, count, options.clients).await?;
        tokio::time::sleep(SETTLE).await;
        let idle = server.rss_kib()?;
        for (label, request) in endpoints(count) {
            let cpu_before = server.cpu_time()?;
            let result = latency::measure(
                &http,
                &server.url,
                ADMIN_TOKEN,
                request,
                options.clients,
                options.requests,
            )
            .await?;
            let cpu_per_request =
                (server.cpu_time()? - cpu_before).as_secs_f64() * 1000.0 / options.requests as f64;
            print_row(
                count,
                idle,
                label,
                result,
                cpu_per_request,
                server.peak_rss_kib()?,
            );
        }
    }
    Ok(())
}

/// The measured endpoints: a page of 100 runs, one run by name, the project's fleets.
fn endpoints(count: usize) -> Vec<(&'static str, Request)> {
    vec![
        (
            "runs/list (100 per page)",
            Request {
                path: "/api/runs/list".to_owned(),
                body: Box::new(|_| json!({"project_name": PROJECT, "limit": 100})),
            },
        ),
        (
            "runs/get",
            Request {
                path: format!("/api/project/{PROJECT}/runs/get"),
                body: Box::new(move |n| json!({"run_name": seed::run_name(n * 7919 % count)})),
            },
        ),
        (
            "fleets/list",
            Request {
                path: format!("/api/project/{PROJECT}/fleets/list"),
                body: Box::new(|_| json!({"include_imported": true})),
            },
        ),
    ]
}

fn print_row(
    count: usize,
    idle_kib: u64,
    label: &str,
    result: Percentiles,
    cpu_per_request_ms: f64,
    peak_kib: u64,
) {
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "| {count} | {:.1} | {label} | {:.2} | {:.2} | {:.0} | {cpu_per_request_ms:.2} | {:.1} |",
        mib(idle_kib),
        result.p50,
        result.p99,
        result.throughput,
        mib(peak_kib)
    );
}

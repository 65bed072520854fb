//! `dstack metrics`: a job's latest CPU, memory and GPU samples; `-w` refreshes every 10 s.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use dstack_core::api::metrics::JobMetrics;
use serde_json::Value;

use super::logs::get_run;
use super::{ProjectArg, block_on};
use crate::api::{ApiError, ProjectClient};
use crate::output::table;

#[derive(Debug, Args)]
pub struct MetricsArgs {
    #[command(flatten)]
    project: ProjectArg,
    /// The run.
    run_name: String,
    /// The replica.
    #[arg(long, default_value_t = 0)]
    replica: u32,
    /// The job within the replica.
    #[arg(long, default_value_t = 0)]
    job: u32,
    /// Refresh every 10 seconds.
    #[arg(short = 'w', long)]
    watch: bool,
}

/// How often `-w` refreshes.
const WATCH_INTERVAL: Duration = Duration::from_secs(10);

pub fn run(args: MetricsArgs) -> anyhow::Result<ExitCode> {
    let client = args.project.client()?;
    block_on(async {
        get_run(&client, &args.run_name).await?;
        loop {
            let metrics = fetch(&client, &args).await?;
            let mut stdout = std::io::stdout().lock();
            if args.watch && std::io::stdout().is_terminal() {
                write!(stdout, "\x1b[H\x1b[2J")?;
            }
            for line in render(&metrics).lines() {
                writeln!(stdout, "{}", line.trim_end())?;
            }
            drop(stdout);
            if !args.watch {
                return Ok::<_, anyhow::Error>(ExitCode::SUCCESS);
            }
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
                () = tokio::time::sleep(WATCH_INTERVAL) => {}
            }
        }
    })?
}

async fn fetch(client: &ProjectClient, args: &MetricsArgs) -> anyhow::Result<JobMetrics> {
    match client
        .get_job_metrics(&args.run_name, args.replica, args.job)
        .await
    {
        Err(ApiError::NotFound(_)) => anyhow::bail!(
            "Run {} has no job matching replica={} job={}",
            args.run_name,
            args.replica,
            args.job
        ),
        other => Ok(other?),
    }
}

/// The latest value of `name`, if sampled.
fn latest<'a>(metrics: &'a JobMetrics, name: &str) -> Option<&'a Value> {
    metrics
        .metrics
        .iter()
        .find(|metric| metric.name == name)
        .and_then(|metric| metric.values.first())
}

fn render(metrics: &JobMetrics) -> String {
    let number = |name: &str| latest(metrics, name).and_then(Value::as_f64);
    let gigabytes = |bytes: f64| format!("{:.1}GB", bytes / 1e9);
    let mut rows = table(["", "UTILIZATION", "MEMORY"]);
    let cpu =
        number("cpu_usage_percent").map_or_else(|| "no data".to_owned(), |v| format!("{v:.0}%"));
    let memory = match (
        number("memory_working_set_bytes"),
        number("memory_total_bytes"),
    ) {
        (Some(used), Some(total)) => format!("{}/{}", gigabytes(used), gigabytes(total)),
        (Some(used), None) => gigabytes(used),
        _ => "no data".to_owned(),
    };
    rows.add_row(["cpu".to_owned(), cpu, memory]);
    let gpus = number("gpus_detected_num").unwrap_or(0.0) as usize;
    for gpu in 0..gpus {
        let utilization = number(&format!("gpu_util_percent_gpu{gpu}"))
            .map_or_else(|| "no data".to_owned(), |v| format!("{v:.0}%"));
        let memory = number(&format!("gpu_memory_usage_bytes_gpu{gpu}"))
            .map_or_else(|| "no data".to_owned(), gigabytes);
        rows.add_row([format!("gpu={gpu}"), utilization, memory]);
    }
    rows.to_string()
}

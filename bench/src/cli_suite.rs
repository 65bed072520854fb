//! The CLI suite: wall time and peak memory of `dstack ps` and `dstack offer`, for our CLI and
//! for the Python dstack 0.22.5 CLI, both against one of our servers seeded with runs and
//! fleets, in the same run.
//!
//! Each command runs under a fresh `dstack-bench measure-child` process, which starts it, waits
//! for it, and reports its wall time and `ru_maxrss`: the kernel's peak RSS of the only child
//! that process ever had (`getrusage(RUSAGE_CHILDREN)`, filled in by `wait4`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use nix::sys::resource::{UsageWho, getrusage};
use serde_json::json;

use crate::seed::{self, PROJECT};
use crate::server_process::{ADMIN_TOKEN, ServerProcess};

/// Options of `dstack-bench cli`.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Our `dstack` binary (a release build); it also runs the server.
    #[arg(long, default_value_os_t = crate::default_dstack_binary())]
    dstack: PathBuf,
    /// The Python dstack 0.22.5 CLI.
    #[arg(long, env = "DSTACK_TEST_PYTHON_CLI")]
    python_cli: PathBuf,
    /// Runs stored on the server (a tenth of them active, so `ps` lists them).
    #[arg(long, default_value_t = 200)]
    runs: usize,
    /// Fleets stored on the server.
    #[arg(long, default_value_t = 5)]
    fleets: usize,
    /// Timed runs of each command with our CLI.
    #[arg(long, default_value_t = 50)]
    iterations: usize,
    /// Timed runs of each command with the Python CLI (seconds each).
    #[arg(long, default_value_t = 10)]
    python_iterations: usize,
}

/// What `measure-child` runs.
#[derive(Debug, clap::Args)]
pub struct ChildArgs {
    /// The program and its arguments.
    #[arg(trailing_var_arg = true, required = true)]
    command: Vec<String>,
}

/// One timed run.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall_ms: f64,
    max_rss_kib: u64,
}

/// Runs the suite and prints one Markdown table and the speed-ups.
pub async fn run(options: Options) -> anyhow::Result<()> {
    let server = ServerProcess::start(&options.dstack)?;
    let http = dstack_agents::http::plain_client();
    seed::runs(&http, &server.url, ADMIN_TOKEN, options.runs, 4).await?;
    seed_fleets(&http, &server.url, options.fleets).await?;
    // Both CLIs read the server from the environment and get an empty HOME of their own.
    let home = tempfile::tempdir()?;
    let env = [
        ("HOME", home.path().to_str().context("HOME path")?),
        ("DSTACK_SERVER_URL", server.url.as_str()),
        ("DSTACK_TOKEN", ADMIN_TOKEN),
        ("DSTACK_PROJECT", PROJECT),
    ];
    let clis = [
        ("ours", &options.dstack, options.iterations),
        (
            "Python 0.22.5",
            &options.python_cli,
            options.python_iterations,
        ),
    ];
    println!("| CLI | command | runs | median (ms) | p95 (ms) | peak RSS (MiB) |");
    println!("|---|---|---:|---:|---:|---:|");
    let mut medians = Vec::new();
    for command in [&["ps"][..], &["offer"][..]] {
        for (label, program, iterations) in &clis {
            let samples = measure(program, command, &env, *iterations)?;
            let median = percentile(&samples, 0.5);
            let peak = samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0);
            println!(
                "| {label} | `dstack {}` | {iterations} | {median:.1} | {:.1} | {:.1} |",
                command.join(" "),
                percentile(&samples, 0.95),
                peak as f64 / 1024.0
            );
            medians.push((command.join(" "), median));
        }
    }
    for pair in medians.chunks(2) {
        if let [(command, ours), (_, python)] = pair {
            println!(
                "\n`dstack {command}`: ours is {:.0}x faster (median)",
                python / ours
            );
        }
    }
    Ok(())
}

/// Creates `count` cloud fleets of no instances (`nodes: 0..1`), as `dstack apply` of a fleet
/// file would.
async fn seed_fleets(http: &reqwest::Client, base: &str, count: usize) -> anyhow::Result<()> {
    for n in 0..count {
        let name = format!("bench-fleet-{n}");
        let body = json!({
            "plan": {
                "spec": {
                    "configuration": {"type": "fleet", "name": name, "nodes": {"min": 0, "max": 1}},
                    "configuration_path": "fleet.dstack.yml",
                    "profile": {"name": "default"},
                },
                "current_resource": null,
            },
            "force": false,
        });
        let url = format!("{base}/api/project/{PROJECT}/fleets/apply");
        seed::post(http, &url, ADMIN_TOKEN, body).await?;
    }
    Ok(())
}

/// One untimed warm-up run, then `iterations` timed ones, each under its own
/// `measure-child`.
fn measure(
    program: &PathBuf,
    args: &[&str],
    env: &[(&str, &str)],
    iterations: usize,
) -> anyhow::Result<Vec<Sample>> {
    let bench = std::env::current_exe()?;
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..=iterations {
        let output = Command::new(&bench)
            .arg("measure-child")
            .arg(program)
            .args(args)
            .envs(env.iter().copied())
            .output()?;
        if !output.status.success() {
            bail!(
                "{} {args:?} failed: {}",
                program.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
        if i > 0 {
            samples.push(Sample {
                wall_ms: report["wall_ms"].as_f64().context("wall_ms")?,
                max_rss_kib: report["max_rss_kib"].as_u64().context("max_rss_kib")?,
            });
        }
    }
    Ok(samples)
}

/// The wall time at quantile `q` (nearest rank).
fn percentile(samples: &[Sample], q: f64) -> f64 {
    let mut walls: Vec<f64> = samples.iter().map(|s| s.wall_ms).collect();
    walls.sort_by(f64::total_cmp);
    let rank = ((q * walls.len() as f64).ceil() as usize).clamp(1, walls.len());
    walls[rank - 1]
}

/// `measure-child`: runs the command with its output discarded and prints its wall time and
/// peak RSS as JSON; fails if the command fails.
pub fn measure_child(args: ChildArgs) -> anyhow::Result<()> {
    let (program, rest) = args.command.split_first().context("no command")?;
    let start = Instant::now();
    let status = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()?;
    let wall = start.elapsed();
    if !status.success() {
        bail!("{program} exited with {status}");
    }
    // Linux reports ru_maxrss in KiB.
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN)?;
    println!(
        "{}",
        json!({"wall_ms": wall.as_secs_f64() * 1000.0, "max_rss_kib": usage.max_rss()})
    );
    Ok(())
}

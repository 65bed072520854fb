//! `dstack-bench`: measures our server, CLI and scheduler on this machine and
//! prints Markdown tables for `docs/performance.md`. Build with `--release`; see that file
//! for the method.

mod cli_suite;
mod latency;
mod scheduler_suite;
mod seed;
mod server_process;
mod server_suite;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "Benchmarks of dstack-rs; prints Markdown tables")]
struct Cli {
    #[command(subcommand)]
    suite: Suite,
}

#[derive(Debug, Subcommand)]
enum Suite {
    /// Idle memory and API latency of `dstack server` with a given number of runs stored.
    Server(server_suite::Options),
    /// Wall time and peak memory of `dstack ps` and `dstack offer`, ours against Python's.
    Cli(cli_suite::Options),
    /// Submit-to-running latency on the local backend, and placing a queue of jobs.
    Scheduler(scheduler_suite::Options),
    /// Runs one command and prints its wall time and peak RSS (used by the cli suite).
    #[command(hide = true)]
    MeasureChild(cli_suite::ChildArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.suite {
        Suite::Server(options) => runtime.block_on(server_suite::run(options)),
        Suite::Cli(options) => runtime.block_on(cli_suite::run(options)),
        Suite::Scheduler(options) => runtime.block_on(scheduler_suite::run(options)),
        Suite::MeasureChild(args) => cli_suite::measure_child(args),
    }
}

/// The `dstack` binary of this workspace's release build, the default for every suite.
fn default_dstack_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/dstack")
}

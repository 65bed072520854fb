//! `dstack-shim`: parses the flags, sets up logging, runs the shim until stopped.

use std::sync::Mutex;

use anyhow::Context;
use clap::Parser;
use dstack_shim::settings::{Settings, parse_log_level};
use tracing_subscriber::fmt::writer::MakeWriterExt;

fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    if settings.print_version {
        // The server's component check expects exactly `<name> version <version>`.
        println!("dstack-shim version {}", dstack_shim::VERSION);
        return Ok(());
    }
    let level = parse_log_level(&settings.shim_log_level)
        .with_context(|| format!("invalid --shim-log-level {:?}", settings.shim_log_level))?;
    parse_log_level(&settings.runner_log_level)
        .with_context(|| format!("invalid --runner-log-level {:?}", settings.runner_log_level))?;
    let home = settings.home();
    std::fs::create_dir_all(&home)
        .with_context(|| format!("cannot create the shim home {}", home.display()))?;
    let log_path = home.join("shim.log");
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    // The log file is what an operator reads on the host; stderr goes to the supervisor.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .with_ansi(false)
        .with_writer(std::io::stderr.and(Mutex::new(log_file)))
        .init();
    tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")?
        .block_on(dstack_shim::server::run(settings, stop_signal()))
        .context("dstack-shim failed")
}

/// Resolves on SIGINT or SIGTERM.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(error) => {
            tracing::warn!(%error, "SIGTERM cannot be watched; only SIGINT stops the shim");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

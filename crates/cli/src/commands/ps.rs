//! `dstack ps`: the project's runs, once, as JSON, or redrawn every 2 s with `-w`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use dstack_core::api::runs::Run;
use serde::Serialize;

use super::run_table::{Dates, runs_table};
use super::{ProjectArg, block_on};
use crate::api::{ApiError, ProjectClient};
use crate::output::{print_json, print_table};

#[derive(Debug, Args)]
pub struct PsArgs {
    #[command(flatten)]
    project: ProjectArg,
    /// Show finished runs too (the last 100).
    #[arg(short = 'a', long)]
    all: bool,
    /// Show the last N runs (implies -a).
    #[arg(short = 'n', long = "last", value_name = "N")]
    last: Option<u32>,
    /// Show more columns.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Redraw the table every 2 seconds.
    #[arg(short = 'w', long, conflicts_with = "json")]
    watch: bool,
    /// Print the runs as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct RunsJson<'a> {
    project: &'a str,
    runs: &'a [Run],
}

/// How often `-w` redraws.
const WATCH_INTERVAL: Duration = Duration::from_secs(2);

pub fn run(args: PsArgs) -> anyhow::Result<ExitCode> {
    let client = args.project.client()?;
    if args.watch {
        return block_on(watch(&client, &args))?;
    }
    let runs = block_on(list(&client, &args))??;
    if args.json {
        print_json(&RunsJson {
            project: client.project(),
            runs: &runs,
        });
    } else {
        print_table(&runs_table(
            &runs,
            args.verbose,
            Dates::Relative(chrono::Utc::now()),
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// dstack's choice of runs: unfinished ones, or the latest run when none is unfinished.
async fn list(client: &ProjectClient, args: &PsArgs) -> Result<Vec<Run>, ApiError> {
    if let Some(last) = args.last {
        return client.list_runs(false, last).await;
    }
    if args.all {
        return client.list_runs(false, 100).await;
    }
    let active = client.list_runs(true, 100).await?;
    if !active.is_empty() {
        return Ok(active);
    }
    client.list_runs(false, 1).await
}

async fn watch(client: &ProjectClient, args: &PsArgs) -> anyhow::Result<ExitCode> {
    let terminal = std::io::stdout().is_terminal();
    let mut ticker = tokio::time::interval(WATCH_INTERVAL);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            _ = ticker.tick() => {}
        }
        let runs = list(client, args).await?;
        let rendered = runs_table(&runs, args.verbose, Dates::Relative(chrono::Utc::now()));
        let mut stdout = std::io::stdout().lock();
        if terminal {
            // Home the cursor and clear the screen, so the table redraws in place.
            write!(stdout, "\x1b[H\x1b[2J")?;
        }
        for line in rendered.lines() {
            writeln!(stdout, "{}", line.trim_end())?;
        }
        stdout.flush()?;
    }
}

//! `dstack stop`: stops (or with `-x` aborts) a run and returns without waiting.

use std::process::ExitCode;

use clap::Args;

use super::{ProjectArg, block_on, exiting};
use crate::api::ApiError;
use crate::output::{Answer, confirm};

#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    project: ProjectArg,
    /// The run.
    run_name: String,
    /// Abort instead of stopping gracefully.
    #[arg(short = 'x', long)]
    abort: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    yes: bool,
}

pub fn run(args: StopArgs) -> anyhow::Result<ExitCode> {
    let client = args.project.client()?;
    match block_on(client.get_run(&args.run_name))? {
        Ok(_) => {}
        Err(ApiError::NotFound(_)) => anyhow::bail!("Run {} not found", args.run_name),
        Err(error) => return Err(error.into()),
    }
    if confirm("Are you sure you want to stop the run?", args.yes)? == Answer::No {
        return Ok(exiting());
    }
    block_on(client.stop_runs(&[args.run_name], args.abort))??;
    println!("{}", if args.abort { "Aborted" } else { "Stopped" });
    Ok(ExitCode::SUCCESS)
}

//! `dstack completion`: the shell completion script for bash, zsh or fish.

use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell.
    #[arg(value_parser = ["bash", "zsh", "fish"])]
    shell: String,
}

pub fn run(args: &CompletionArgs) -> anyhow::Result<ExitCode> {
    let shell: Shell = args
        .shell
        .parse()
        .map_err(|_| anyhow::anyhow!("unknown shell {}", args.shell))?;
    clap_complete::generate(shell, &mut Cli::command(), "dstack", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

//! `dstack completion`: the shell completion script for bash, zsh or fish.

use std::io::Write;
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
    // clap_complete panics when its writer fails, e.g. on a closed pipe: render first.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "dstack", &mut script);
    match std::io::stdout().write_all(&script) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

//! Command-line arguments and the dispatch of each subcommand.

mod apply;
mod schema;
mod server;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "dstack",
    version,
    about = "Run AI workloads on fleets of GPU machines"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply a configuration: a task, dev environment, service, fleet, volume or gateway.
    Apply(apply::ApplyArgs),
    /// Print the JSON Schema of the configuration files, for editors.
    Schema,
    /// Run the dstack server.
    Server(Box<server::ServerArgs>),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Apply(args) => apply::run(&args),
        Command::Schema => schema::run(),
        Command::Server(args) => server::run(*args),
    }
}

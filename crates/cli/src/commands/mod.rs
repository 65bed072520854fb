//! Command-line arguments and the dispatch of each subcommand.

mod apply;
mod completion;
mod delete;
mod event;
mod fleet;
mod gateway;
mod init;
mod login;
mod logs;
mod metrics;
mod offer;
mod offers_table;
mod project;
mod ps;
mod repo_args;
mod run_table;
mod schema;
mod secret;
mod server;
mod since;
mod stop;
mod volume;

use std::future::Future;
use std::process::ExitCode;
use std::sync::OnceLock;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::api::ProjectClient;

/// The whole command line.
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
    /// Delete the resource a configuration file names.
    #[command(alias = "destroy")]
    Delete(delete::DeleteArgs),
    /// List the project's events.
    Event(Box<event::EventArgs>),
    /// List and delete fleets.
    Fleet(fleet::FleetArgs),
    /// List, delete and update gateways.
    Gateway(gateway::GatewayArgs),
    /// Register a git repo and its credentials with the server.
    Init(init::InitArgs),
    /// Log in to a server with SSO.
    Login(login::LoginArgs),
    /// Print a run's logs.
    Logs(logs::LogsArgs),
    /// Show a job's CPU, memory and GPU usage.
    Metrics(metrics::MetricsArgs),
    /// List the offers that match the given requirements.
    Offer(offer::OfferArgs),
    /// Manage the projects in ~/.dstack/config.yml.
    Project(project::ProjectArgs),
    /// List runs.
    Ps(ps::PsArgs),
    /// Print the JSON Schema of the configuration files, for editors.
    Schema,
    /// Manage project secrets.
    Secret(secret::SecretArgs),
    /// Run the dstack server.
    Server(Box<server::ServerArgs>),
    /// Stop a run.
    Stop(stop::StopArgs),
    /// List and delete volumes.
    Volume(volume::VolumeArgs),
    /// Print a shell completion script.
    Completion(completion::CompletionArgs),
}

/// Runs the parsed command; the exit code is the command's, errors are one line for stderr.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Apply(args) => apply::run(&args),
        Command::Delete(args) => delete::run(args),
        Command::Event(args) => event::run(*args),
        Command::Fleet(args) => fleet::run(args),
        Command::Gateway(args) => gateway::run(args),
        Command::Init(args) => init::run(&args),
        Command::Login(args) => login::run(&args),
        Command::Metrics(args) => metrics::run(args),
        Command::Volume(args) => volume::run(args),
        Command::Logs(args) => logs::run(args),
        Command::Offer(args) => offer::run(args),
        Command::Project(args) => project::run(args),
        Command::Ps(args) => ps::run(args),
        Command::Schema => schema::run(),
        Command::Secret(args) => secret::run(args),
        Command::Server(args) => server::run(*args),
        Command::Stop(args) => stop::run(args),
        Command::Completion(args) => completion::run(&args),
    }
}

/// `--project`, taken by every command that talks to a server.
#[derive(Debug, Clone, Args)]
struct ProjectArg {
    /// The project; the default project in ~/.dstack/config.yml when unset.
    #[arg(long, env = "DSTACK_PROJECT", global = true, value_name = "NAME")]
    project: Option<String>,
}

impl ProjectArg {
    fn client(&self) -> anyhow::Result<ProjectClient> {
        Ok(crate::context::project_client(self.project.as_deref())?)
    }
}

/// Runs `future` on the process's single-threaded runtime: the CLI makes one call at a time.
/// One runtime for all calls, because pooled connections belong to the runtime that opened
/// them.
fn block_on<F: Future>(future: F) -> anyhow::Result<F::Output> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = match RUNTIME.get() {
        Some(runtime) => runtime,
        None => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            RUNTIME.get_or_init(|| runtime)
        }
    };
    Ok(runtime.block_on(future))
}

/// Prints `Exiting...` after a `n` at a prompt, as dstack does, and exits 0.
fn exiting() -> ExitCode {
    println!("\nExiting...");
    ExitCode::SUCCESS
}

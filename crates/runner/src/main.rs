//! `dstack-runner`: parses the command line, sets up logging, and hands over to the library.

use anyhow::Context;
use clap::{CommandFactory, Parser};
use dstack_runner::cli::{Cli, Command};
use dstack_runner::exec_job::{JobIds, exec_job};
use dstack_runner::server::start;
use tokio::signal::unix::{SignalKind, signal};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.print_version {
        println!("dstack-runner version {}", dstack_runner::VERSION);
        return Ok(());
    }
    let Some(command) = cli.command else {
        Cli::command()
            .error(
                clap::error::ErrorKind::MissingSubcommand,
                "a command is required",
            )
            .exit();
    };
    match command {
        Command::ExecJob(args) => {
            let ids = args.uid.zip(args.gid).map(|(uid, gid)| JobIds {
                uid,
                gid,
                groups: args.groups.0,
            });
            let error = exec_job(ids.as_ref(), &args.command);
            // This runs as the job: its stderr is the job's log.
            eprintln!("dstack-runner: {error}");
            std::process::exit(127);
        }
        Command::Start(args) => {
            tracing_subscriber::fmt()
                .with_max_level(cli.log_level)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
                .with_target(false)
                .init();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let result = runtime.block_on(async {
                let interrupt = interrupt_signal().context("cannot handle signals")?;
                start(args, interrupt).await.map_err(anyhow::Error::from)
            });
            // Output readers of jobs that left processes behind must not hold up the exit.
            runtime.shutdown_background();
            result
        }
    }
}

/// Resolves on the first SIGINT, SIGTERM or SIGQUIT.
fn interrupt_signal() -> std::io::Result<impl Future<Output = ()>> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut quit = signal(SignalKind::quit())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
            _ = quit.recv() => {}
        }
    })
}

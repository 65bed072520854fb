//! `dstack server`: runs the dstack server in this process until Ctrl-C or SIGTERM.
//!
//! The CLI stays synchronous; this command builds the tokio runtime the server needs.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use dstack_server::Settings;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Args)]
pub struct ServerArgs {
    #[command(flatten)]
    settings: Settings,
}

const LOGO: &str = r"     _     _             _
  __| |___| |_ __ _  ___| | __  ___  ___ _ ____   _____ _ __
 / _` / __| __/ _` |/ __| |/ / / __|/ _ \ '__\ \ / / _ \ '__|
| (_| \__ \ || (_| | (__|   <  \__ \  __/ |   \ V /  __/ |
 \__,_|___/\__\__,_|\___|_|\_\ |___/\___|_|    \_/ \___|_|
";

pub fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    let settings = args.settings;
    let level = settings.log_filter();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(format!(
            "warn,dstack={level},dstack_server={level}"
        )))
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(settings))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let address = (settings.host.clone(), settings.port);
    let listener = TcpListener::bind(&address)
        .await
        .with_context(|| format!("cannot listen on {}:{}", address.0, address.1))?;
    if std::io::stdout().is_terminal() {
        // dstack's logo is purple.
        println!("\x1b[35m{LOGO}\x1b[0m");
    } else {
        println!("{LOGO}");
    }
    dstack_server::serve(settings, listener, shutdown_signal())
        .await
        .context("the dstack server stopped")
}

/// Completes on Ctrl-C or SIGTERM, so the server can finish its requests and close the
/// database.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::warn!("cannot watch SIGTERM: {error}");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            _ = interrupt => {}
            () = terminate => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

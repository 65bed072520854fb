//! `dstack-runner start`: binds the API, runs the lifecycle, and shuts the server down when
//! the lifecycle is over.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::agent::Agent;
use crate::api;
use crate::cli::StartArgs;
use crate::config::RunnerConfig;
use crate::lifecycle::{LifecycleError, RUN_WAIT, run_lifecycle};
use crate::sshd::{SshdSettings, start_sshd};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("must be root")]
    NotRoot,
    #[error("cannot create {path}: {source}")]
    TempDir { path: PathBuf, source: io::Error },
    #[error("cannot find the runner's own binary: {0}")]
    OwnBinary(io::Error),
    #[error("--http-address {0:?} is neither an ip address nor localhost")]
    Address(String),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: io::Error,
    },
    #[error("the http server failed: {0}")]
    Serve(io::Error),
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
}

/// Runs the runner until its job has run and been pulled, or until `interrupt` before a job.
pub async fn start(
    args: StartArgs,
    interrupt: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(StartError::NotRoot);
    }
    std::fs::create_dir_all(&args.temp_dir).map_err(|source| StartError::TempDir {
        path: args.temp_dir.clone(),
        source,
    })?;
    let config = RunnerConfig {
        temp_dir: args.temp_dir,
        etc_dir: PathBuf::from("/etc"),
        dstack_dir: args.dstack_dir,
        etc_profile: args.etc_profile.clone(),
        job_home_dir: args.job_home_dir,
        ssh_port: args.ssh_port,
        job_launcher: std::env::current_exe().map_err(StartError::OwnBinary)?,
    };
    let address = SocketAddr::new(listen_ip(&args.http_address)?, args.http_port);
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| StartError::Bind { address, source })?;
    if let Ok(address) = listener.local_addr() {
        tracing::info!("listening on {address}");
    }
    let sshd = if args.ssh_port == 0 {
        None
    } else {
        let settings = SshdSettings {
            dir: &config.sshd_dir(),
            port: args.ssh_port,
            log_level: &args.ssh_log_level,
            authorized_keys: &args.ssh_authorized_key,
        };
        // A job can run without SSH; only attaching to it needs sshd.
        match start_sshd(settings).await {
            Ok(Some(sshd)) => Some(sshd),
            Ok(None) => {
                tracing::warn!("the image has no sshd: the job cannot be attached to over SSH");
                None
            }
            Err(error) => {
                tracing::error!(%error, "sshd not started");
                None
            }
        }
    };
    let agent = Agent::new(config);
    let (result_tx, result_rx) = tokio::sync::oneshot::channel();
    let lifecycle = {
        let agent = agent.clone();
        async move {
            let _ = result_tx.send(run_lifecycle(agent, interrupt, RUN_WAIT).await);
        }
    };
    let served = serve(listener, agent, lifecycle).await;
    if let Some(sshd) = sshd {
        sshd.stop().await;
    }
    served.map_err(StartError::Serve)?;
    match result_rx.await {
        Ok(result) => Ok(result?),
        Err(_) => Ok(()),
    }
}

/// Serves the API on `listener` until `shutdown` completes, then finishes the requests in
/// flight.
pub async fn serve(
    listener: TcpListener,
    agent: Arc<Agent>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, api::router(agent))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The address is resolved without the system resolver: the runner is a static binary and
/// may run in an image without NSS configuration.
fn listen_ip(address: &str) -> Result<IpAddr, StartError> {
    match address {
        "" => Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        "localhost" => Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        other => other
            .parse()
            .map_err(|_| StartError::Address(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(listen_ip("").ok(), Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
        assert_eq!(
            listen_ip("localhost").ok(),
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(listen_ip("::1").ok(), Some("::1".parse().unwrap()));
        assert!(matches!(
            listen_ip("example.com"),
            Err(StartError::Address(_))
        ));
    }
}

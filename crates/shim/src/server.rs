//! Starting the shim: [`start`] prepares everything the API needs, [`serve`] answers on a
//! bound listener until shut down, [`run`] does both as the binary does.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::api::{self, ShutdownSignal};
use crate::docker::DockerError;
use crate::docker::command::RunnerLaunch;
use crate::docker::container::ContainerDefaults;
use crate::host::{HostError, HostGpus, collect_host_info, parse_cpuinfo, write_host_info};
use crate::runtime::Runtime;
use crate::service::{Shim, ShimError};
use crate::settings::Settings;

/// How long a graceful shutdown may wait for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the shim could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot create the shim home {path}: {source}")]
    Home {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("cannot find the shim's own binary: {0}")]
    OwnBinary(#[source] std::io::Error),
    #[error("cannot take back the containers of a previous shim: {0}")]
    Restore(#[source] ShimError),
    #[error("cannot write host info: {0}")]
    HostInfo(#[from] HostError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// Chooses the runtime (connecting to Docker unless told not to), finds the GPUs, takes back
/// the containers of a previous shim, and in service mode writes `host_info.json`.
pub async fn start(settings: &Settings) -> Result<Arc<Shim>, ServerError> {
    let home = settings.home();
    std::fs::create_dir_all(&home).map_err(|source| ServerError::Home {
        path: home.display().to_string(),
        source,
    })?;
    let runtime = Runtime::choose(settings.runtime, home.join("tasks")).await?;
    tracing::info!(runtime = ?runtime.kind(), "tasks run with this runtime");
    if let Ok(cpuinfo) = std::fs::read_to_string("/proc/cpuinfo") {
        let cpus = parse_cpuinfo(&cpuinfo);
        tracing::info!(count = cpus.count, model = %cpus.model, "CPUs found");
    }
    let gpus = HostGpus::discover().await;
    tracing::info!(vendor = ?gpus.vendor, count = gpus.gpus.len(), "GPUs found");
    if settings.service_mode {
        // The disk reported is the one tasks fill: Docker's, or the shim home's.
        let disk_root = match &runtime {
            Runtime::Docker(docker) => docker.root_dir().await?,
            Runtime::Process(_) => home.display().to_string(),
        };
        let mut info = collect_host_info(&gpus, &disk_root)?;
        info.runtime = Some(runtime.kind());
        write_host_info(&home, &info)?;
    }
    let defaults = container_defaults(settings, &gpus);
    let shim_binary_path = match &settings.shim_binary_path {
        Some(path) => path.clone(),
        None => std::env::current_exe().map_err(ServerError::OwnBinary)?,
    };
    let shim = Arc::new(Shim::new(runtime, gpus, defaults, &home, shim_binary_path));
    let restored = shim.restore_tasks().await.map_err(ServerError::Restore)?;
    tracing::info!(restored, "tasks taken back from existing containers");
    Ok(shim)
}

fn container_defaults(settings: &Settings, gpus: &HostGpus) -> ContainerDefaults {
    let mut env: Vec<String> = settings
        .pass_env_names()
        .filter_map(|name| Some(format!("{name}={}", std::env::var(name).ok()?)))
        .collect();
    if let Some(device) = &settings.pjrt_device {
        env.push(format!("PJRT_DEVICE={device}"));
    }
    ContainerDefaults {
        runner_binary_path: settings.runner_binary_path.clone(),
        launch: RunnerLaunch {
            log_level: settings.runner_log_level.clone(),
            http_port: settings.runner_http_port,
            ssh_port: settings.runner_ssh_port,
            ssh_log_level: settings.runner_ssh_log_level.clone(),
        },
        privileged: settings.privileged,
        env,
        gpu_vendor: gpus.vendor,
        infiniband: Path::new("/dev/infiniband").exists(),
    }
}

/// Answers the API on `listener` until `shutdown` fires: gracefully, but for at most five
/// seconds, or at once when forced.
pub async fn serve(
    listener: TcpListener,
    shim: Arc<Shim>,
    shutdown: ShutdownSignal,
) -> Result<(), ServerError> {
    let graceful = shutdown.graceful.clone();
    let server = axum::serve(listener, api::router(shim, shutdown.clone()))
        .with_graceful_shutdown(async move { graceful.cancelled().await });
    let grace_over = async {
        shutdown.graceful.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = server => result.map_err(ServerError::Serve),
        () = shutdown.force.cancelled() => Ok(()),
        () = grace_over => Ok(()),
    }
}

/// The binary's work: start, listen on `localhost:<port>`, serve until `/api/shutdown` or
/// `stop` resolves (the binary passes SIGINT/SIGTERM).
pub async fn run(
    settings: Settings,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let shim = start(&settings).await?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, settings.shim_http_port));
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| ServerError::Bind { address, source })?;
    tracing::info!(%address, version = crate::VERSION, "dstack-shim listening");
    let shutdown = ShutdownSignal::default();
    let on_stop = shutdown.graceful.clone();
    tokio::spawn(async move {
        stop.await;
        on_stop.cancel();
    });
    serve(listener, shim, shutdown).await
}

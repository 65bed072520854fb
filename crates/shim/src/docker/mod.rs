//! The Docker side of the shim: [`DockerDriver`] wraps the daemon calls a task needs.
//!
//! - [`container`]: the container a task asks for (pure: configuration in, Docker body out).
//! - [`command`]: the shell line the container starts with.
//! - [`image`]: image references; [`pull_progress`]: bytes pulled so far.
//! - [`DockerError`] (`error`): failed calls, carrying the daemon's own message.

pub mod command;
pub mod container;
mod error;
pub mod image;
pub mod pull_progress;

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::models::{ContainerCreateBody, ContainerInspectResponse};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, LogsOptions,
    RemoveContainerOptions, StopContainerOptions, WaitContainerOptions,
};
use dstack_agents::shim::{ImagePullProgress, PortMapping};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

pub use error::{DockerError, daemon_message};
use pull_progress::PullTracker;

/// Label on every container the shim creates, so it can find them after a restart.
pub const TASK_LABEL: &str = "ai.dstack.shim.is-task";
/// Label holding the task id of a container.
pub const TASK_ID_LABEL: &str = "ai.dstack.shim.task-id";

/// How long a pull may take before the task fails.
const PULL_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// Registry credentials of a task; empty when the image is public.
#[derive(Clone, Default)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryAuth {
    /// Shows who, never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A container of a task found at startup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskContainer {
    pub task_id: String,
    pub container_name: String,
    pub container_id: String,
    pub running: bool,
    /// The GPUs the container was given: NVIDIA device ids or AMD render nodes.
    pub gpu_ids: Vec<String>,
    /// Empty with host networking; the loopback bindings with a bridge.
    pub ports: Vec<PortMapping>,
}

/// The local Docker daemon, reached as the `docker` CLI would (`DOCKER_HOST` or the socket).
#[derive(Debug, Clone)]
pub struct DockerDriver {
    docker: Docker,
}

impl DockerDriver {
    /// Connects and checks that the daemon answers.
    pub async fn connect() -> Result<Self, DockerError> {
        let docker = Docker::connect_with_defaults().map_err(DockerError::Connect)?;
        docker.ping().await.map_err(DockerError::Connect)?;
        Ok(Self { docker })
    }

    /// The daemon's data directory, whose file system holds images and containers.
    pub async fn root_dir(&self) -> Result<String, DockerError> {
        let info = self.docker.info().await.map_err(DockerError::Connect)?;
        Ok(info
            .docker_root_dir
            .unwrap_or_else(|| "/var/lib/docker".to_owned()))
    }

    /// Makes `image` available locally. A present image with an explicit tag other than
    /// `latest` is used without pulling; otherwise it is pulled, and when the pull fails an
    /// image that is present is used as it is. Stops early when `cancel` fires. Each pull
    /// event that changes the byte counts is handed to `on_progress`.
    pub async fn ensure_image(
        &self,
        image: &str,
        auth: &RegistryAuth,
        cancel: &CancellationToken,
        on_progress: impl FnMut(ImagePullProgress) + Send,
    ) -> Result<(), DockerError> {
        let image = image::with_explicit_tag(image);
        let present = self.docker.inspect_image(&image).await.is_ok();
        if present && !image::is_latest(&image) {
            return Ok(());
        }
        let pulled = tokio::select! {
            () = cancel.cancelled() => Err(DockerError::PullInterrupted { image: image.clone() }),
            result = tokio::time::timeout(PULL_TIMEOUT, self.pull(&image, auth, on_progress)) => {
                result.unwrap_or_else(|_| Err(DockerError::PullTimeout {
                    image: image.clone(),
                    minutes: PULL_TIMEOUT.as_secs() / 60,
                }))
            }
        };
        match pulled {
            Err(error) if present && !cancel.is_cancelled() => {
                tracing::warn!(%image, %error, "pull failed, using the local image");
                Ok(())
            }
            other => other,
        }
    }

    async fn pull(
        &self,
        image: &str,
        auth: &RegistryAuth,
        mut on_progress: impl FnMut(ImagePullProgress) + Send,
    ) -> Result<(), DockerError> {
        let options = CreateImageOptions {
            from_image: Some(image.to_owned()),
            ..Default::default()
        };
        let credentials =
            (!auth.username.is_empty() || !auth.password.is_empty()).then(|| DockerCredentials {
                username: Some(auth.username.clone()),
                password: Some(auth.password.clone()),
                ..Default::default()
            });
        let mut events = self.docker.create_image(Some(options), None, credentials);
        let mut tracker = PullTracker::default();
        while let Some(event) = events.next().await {
            let event = event.map_err(|source| DockerError::Pull {
                image: image.to_owned(),
                source,
            })?;
            let detail = event.progress_detail.unwrap_or_default();
            let before = tracker.progress();
            tracker.observe(
                event.id.as_deref(),
                event.status.as_deref(),
                detail.current,
                detail.total,
            );
            if let Some(progress) = tracker.progress()
                && before != Some(progress)
            {
                on_progress(progress);
            }
        }
        Ok(())
    }

    /// Creates a container named `name`; returns its id.
    pub async fn create(
        &self,
        name: &str,
        body: ContainerCreateBody,
    ) -> Result<String, DockerError> {
        let options = CreateContainerOptions {
            name: Some(name.to_owned()),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|source| DockerError::Create {
                name: name.to_owned(),
                source,
            })?;
        Ok(created.id)
    }

    pub async fn start(&self, name: &str) -> Result<(), DockerError> {
        self.docker
            .start_container(name, None)
            .await
            .map_err(|source| DockerError::Start {
                name: name.to_owned(),
                source,
            })
    }

    /// Waits until the container is no longer running; returns its exit code.
    pub async fn wait(&self, name: &str) -> Result<i64, DockerError> {
        let options = WaitContainerOptions {
            condition: "not-running".to_owned(),
        };
        let mut waiting = self.docker.wait_container(name, Some(options));
        match waiting.next().await {
            Some(Ok(response)) => Ok(response.status_code),
            // bollard reports a non-zero exit as an error carrying the code.
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(source)) => Err(DockerError::Wait {
                name: name.to_owned(),
                source,
            }),
            None => self.exit_code(name).await,
        }
    }

    async fn inspect(&self, name: &str) -> Result<ContainerInspectResponse, DockerError> {
        self.docker
            .inspect_container(name, None)
            .await
            .map_err(|source| DockerError::Inspect {
                name: name.to_owned(),
                source,
            })
    }

    async fn exit_code(&self, name: &str) -> Result<i64, DockerError> {
        let inspected = self.inspect(name).await?;
        Ok(inspected
            .state
            .and_then(|state| state.exit_code)
            .unwrap_or_default())
    }

    /// Stops the container: SIGTERM, then SIGKILL after `timeout` (at once when zero). A
    /// container that is already stopped or gone is fine.
    pub async fn stop(&self, name: &str, timeout: Duration) -> Result<(), DockerError> {
        let options = StopContainerOptions {
            t: Some(i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX)),
            signal: None,
        };
        match self.docker.stop_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304 | 404,
                ..
            }) => Ok(()),
            Err(source) => Err(DockerError::Stop {
                name: name.to_owned(),
                source,
            }),
        }
    }

    /// Removes the container and its anonymous volumes, running or not; a missing container
    /// is fine.
    pub async fn remove(&self, name: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            link: false,
        };
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(source) => Err(DockerError::Remove {
                name: name.to_owned(),
                source,
            }),
        }
    }

    /// The last `lines` lines the container wrote, stdout and stderr merged; empty when the
    /// logs cannot be read, since they only decorate a failure message.
    pub async fn tail_logs(&self, name: &str, lines: usize) -> String {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: lines.to_string(),
            ..Default::default()
        };
        let mut logs = self.docker.logs(name, Some(options));
        let mut text = String::new();
        while let Some(Ok(chunk)) = logs.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        text.trim_end().to_owned()
    }

    /// The IPv4 TCP ports the container publishes on the host (bridge networking).
    pub async fn published_ports(&self, name: &str) -> Result<Vec<PortMapping>, DockerError> {
        let inspected = self.inspect(name).await?;
        let ports = inspected
            .network_settings
            .and_then(|settings| settings.ports)
            .unwrap_or_default();
        Ok(container::port_mappings(&ports))
    }

    /// Every container the shim created, found by its label.
    pub async fn task_containers(&self) -> Result<Vec<TaskContainer>, DockerError> {
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_owned(),
                vec![format!("{TASK_LABEL}=true")],
            )])),
            ..Default::default()
        };
        let summaries = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(DockerError::List)?;
        let mut containers = Vec::new();
        for id in summaries.into_iter().filter_map(|summary| summary.id) {
            let inspected = match self.docker.inspect_container(&id, None).await {
                Ok(inspected) => inspected,
                // Removed between the listing and now: nothing to take back.
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => continue,
                Err(source) => return Err(DockerError::Inspect { name: id, source }),
            };
            if let Some(container) = container::task_container(id, inspected) {
                containers.push(container);
            }
        }
        Ok(containers)
    }
}

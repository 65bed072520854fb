//! The running-jobs pipeline (lifecycle.md §4.3): takes a job from `provisioning` (submit the
//! task to the instance's shim) through `pulling` (wait for the container, then hand the job
//! and its code to the runner) to `running` (pull states and logs), until the runner reports
//! the end and the job goes to `terminating` with the runner's reason.
//!
//! A pass waits for a short while on a step that is under way (the image pull, the runner's
//! start) instead of coming back later, so a job on a warm instance starts in well under a
//! second; contact lost for longer than [`DISCONNECT_TOLERANCE`] ends the job as
//! `instance_unreachable`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use dstack_agents::runner::{JobStateEvent, PullResponse, RunnerClient, SubmitBody};
use dstack_agents::shim::{
    NetworkMode, ShimRuntime, TaskInfoResponse, TaskStatus, TaskSubmitRequest,
};
use dstack_core::api::jobs::{JobProvisioningData, JobSpec};
use dstack_core::mounts::MountPoint;
use dstack_core::offers::InstanceOfferWithAvailability;
use dstack_core::status::{InstanceStatus, JobStatus, JobTerminationReason};
use serde_json::json;

use super::context::{Scheduler, is_local, runtime_of};
use super::hints::Kind;
use super::jobs::{self, load, parse_stored, release};
use super::lease::{self, Claimed, Table};
use super::worker::Reconciler;
use crate::db::instances::{self as instance_rows, InstanceRow};
use crate::db::jobs::JobRow;
use crate::db::logs::{self as log_rows, LogProducer};
use crate::db::runs::RunRow;
use crate::db::scheduling::{self, JobStep, RunnerProgress};
use crate::db::{repos as repo_rows, to_micros};
use crate::services::ServiceError;
use crate::services::runs::job_specs;

/// Jobs being started at once (each pass waits a little on them); running jobs every second.
pub const TABLE: Table = Table {
    name: "jobs",
    eligible: "(status IN ('provisioning', 'pulling') AND last_processed_at <= $1 - 100000) \
               OR (status = 'running' AND last_processed_at <= $1 - 1000000)",
    order: "last_processed_at ASC",
};

/// How long a job may wait for its instance and runner (dstack's default provisioning
/// timeout).
const PROVISIONING_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a job may be out of contact before it is given up (dstack: 2 minutes).
const DISCONNECT_TOLERANCE: Duration = Duration::from_secs(120);
/// How long one pass waits on a step under way before handing the row back.
const STEP_WAIT: Duration = Duration::from_secs(3);
/// How long a job whose shim did not answer is left alone before the next try.
const UNANSWERED_BACKOFF: Duration = Duration::from_secs(1);
/// How often a pass asks an agent while it waits.
const POLL: Duration = Duration::from_millis(50);
/// Where the repo goes in a container unless the configuration says otherwise.
const DEFAULT_REPO_DIR: &str = "/workflow";
/// The runner's HTTP port in the container.
const RUNNER_PORT: u16 = 10999;

/// Starts jobs and follows them while they run.
pub struct RunningJobs(pub Scheduler);

impl Reconciler for RunningJobs {
    async fn process(&self, claimed: Claimed) {
        if let Err(error) = self.advance(claimed).await {
            jobs::log_failure("running jobs", claimed, &error);
        }
    }
}

/// What a pass decided.
enum Next {
    /// Nothing to write yet; look again later.
    Wait,
    /// The agent did not answer; look again after [`UNANSWERED_BACKOFF`].
    Retry,
    /// Move one status forward.
    Step {
        to: JobStatus,
        provisioning_data: Option<String>,
        runtime_data: Option<String>,
    },
    /// End the job with a reason.
    End {
        reason: JobTerminationReason,
        message: String,
        progress: Option<RunnerProgress>,
        logs: Option<PullResponse>,
    },
    /// A running job reported progress.
    Progress {
        progress: RunnerProgress,
        logs: PullResponse,
    },
}

impl RunningJobs {
    async fn advance(&self, claimed: Claimed) -> Result<(), ServiceError> {
        let db = &self.0.db;
        let Some((job, run)) = load(db, claimed).await? else {
            return release(db, &TABLE, claimed).await;
        };
        let instance = match &job.instance_id {
            Some(id) => instance_rows::find_any(db.pool(), id).await?,
            None => None,
        };
        let next = match (job.status, instance) {
            (_, None) => Next::End {
                reason: JobTerminationReason::WaitingInstanceLimitExceeded,
                message: "the job has no instance".to_owned(),
                progress: None,
                logs: None,
            },
            (JobStatus::Provisioning, Some(instance)) => {
                self.provisioning(&job, &run, &instance).await?
            }
            (JobStatus::Pulling, Some(instance)) => self.pulling(&job, &run, &instance).await?,
            (JobStatus::Running, Some(instance)) => self.running(&job, &instance).await?,
            _ => Next::Wait,
        };
        self.write(claimed, &job, &run, next).await
    }

    async fn write(
        &self,
        claimed: Claimed,
        job: &JobRow,
        run: &RunRow,
        next: Next,
    ) -> Result<(), ServiceError> {
        let delay = match next {
            Next::Retry => UNANSWERED_BACKOFF,
            _ => Duration::ZERO,
        };
        let mut tx = self.0.db.pool().begin().await?;
        if !lease::finish_later(&mut *tx, &TABLE, claimed, delay).await? {
            return Ok(());
        }
        let wake = match next {
            Next::Wait | Next::Retry => false,
            Next::Step {
                to,
                provisioning_data,
                runtime_data,
            } => {
                let step = JobStep {
                    from: job.status,
                    to,
                    provisioning_data: provisioning_data.as_deref(),
                    runtime_data: runtime_data.as_deref(),
                    now: to_micros(Utc::now()),
                };
                if !scheduling::step_job(&mut *tx, job.id, step).await? {
                    return Ok(());
                }
                jobs::record_step(&mut tx, job, run, to).await?;
                true
            }
            Next::Progress { progress, logs } => {
                store_logs(&mut tx, job, &logs).await?;
                scheduling::set_runner_progress(&mut *tx, job.id, progress).await?;
                false
            }
            Next::End {
                reason,
                message,
                progress,
                logs,
            } => {
                if let Some(logs) = &logs {
                    store_logs(&mut tx, job, logs).await?;
                }
                if let Some(progress) = progress {
                    scheduling::set_runner_progress(&mut *tx, job.id, progress).await?;
                }
                let message = (!message.is_empty()).then_some(message.as_str());
                if !jobs::end(&mut tx, job, run, JobStatus::Terminating, reason, message).await? {
                    return Ok(());
                }
                true
            }
        };
        tx.commit().await?;
        if wake {
            self.0.wake(&[Kind::Jobs, Kind::Runs]);
        }
        Ok(())
    }

    /// Submits the task once the instance is up.
    async fn provisioning(
        &self,
        job: &JobRow,
        run: &RunRow,
        instance: &InstanceRow,
    ) -> Result<Next, ServiceError> {
        let waited = age(job.submitted_at);
        match instance.status {
            InstanceStatus::Terminating | InstanceStatus::Terminated => {
                let why = instance
                    .termination_reason_message
                    .clone()
                    .unwrap_or_else(|| "it was terminated".to_owned());
                return Ok(Next::End {
                    reason: JobTerminationReason::WaitingInstanceLimitExceeded,
                    message: format!("the instance {} went away: {why}", instance.name),
                    progress: None,
                    logs: None,
                });
            }
            InstanceStatus::Idle | InstanceStatus::Busy => {}
            InstanceStatus::Pending | InstanceStatus::Provisioning => {
                return Ok(timed_out(waited).unwrap_or(Next::Wait));
            }
        }
        let spec: JobSpec = parse_stored(&job.job_spec)?;
        let run_spec: serde_json::Value = parse_stored(&run.run_spec)?;
        if !self.replica_provisioned(job, &spec).await? {
            return Ok(timed_out(waited).unwrap_or(Next::Wait));
        }
        let runtime = runtime_of(instance);
        if runtime == ShimRuntime::Process
            && let Some(image) = run_spec["configuration"]["image"].as_str()
        {
            return Ok(Next::End {
                reason: JobTerminationReason::CreatingContainerError,
                message: format!(
                    "the instance {} runs jobs as host processes because it has no Docker; the \
                     configuration names the image {image}, which needs Docker: remove `image` \
                     or install Docker on the host",
                    instance.name
                ),
                progress: None,
                logs: None,
            });
        }
        let mut request = task_request(job, &spec, &run_spec, instance);
        if runtime == ShimRuntime::Process {
            request.image_name.clear();
        }
        let submitted = match self.0.shim(instance) {
            Ok(shim) => shim.submit_task(&request).await.map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = submitted {
            tracing::debug!(job = %job.job_name, "the shim did not take the task yet: {error}");
            return Ok(timed_out(waited).unwrap_or(Next::Retry));
        }
        let runtime = json!({"network_mode": request.network_mode.as_str()});
        Ok(Next::Step {
            to: JobStatus::Pulling,
            provisioning_data: instance.job_provisioning_data.clone(),
            runtime_data: Some(runtime.to_string()),
        })
    }

    /// Whether every job of the replica has an instance with provisioning data (multi-node
    /// jobs start together).
    async fn replica_provisioned(
        &self,
        job: &JobRow,
        spec: &JobSpec,
    ) -> Result<bool, ServiceError> {
        if spec.jobs_per_replica <= 1 {
            return Ok(true);
        }
        Ok(self.cluster_ips(job).await?.len() == spec.jobs_per_replica as usize)
    }

    /// The internal addresses of the replica's jobs, by job number.
    async fn cluster_ips(&self, job: &JobRow) -> Result<Vec<String>, ServiceError> {
        let db = &self.0.db;
        let all = crate::db::jobs::list_for_runs(db.pool(), &[job.run_id]).await?;
        let mut latest: BTreeMap<i64, &JobRow> = BTreeMap::new();
        for row in all.iter().filter(|row| row.replica_num == job.replica_num) {
            latest.insert(row.job_num, row);
        }
        let mut ips = Vec::new();
        for row in latest.values() {
            let Some(id) = &row.instance_id else { break };
            let Some(instance) = instance_rows::find_any(db.pool(), id).await? else {
                break;
            };
            let Some(ip) = instance_ip(&instance) else {
                break;
            };
            ips.push(ip);
        }
        Ok(ips)
    }

    /// Waits a little for the container, then hands the job to the runner.
    async fn pulling(
        &self,
        job: &JobRow,
        run: &RunRow,
        instance: &InstanceRow,
    ) -> Result<Next, ServiceError> {
        let shim = match self.0.shim(instance) {
            Ok(shim) => shim,
            Err(error) => return self.lost_contact(job, &error.to_string()).await,
        };
        let task_id = job.id.to_string();
        let deadline = Instant::now() + STEP_WAIT;
        let task = loop {
            let task: TaskInfoResponse = match shim.get_task(&task_id).await {
                Ok(task) => task,
                Err(error) => return self.lost_contact(job, &error.to_string()).await,
            };
            let ports_known = task.ports.is_some();
            match task.status {
                TaskStatus::Terminated => {
                    return Ok(Next::End {
                        reason: task
                            .termination_reason
                            .unwrap_or(JobTerminationReason::ContainerExitedWithError),
                        message: task.termination_message,
                        progress: None,
                        logs: None,
                    });
                }
                TaskStatus::Running if ports_known => break task,
                _ if Instant::now() >= deadline => return Ok(Next::Wait),
                _ => tokio::time::sleep(POLL).await,
            }
        };
        let runner_port = task
            .ports
            .iter()
            .flatten()
            .find(|mapping| mapping.container == RUNNER_PORT)
            .map_or(RUNNER_PORT, |mapping| mapping.host);
        let runner = match self.0.runner(instance, runner_port) {
            Ok(runner) => runner,
            Err(error) => return self.lost_contact(job, &error.to_string()).await,
        };
        if !wait_until_healthy(&runner).await {
            return Ok(Next::Wait);
        }
        if let Err(error) = self.start(job, run, instance, &runner).await {
            return Ok(Next::End {
                reason: JobTerminationReason::ExecutorError,
                message: format!("the runner did not take the job: {error}"),
                progress: None,
                logs: None,
            });
        }
        let runtime = json!({
            "network_mode": network_mode(instance).as_str(),
            "ports": task.ports.iter().flatten()
                .map(|mapping| (mapping.container.to_string(), mapping.host))
                .collect::<BTreeMap<_, _>>(),
        });
        Ok(Next::Step {
            to: JobStatus::Running,
            provisioning_data: None,
            runtime_data: Some(runtime.to_string()),
        })
    }

    /// Submits the job, its file archives and its code to the runner, and starts it.
    async fn start(
        &self,
        job: &JobRow,
        run: &RunRow,
        instance: &InstanceRow,
        runner: &RunnerClient,
    ) -> Result<(), String> {
        let mut spec: serde_json::Value = parse_stored(&job.job_spec).map_err(|e| e.to_string())?;
        let typed: JobSpec = parse_stored(&job.job_spec).map_err(|e| e.to_string())?;
        if runtime_of(instance) == ShimRuntime::Process {
            if spec["repo_dir"] == DEFAULT_REPO_DIR {
                // On a host, `/workflow` would be one directory shared by every job.
                spec["repo_dir"] = json!("repo");
            }
            spec["commands"] = json!(job_specs::without_venv_prelude(&typed.commands));
        }
        // dstack's runner gets no stop_duration (it bounds volume detaching on the server) and
        // gives stopped jobs its fixed grace period; ours would wait the whole 5 minutes.
        if let Some(fields) = spec.as_object_mut() {
            fields.remove("stop_duration");
        }
        let run_spec: serde_json::Value = parse_stored(&run.run_spec).map_err(|e| e.to_string())?;
        let ips = self.cluster_ips(job).await.map_err(|e| e.to_string())?;
        let body = json!({
            "run": {"id": run.id.to_string(), "run_spec": run_spec},
            "job_spec": spec,
            "job_submission": {"id": job.id.to_string()},
            "cluster_info": {
                "job_ips": ips,
                "master_job_ip": ips.first().cloned().unwrap_or_default(),
                "gpus_per_job": 0,
            },
            "secrets": {},
        });
        let body: SubmitBody = serde_json::from_value(body).map_err(|e| e.to_string())?;
        runner.submit_job(&body).await.map_err(|e| e.to_string())?;
        let db = &self.0.db;
        for archive in &typed.file_archives {
            let blob = scheduling::file_archive_blob(db.pool(), &archive.id.to_string())
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("the file archive {} is gone", archive.id))?;
            runner
                .upload_archive(archive.id, blob)
                .await
                .map_err(|e| e.to_string())?;
        }
        let code = match &typed.repo_code_hash {
            Some(hash) => {
                let repo = repo_rows::find(db.pool(), run.project_id, &run.repo_id)
                    .await
                    .map_err(|e| e.to_string())?;
                match repo {
                    Some(repo) => repo_rows::find_code(db.pool(), &repo.id, hash)
                        .await
                        .map_err(|e| e.to_string())?
                        .unwrap_or_default(),
                    None => Vec::new(),
                }
            }
            None => Vec::new(),
        };
        runner.upload_code(code).await.map_err(|e| e.to_string())?;
        runner.run_job().await.map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Pulls what the runner has and decides whether the job ended.
    async fn running(&self, job: &JobRow, instance: &InstanceRow) -> Result<Next, ServiceError> {
        let cursor = scheduling::job_cursor(self.0.db.pool(), job.id).await?;
        let runtime: serde_json::Value = job
            .job_runtime_data
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default();
        let runner_port = runtime["ports"][RUNNER_PORT.to_string()]
            .as_u64()
            .and_then(|port| u16::try_from(port).ok())
            .unwrap_or(RUNNER_PORT);
        let runner = match self.0.runner(instance, runner_port) {
            Ok(runner) => runner,
            Err(error) => return self.lost_contact(job, &error.to_string()).await,
        };
        let mut since = cursor.runner_timestamp.unwrap_or(0);
        let mut pulled = PullResponse::default();
        loop {
            let page = match runner.pull(since).await {
                Ok(page) => page,
                Err(error) => return self.lost_contact(job, &error.to_string()).await,
            };
            since = page.last_updated.max(since);
            let more = page.has_more;
            pulled.job_states.extend(page.job_states);
            pulled.job_logs.extend(page.job_logs);
            pulled.runner_logs.extend(page.runner_logs);
            if !more {
                break;
            }
        }
        let last_state = pulled.job_states.last().cloned();
        let exit_status = pulled
            .job_states
            .iter()
            .rev()
            .find_map(|state| state.exit_status)
            .map(i64::from);
        let progress = RunnerProgress {
            runner_timestamp: Some(since),
            disconnected_at: None,
            exit_status,
        };
        match last_state.and_then(|state| ending(&state)) {
            Some((reason, message)) => Ok(Next::End {
                reason,
                message,
                progress: Some(progress),
                logs: Some(pulled),
            }),
            None => Ok(Next::Progress {
                progress,
                logs: pulled,
            }),
        }
    }

    /// Notes lost contact, or gives the job up once the tolerance has passed.
    async fn lost_contact(&self, job: &JobRow, error: &str) -> Result<Next, ServiceError> {
        let cursor = scheduling::job_cursor(self.0.db.pool(), job.id).await?;
        let now = to_micros(Utc::now());
        let since = cursor.disconnected_at.unwrap_or(now);
        let tolerance = i64::try_from(DISCONNECT_TOLERANCE.as_micros()).unwrap_or(i64::MAX);
        if now - since >= tolerance {
            return Ok(Next::End {
                reason: JobTerminationReason::InstanceUnreachable,
                message: format!("lost contact with the job for over 2 minutes: {error}"),
                progress: None,
                logs: None,
            });
        }
        tracing::debug!(job = %job.job_name, "the job's agents did not answer: {error}");
        Ok(Next::Progress {
            progress: RunnerProgress {
                runner_timestamp: None,
                disconnected_at: Some(since),
                exit_status: None,
            },
            logs: PullResponse::default(),
        })
    }
}

/// The reason a runner's state ends the job with, if it does.
fn ending(state: &JobStateEvent) -> Option<(JobTerminationReason, String)> {
    let reason = match state.state {
        JobStatus::Done => JobTerminationReason::DoneByRunner,
        JobStatus::Failed | JobStatus::Terminated | JobStatus::Aborted => state
            .termination_reason
            .unwrap_or(JobTerminationReason::ContainerExitedWithError),
        _ => return None,
    };
    let message = match (&state.termination_message, state.exit_status) {
        (message, _) if !message.is_empty() => message.clone(),
        (_, Some(code)) if code != 0 => format!("the job's commands exited with code {code}"),
        _ => String::new(),
    };
    Some((reason, message))
}

async fn store_logs(
    conn: &mut sqlx::AnyConnection,
    job: &JobRow,
    pulled: &PullResponse,
) -> Result<(), ServiceError> {
    let id = job.id.to_string();
    for (producer, events) in [
        (LogProducer::Job, &pulled.job_logs),
        (LogProducer::Runner, &pulled.runner_logs),
    ] {
        for event in events {
            // The runner counts milliseconds; the table microseconds.
            let timestamp = event.timestamp.saturating_mul(1000);
            log_rows::insert(
                &mut *conn,
                &id,
                producer,
                "stdout",
                timestamp,
                &event.message,
            )
            .await?;
        }
    }
    Ok(())
}

/// Polls the runner's healthcheck for a short while.
async fn wait_until_healthy(runner: &RunnerClient) -> bool {
    let deadline = Instant::now() + STEP_WAIT;
    loop {
        if runner.healthcheck().await.is_ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The task the shim runs for `job` on `instance`.
fn task_request(
    job: &JobRow,
    spec: &JobSpec,
    run_spec: &serde_json::Value,
    instance: &InstanceRow,
) -> TaskSubmitRequest {
    let offer: Option<InstanceOfferWithAvailability> = instance
        .offer
        .as_deref()
        .and_then(|offer| serde_json::from_str(offer).ok());
    // A local slice is limited to its share; an SSH host's job takes what the host has.
    let (cpu, memory) = match &offer {
        Some(offer) if is_local(instance) => (
            f64::from(offer.instance.resources.cpus),
            offer.instance.resources.memory_mib * 1024 * 1024,
        ),
        _ => (0.0, 0),
    };
    let shm_size = spec
        .requirements
        .resources
        .shm_size
        .map_or(0, |size| (size.gb() * 1024.0 * 1024.0 * 1024.0) as u64);
    let mut container_ssh_keys = Vec::new();
    if let Some(key) = run_spec["ssh_key_pub"].as_str() {
        container_ssh_keys.push(key.to_owned());
    }
    if let Some(key) = &spec.ssh_key {
        container_ssh_keys.push(key.public.clone());
    }
    let (registry_username, registry_password) = spec
        .registry_auth
        .as_ref()
        .map(|auth| (auth.username.clone(), auth.password.clone()))
        .unwrap_or_default();
    TaskSubmitRequest {
        id: job.id.to_string(),
        name: job.job_name.clone(),
        registry_username,
        registry_password,
        image_name: spec.image_name.clone(),
        container_user: "root".to_owned(),
        privileged: spec.privileged,
        gpu: if is_local(instance) { 0 } else { -1 },
        cpu,
        memory,
        shm_size,
        network_mode: network_mode(instance),
        instance_mounts: instance_mounts(spec),
        container_ssh_keys,
        ..TaskSubmitRequest::default()
    }
}

/// The host directories the job mounts (`volumes: [/host/path:/path]`); network volumes are
/// not offered by any backend here.
fn instance_mounts(spec: &JobSpec) -> Vec<dstack_agents::shim::InstanceMountPoint> {
    spec.volumes
        .iter()
        .flatten()
        .filter_map(|mount| match mount {
            MountPoint::Instance(mount) => Some(dstack_agents::shim::InstanceMountPoint {
                instance_path: mount.instance_path.clone(),
                path: mount.path.clone(),
            }),
            MountPoint::Volume(_) => None,
        })
        .collect()
}

/// Slices of this host, and hosts cut into blocks, publish the runner's ports; a whole host
/// lends the job its network.
fn network_mode(instance: &InstanceRow) -> NetworkMode {
    if is_local(instance) || instance.total_blocks.unwrap_or(1) > 1 {
        NetworkMode::Bridge
    } else {
        NetworkMode::Host
    }
}

/// The address other nodes of a cluster reach the instance at.
fn instance_ip(instance: &InstanceRow) -> Option<String> {
    let data: JobProvisioningData =
        serde_json::from_str(instance.job_provisioning_data.as_deref()?).ok()?;
    data.internal_ip.or(data.hostname)
}

fn timed_out(waited: Duration) -> Option<Next> {
    (waited > PROVISIONING_TIMEOUT).then(|| Next::End {
        reason: JobTerminationReason::WaitingRunnerLimitExceeded,
        message: "the job's container did not start within 10 minutes".to_owned(),
        progress: None,
        logs: None,
    })
}

fn age(since_micros: i64) -> Duration {
    let elapsed = to_micros(Utc::now()).saturating_sub(since_micros);
    Duration::from_micros(u64::try_from(elapsed).unwrap_or(0))
}

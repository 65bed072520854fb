//! The process runtime end to end, with no Docker: the real shim binary runs with
//! `--runtime process` (and a `DOCKER_HOST` that leads nowhere), starts the real runner
//! (`DSTACK_TEST_STATIC_RUNNER`, built by `scripts/setup/40-static-runner.sh`) as a host
//! process, and the test drives that runner as dstack's server does.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dstack_agents::runner::{JobStateEvent, RunnerClient, SubmitBody};
use dstack_agents::shim::{
    ShimClient, TaskInfoResponse, TaskStatus, TaskSubmitRequest, TaskTerminateRequest,
};
use dstack_core::status::{JobStatus, JobTerminationReason};
use serde_json::{Value, json};

/// How long a task or job may take to reach the state a test waits for.
const DEADLINE: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

fn static_runner() -> PathBuf {
    let path = std::env::var("DSTACK_TEST_STATIC_RUNNER")
        .expect("DSTACK_TEST_STATIC_RUNNER is not set: source scripts/setup/40-static-runner.sh");
    PathBuf::from(path)
}

/// Polls `check` until it gives a value, failing with `what` after [`DEADLINE`].
async fn poll<T, F: Future<Output = Option<T>>>(what: &str, mut check: impl FnMut() -> F) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The shim binary in process mode on a free port, killed when dropped.
struct ShimProcess {
    child: Child,
    client: ShimClient,
    home: tempfile::TempDir,
}

impl ShimProcess {
    async fn start() -> Self {
        let home = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_dstack-shim"))
            .arg("--shim-home")
            .arg(home.path().join("shim"))
            .args(["--shim-http-port", &port.to_string()])
            .arg("--runner-binary-path")
            .arg(static_runner())
            .args(["--runtime", "process", "--service"])
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let client = ShimClient::new(&format!("http://127.0.0.1:{port}")).unwrap();
        let mut shim = Self {
            child,
            client,
            home,
        };
        let started = Instant::now();
        while shim.client.healthcheck().await.is_err() {
            assert!(shim.child.try_wait().unwrap().is_none(), "the shim exited");
            assert!(started.elapsed() < DEADLINE, "the shim never answered");
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        shim
    }

    fn tasks_dir(&self) -> PathBuf {
        self.home.path().join("shim").join("tasks")
    }

    async fn submit(&self, image: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let request = TaskSubmitRequest {
            id: id.clone(),
            name: format!("process-test-{}", &id[..8]),
            image_name: image.to_owned(),
            container_user: "root".into(),
            gpu: -1,
            ..Default::default()
        };
        self.client.submit_task(&request).await.unwrap();
        id
    }

    async fn wait_for(
        &self,
        id: &str,
        done: impl Fn(&TaskInfoResponse) -> bool,
    ) -> TaskInfoResponse {
        poll("the task's state", || async {
            let task = self.client.get_task(id).await.unwrap();
            done(&task).then_some(task)
        })
        .await
    }

    async fn wait_terminated(&self, id: &str) -> TaskInfoResponse {
        self.wait_for(id, |task| task.status == TaskStatus::Terminated)
            .await
    }

    /// Submits an image-less task and waits until its runner answers.
    async fn start_runner(&self) -> (String, RunnerClient) {
        let id = self.submit("").await;
        let task = self
            .wait_for(&id, |task| {
                task.status == TaskStatus::Running && task.ports.is_some()
                    || task.status == TaskStatus::Terminated
            })
            .await;
        assert_eq!(task.status, TaskStatus::Running, "{task:?}");
        let ports = task.ports.unwrap();
        assert_eq!(ports.len(), 1, "{ports:?}");
        assert_eq!(ports[0].container, 10999);
        let runner = RunnerClient::new(format!("http://127.0.0.1:{}", ports[0].host));
        // The task is running only once the runner answers.
        runner.healthcheck().await.unwrap();
        (id, runner)
    }
}

impl Drop for ShimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A submit body running `script` with `/bin/sh -c`, in the runner's working dir.
fn body(script: &str) -> SubmitBody {
    body_as(script, Value::Null)
}

/// [`body`] with the job's `user`.
fn body_as(script: &str, user: Value) -> SubmitBody {
    let spec: Value = json!({
        "replica_num": 0, "job_num": 0, "jobs_per_replica": 1, "user": user,
        "commands": ["/bin/sh", "-c", script], "env": {}, "max_duration": null,
        "working_dir": null, "repo_dir": "repo",
        "repo_data": {"repo_type": "virtual"}, "repo_exists_action": "error",
        "file_archives": []
    });
    serde_json::from_value(json!({
        "run": {"id": "0b2f5a39-42a9-4f64-8e36-5d2b5b0d7a11", "run_spec": {
            "run_name": "process-run", "repo_id": "test-repo",
            "configuration": {"type": "task"}}},
        "job_spec": spec,
        "job_submission": {"id": "5d0e2c41-1a8c-4c7b-9d3e-3f5a7b9c1d2e"},
        "cluster_info": {"job_ips": [], "master_job_ip": "", "gpus_per_job": 0},
        "secrets": {}, "repo_credentials": null, "log_quota_hour": null
    }))
    .unwrap()
}

/// Submits and runs `body`, then pulls until the runner has nothing more: the states and
/// the output.
async fn run_job(runner: &RunnerClient, body: &SubmitBody) -> (Vec<JobStateEvent>, String) {
    runner.submit_job(body).await.unwrap();
    runner.upload_code(Vec::new()).await.unwrap();
    runner.run_job().await.unwrap();
    let (mut since, mut states, mut logs) = (0, Vec::new(), Vec::new());
    let started = Instant::now();
    loop {
        let response = runner.pull(since).await.unwrap();
        since = response.last_updated;
        states.extend(response.job_states);
        for event in response.job_logs {
            logs.extend(event.message);
        }
        if !response.has_more {
            return (states, String::from_utf8_lossy(&logs).into_owned());
        }
        assert!(started.elapsed() < DEADLINE, "the job did not end");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Processes whose command line mentions `text`.
fn processes_mentioning(text: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains(text).then_some(cmdline)
        })
        .collect()
}

/// Whether `pid` is a living process (a zombie is not).
fn is_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        !state.is_some_and(|state| state.starts_with('Z'))
    })
}

#[tokio::test]
async fn a_job_runs_as_a_host_process_in_its_own_dirs() {
    let shim = ShimProcess::start().await;
    let host_info = std::fs::read(shim.home.path().join("shim/host_info.json")).unwrap();
    let host_info: Value = serde_json::from_slice(&host_info).unwrap();
    assert_eq!(host_info["runtime"], "process");

    let (id, runner) = shim.start_runner().await;
    let (states, logs) = run_job(
        &runner,
        &body("echo hello; echo \"home=$HOME\"; pwd; exit 0"),
    )
    .await;
    assert!(logs.contains("hello"), "{logs}");
    let task_dir = shim.tasks_dir().join(&id);
    let task_dir = task_dir.display();
    assert!(logs.contains(&format!("home={task_dir}/home")), "{logs}");
    assert!(logs.contains(&format!("{task_dir}/work")), "{logs}");
    assert_eq!(states.last().unwrap().state, JobStatus::Done, "{states:?}");
    // The job's profile goes to the task's files, not the host's `/etc/profile`.
    assert!(Path::new(&format!("{task_dir}/etc-profile")).is_file());

    let task = shim.wait_terminated(&id).await;
    assert_eq!(
        task.termination_reason,
        Some(JobTerminationReason::DoneByRunner),
        "{task:?}"
    );
    shim.client.remove_task(&id).await.unwrap();
    assert!(!shim.tasks_dir().join(&id).exists());
}

#[tokio::test]
async fn a_failing_job_fails_with_its_exit_status_and_the_task_is_done() {
    let shim = ShimProcess::start().await;
    let (id, runner) = shim.start_runner().await;
    let (states, _) = run_job(&runner, &body("exit 3")).await;
    let last = states.last().unwrap();
    assert_eq!(last.state, JobStatus::Failed, "{states:?}");
    assert_eq!(last.exit_status, Some(3), "{states:?}");
    let task = shim.wait_terminated(&id).await;
    assert_eq!(
        task.termination_reason,
        Some(JobTerminationReason::DoneByRunner)
    );
}

#[tokio::test]
async fn a_job_naming_a_user_runs_as_that_user_of_the_host() {
    let shim = ShimProcess::start().await;
    // The job user must be able to enter its working dir, under the shim home.
    std::fs::set_permissions(shim.home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (_, runner) = shim.start_runner().await;
    let (states, logs) = run_job(
        &runner,
        &body_as("echo \"uid=$(id -u)\"", json!({"username": "nobody"})),
    )
    .await;
    assert_eq!(
        states.last().unwrap().state,
        JobStatus::Done,
        "{states:?} {logs}"
    );
    assert!(logs.contains("uid=65534"), "{logs}");
}

#[tokio::test]
async fn a_task_naming_an_image_fails_saying_docker_is_needed() {
    let shim = ShimProcess::start().await;
    let id = shim.submit("ubuntu:24.04").await;
    let task = shim.wait_terminated(&id).await;
    assert_eq!(
        task.termination_reason,
        Some(JobTerminationReason::CreatingContainerError)
    );
    assert!(
        task.termination_message.contains("without Docker")
            && task.termination_message.contains("ubuntu:24.04")
            && task
                .termination_message
                .contains("remove `image` or install Docker"),
        "{}",
        task.termination_message
    );
}

#[tokio::test]
async fn terminate_kills_the_runner_and_a_job_that_ignores_signals_within_the_timeout() {
    let shim = ShimProcess::start().await;
    let (id, runner) = shim.start_runner().await;
    runner
        .submit_job(&body("trap '' INT TERM; echo $$ > job.pid; exec sleep 600"))
        .await
        .unwrap();
    runner.upload_code(Vec::new()).await.unwrap();
    runner.run_job().await.unwrap();
    let pid_file = shim.tasks_dir().join(&id).join("work/job.pid");
    let job_pid: i32 = poll("the job's pid", || async {
        std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    })
    .await;

    let timeout = Duration::from_secs(2);
    let started = Instant::now();
    let request = TaskTerminateRequest {
        termination_reason: Some(JobTerminationReason::TerminatedByUser),
        termination_message: "stopped by the test".into(),
        timeout: timeout.as_secs(),
    };
    let task = shim.client.terminate_task(&id, &request).await.unwrap();
    assert!(
        started.elapsed() < timeout + Duration::from_secs(3),
        "terminate took {:?}",
        started.elapsed()
    );
    assert_eq!(task.status, TaskStatus::Terminated);
    assert_eq!(
        task.termination_reason,
        Some(JobTerminationReason::TerminatedByUser)
    );
    let task_dir = shim.tasks_dir().join(&id).display().to_string();
    poll("the runner and the job to be gone", || async {
        let left = processes_mentioning(&task_dir);
        let job_alive = is_alive(job_pid);
        (left.is_empty() && !job_alive).then_some(())
    })
    .await;
}

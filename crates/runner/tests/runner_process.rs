//! The real `dstack-runner` binary as a process on this host, driven through the typed
//! client the server uses: one runner process per job, as in a container.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dstack_agents::runner::{JobStateEvent, RunnerClient, RunnerClientError, SubmitBody};
use dstack_core::status::{JobStatus, JobTerminationReason};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(30);
/// Between two pulls while waiting for a state; every wait has a deadline.
const POLL: Duration = Duration::from_millis(50);

struct Runner {
    process: Child,
    address: String,
    client: RunnerClient,
    dir: tempfile::TempDir,
}

impl Runner {
    fn start() -> Self {
        Self::start_with_env(&[])
    }

    /// Starts a runner with `env` added to its environment.
    fn start_with_env(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Jobs of other users must reach their working directories inside.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut process = Command::new(env!("CARGO_BIN_EXE_dstack-runner"))
            .args([
                "--log-level",
                "debug",
                "start",
                "--http-address",
                "127.0.0.1",
            ])
            // Not a container: the host's sshd and its directories stay untouched.
            .args(["--ssh-port", "0"])
            .args(["--http-port", "0", "--temp-dir"])
            .arg(dir.path().join("runner"))
            .arg("--dstack-dir")
            .arg(dir.path().join("dstack"))
            .arg("--etc-profile")
            .arg(dir.path().join("etc-profile"))
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = process.stdout.take().unwrap();
        let (address_tx, address_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("runner: {line}");
                if let Some((_, address)) = line.split_once("listening on ") {
                    let _ = address_tx.send(address.trim().to_owned());
                }
            }
        });
        let address = address_rx
            .recv_timeout(DEADLINE)
            .expect("runner did not listen");
        Self {
            process,
            client: RunnerClient::new(format!("http://{address}")),
            address,
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Submits and runs `body`; the job info `run` answered.
    async fn submit_and_run(&self, body: &SubmitBody) -> Option<dstack_agents::runner::JobInfo> {
        self.client.submit_job(body).await.unwrap();
        self.client.run_job().await.unwrap()
    }

    /// Pulls incrementally until the runner has nothing more.
    async fn pull_to_end(&self) -> Pulled {
        let mut pulled = Pulled::default();
        let start = Instant::now();
        loop {
            let response = self.client.pull(pulled.since).await.unwrap();
            pulled.pulls += 1;
            pulled.since = response.last_updated;
            pulled.states.extend(response.job_states);
            for event in response.job_logs {
                pulled.logs.extend(event.message);
            }
            for event in response.runner_logs {
                pulled.runner_logs.extend(event.message);
            }
            if !response.has_more {
                return pulled;
            }
            assert!(start.elapsed() < DEADLINE, "job did not end: {pulled:?}");
            tokio::time::sleep(POLL).await;
        }
    }

    /// Pulls until the job output contains `text`.
    async fn wait_for_output(&self, text: &str) {
        let start = Instant::now();
        let mut logs = Vec::new();
        let mut since = 0;
        while !String::from_utf8_lossy(&logs).contains(text) {
            assert!(start.elapsed() < DEADLINE, "no {text:?} in the output");
            let response = self.client.pull(since).await.unwrap();
            since = response.last_updated;
            logs.extend(
                response
                    .job_logs
                    .into_iter()
                    .flat_map(|event| event.message),
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The runner exits 0 once the job has ended and been pulled.
    fn wait_for_exit(mut self) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.process.try_wait().unwrap() {
                assert!(status.success(), "runner exited with {status}");
                return;
            }
            assert!(start.elapsed() < DEADLINE, "runner did not exit");
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[derive(Debug, Default)]
struct Pulled {
    since: i64,
    pulls: usize,
    states: Vec<JobStateEvent>,
    logs: Vec<u8>,
    runner_logs: Vec<u8>,
}

impl Pulled {
    fn last_state(&self) -> &JobStateEvent {
        self.states.last().expect("no job state")
    }

    /// The job's output as text, the terminal's `\r\n` line ends read as `\n`.
    fn output(&self) -> String {
        String::from_utf8_lossy(&self.logs).replace("\r\n", "\n")
    }
}

/// A submit body running `script` through `/bin/sh -c`, with `job_spec` fields overridden.
fn body(script: &str, job_spec: Value) -> SubmitBody {
    let mut spec = json!({
        "replica_num": 0, "job_num": 0, "jobs_per_replica": 1, "user": null,
        "commands": ["/bin/sh", "-c", script], "env": {}, "max_duration": null,
        "working_dir": null, "repo_dir": "/workflow", "repo_data": {"repo_type": "virtual"},
        "repo_exists_action": "skip", "file_archives": []
    });
    if let (Some(spec), Value::Object(overrides)) = (spec.as_object_mut(), job_spec) {
        spec.extend(overrides);
    }
    serde_json::from_value(json!({
        "run": {"id": "0b2f5a39-42a9-4f64-8e36-5d2b5b0d7a11", "run_spec": {
            "run_name": "test-run", "repo_id": "test-repo",
            "configuration": {"type": "task", "image": "debian:12"}}},
        "job_spec": spec,
        "job_submission": {"id": "5d0e2c41-1a8c-4c7b-9d3e-3f5a7b9c1d2e"},
        "cluster_info": {"job_ips": [], "master_job_ip": "", "gpus_per_job": 0},
        "secrets": {}, "repo_credentials": null, "log_quota_hour": null
    }))
    .unwrap()
}

fn states(pulled: &Pulled) -> Vec<JobStatus> {
    pulled.states.iter().map(|event| event.state).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn job_output_arrives_complete_and_in_order_across_pulls() {
    let runner = Runner::start();
    let script = "i=1; while [ $i -le 300 ]; do echo line $i; echo err $i >&2; \
                  [ $((i % 50)) -eq 0 ] && sleep 0.1; i=$((i+1)); done";
    let info = runner.submit_and_run(&body(script, json!({}))).await;
    assert_eq!(info.map(|info| info.username), Some("root".to_owned()));
    let pulled = runner.pull_to_end().await;
    let expected: String = (1..=300).map(|i| format!("line {i}\nerr {i}\n")).collect();
    assert_eq!(pulled.output(), expected);
    assert!(pulled.pulls > 1, "the output came in one pull");
    assert_eq!(states(&pulled), vec![JobStatus::Running, JobStatus::Done]);
    assert_eq!(pulled.last_state().exit_status, Some(0));
    assert_eq!(pulled.last_state().termination_reason, None);
    runner.wait_for_exit();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_job_runs_on_a_terminal_of_its_own() {
    let runner = Runner::start();
    let user = json!({"user": {"uid": 4242, "gid": 4343, "username": null, "groupname": null},
                      "working_dir": runner.path("work").display().to_string()});
    let script = "[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo terminal; echo err >&2; \
                  ls -ln $(tty) | cut -d' ' -f3; ps -o sid= -p $$; echo $$";
    runner.submit_and_run(&body(script, user)).await;
    let pulled = runner.pull_to_end().await;
    let raw = String::from_utf8_lossy(&pulled.logs).into_owned();
    let lines: Vec<&str> = raw.split("\r\n").map(str::trim).collect();
    assert_eq!(lines[..3], ["terminal", "err", "4242"], "{raw:?}");
    // The job leads its own session.
    assert_eq!(lines[3], lines[4], "{raw:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn non_zero_exit_fails_with_the_code() {
    let runner = Runner::start();
    runner
        .submit_and_run(&body("echo about to fail; exit 3", json!({})))
        .await;
    let pulled = runner.pull_to_end().await;
    let last = pulled.last_state();
    assert_eq!(last.state, JobStatus::Failed);
    assert_eq!(
        last.termination_reason,
        Some(JobTerminationReason::ContainerExitedWithError)
    );
    assert_eq!(last.exit_status, Some(3));
    assert!(last.termination_message.contains("code 3"), "{last:?}");
    assert_eq!(pulled.output(), "about to fail\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn job_sees_its_env_and_the_dstack_variables() {
    let runner = Runner::start();
    let mut submit = body(
        "env",
        json!({"env": {"FOO": "bar baz", "DSTACK_NODE_RANK": "from-job"}, "job_num": 1,
               "jobs_per_replica": 2}),
    );
    submit.cluster_info.job_ips = vec!["10.0.0.1".to_owned(), "10.0.0.2".to_owned()];
    submit.cluster_info.master_job_ip = "10.0.0.1".to_owned();
    submit.cluster_info.gpus_per_job = 4;
    runner.submit_and_run(&submit).await;
    let pulled = runner.pull_to_end().await;
    assert_eq!(pulled.last_state().state, JobStatus::Done);
    let output = pulled.output();
    let hostfile = runner.path("dstack/mpi/hostfile");
    for line in [
        "FOO=bar baz".to_owned(),
        "DSTACK_NODE_RANK=from-job".to_owned(),
        "DSTACK_RUN_ID=0b2f5a39-42a9-4f64-8e36-5d2b5b0d7a11".to_owned(),
        "DSTACK_JOB_ID=5d0e2c41-1a8c-4c7b-9d3e-3f5a7b9c1d2e".to_owned(),
        "DSTACK_RUN_NAME=test-run".to_owned(),
        "DSTACK_REPO_ID=test-repo".to_owned(),
        "DSTACK_NODES_NUM=2".to_owned(),
        "DSTACK_MASTER_NODE_IP=10.0.0.1".to_owned(),
        "DSTACK_NODES_IPS=10.0.0.1".to_owned(),
        "DSTACK_GPUS_PER_NODE=4".to_owned(),
        "DSTACK_GPUS_NUM=8".to_owned(),
        format!("DSTACK_MPI_HOSTFILE={}", hostfile.display()),
        "DSTACK_REPO_DIR=/workflow".to_owned(),
        "HOME=/root".to_owned(),
    ] {
        assert!(
            output.lines().any(|got| got == line),
            "no {line:?} in:\n{output}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(hostfile).unwrap(),
        "10.0.0.1 slots=4\n10.0.0.2 slots=4\n"
    );
    // Login shells (SSH sessions) get the same environment through /etc/profile.
    let login = Command::new("sh")
        .arg("-c")
        .arg(format!(
            ". {}; echo \"$FOO|$DSTACK_RUN_NAME\"",
            runner.path("etc-profile").display()
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&login.stdout), "bar baz|test-run\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_user_fails_before_anything_runs() {
    let runner = Runner::start();
    let marker = runner.path("marker");
    let script = format!("touch {}", marker.display());
    let user = json!({"user": {"uid": null, "gid": null,
                               "username": "dstack-test-no-such-user", "groupname": null}});
    let info = runner.submit_and_run(&body(&script, user)).await;
    assert_eq!(
        info, None,
        "run answered job info for a job that cannot start"
    );
    let pulled = runner.pull_to_end().await;
    assert_eq!(states(&pulled), vec![JobStatus::Failed]);
    let last = pulled.last_state();
    assert_eq!(
        last.termination_reason,
        Some(JobTerminationReason::CreatingContainerError)
    );
    assert_eq!(
        last.termination_message,
        r#"user "dstack-test-no-such-user" does not exist in image "debian:12""#
    );
    assert_eq!(last.exit_status, None);
    assert!(!marker.exists(), "the job's command ran");
    assert!(String::from_utf8_lossy(&pulled.runner_logs).contains("does not exist"));
    runner.wait_for_exit();
}

#[tokio::test(flavor = "multi_thread")]
async fn numeric_uid_and_gid_run_the_job_as_that_user() {
    let runner = Runner::start();
    let work = runner.path("work/sub");
    let spec = json!({"user": {"uid": 4242, "gid": 4343, "username": null, "groupname": null},
                      "working_dir": work.display().to_string()});
    let info = runner
        .submit_and_run(&body("id -u; id -g; id -G; pwd; touch mine", spec))
        .await;
    assert_eq!(info.map(|info| info.username), Some(String::new()));
    let pulled = runner.pull_to_end().await;
    assert_eq!(
        pulled.output(),
        format!("4242\n4343\n4343\n{}\n", work.display())
    );
    assert_eq!(pulled.last_state().state, JobStatus::Done);
}

#[tokio::test(flavor = "multi_thread")]
async fn named_user_gets_its_passwd_uid_and_home() {
    let runner = Runner::start();
    let user = json!({"user": {"uid": null, "gid": null, "username": "nobody",
                               "groupname": null},
                      "working_dir": runner.path("work").display().to_string()});
    runner
        .submit_and_run(&body("id -un; echo $HOME", user))
        .await;
    let pulled = runner.pull_to_end().await;
    assert_eq!(pulled.output(), "nobody\n/\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_ends_a_long_job_within_its_stop_duration() {
    let runner = Runner::start();
    runner
        .submit_and_run(&body("echo started; sleep 600", json!({})))
        .await;
    runner.wait_for_output("started").await;
    let stopped_at = Instant::now();
    runner.client.stop().await.unwrap();
    let pulled = runner.pull_to_end().await;
    assert!(stopped_at.elapsed() < Duration::from_secs(10));
    assert_eq!(pulled.last_state().state, JobStatus::Terminated);
    assert_eq!(pulled.last_state().termination_reason, None);
    runner.wait_for_exit();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_ignores_the_stop_signal_is_killed_after_its_stop_duration() {
    let runner = Runner::start();
    runner
        .submit_and_run(&body(
            "trap '' INT; echo started; sleep 600",
            json!({"stop_duration": 1}),
        ))
        .await;
    runner.wait_for_output("started").await;
    let stopped_at = Instant::now();
    runner.client.stop().await.unwrap();
    let pulled = runner.pull_to_end().await;
    let elapsed = stopped_at.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1),
        "killed before its stop duration"
    );
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
    assert_eq!(pulled.last_state().state, JobStatus::Terminated);
    assert_eq!(pulled.last_state().exit_status, Some(-1));
}

#[tokio::test(flavor = "multi_thread")]
async fn max_duration_terminates_the_job() {
    let runner = Runner::start();
    let started = Instant::now();
    runner
        .submit_and_run(&body("sleep 600", json!({"max_duration": 1})))
        .await;
    let pulled = runner.pull_to_end().await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let last = pulled.last_state();
    assert_eq!(last.state, JobStatus::Terminated);
    assert_eq!(
        last.termination_reason,
        Some(JobTerminationReason::MaxDurationExceeded)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn output_over_the_log_quota_fails_the_job() {
    let runner = Runner::start();
    let mut submit = body("echo small; sleep 0.2; yes quota; sleep 600", json!({}));
    submit.log_quota_hour = Some(1000);
    runner.submit_and_run(&submit).await;
    let pulled = runner.pull_to_end().await;
    let last = pulled.last_state();
    assert_eq!(last.state, JobStatus::Failed);
    assert_eq!(
        last.termination_reason,
        Some(JobTerminationReason::LogQuotaExceeded)
    );
    assert!(pulled.output().starts_with("small\n"));
    assert!(
        pulled.logs.len() <= 1000,
        "{} bytes kept",
        pulled.logs.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn uploaded_code_is_unpacked_into_the_repo_dir() {
    let runner = Runner::start();
    let repo = runner.path("repo");
    let spec = json!({"repo_dir": repo.display().to_string(),
                      "working_dir": repo.display().to_string(),
                      "repo_exists_action": "error"});
    runner
        .client
        .submit_job(&body("cat src/foo", spec))
        .await
        .unwrap();
    runner.client.upload_code(code_tar()).await.unwrap();
    runner.client.run_job().await.unwrap();
    let pulled = runner.pull_to_end().await;
    assert_eq!(pulled.output(), "bar\n");
    assert!(!runner.path("runner/repo_blobs").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn uploaded_file_archives_land_at_their_paths() {
    let runner = Runner::start();
    let work = runner.path("work");
    let id = "9c4f1e0e-5a34-4bf4-9f6c-3d1b8f9a0e21";
    let spec = json!({"working_dir": work.display().to_string(),
                      "file_archives": [{"id": id, "path": "conf/app.txt"}]});
    runner
        .client
        .submit_job(&body("cat conf/app.txt", spec))
        .await
        .unwrap();
    runner
        .client
        .upload_archive(id.parse().unwrap(), tar_of("app-local.txt", "bar\n"))
        .await
        .unwrap();
    runner.client.run_job().await.unwrap();
    let pulled = runner.pull_to_end().await;
    assert_eq!(pulled.last_state().state, JobStatus::Done, "{pulled:?}");
    assert_eq!(pulled.output(), "bar\n");
    assert!(!runner.path("runner/file_archives").exists());
}

fn conflict<T>(result: Result<T, RunnerClientError>) -> bool {
    match result {
        Err(RunnerClientError::Status { status, .. }) => status.as_u16() == 409,
        _ => false,
    }
}

fn code_tar() -> Vec<u8> {
    tar_of("src/foo", "bar\n")
}

fn tar_of(name: &str, contents: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(contents.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, name, contents.as_bytes())
        .unwrap();
    builder.into_inner().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_out_of_order_are_conflicts() {
    let runner = Runner::start();
    assert!(conflict(runner.client.run_job().await));
    assert!(conflict(runner.client.upload_code(Vec::new()).await));
    let health = runner.client.healthcheck().await.unwrap();
    assert_eq!(health.service, "dstack-runner");
    runner.submit_and_run(&body("true", json!({}))).await;
    assert!(conflict(
        runner.client.submit_job(&body("true", json!({}))).await
    ));
    runner.pull_to_end().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_before_a_job_runs_ends_the_runner() {
    let runner = Runner::start();
    runner
        .client
        .submit_job(&body("true", json!({})))
        .await
        .unwrap();
    runner.client.stop().await.unwrap();
    assert!(conflict(runner.client.run_job().await));
    let pulled = runner.pull_to_end().await;
    assert!(pulled.states.is_empty() && pulled.logs.is_empty());
    runner.wait_for_exit();
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_sample_the_runners_cgroup() {
    let runner = Runner::start();
    let metrics = runner.client.metrics().await.unwrap();
    let metrics = metrics.expect("no readable cgroup (the runner answered 404)");
    assert!(metrics.memory_usage_bytes > 0, "{metrics:?}");
    assert!(metrics.memory_working_set_bytes <= metrics.memory_usage_bytes);
    assert!(metrics.timestamp_micro > 0);
    assert!(metrics.gpus.is_empty() || Path::new("/dev/nvidiactl").exists());
}

/// Reads a WebSocket until it closes: the binary messages and the close code.
async fn read_ws(url: &str) -> (Vec<u8>, Option<u16>) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut output = Vec::new();
    let read = async {
        while let Some(message) = socket.next().await {
            match message.unwrap() {
                Message::Binary(bytes) => output.extend_from_slice(&bytes),
                Message::Close(frame) => return frame.map(|frame| u16::from(frame.code)),
                _ => {}
            }
        }
        None
    };
    let code = tokio::time::timeout(DEADLINE, read)
        .await
        .expect("stream did not close");
    (output, code)
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_websocket_streams_the_whole_output_then_closes() {
    let runner = Runner::start();
    let url = format!(
        "ws://{}/logs_ws?start_time=2000-01-01T00:00:00%2B00:00",
        runner.address
    );
    let stream = tokio::spawn(async move { read_ws(&url).await });
    let script = "i=1; while [ $i -le 100 ]; do printf '\\033[1mline\\033[0m %d\\n' $i; \
                  i=$((i+1)); done";
    runner.submit_and_run(&body(script, json!({}))).await;
    let (output, code) = stream.await.unwrap();
    let expected: String = (1..=100)
        .map(|i| format!("\x1b[1mline\x1b[0m {i}\r\n"))
        .collect();
    assert_eq!(String::from_utf8_lossy(&output), expected);
    assert_eq!(code, Some(1000));
    let pulled = runner.pull_to_end().await;
    let stripped: String = (1..=100).map(|i| format!("line {i}\n")).collect();
    assert_eq!(pulled.output(), stripped);
    runner.wait_for_exit();
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_websocket_refuses_a_bad_start_time() {
    let runner = Runner::start();
    let url = format!("ws://{}/logs_ws?start_time=yesterday", runner.address);
    let (output, code) = read_ws(&url).await;
    assert!(output.is_empty());
    assert_eq!(code, Some(1003));
}

/// The remote repo `tests/fixtures/git/make-repo.sh` makes, in a directory of its own.
struct GitFixture {
    dir: tempfile::TempDir,
}

impl GitFixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/git/make-repo.sh");
        let made = Command::new(script)
            .arg(dir.path().join("repo"))
            .output()
            .unwrap();
        assert!(made.status.success(), "{made:?}");
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join("repo").join(name)
    }

    fn url(&self) -> String {
        format!("file://{}", self.path("origin.git").display())
    }

    fn commit(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name))
            .unwrap()
            .trim()
            .to_owned()
    }
}

/// A job on a remote repo cloned from `url` at `hash` of `main` into the runner's `repo`.
fn remote_repo_body(runner: &Runner, script: &str, url: &str, hash: &str) -> SubmitBody {
    let repo = runner.path("repo");
    let repo_data = json!({"repo_type": "remote", "repo_name": "example.com/o/r",
                           "repo_branch": "main", "repo_hash": hash,
                           "repo_config_name": "Dev", "repo_config_email": "dev@example.com"});
    let spec = json!({"repo_dir": repo.display().to_string(),
                      "working_dir": repo.display().to_string(),
                      "repo_data": repo_data, "repo_exists_action": "error"});
    let mut submit = body(script, spec);
    submit.repo_credentials = Some(
        serde_json::from_value(json!({"clone_url": url, "oauth_token": "secret-token"})).unwrap(),
    );
    submit
}

/// Submits `submit`, uploads `diff` when given, runs the job to its end.
async fn run_with_diff(runner: &Runner, submit: &SubmitBody, diff: Option<Vec<u8>>) -> Pulled {
    runner.client.submit_job(submit).await.unwrap();
    if let Some(diff) = diff {
        runner.client.upload_code(diff).await.unwrap();
    }
    runner.client.run_job().await.unwrap();
    runner.pull_to_end().await
}

fn git_in(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_repo_is_cloned_at_its_commit_with_the_uploaded_diff_applied() {
    let runner = Runner::start();
    let git = GitFixture::new();
    let submit = remote_repo_body(
        &runner,
        "cat hello.txt new/dir/added.txt",
        &git.url(),
        &git.commit("second"),
    );
    let diff = std::fs::read(git.path("change.diff")).unwrap();
    let pulled = run_with_diff(&runner, &submit, Some(diff)).await;
    assert_eq!(pulled.last_state().state, JobStatus::Done, "{pulled:?}");
    assert_eq!(pulled.output(), "v2 changed\nadded\n");
    let repo = runner.path("repo");
    assert_eq!(
        std::fs::read(repo.join("data.bin")).unwrap(),
        b"bin\0ary\x02changed"
    );
    assert_eq!(git_in(&repo, &["rev-parse", "HEAD"]), git.commit("second"));
    assert_eq!(git_in(&repo, &["config", "user.email"]), "dev@example.com");
    let config = std::fs::read_to_string(repo.join(".git/config")).unwrap();
    assert!(
        !config.contains("secret-token") && !config.contains("extraHeader"),
        "{config}"
    );
    assert!(!String::from_utf8_lossy(&pulled.runner_logs).contains("secret-token"));
    assert!(!runner.path("runner/repo_blobs").exists());
}

/// `git daemon` serving the fixture's directory on a loopback port, until dropped.
struct GitDaemon {
    process: Child,
    port: u16,
}

impl GitDaemon {
    fn serve(git: &GitFixture) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // git-daemon itself, not `git daemon`: the `git` wrapper runs it as a child, which
        // killing the wrapper would leave running.
        let exec_path = Command::new("git").arg("--exec-path").output().unwrap();
        let exec_path = String::from_utf8_lossy(&exec_path.stdout).trim().to_owned();
        let process = Command::new(Path::new(&exec_path).join("git-daemon"))
            .args(["--export-all", "--reuseaddr", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", git.path("").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < DEADLINE, "git daemon did not listen");
            std::thread::sleep(POLL);
        }
        Self { process, port }
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_repo_is_cloned_over_the_git_protocol() {
    let runner = Runner::start();
    let git = GitFixture::new();
    let daemon = GitDaemon::serve(&git);
    let url = format!("git://127.0.0.1:{}/origin.git", daemon.port);
    let submit = remote_repo_body(&runner, "cat hello.txt", &url, &git.commit("second"));
    let diff = std::fs::read(git.path("change.diff")).unwrap();
    let pulled = run_with_diff(&runner, &submit, Some(diff)).await;
    assert_eq!(pulled.last_state().state, JobStatus::Done, "{pulled:?}");
    assert_eq!(pulled.output(), "v2 changed\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_commit_is_checked_out_and_an_empty_diff_changes_nothing() {
    let runner = Runner::start();
    let git = GitFixture::new();
    let submit = remote_repo_body(&runner, "cat hello.txt", &git.url(), &git.commit("first"));
    let pulled = run_with_diff(&runner, &submit, Some(Vec::new())).await;
    assert_eq!(pulled.last_state().state, JobStatus::Done, "{pulled:?}");
    assert_eq!(pulled.output(), "v1\n");
}

/// Runs a remote-repo job that must fail before its commands; its failure message.
async fn failed_repo_setup(runner: &Runner, submit: &SubmitBody, diff: Option<Vec<u8>>) -> String {
    let pulled = run_with_diff(runner, submit, diff).await;
    assert_eq!(states(&pulled), vec![JobStatus::Failed], "{pulled:?}");
    let last = pulled.last_state();
    assert_eq!(
        last.termination_reason,
        Some(JobTerminationReason::ContainerExitedWithError)
    );
    assert!(pulled.logs.is_empty(), "the job's commands ran");
    last.termination_message.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_commit_fails_the_repo_setup() {
    let runner = Runner::start();
    let git = GitFixture::new();
    let wrong = "0123456789abcdef0123456789abcdef01234567";
    let submit = remote_repo_body(&runner, "true", &git.url(), wrong);
    let message = failed_repo_setup(&runner, &submit, None).await;
    assert!(
        message.starts_with(&format!(
            "cannot set up the repo: commit {wrong} is not in file://"
        )),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_diff_that_does_not_apply_fails_the_repo_setup() {
    let runner = Runner::start();
    let git = GitFixture::new();
    let submit = remote_repo_body(&runner, "true", &git.url(), &git.commit("second"));
    let diff = std::fs::read(git.path("bad.diff")).unwrap();
    let message = failed_repo_setup(&runner, &submit, Some(diff)).await;
    assert!(
        message.starts_with(&format!(
            "cannot set up the repo: cannot apply the uploaded diff to commit {}: ",
            git.commit("second")
        )),
        "{message}"
    );
    assert!(message.contains("hello.txt"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_remote_fails_the_repo_setup() {
    let runner = Runner::start();
    let submit = remote_repo_body(&runner, "true", "file:///nonexistent/repo.git", "");
    let message = failed_repo_setup(&runner, &submit, None).await;
    assert!(
        message.starts_with("cannot set up the repo: cannot clone file:///nonexistent/repo.git: "),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_repo_without_git_in_the_image_says_so() {
    let runner = Runner::start_with_env(&[("PATH", "/nonexistent")]);
    let git = GitFixture::new();
    let submit = remote_repo_body(&runner, "/bin/true", &git.url(), &git.commit("second"));
    let message = failed_repo_setup(&runner, &submit, None).await;
    assert_eq!(
        message,
        "cannot set up the repo: the image has no `git` executable, which a remote repo needs: \
         install git in it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_version_is_one_a_dstack_server_gives_every_feature() {
    let printed = Command::new(env!("CARGO_BIN_EXE_dstack-runner"))
        .arg("--version")
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&printed.stdout).into_owned();
    let version = line
        .strip_prefix("dstack-runner version ")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("not `<name> version <version>`: {line:?}"));
    assert_eq!(version, dstack_runner::VERSION);
    let runner = Runner::start();
    assert_eq!(runner.client.healthcheck().await.unwrap().version, version);
    // dstack 0.22.5's own parser: `None` means "newest", so no feature is gated off.
    let python = std::env::var("DSTACK_TEST_PYTHON")
        .expect("DSTACK_TEST_PYTHON is not set: source scripts/setup/30-dstack-cli.sh");
    let parsed = Command::new(python)
        .args([
            "-c",
            "import sys; from dstack._internal.server.services.runner.client import \
             _parse_version; print(_parse_version(sys.argv[1]))",
            version,
        ])
        .output()
        .unwrap();
    assert!(parsed.status.success(), "{parsed:?}");
    assert_eq!(String::from_utf8_lossy(&parsed.stdout), "None\n");
}

//! Jobs end to end in real containers: the shim starts a task of a test image with the real,
//! statically linked runner inside (`DSTACK_TEST_STATIC_RUNNER`, built by
//! `scripts/setup/40-static-runner.sh`), and the test drives that runner as dstack's server
//! does: submit, upload, run, then pull states and logs until the runner has nothing more.
//!
//! Every case is written once and run on each test image ([`on_each_image!`]): a static
//! busybox (no libc, no git) and a Debian made with debootstrap.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use common::{DEADLINE, POLL_INTERVAL, TestImage, TestShim};
use dstack_agents::runner::{JobStateEvent, RunnerClient, SubmitBody};
use dstack_agents::shim::{InstanceMountPoint, NetworkMode, TaskSubmitRequest};
use dstack_core::status::{JobStatus, JobTerminationReason};
use dstack_shim::settings::Settings;
use serde_json::{Value, json};

/// Where the git fixture is mounted in containers.
const GIT_MOUNT: &str = "/srv/git";

fn static_runner() -> PathBuf {
    let path = std::env::var("DSTACK_TEST_STATIC_RUNNER")
        .expect("DSTACK_TEST_STATIC_RUNNER is not set: source scripts/setup/40-static-runner.sh");
    PathBuf::from(path)
}

/// A job's runner in a container of `image`, and the shim that started it.
struct JobContainer {
    runner: RunnerClient,
    /// The host port of the container's sshd.
    ssh_port: u16,
    image: String,
    _shim: TestShim,
}

impl JobContainer {
    /// Starts a task of `image` and waits until its runner answers.
    async fn start(image: &str, instance_mounts: Vec<InstanceMountPoint>) -> Self {
        Self::start_with(
            image,
            TaskSubmitRequest {
                instance_mounts,
                ..Default::default()
            },
        )
        .await
    }

    /// Starts a task of `image` from `request` (its image, name and networking are set here).
    async fn start_with(image: &str, request: TaskSubmitRequest) -> Self {
        let home = tempfile::tempdir().unwrap();
        let settings = Settings::try_parse_from([
            "dstack-shim".as_ref(),
            "--shim-home".as_ref(),
            home.path().join("shim").as_os_str(),
            "--runner-binary-path".as_ref(),
            static_runner().as_os_str(),
        ])
        .unwrap();
        let mut shim = TestShim::start_with(settings, home).await;
        // Bridge networking: each runner gets its own host port, so tests run side by side.
        let id = shim
            .submit_with(TaskSubmitRequest {
                image_name: image.to_owned(),
                network_mode: NetworkMode::Bridge,
                ..request
            })
            .await;
        let task = shim.wait_running(&id).await;
        let ports = task.ports.unwrap_or_default();
        let host_port = |container: u16| {
            ports
                .iter()
                .find(|port| port.container == container)
                .expect("a runner port is not published")
                .host
        };
        let (port, ssh_port) = (host_port(10999), host_port(10022));
        let runner = RunnerClient::new(format!("http://127.0.0.1:{port}"));
        let started = Instant::now();
        while runner.healthcheck().await.is_err() {
            let task = shim.client.get_task(&id).await.unwrap();
            assert!(
                started.elapsed() < DEADLINE,
                "the runner never answered: {task:?}"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        Self {
            runner,
            ssh_port,
            image: image.to_owned(),
            _shim: shim,
        }
    }

    /// Submits `body`, uploads `code` when given, and runs the job.
    async fn run(&self, body: &SubmitBody, code: Option<Vec<u8>>) {
        self.runner.submit_job(body).await.unwrap();
        if let Some(code) = code {
            self.runner.upload_code(code).await.unwrap();
        }
        self.runner.run_job().await.unwrap();
    }

    /// Pulls incrementally, each time from the last timestamp, until the runner has no more.
    async fn pull_to_end(&self) -> Pulled {
        let mut pulled = Pulled::default();
        let started = Instant::now();
        loop {
            let response = self.runner.pull(pulled.since).await.unwrap();
            pulled.pulls += 1;
            pulled.since = response.last_updated;
            pulled.states.extend(response.job_states);
            for event in response.job_logs {
                pulled.logs.extend(event.message);
            }
            if !response.has_more {
                return pulled;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "the job did not end: {pulled:?}"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Pulls until the job's output contains `text`.
    async fn wait_for_output(&self, text: &str) {
        let started = Instant::now();
        let mut since = 0;
        let mut output = Vec::new();
        while !String::from_utf8_lossy(&output).contains(text) {
            assert!(started.elapsed() < DEADLINE, "no {text:?} in the output");
            let response = self.runner.pull(since).await.unwrap();
            since = response.last_updated;
            output.extend(
                response
                    .job_logs
                    .into_iter()
                    .flat_map(|event| event.message),
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Pulls until `no_connections_secs` satisfies `wanted`; that value.
    async fn wait_for_idle_secs(&self, wanted: impl Fn(i64) -> bool) -> i64 {
        let started = Instant::now();
        loop {
            let idle = self
                .runner
                .pull(i64::MAX)
                .await
                .unwrap()
                .no_connections_secs;
            if wanted(idle) {
                return idle;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "no_connections_secs stays {idle}"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// A submit body for `script` run by `/bin/sh -c` in this image, `job_spec` overridden.
    fn body(&self, script: &str, job_spec: Value) -> SubmitBody {
        let mut spec = json!({
            "replica_num": 0, "job_num": 0, "jobs_per_replica": 1, "user": null,
            "commands": ["/bin/sh", "-c", script], "env": {}, "max_duration": null,
            "working_dir": "/job", "repo_dir": "/workflow",
            "repo_data": {"repo_type": "virtual"}, "repo_exists_action": "error",
            "file_archives": []
        });
        if let (Some(spec), Value::Object(overrides)) = (spec.as_object_mut(), job_spec) {
            spec.extend(overrides);
        }
        serde_json::from_value(json!({
            "run": {"id": "0b2f5a39-42a9-4f64-8e36-5d2b5b0d7a11", "run_spec": {
                "run_name": "docker-run", "repo_id": "test-repo",
                "configuration": {"type": "task", "image": self.image}}},
            "job_spec": spec,
            "job_submission": {"id": "5d0e2c41-1a8c-4c7b-9d3e-3f5a7b9c1d2e"},
            "cluster_info": {"job_ips": [], "master_job_ip": "", "gpus_per_job": 0},
            "secrets": {}, "repo_credentials": null, "log_quota_hour": null
        }))
        .unwrap()
    }
}

#[derive(Debug, Default)]
struct Pulled {
    since: i64,
    pulls: usize,
    states: Vec<JobStateEvent>,
    logs: Vec<u8>,
}

impl Pulled {
    fn last_state(&self) -> &JobStateEvent {
        self.states.last().expect("no job state")
    }

    /// The job's output as text; the runner runs jobs on a terminal, whose `\r\n` line ends
    /// read as `\n` here.
    fn output(&self) -> String {
        String::from_utf8_lossy(&self.logs).replace("\r\n", "\n")
    }

    fn states(&self) -> Vec<JobStatus> {
        self.states.iter().map(|event| event.state).collect()
    }
}

/// Runs each listed case, an `async fn(&TestImage)`, once per test image, as
/// `<image>::<case>` tests.
macro_rules! on_each_image {
    ($($case:ident),* $(,)?) => {
        mod busybox {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $case() {
                    super::$case(&super::TestImage::busybox()).await;
                }
            )*
        }
        mod debian {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $case() {
                    super::$case(&super::TestImage::debian()).await;
                }
            )*
        }
    };
}

on_each_image!(
    prints_and_exits_0,
    exits_3_with_the_code_in_the_message,
    an_unknown_user_fails_before_the_job_starts,
    a_numeric_uid_and_uid_gid_run_as_those_ids,
    the_job_sees_its_env,
    a_login_shell_gets_the_jobs_env_and_working_dir,
    stop_ends_a_long_job_within_its_stop_duration,
    logs_pulled_incrementally_lose_and_repeat_nothing,
    a_remote_repo_is_cloned_with_the_diff_applied_where_git_is_installed,
    ssh_logs_in_with_an_authorized_key_where_sshd_is_installed,
    the_nodes_of_a_cluster_log_in_to_each_other_with_the_job_key,
);

async fn prints_and_exits_0(image: &TestImage) {
    let job = JobContainer::start(&image.name, Vec::new()).await;
    job.run(&job.body("echo hello; echo world", json!({})), None)
        .await;
    let pulled = job.pull_to_end().await;
    assert_eq!(pulled.states(), [JobStatus::Running, JobStatus::Done]);
    assert_eq!(pulled.last_state().exit_status, Some(0));
    assert_eq!(pulled.output(), "hello\nworld\n");
}

async fn exits_3_with_the_code_in_the_message(image: &TestImage) {
    let job = JobContainer::start(&image.name, Vec::new()).await;
    job.run(&job.body("echo failing; exit 3", json!({})), None)
        .await;
    let pulled = job.pull_to_end().await;
    let last = pulled.last_state();
    assert_eq!(last.state, JobStatus::Failed);
    assert_eq!(
        last.termination_reason,
        Some(JobTerminationReason::ContainerExitedWithError)
    );
    assert_eq!(last.exit_status, Some(3));
    assert!(last.termination_message.contains("code 3"), "{last:?}");
    assert_eq!(pulled.output(), "failing\n");
}

async fn an_unknown_user_fails_before_the_job_starts(image: &TestImage) {
    let job = JobContainer::start(&image.name, Vec::new()).await;
    let user = json!({"user": {"uid": null, "gid": null, "username": "alice", "groupname": null}});
    job.run(&job.body("echo the job ran", user), None).await;
    let pulled = job.pull_to_end().await;
    assert_eq!(pulled.states(), [JobStatus::Failed]);
    let last = pulled.last_state();
    assert_eq!(
        last.termination_reason,
        Some(JobTerminationReason::CreatingContainerError)
    );
    assert_eq!(
        last.termination_message,
        format!(r#"user "alice" does not exist in image "{}""#, image.name)
    );
    assert!(pulled.logs.is_empty(), "the job ran: {}", pulled.output());
}

async fn a_numeric_uid_and_uid_gid_run_as_those_ids(image: &TestImage) {
    for (user, expected) in [
        (json!({"uid": 4242, "gid": null}), "4242 0\n"),
        (json!({"uid": 4242, "gid": 4343}), "4242 4343\n"),
    ] {
        let job = JobContainer::start(&image.name, Vec::new()).await;
        let mut user = user;
        user["username"] = Value::Null;
        user["groupname"] = Value::Null;
        job.run(
            &job.body(r#"echo "$(id -u) $(id -g)""#, json!({"user": user})),
            None,
        )
        .await;
        let pulled = job.pull_to_end().await;
        assert_eq!(pulled.last_state().state, JobStatus::Done, "{pulled:?}");
        assert_eq!(pulled.output(), expected);
    }
}

async fn the_job_sees_its_env(image: &TestImage) {
    let job = JobContainer::start(&image.name, Vec::new()).await;
    let env = json!({"env": {"FOO": "bar baz"}});
    job.run(
        &job.body(
            r#"echo "$FOO|$DSTACK_RUN_NAME|$DSTACK_NODES_NUM|$PWD""#,
            env,
        ),
        None,
    )
    .await;
    let pulled = job.pull_to_end().await;
    assert_eq!(pulled.output(), "bar baz|docker-run|1|/job\n");
}

/// What an SSH session gets: a login shell started with an empty environment.
async fn a_login_shell_gets_the_jobs_env_and_working_dir(image: &TestImage) {
    let job = JobContainer::start(&image.name, Vec::new()).await;
    let env = json!({"env": {"FOO": "it's here"}});
    job.run(
        &job.body(
            r#"env -i /bin/sh -lc 'echo "$FOO|$DSTACK_RUN_NAME"; pwd'"#,
            env,
        ),
        None,
    )
    .await;
    let pulled = job.pull_to_end().await;
    assert_eq!(pulled.output(), "it's here|docker-run\n/job\n");
}

async fn stop_ends_a_long_job_within_its_stop_duration(image: &TestImage) {
    let job = JobContainer::start(&image.name, Vec::new()).await;
    let stop_duration = json!({"stop_duration": 5});
    job.run(&job.body("echo started; sleep 600", stop_duration), None)
        .await;
    job.wait_for_output("started").await;
    let stopped_at = Instant::now();
    job.runner.stop().await.unwrap();
    let pulled = job.pull_to_end().await;
    assert!(stopped_at.elapsed() < Duration::from_secs(5 + 2));
    assert_eq!(pulled.last_state().state, JobStatus::Terminated);
}

async fn logs_pulled_incrementally_lose_and_repeat_nothing(image: &TestImage) {
    let job = JobContainer::start(&image.name, Vec::new()).await;
    let script = "i=1; while [ $i -le 500 ]; do echo line $i; echo err $i >&2; \
                  [ $((i % 100)) -eq 0 ] && sleep 0.2; i=$((i+1)); done";
    job.run(&job.body(script, json!({})), None).await;
    let pulled = job.pull_to_end().await;
    let expected: String = (1..=500).map(|i| format!("line {i}\nerr {i}\n")).collect();
    assert_eq!(pulled.output(), expected);
    assert!(pulled.pulls > 1, "the output came in one pull");
}

/// The git fixture of the runner's tests, shared through its script.
fn make_git_fixture(dir: &Path) {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../runner/tests/fixtures/git/make-repo.sh");
    let made = std::process::Command::new(script)
        .arg(dir)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
}

async fn a_remote_repo_is_cloned_with_the_diff_applied_where_git_is_installed(image: &TestImage) {
    let fixture = tempfile::tempdir().unwrap();
    make_git_fixture(fixture.path());
    let mount = InstanceMountPoint {
        instance_path: fixture.path().display().to_string(),
        path: GIT_MOUNT.to_owned(),
    };
    let job = JobContainer::start(&image.name, vec![mount]).await;
    let second = std::fs::read_to_string(fixture.path().join("second")).unwrap();
    let repo_data = json!({"repo_type": "remote", "repo_name": "example.com/o/r",
                           "repo_branch": "main", "repo_hash": second.trim()});
    let spec = json!({"repo_data": repo_data, "working_dir": "/workflow"});
    // The key is for the job's own git; a file:// clone does not use it.
    let mut body = job.body("cat hello.txt new/dir/added.txt ~/.ssh/id_rsa", spec);
    body.repo_credentials = Some(
        serde_json::from_value(
            json!({"clone_url": format!("file://{GIT_MOUNT}/origin.git"),
                                      "private_key": "KEY-FOR-THE-JOB"}),
        )
        .unwrap(),
    );
    let diff = std::fs::read(fixture.path().join("change.diff")).unwrap();
    job.run(&body, Some(diff)).await;
    let pulled = job.pull_to_end().await;
    let last = pulled.last_state();
    if image.has_git {
        assert_eq!(last.state, JobStatus::Done, "{pulled:?}");
        assert_eq!(pulled.output(), "v2 changed\nadded\nKEY-FOR-THE-JOB\n");
    } else {
        assert_eq!(last.state, JobStatus::Failed);
        assert_eq!(
            last.termination_reason,
            Some(JobTerminationReason::ContainerExitedWithError)
        );
        assert!(
            last.termination_message.contains("has no `git` executable"),
            "{last:?}"
        );
    }
}

async fn ssh_logs_in_with_an_authorized_key_where_sshd_is_installed(image: &TestImage) {
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = generate_key(keys.path());
    let request = TaskSubmitRequest {
        container_ssh_keys: vec![public],
        ..Default::default()
    };
    let job = JobContainer::start_with(&image.name, request).await;
    let env = json!({"env": {"FOO": "over ssh"}});
    job.run(&job.body("echo started; sleep 600", env), None)
        .await;
    job.wait_for_output("started").await;
    let ssh_options = [
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "LogLevel=ERROR",
    ];
    let ssh = |command: &str| {
        std::process::Command::new("ssh")
            .arg("-i")
            .arg(&key)
            .args(["-p", &job.ssh_port.to_string()])
            .args(ssh_options)
            .args(["root@127.0.0.1", command])
            .output()
            .unwrap()
    };
    let login = ssh("sh -lc 'echo \"$FOO\"; pwd'");
    if image.has_sshd {
        assert!(login.status.success(), "{login:?}");
        assert_eq!(String::from_utf8_lossy(&login.stdout), "over ssh\n/job\n");
        // The idle counter grows, and a session longer than 10 s resets it: sampled every
        // 2.5 s, a connection must stay open over 12.5 s to be seen lasting over 10 s for sure.
        let idle = job.wait_for_idle_secs(|secs| secs >= 3).await;
        let session = ssh("sleep 16");
        assert!(session.status.success(), "{session:?}");
        job.wait_for_idle_secs(|secs| secs < idle).await;
    } else {
        assert!(!login.status.success(), "{login:?}");
    }
    job.runner.stop().await.unwrap();
    job.pull_to_end().await;
}

/// Generates an Ed25519 key pair in `dir`: the private key's path and the public key.
fn generate_key(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("id");
    let generated = std::process::Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-t", "ed25519", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(generated.status.success(), "{generated:?}");
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public.trim().to_owned())
}

/// Two "nodes" on the container's loopback: the job reaches the second through the sshd
/// with the job's key and the client config the runner wrote.
async fn the_nodes_of_a_cluster_log_in_to_each_other_with_the_job_key(image: &TestImage) {
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = generate_key(keys.path());
    let job = JobContainer::start(&image.name, Vec::new()).await;
    let ssh_key = json!({"ssh_key": {"private": std::fs::read_to_string(&key).unwrap(),
                                     "public": public},
                         "jobs_per_replica": 2});
    let mut body = job.body("ssh -o BatchMode=yes 127.0.0.2 echo reached", ssh_key);
    body.cluster_info.job_ips = vec!["127.0.0.1".to_owned(), "127.0.0.2".to_owned()];
    body.cluster_info.master_job_ip = "127.0.0.1".to_owned();
    job.run(&body, None).await;
    let pulled = job.pull_to_end().await;
    if image.has_sshd {
        assert_eq!(pulled.last_state().state, JobStatus::Done, "{pulled:?}");
        assert!(pulled.output().ends_with("reached\n"), "{pulled:?}");
    } else {
        assert_eq!(pulled.last_state().state, JobStatus::Failed);
    }
}

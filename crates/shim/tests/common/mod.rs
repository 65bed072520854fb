//! What the shim's Docker tests share: a shim served in-process on a free port with its own
//! home, driven with the typed client, that removes the containers it created when dropped.

// Each test binary uses part of this module.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;
use dstack_agents::shim::{ShimClient, TaskInfoResponse, TaskStatus, TaskSubmitRequest};
use dstack_shim::api::ShutdownSignal;
use dstack_shim::settings::Settings;

/// How long a task may take to reach the state a test waits for.
pub const DEADLINE: Duration = Duration::from_secs(60);
/// Pause between two polls of a task's state.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

pub fn busybox_image() -> String {
    std::env::var("DSTACK_TEST_BUSYBOX_IMAGE").unwrap_or_else(|_| "dstack-test/busybox".into())
}

/// The Debian test image made by `scripts/setup/15-debian-image.sh`.
pub fn debian_image() -> String {
    std::env::var("DSTACK_TEST_DEBIAN_IMAGE")
        .unwrap_or_else(|_| "dstack-test/debian:bookworm".into())
}

/// A test image and what a case may expect of it.
#[derive(Debug, Clone)]
pub struct TestImage {
    pub name: String,
    /// Whether `git` is installed, as remote repos need.
    pub has_git: bool,
    /// Whether sshd is installed, as attaching to a job needs.
    pub has_sshd: bool,
}

impl TestImage {
    /// A static busybox: no libc, no package manager, no git.
    pub fn busybox() -> Self {
        Self {
            name: busybox_image(),
            has_git: false,
            has_sshd: false,
        }
    }

    /// A Debian minbase with git, ca-certificates and openssh-server.
    pub fn debian() -> Self {
        Self {
            name: debian_image(),
            has_git: true,
            has_sshd: true,
        }
    }
}

/// A shim serving on a free loopback port until dropped, and the containers it created.
pub struct TestShim {
    pub client: ShimClient,
    pub base_url: String,
    pub home: tempfile::TempDir,
    pub shutdown: ShutdownSignal,
    pub task_ids: Vec<String>,
}

impl TestShim {
    /// Starts a shim whose "runner" is a script with `runner_body` as its shell code.
    pub async fn start(runner_body: &str, extra_flags: &[&str]) -> Self {
        let home = tempfile::tempdir().unwrap();
        let runner = home.path().join("fake-runner");
        std::fs::write(&runner, format!("#!/bin/sh\n{runner_body}\n")).unwrap();
        std::fs::set_permissions(&runner, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut args = vec![
            "dstack-shim".to_owned(),
            "--shim-home".to_owned(),
            home.path().join("shim").display().to_string(),
            "--runner-binary-path".to_owned(),
            runner.display().to_string(),
            "--shim-binary-path".to_owned(),
            env!("CARGO_BIN_EXE_dstack-shim").to_owned(),
        ];
        args.extend(extra_flags.iter().map(|flag| flag.to_string()));
        Self::start_with(Settings::try_parse_from(args).unwrap(), home).await
    }

    pub async fn start_with(settings: Settings, home: tempfile::TempDir) -> Self {
        let shim = dstack_shim::server::start(&settings).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = ShutdownSignal::default();
        tokio::spawn(dstack_shim::server::serve(listener, shim, shutdown.clone()));
        Self {
            client: ShimClient::new(&format!("http://{address}")).unwrap(),
            base_url: format!("http://{address}"),
            home,
            shutdown,
            task_ids: Vec::new(),
        }
    }

    /// Submits a task of `image` with a fresh id.
    pub async fn submit(&mut self, image: &str) -> String {
        self.submit_with(TaskSubmitRequest {
            image_name: image.to_owned(),
            ..Default::default()
        })
        .await
    }

    /// Submits `request` under a fresh id and name, as the server fills it.
    pub async fn submit_with(&mut self, request: TaskSubmitRequest) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.task_ids.push(id.clone());
        let request = TaskSubmitRequest {
            id: id.clone(),
            name: format!("shim-test-{}", &id[..8]),
            container_user: "root".into(),
            gpu: -1,
            ..request
        };
        self.client.submit_task(&request).await.unwrap();
        id
    }

    /// Polls the task until `done` holds for it, failing the test after [`DEADLINE`].
    pub async fn wait_for(
        &self,
        id: &str,
        done: impl Fn(&TaskInfoResponse) -> bool,
    ) -> TaskInfoResponse {
        let started = Instant::now();
        loop {
            let task = self.client.get_task(id).await.unwrap();
            if done(&task) {
                return task;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "task never got there: {task:?}"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    pub async fn wait_terminated(&self, id: &str) -> TaskInfoResponse {
        self.wait_for(id, |task| task.status == TaskStatus::Terminated)
            .await
    }

    pub async fn wait_running(&self, id: &str) -> TaskInfoResponse {
        self.wait_for(id, |task| {
            task.status == TaskStatus::Running && task.ports.is_some()
        })
        .await
    }
}

impl Drop for TestShim {
    fn drop(&mut self) {
        self.shutdown.force.cancel();
        for id in &self.task_ids {
            remove_containers_of(id);
        }
    }
}

pub fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().unwrap()
}

pub fn remove_containers_of(task_id: &str) {
    let listed = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=ai.dstack.shim.task-id={task_id}"),
    ]);
    for container in String::from_utf8_lossy(&listed.stdout).split_whitespace() {
        docker(&["rm", "-f", container]);
    }
}

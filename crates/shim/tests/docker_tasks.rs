//! The shim against the real Docker daemon: each test starts a shim in-process on a free
//! port with its own home, drives it with the typed client, and removes what it created.
//!
//! The runner binary the shim mounts into containers is a small shell script here, so each
//! test decides what "the runner" does: print and exit, fail, or run until stopped.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use clap::Parser;
use common::{TestShim, busybox_image, docker};
use dstack_agents::shim::{
    NetworkMode, ShimClientError, TaskStatus, TaskSubmitRequest, TaskTerminateRequest,
};
use dstack_core::status::JobTerminationReason as Reason;
use dstack_shim::settings::Settings;

fn container_exists(name: &str) -> bool {
    docker(&["container", "inspect", name]).status.success()
}

fn status_of(error: ShimClientError) -> u16 {
    match error {
        ShimClientError::Status { status, .. } => status.as_u16(),
        other => panic!("expected an error status, got {other}"),
    }
}

#[tokio::test]
async fn a_task_that_exits_0_runs_and_ends_done_by_runner() {
    let mut shim = TestShim::start("echo hi; exit 0", &[]).await;
    let id = shim.submit(&busybox_image()).await;
    let task = shim.wait_terminated(&id).await;
    assert_eq!(
        task.termination_reason,
        Some(Reason::DoneByRunner),
        "{task:?}"
    );
    // Ports are set when the task becomes running: `[]` with host networking.
    assert_eq!(task.ports, Some(vec![]));
    assert!(!task.container_id.is_empty());
    let logs = docker(&["logs", &task.container_name]);
    assert_eq!(String::from_utf8_lossy(&logs.stdout).trim(), "hi");
    let listed = shim.client.list_tasks().await.unwrap();
    assert!(
        listed
            .tasks
            .iter()
            .any(|item| item.id == id && item.status == TaskStatus::Terminated)
    );
}

#[tokio::test]
async fn a_non_zero_exit_is_container_exited_with_error_with_the_code() {
    let mut shim = TestShim::start("echo 'out of memory' >&2; exit 3", &[]).await;
    let id = shim.submit(&busybox_image()).await;
    let task = shim.wait_terminated(&id).await;
    assert_eq!(
        task.termination_reason,
        Some(Reason::ContainerExitedWithError)
    );
    assert!(
        task.termination_message.contains("exited with code 3"),
        "{task:?}"
    );
    assert!(
        task.termination_message.contains("out of memory"),
        "{task:?}"
    );
}

#[tokio::test]
async fn a_missing_image_is_creating_container_error_with_dockers_text() {
    let mut shim = TestShim::start("exit 0", &[]).await;
    let id = shim.submit("dstack-test/no-such-image:1").await;
    let task = shim.wait_terminated(&id).await;
    assert_eq!(
        task.termination_reason,
        Some(Reason::CreatingContainerError)
    );
    let message = &task.termination_message;
    assert!(
        message.starts_with("cannot pull image dstack-test/no-such-image:1: "),
        "{message}"
    );
    assert!(message.len() > "cannot pull image dstack-test/no-such-image:1: ".len());
    assert_eq!(task.ports, None, "the task never ran");
    assert!(!container_exists(&task.container_name));
}

#[tokio::test]
async fn a_container_that_cannot_be_created_is_creating_container_error() {
    // The runner binary path does not exist, so Docker refuses the bind mount.
    let mut shim = TestShim::start("exit 0", &[]).await;
    let missing = shim.home.path().join("no-runner");
    let settings = Settings::try_parse_from([
        "dstack-shim",
        "--shim-home",
        &shim.home.path().join("shim2").display().to_string(),
        "--runner-binary-path",
        &missing.display().to_string(),
    ])
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut broken = TestShim::start_with(settings, home).await;
    let id = broken.submit(&busybox_image()).await;
    let task = broken.wait_terminated(&id).await;
    assert_eq!(
        task.termination_reason,
        Some(Reason::CreatingContainerError)
    );
    assert!(task.termination_message.contains("no-runner"), "{task:?}");
    shim.task_ids.append(&mut broken.task_ids);
}

#[tokio::test]
async fn terminate_stops_a_long_task_and_keeps_the_first_reason() {
    let mut shim = TestShim::start("exec sleep 600", &[]).await;
    let id = shim.submit(&busybox_image()).await;
    let running = shim.wait_running(&id).await;
    assert_eq!(running.termination_reason, None);

    let started = Instant::now();
    let request = TaskTerminateRequest {
        termination_reason: Some(Reason::TerminatedByUser),
        termination_message: "stopped by the user".into(),
        timeout: 0,
    };
    let task = shim.client.terminate_task(&id, &request).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "timeout 0 kills at once"
    );
    assert_eq!(task.status, TaskStatus::Terminated);
    assert_eq!(task.termination_reason, Some(Reason::TerminatedByUser));
    let state = docker(&[
        "container",
        "inspect",
        "-f",
        "{{.State.Running}}",
        &task.container_name,
    ]);
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "false");

    // A second terminate with another reason changes nothing.
    let again = TaskTerminateRequest {
        termination_reason: Some(Reason::TerminatedByServer),
        ..Default::default()
    };
    let task = shim.client.terminate_task(&id, &again).await.unwrap();
    assert_eq!(task.termination_reason, Some(Reason::TerminatedByUser));
    assert_eq!(task.termination_message, "stopped by the user");
}

#[tokio::test]
async fn remove_needs_a_terminated_task_then_forgets_it_and_its_container() {
    let mut shim = TestShim::start("exec sleep 600", &[]).await;
    let id = shim.submit(&busybox_image()).await;
    let task = shim.wait_running(&id).await;

    assert_eq!(
        status_of(shim.client.remove_task(&id).await.unwrap_err()),
        409
    );
    shim.client
        .terminate_task(&id, &TaskTerminateRequest::default())
        .await
        .unwrap();
    shim.client.remove_task(&id).await.unwrap();

    assert_eq!(status_of(shim.client.get_task(&id).await.unwrap_err()), 404);
    assert!(!container_exists(&task.container_name));
    let runner_dir = shim
        .home
        .path()
        .join("shim/runners")
        .join(&task.container_name);
    assert!(!runner_dir.exists());
    assert_eq!(
        status_of(shim.client.remove_task(&id).await.unwrap_err()),
        404
    );
}

#[tokio::test]
async fn a_restarted_shim_takes_back_its_running_containers() {
    let mut first = TestShim::start("exec sleep 600", &[]).await;
    let id = first
        .submit_with(TaskSubmitRequest {
            image_name: busybox_image(),
            network_mode: NetworkMode::Bridge,
            ..Default::default()
        })
        .await;
    let task = first.wait_running(&id).await;
    first.shutdown.force.cancel();

    let settings = Settings::try_parse_from([
        "dstack-shim",
        "--shim-home",
        &first.home.path().join("shim").display().to_string(),
    ])
    .unwrap();
    let second = TestShim::start_with(settings, tempfile::tempdir().unwrap()).await;
    let restored = second.client.get_task(&id).await.unwrap();
    assert_eq!(restored.status, TaskStatus::Running);
    assert_eq!(restored.container_name, task.container_name);
    assert_eq!(restored.ports, task.ports);
    assert_eq!(restored.ports.map(|ports| ports.len()), Some(2));

    // The restored container is watched: stopping it outside the shim ends the task.
    docker(&["kill", &task.container_name]);
    let ended = second.wait_terminated(&id).await;
    assert_eq!(
        ended.termination_reason,
        Some(Reason::ContainerExitedWithError)
    );
    assert!(ended.termination_message.contains("code 137"), "{ended:?}");
}

#[tokio::test]
async fn submit_refuses_duplicates_and_missing_fields() {
    let mut shim = TestShim::start("exec sleep 600", &[]).await;
    let id = shim.submit(&busybox_image()).await;
    let duplicate = TaskSubmitRequest {
        id: id.clone(),
        name: "again".into(),
        image_name: busybox_image(),
        ..Default::default()
    };
    assert_eq!(
        status_of(shim.client.submit_task(&duplicate).await.unwrap_err()),
        409
    );
    let nameless = TaskSubmitRequest {
        id: "other".into(),
        image_name: busybox_image(),
        ..Default::default()
    };
    match shim.client.submit_task(&nameless).await.unwrap_err() {
        ShimClientError::Status { status, body, .. } => {
            assert_eq!(status.as_u16(), 400);
            assert_eq!(body, "name is required");
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        status_of(shim.client.get_task("unknown").await.unwrap_err()),
        404
    );
    shim.client
        .terminate_task(&id, &TaskTerminateRequest::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn healthcheck_instance_info_and_host_info() {
    let shim = TestShim::start("exit 0", &["--service"]).await;
    let health = shim.client.healthcheck().await.unwrap();
    assert_eq!(health.service, "dstack-shim");
    assert_eq!(health.version, dstack_shim::VERSION);
    let health = shim.client.instance_health().await.unwrap();
    assert_eq!(health.dcgm, None);
    if !Path::new("/dev/nvidiactl").exists() && !Path::new("/dev/kfd").exists() {
        assert_eq!(
            shim.client.instance_info().await.unwrap(),
            Default::default()
        );
    }

    let written = std::fs::read(shim.home.path().join("shim/host_info.json")).unwrap();
    let info: dstack_agents::shim::HostInfo = serde_json::from_slice(&written).unwrap();
    // Every CPU of the host, which is at least as many as this process may use.
    assert!(info.cpus >= std::thread::available_parallelism().unwrap().get());
    assert!(info.memory > 64 << 20);
    assert!(info.disk_size > 0);

    let components = shim.client.components().await.unwrap().components;
    // The fake runner does not answer `--version` as dstack's agents do.
    assert_eq!(
        components[0].status,
        dstack_agents::shim::ComponentStatus::Error
    );
    assert_eq!(components[1].version, dstack_shim::VERSION);
}

#[tokio::test]
async fn bridge_networking_publishes_the_runner_ports_on_loopback() {
    let mut shim = TestShim::start("exec sleep 600", &[]).await;
    let id = shim
        .submit_with(TaskSubmitRequest {
            image_name: busybox_image(),
            network_mode: NetworkMode::Bridge,
            shm_size: 1 << 20,
            ..Default::default()
        })
        .await;
    let task = shim.wait_running(&id).await;
    let ports = task.ports.unwrap();
    let containers: Vec<u16> = ports.iter().map(|port| port.container).collect();
    assert_eq!(containers, [10022, 10999]);
    assert!(ports.iter().all(|port| port.host > 0));
    let shm = docker(&[
        "exec",
        &task.container_name,
        "sh",
        "-c",
        "grep /dev/shm /proc/mounts",
    ]);
    let shm = String::from_utf8_lossy(&shm.stdout).into_owned();
    assert!(
        shm.contains("size=1024k") && !shm.contains("noexec"),
        "{shm}"
    );
    shim.client
        .terminate_task(&id, &TaskTerminateRequest::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_requests_get_dstacks_plain_text_errors() {
    let shim = TestShim::start("exit 0", &[]).await;
    let http = dstack_agents::http::plain_client();
    let url = |path: &str| format!("{}{path}", shim.base_url);
    let answer = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    };

    let response = http
        .post(url("/api/tasks"))
        .header("content-type", "text/plain")
        .body("{}");
    assert_eq!(
        answer(response.send().await.unwrap()).await,
        (
            415,
            "Content-Type header is not application/json\n".to_owned()
        )
    );
    let response = http
        .post(url("/api/tasks"))
        .header("content-type", "application/json");
    assert_eq!(
        answer(response.send().await.unwrap()).await,
        (400, "Request body must not be empty\n".to_owned())
    );
    let response = http.post(url("/api/tasks")).body(r#"{"id": 5}"#);
    let (status, text) = answer(response.send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(
        text.starts_with("invalid request body: invalid type: integer `5`"),
        "{text}"
    );
    let response = http.post(url("/api/tasks")).body(vec![b' '; (1 << 20) + 1]);
    assert_eq!(answer(response.send().await.unwrap()).await.0, 413);
    let response = http.get(url("/api/nothing-here"));
    assert_eq!(
        answer(response.send().await.unwrap()).await,
        (404, "404 page not found\n".to_owned())
    );
    let response = http.get(url("/metrics/tasks/some-task"));
    assert_eq!(answer(response.send().await.unwrap()).await.0, 404);
    let response = http.delete(url("/api/tasks"));
    assert_eq!(answer(response.send().await.unwrap()).await.0, 405);
}

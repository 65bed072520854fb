//! `/api/components`: the binaries the shim reports, and installs downloaded from a local
//! HTTP server with the host's curl.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::routing::get;
use common::{DEADLINE, POLL_INTERVAL, TestShim};
use dstack_agents::shim::{
    ComponentInfo, ComponentInstallRequest, ComponentName, ComponentStatus, ShimClientError,
};
use tokio::sync::Semaphore;

/// What the download server hands out as the new runner.
const NEW_RUNNER: &str = "#!/bin/sh\necho 'dstack-runner version 0.22.5'\n";

/// Serves `/runner` once `gate` has a permit, and 404 for anything else. Its base URL.
async fn serve_downloads(gate: Arc<Semaphore>) -> String {
    let app = Router::new().route(
        "/runner",
        get(move || async move {
            let _permit = gate.acquire().await.unwrap();
            NEW_RUNNER
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

async fn runner_component(shim: &TestShim) -> ComponentInfo {
    let components = shim.client.components().await.unwrap().components;
    assert_eq!(components[1].name, ComponentName::Shim);
    assert_eq!(components[1].status, ComponentStatus::Installed);
    components[0].clone()
}

async fn wait_not_installing(shim: &TestShim) -> ComponentInfo {
    let started = Instant::now();
    loop {
        let runner = runner_component(shim).await;
        if runner.status != ComponentStatus::Installing {
            return runner;
        }
        assert!(started.elapsed() < DEADLINE, "the install never ended");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

fn install(url: String) -> ComponentInstallRequest {
    ComponentInstallRequest {
        name: ComponentName::Runner,
        url,
    }
}

fn status_of(error: ShimClientError) -> u16 {
    match error {
        ShimClientError::Status { status, .. } => status.as_u16(),
        other => panic!("expected an error status, got {other}"),
    }
}

#[tokio::test]
async fn an_install_downloads_the_binary_and_a_second_one_meanwhile_is_a_conflict() {
    let shim = TestShim::start("exit 0", &[]).await;
    assert_eq!(
        runner_component(&shim).await.status,
        ComponentStatus::Error,
        "the fake runner does not answer --version as dstack's does"
    );
    let gate = Arc::new(Semaphore::new(0));
    let base = serve_downloads(gate.clone()).await;

    shim.client
        .install_component(&install(format!("{base}/runner")))
        .await
        .unwrap();
    let installing = runner_component(&shim).await;
    assert_eq!(installing.status, ComponentStatus::Installing);
    assert_eq!(installing.version, "");
    let again = shim
        .client
        .install_component(&install(format!("{base}/runner")))
        .await;
    assert_eq!(status_of(again.unwrap_err()), 409);

    gate.add_permits(1);
    let installed = wait_not_installing(&shim).await;
    assert_eq!(installed.status, ComponentStatus::Installed);
    assert_eq!(installed.version, "0.22.5");
    let runner = shim.home.path().join("fake-runner");
    assert_eq!(std::fs::read_to_string(&runner).unwrap(), NEW_RUNNER);
    let mode = std::fs::metadata(&runner).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[tokio::test]
async fn a_failed_download_keeps_the_binary_and_bad_requests_are_refused() {
    let shim = TestShim::start("exit 0", &[]).await;
    let base = serve_downloads(Arc::new(Semaphore::new(0))).await;
    let runner = shim.home.path().join("fake-runner");
    let before = std::fs::read(&runner).unwrap();

    shim.client
        .install_component(&install(format!("{base}/missing")))
        .await
        .unwrap();
    assert_eq!(
        wait_not_installing(&shim).await.status,
        ComponentStatus::Error
    );
    assert_eq!(std::fs::read(&runner).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(shim.home.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(".download-")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let empty = shim.client.install_component(&install(String::new())).await;
    assert_eq!(status_of(empty.unwrap_err()), 400);
    let http = dstack_agents::http::plain_client();
    let unknown = http
        .post(format!("{}/api/components/install", shim.base_url))
        .body(r#"{"name":"dstack-other","url":"http://x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 400);
}

//! Host checks and the real `dstack-shim` deployed into a test host.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use dstack_server::connect::ConnectError;
use dstack_server::connect::deploy::{self, DeployError, Docker, ShimDeployment, Supervisor};

use crate::host::{TestHost, generate_key};
use crate::pool::{pool, target};

/// The `dstack-shim` binary of this workspace, built (or brought up to date) in the target
/// directory this test runs from.
pub fn shim_binary() -> PathBuf {
    let test_exe = std::env::current_exe().expect("test executable");
    // <target>/<profile>/deps/<test>
    let profile_dir = test_exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("profile dir");
    let target_dir = profile_dir.parent().expect("target dir");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build.args([
        "build",
        "--quiet",
        "-p",
        "dstack-shim",
        "--bin",
        "dstack-shim",
    ]);
    build.arg("--target-dir").arg(target_dir);
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "cargo build -p dstack-shim failed");
    profile_dir.join("dstack-shim")
}

#[tokio::test]
async fn inspects_the_host_and_deploys_the_shim() {
    let host = TestHost::start();
    let pool = pool();
    let target = target(&host, &host.key);

    let facts = deploy::inspect_host(&pool, &target).await.expect("inspect");
    assert_eq!(facts.arch, std::env::consts::ARCH);
    // The namespace shares the file system, and so Docker's socket, with this machine.
    assert!(matches!(facts.docker, Docker::Running(_)), "{facts:?}");
    assert!(!facts.systemd, "{facts:?}");

    let working_dir = host.dir().join("shim");
    let deployment = ShimDeployment {
        binary: std::fs::read(shim_binary()).expect("shim binary").into(),
        binary_path: host.dir().join("dstack-shim").display().to_string(),
        working_dir: working_dir.display().to_string(),
        http_port: 10998,
        env: vec![("DSTACK_SHIM_LOG_LEVEL".to_owned(), "debug".to_owned())],
        supervisor: Supervisor::for_host(&facts),
    };
    for attempt in ["first", "again, replacing the running shim"] {
        let health = deploy::deploy_shim(&pool, &target, &deployment, Duration::from_secs(60))
            .await
            .unwrap_or_else(|error| {
                let log = std::fs::read_to_string(working_dir.join("shim.stdout"));
                panic!("deploy {attempt}: {error}; shim output: {log:?}")
            });
        assert_eq!(health.service, "dstack-shim", "{attempt}");
        // Service mode, from shim.env: the shim describes the host.
        let host_info =
            std::fs::read_to_string(working_dir.join("host_info.json")).expect("host_info.json");
        let host_info: serde_json::Value = serde_json::from_str(&host_info).unwrap();
        assert!(
            host_info["cpus"].as_u64().is_some_and(|cpus| cpus > 0),
            "{host_info}"
        );
    }
    assert_eq!(host.count_processes("dstack-shim"), 1, "one shim runs");

    let error = deploy::deploy_shim(
        &pool,
        &target,
        &ShimDeployment {
            env: vec![("BAD NAME".to_owned(), "x".to_owned())],
            ..deployment
        },
        Duration::from_secs(1),
    )
    .await
    .expect_err("invalid variable name");
    assert!(error.to_string().contains("BAD NAME"), "{error}");
}

#[tokio::test]
async fn authorizes_the_project_key_once() {
    let host = TestHost::start();
    let pool = pool();
    let with_user_key = target(&host, &host.key);
    let project_key = generate_key("ed25519");
    let with_project_key = target(&host, &project_key);
    let error = pool
        .connect(&with_project_key)
        .await
        .expect_err("not authorized yet");
    assert!(matches!(error, ConnectError::AuthRefused { .. }), "{error}");

    for _ in 0..2 {
        deploy::authorize_keys(
            &pool,
            &with_user_key,
            std::slice::from_ref(&project_key.public),
        )
        .await
        .expect("authorize");
    }
    let authorized = std::fs::read_to_string(host.home().join(".ssh/authorized_keys")).unwrap();
    assert_eq!(authorized.lines().count(), 1, "{authorized}");
    assert!(authorized.ends_with("# added by dstack\n"), "{authorized}");
    // The same user and host with another key is a new pool entry, with no back-off.
    pool.connect(&with_project_key)
        .await
        .expect("the project key logs in");

    let error = deploy::authorize_keys(&pool, &with_user_key, &["not-a-key".to_owned()])
        .await
        .expect_err("not a key line");
    assert!(matches!(error, DeployError::PublicKey { .. }), "{error}");
}

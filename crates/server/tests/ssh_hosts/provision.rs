//! Provisioning SSH fleet hosts end to end: the real `dstack-shim` installed into test hosts
//! and started in service mode, its `host_info.json` read back, and the failures that keep an
//! instance pending apart from those that terminate it.

use std::process::Command;
use std::sync::{Arc, OnceLock};

use dstack_agents::shim::{ComponentName, ComponentStatus, ShimClient, ShimRuntime};
use dstack_core::backend::BackendType;
use dstack_core::configuration::fleet::{AutoBlocks, Blocks};
use dstack_core::resources::CpuArch;
use dstack_server::connect::provision::{
    self, AgentBinaries, HostLayout, HostToProvision, ProvisionError, ProvisionedHost,
    RemoteBackendData,
};
use dstack_server::connect::{
    FleetHostError, KeyError, RemoteConnectionInfo, SshPool, agent_address,
};
use serde_json::json;

use crate::deploy::shim_binary;
use crate::host::{ClientKey, TestHost, generate_key};
use crate::pool::{pool, target};

/// The version the stand-in runner prints; the shim reports it once it finds the runner.
const RUNNER_VERSION: &str = "0.0.1-provision-test";

/// The workspace's shim and a stand-in runner that only answers `--version`: the shim runs
/// the runner only for jobs, and lists it as a component by its version line.
fn agents() -> AgentBinaries {
    static AGENTS: OnceLock<AgentBinaries> = OnceLock::new();
    AGENTS
        .get_or_init(|| AgentBinaries {
            arch: match std::env::consts::ARCH {
                "aarch64" => CpuArch::Arm,
                _ => CpuArch::X86,
            },
            shim: Arc::from(std::fs::read(shim_binary()).expect("shim binary")),
            runner: Arc::from(
                format!("#!/bin/sh\necho 'dstack-runner version {RUNNER_VERSION}'\n").as_bytes(),
            ),
        })
        .clone()
}

/// The agents in the host's own directory.
fn layout(host: &TestHost) -> HostLayout {
    HostLayout {
        bin_dir: host.dir().join("bin").display().to_string(),
        working_dir: host.dir().join("shim").display().to_string(),
        ..HostLayout::default()
    }
}

/// The connection info the fleet service stores for `host`, in its stored form.
fn connection(host: &TestHost, key: &ClientKey, extra: serde_json::Value) -> RemoteConnectionInfo {
    let mut stored = json!({
        "host": host.address,
        "port": 22,
        "ssh_user": "root",
        "ssh_keys": [{"public": key.public, "private": key.private}],
        "ssh_proxy": null,
        "internal_ip": null,
        "env": {"DSTACK_SHIM_LOG_LEVEL": "debug"},
    });
    for (name, value) in extra.as_object().expect("an object") {
        stored[name] = value.clone();
    }
    serde_json::from_value(stored).expect("remote connection info")
}

fn auto() -> Blocks {
    Blocks::Auto(AutoBlocks::Value)
}

async fn provision(
    pool: &SshPool,
    host: &TestHost,
    connection: &RemoteConnectionInfo,
    blocks: Blocks,
    project_key: &ClientKey,
) -> Result<ProvisionedHost, ProvisionError> {
    provision_in(pool, &layout(host), connection, blocks, project_key).await
}

async fn provision_in(
    pool: &SshPool,
    layout: &HostLayout,
    connection: &RemoteConnectionInfo,
    blocks: Blocks,
    project_key: &ClientKey,
) -> Result<ProvisionedHost, ProvisionError> {
    let agents = agents();
    let request = HostToProvision {
        connection,
        blocks,
        project_public_key: &project_key.public,
        agents: &agents,
        layout,
    };
    provision::provision_host(pool, &request).await
}

/// The shim's log, for failure messages.
fn shim_log(host: &TestHost) -> String {
    std::fs::read_to_string(host.dir().join("shim/shim.stdout")).unwrap_or_default()
}

#[tokio::test]
async fn provisions_a_host_and_reaches_its_shim() {
    let host = TestHost::start();
    let pool = pool();
    let project_key = generate_key("ed25519");
    let connection = connection(&host, &host.key, json!({}));
    let provisioned = provision(&pool, &host, &connection, auto(), &project_key)
        .await
        .unwrap_or_else(|error| panic!("{error}; shim: {}", shim_log(&host)));

    let resources = &provisioned.instance_type.resources;
    assert_eq!(provisioned.instance_type.name, "instance");
    assert!(
        resources.cpus > 0 && resources.memory_mib > 0,
        "{resources:?}"
    );
    assert!(resources.disk.size_mib > 0, "{resources:?}");
    assert!(resources.gpus.is_empty(), "no GPUs here: {resources:?}");
    assert_eq!(
        provisioned.total_blocks, resources.cpus,
        "auto without GPUs"
    );
    assert_eq!(
        provisioned.internal_ip.as_deref(),
        Some(host.address.as_str())
    );
    assert_eq!(provisioned.runtime, ShimRuntime::Docker);
    assert_eq!(provisioned.health.service, "dstack-shim");

    let data = &provisioned.job_provisioning_data;
    assert_eq!(data.backend, BackendType::Remote);
    assert_eq!(data.region, "remote");
    assert_eq!(data.hostname.as_deref(), Some(host.address.as_str()));
    assert_eq!(data.internal_ip, provisioned.internal_ip);
    assert_eq!((data.username.as_str(), data.ssh_port), ("root", Some(22)));
    assert!(data.dockerized);
    assert_eq!(data.price, 0.0);
    let backend_data = RemoteBackendData::parse(data.backend_data.as_deref().unwrap()).unwrap();
    assert_eq!(backend_data.shim_port, 10998);
    assert_eq!(backend_data.runtime, ShimRuntime::Docker);
    let offer = &provisioned.offer;
    assert_eq!((offer.backend, offer.price), (BackendType::Remote, 0.0));
    assert_eq!(offer.total_blocks, provisioned.total_blocks);
    assert_eq!(offer.instance, provisioned.instance_type);

    // The shim answers through the returned forward, and through the stored connection info,
    // and found the runner where its environment says.
    assert_eq!(
        agent_address(&pool, &connection, backend_data.shim_port).unwrap(),
        provisioned.shim_address
    );
    let shim = ShimClient::new(&format!("http://{}", provisioned.shim_address)).unwrap();
    assert_eq!(shim.healthcheck().await.unwrap(), provisioned.health);
    let components = shim.components().await.expect("components");
    let runner = components
        .components
        .iter()
        .find(|component| component.name == ComponentName::Runner)
        .expect("the runner component");
    assert_eq!(
        (runner.status, runner.version.as_str()),
        (ComponentStatus::Installed, RUNNER_VERSION)
    );

    // The project key now logs in too.
    pool.connect(&target(&host, &project_key))
        .await
        .expect("the project key is authorized");

    // Again, with a fixed number of blocks: the shim is replaced, not duplicated.
    let again = provision(&pool, &host, &connection, Blocks::Count(1), &project_key)
        .await
        .unwrap_or_else(|error| panic!("{error}; shim: {}", shim_log(&host)));
    assert_eq!(again.total_blocks, 1);
    assert_eq!(again.offer.total_blocks, 1);
    assert_eq!(host.count_processes("dstack-shim"), 1, "one shim runs");
}

/// Both hosts get dstack's own layout (`/usr/local/bin`, `/root/.dstack`); each sees its own
/// copy of those directories, as separate machines would, so neither replaces the other's shim.
#[tokio::test]
async fn provisions_two_hosts_at_once() {
    let (first, second) = (TestHost::start(), TestHost::start());
    let pool = pool();
    let project_key = generate_key("ed25519");
    let (first_connection, second_connection) = (
        connection(&first, &first.key, json!({})),
        connection(&second, &second.key, json!({})),
    );
    let layout = HostLayout::default();
    let (first_result, second_result) = tokio::join!(
        provision_in(&pool, &layout, &first_connection, auto(), &project_key),
        provision_in(&pool, &layout, &second_connection, auto(), &project_key),
    );
    for (host, result) in [(&first, first_result), (&second, second_result)] {
        let log = host.private_path("/root/.dstack/shim.stdout");
        let provisioned = result.unwrap_or_else(|error| {
            panic!(
                "{error}; shim: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        assert_eq!(host.count_processes("dstack-shim"), 1, "one shim runs");
        assert_eq!(
            provisioned.internal_ip.as_deref(),
            Some(host.address.as_str())
        );
        let shim = ShimClient::new(&format!("http://{}", provisioned.shim_address)).unwrap();
        shim.healthcheck().await.expect("healthcheck");
    }
}

#[tokio::test]
async fn provisions_a_host_behind_a_jump_host() {
    let jump = TestHost::start();
    let hidden = TestHost::start_behind(&jump);
    let pool = pool();
    let proxy = json!({"ssh_proxy": {
        "hostname": jump.address, "port": 22, "user": "root", "identity_file": "~/.ssh/jump",
        "ssh_key": {"public": jump.key.public, "private": jump.key.private}
    }});
    let connection = connection(&hidden, &hidden.key, proxy);
    let provisioned = provision(
        &pool,
        &hidden,
        &connection,
        auto(),
        &generate_key("ed25519"),
    )
    .await
    .unwrap_or_else(|error| panic!("{error}; shim: {}", shim_log(&hidden)));
    assert_eq!(
        provisioned.internal_ip.as_deref(),
        Some(hidden.address.as_str())
    );
    let jump_params = provisioned.job_provisioning_data.ssh_proxy.as_ref();
    assert_eq!(
        jump_params.map(|p| (p.hostname.as_str(), p.username.as_str(), p.port)),
        Some((jump.address.as_str(), "root", 22))
    );
    let shim = ShimClient::new(&format!("http://{}", provisioned.shim_address)).unwrap();
    shim.healthcheck()
        .await
        .expect("the shim through the jump host");
}

#[tokio::test]
async fn an_unreachable_host_is_retried() {
    let mut host = TestHost::start();
    host.stop_sshd();
    let pool = pool();
    let project_key = generate_key("ed25519");
    let connection = connection(&host, &host.key, json!({}));
    let error = provision(&pool, &host, &connection, auto(), &project_key)
        .await
        .expect_err("sshd is stopped");
    assert!(error.is_retryable(), "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&host.address) && message.contains("unreachable"),
        "{message}"
    );
}

#[tokio::test]
async fn misconfigured_hosts_are_not_retried() {
    let host = TestHost::start();
    let pool = pool();
    let project_key = generate_key("ed25519");
    let plain = connection(&host, &host.key, json!({}));
    // No host has this many CPUs, so no CPU count divides into it.
    let error = provision(&pool, &host, &plain, Blocks::Count(1_000_003), &project_key)
        .await
        .expect_err("indivisible blocks");
    assert!(
        matches!(error, ProvisionError::Blocks(_)) && !error.is_retryable(),
        "{error}; shim: {}",
        shim_log(&host)
    );
    assert!(
        error.to_string().contains("1000003 equal blocks"),
        "{error}"
    );

    let elsewhere = connection(&host, &host.key, json!({"internal_ip": "192.168.254.1"}));
    let error = provision(&pool, &host, &elsewhere, auto(), &project_key)
        .await
        .expect_err("internal IP not on the host");
    assert!(
        matches!(error, ProvisionError::InternalIp(_)) && !error.is_retryable(),
        "{error}"
    );
    assert!(error.to_string().contains(&host.address), "{error}");

    let unset = connection(
        &host,
        &host.key,
        json!({"env": {"HF_TOKEN": {"key": "HF_TOKEN"}}}),
    );
    let error = provision(&pool, &host, &unset, auto(), &project_key)
        .await
        .expect_err("env without a value");
    assert!(
        matches!(error, ProvisionError::EnvNotSet { .. }) && !error.is_retryable(),
        "{error}"
    );
}

#[tokio::test]
async fn an_encrypted_key_is_not_retried() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("key");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "secret", "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let key = ClientKey {
        private: std::fs::read_to_string(&path).unwrap(),
        public: std::fs::read_to_string(path.with_extension("pub")).unwrap(),
    };
    let host = TestHost::start();
    let pool = pool();
    let connection = connection(&host, &key, json!({}));
    let error = provision(&pool, &host, &connection, auto(), &generate_key("ed25519"))
        .await
        .expect_err("encrypted key");
    assert!(
        matches!(
            error,
            ProvisionError::Connection(FleetHostError::Key {
                source: KeyError::Encrypted,
                ..
            })
        ) && !error.is_retryable(),
        "{error}"
    );
    assert!(error.to_string().contains("passphrase"), "{error}");
}

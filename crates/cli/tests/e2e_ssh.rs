//! SSH fleets end to end: our `dstack` CLI applies a fleet of test hosts (network namespaces
//! with their own sshd, see `host.rs`) to our server with its pipelines; the server installs
//! the workspace's shim and static runner on them, and tasks run there as host processes
//! (the shim's process runtime, set through the fleet's `env`).

mod support;

// The server's test hosts; this binary uses only a part of them.
#[allow(dead_code)]
#[path = "../../server/tests/ssh_hosts/host.rs"]
mod host;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use host::{ClientKey, TestHost, generate_key};
use serde_json::Value;
use support::{Server, dstack, run_json, write_task};

/// How long provisioning a fleet and running a short task may take: the debug agents are
/// large uploads.
const DEADLINE: Duration = Duration::from_secs(300);

/// How long an unreachable host's job may take to fail: the server tolerates two minutes
/// without contact.
const UNREACHABLE_DEADLINE: Duration = Duration::from_secs(240);

/// A fleet's instances run jobs as host processes: the test hosts have no Docker of their own.
const PROCESS_RUNTIME: &str = "env:\n  DSTACK_SHIM_RUNTIME: process\n";

/// Polls `probe` until it returns a value, failing with `what` and the last `state` after
/// `deadline`.
fn poll<T>(deadline: Duration, what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let until = Instant::now() + deadline;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(state) => assert!(Instant::now() < until, "never {what}: {state}"),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Writes `key` as `home/<name>` and `home/<name>.pub`, as `identity_file` expects it.
fn key_file(home: &Path, name: &str, key: &ClientKey) -> PathBuf {
    let path = home.join(name);
    std::fs::write(&path, &key.private).expect("private key");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("key mode");
    std::fs::write(path.with_extension("pub"), &key.public).expect("public key");
    path
}

/// Applies an SSH fleet of `hosts`, all reached as root with `key`.
fn apply_fleet(home: &Path, name: &str, hosts: &[&TestHost], key: &ClientKey) {
    let identity = key_file(home, &format!("{name}-key"), key);
    let addresses: Vec<&str> = hosts.iter().map(|host| host.address.as_str()).collect();
    let yaml = format!(
        "type: fleet\nname: {name}\nplacement: cluster\nssh_config:\n  user: root\n  \
         identity_file: {}\n  hosts: {}\n{PROCESS_RUNTIME}",
        identity.display(),
        serde_json::to_string(&addresses).unwrap()
    );
    let path = home.join(format!("{name}.dstack.yml"));
    std::fs::write(&path, yaml).expect("write the fleet configuration");
    dstack(home, &["apply", "-f", path.to_str().unwrap(), "-y"], &[]).ok();
}

/// The fleet as `dstack fleet get --json` prints it.
fn fleet_json(home: &Path, name: &str) -> Value {
    let printed = dstack(home, &["fleet", "get", name, "--json"], &[]).ok();
    serde_json::from_str(&printed).expect("fleet json")
}

/// Waits until all `count` instances of the fleet are idle, and returns them.
fn wait_for_idle_instances(home: &Path, name: &str, count: usize) -> Vec<Value> {
    poll(DEADLINE, "idle", || {
        let fleet = fleet_json(home, name);
        let instances = fleet["instances"].as_array().cloned().unwrap_or_default();
        let idle = instances.iter().filter(|i| i["status"] == "idle").count();
        if idle == count && instances.len() == count {
            Ok(instances)
        } else {
            Err(fleet.to_string())
        }
    })
}

/// A task configuration pinned to `fleet`, running `commands` on `nodes` nodes with small
/// resources and no image.
fn task(home: &Path, name: &str, fleet: &str, nodes: u32, commands: &[&str]) -> PathBuf {
    let fields = format!(
        "nodes: {nodes}\nfleets: [{fleet}]\nresources:\n  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\n"
    );
    write_task(home, name, &fields, commands)
}

/// Waits until the run's status is one of `statuses`, and returns the run.
fn wait_for_run(home: &Path, name: &str, deadline: Duration, statuses: &[&str]) -> Value {
    poll(deadline, &format!("{statuses:?}"), || {
        match run_json(home, name) {
            Some(run) if statuses.iter().any(|status| run["status"] == *status) => Ok(run),
            other => Err(format!("{other:?}")),
        }
    })
}

/// The last submission of each of the run's jobs.
fn last_submissions(run: &Value) -> Vec<&Value> {
    run["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|job| {
            let submissions = job["job_submissions"].as_array().expect("submissions");
            submissions.last().expect("a submission")
        })
        .collect()
}

/// `dstack logs <run> --job <job>`, its non-empty lines.
fn job_logs(home: &Path, run: &str, job: u32) -> Vec<String> {
    let printed = dstack(home, &["logs", run, "--job", &job.to_string()], &[]).ok();
    printed
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_two_host_fleet_runs_a_two_node_task() {
    let key = generate_key("ed25519");
    let hosts = [TestHost::start(), TestHost::start()];
    for host in &hosts {
        host.authorize(&key);
    }
    let home = tempfile::tempdir().expect("home");
    let _server = Server::start_scheduling(home.path());
    apply_fleet(home.path(), "pair", &[&hosts[0], &hosts[1]], &key);
    let instances = wait_for_idle_instances(home.path(), "pair", 2);
    let mut hostnames: Vec<&str> = instances
        .iter()
        .map(|instance| instance["hostname"].as_str().unwrap_or_default())
        .collect();
    hostnames.sort_unstable();
    let mut addresses: Vec<&str> = hosts.iter().map(|host| host.address.as_str()).collect();
    addresses.sort_unstable();
    assert_eq!(hostnames, addresses, "{instances:?}");
    for instance in &instances {
        let resources = &instance["instance_type"]["resources"];
        assert!(
            resources["cpus"].as_u64() > Some(0) && resources["memory_mib"].as_u64() > Some(0),
            "{instance}"
        );
    }
    for host in &hosts {
        assert_eq!(host.count_processes("dstack-shim"), 1, "one shim per host");
    }

    let config = task(
        home.path(),
        "ranks",
        "pair",
        2,
        &["echo rank=$DSTACK_NODE_RANK master=$DSTACK_MASTER_NODE_IP nodes=$DSTACK_NODES_NUM"],
    );
    let applied = dstack(
        home.path(),
        &["apply", "-f", config.to_str().unwrap(), "-y", "-d"],
        &[],
    );
    assert!(applied.status.success(), "{applied}");
    let run = wait_for_run(
        home.path(),
        "ranks",
        DEADLINE,
        &["done", "failed", "terminated"],
    );
    assert_eq!(run["status"], "done", "{run}");
    for submission in last_submissions(&run) {
        assert_eq!(submission["termination_reason"], "done_by_runner", "{run}");
    }
    let lines: Vec<Vec<String>> = (0..2)
        .map(|job| job_logs(home.path(), "ranks", job))
        .collect();
    let master = lines[0]
        .first()
        .and_then(|line| line.split("master=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no master address: {lines:?}"))
        .to_owned();
    assert!(
        addresses.contains(&master.as_str()),
        "{master} is a host: {lines:?}"
    );
    for (rank, logged) in lines.iter().enumerate() {
        assert_eq!(
            logged,
            &[format!("rank={rank} master={master} nodes=2")],
            "job {rank}'s logs"
        );
    }
}

#[test]
fn a_job_on_a_host_that_stops_answering_fails_as_unreachable() {
    let key = generate_key("ed25519");
    let mut host = TestHost::start();
    host.authorize(&key);
    let home = tempfile::tempdir().expect("home");
    let _server = Server::start_scheduling(home.path());
    apply_fleet(home.path(), "lonely", &[&host], &key);
    wait_for_idle_instances(home.path(), "lonely", 1);
    let config = task(home.path(), "sleeper", "lonely", 1, &["sleep 600"]);
    let applied = dstack(
        home.path(),
        &["apply", "-f", config.to_str().unwrap(), "-y", "-d"],
        &[],
    );
    assert!(applied.status.success(), "{applied}");
    wait_for_run(home.path(), "sleeper", DEADLINE, &["running"]);

    // sshd and every session die; the shim and the job carry on, out of the server's reach.
    host.stop_sshd();
    assert_eq!(host.ssh_connections(), 0, "no connection survives");
    let run = wait_for_run(
        home.path(),
        "sleeper",
        UNREACHABLE_DEADLINE,
        &["failed", "terminated", "done"],
    );
    assert_eq!(run["status"], "failed", "{run}");
    let submission = last_submissions(&run)[0];
    assert_eq!(
        submission["termination_reason"], "instance_unreachable",
        "{run}"
    );
}

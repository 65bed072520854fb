//! The official dstack 0.22.5 Python CLI and SDK against our server: the project, fleet,
//! offer, volume and gateway commands, and the users and projects API, as the real client
//! sends and parses them.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{ADMIN_TOKEN, Server, row, setup_path};

/// How `dstack project list` marks the default project.
const DEFAULT_MARK: &str = "✓";

/// Opens every SDK script: the server's URL and admin token as `url` and `token`.
const SDK_PRELUDE: &str = r#"
import sys
from dstack.api.server import APIClient
from dstack._internal.core.errors import ResourceNotExistsError, URLNotFoundError

url, token = sys.argv[1], sys.argv[2]
"#;

/// The SDK checks; a failed assertion exits the script non-zero.
const SDK_SCRIPT: &str = r#"
client = APIClient(base_url=url, token=token)

me = client.users.get_my_user()
assert me.username == "admin", me
assert me.global_role.value == "admin", me
assert me.creds.token == token, me
assert "admin" in [u.username for u in client.users.list()]

assert "main" in [p.project_name for p in client.projects.list()]
main = client.projects.get("main")
assert main.project_name == "main", main
assert main.owner.username == "admin", main

created = client.projects.create("sdk-made")
assert created.project_name == "sdk-made", created
assert "sdk-made" in [p.project_name for p in client.projects.list()]
client.projects.delete(["sdk-made"])
assert "sdk-made" not in [p.project_name for p in client.projects.list()]

try:
    client.projects.get("sdk-made")
    raise AssertionError("getting a deleted project succeeded")
except URLNotFoundError:
    pass
try:
    client.users.get_user("nobody")
    raise AssertionError("getting a missing user succeeded")
except ResourceNotExistsError:
    pass

assert isinstance(client.backends.list_backend_types(), list)
print("sdk checks passed")
"#;

/// Runs the Python `dstack` with `home` as HOME and working directory (where configuration
/// files must be), whatever its exit status.
fn python_cli_output(cli: &str, home: &Path, args: &[&str]) -> Output {
    Command::new(cli)
        .args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("COLUMNS", "200")
        .env_remove("DSTACK_PROJECT")
        .env_remove("DSTACK_SERVER_URL")
        .env_remove("DSTACK_TOKEN")
        .output()
        .expect("the Python dstack runs")
}

/// Runs the Python `dstack` and returns its stdout, failing on a non-zero exit.
fn python_cli(cli: &str, home: &Path, args: &[&str]) -> String {
    let output = python_cli_output(cli, home, args);
    successful_stdout(&format!("dstack {}", args.join(" ")), output)
}

/// Runs `script` after [`SDK_PRELUDE`] with the Python of the setup script against `server`.
fn python_sdk(home: &Path, server: &Server, script: &str) -> String {
    let output = Command::new(setup_path("DSTACK_TEST_PYTHON"))
        .args([
            "-c",
            &format!("{SDK_PRELUDE}{script}"),
            &server.url,
            ADMIN_TOKEN,
        ])
        .env("HOME", home)
        .output()
        .expect("python runs");
    successful_stdout("an SDK script", output)
}

fn successful_stdout(what: &str, output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    stdout
}

#[test]
fn the_python_cli_manages_projects_on_our_server() {
    let cli = setup_path("DSTACK_TEST_PYTHON_CLI");
    let home = tempfile::tempdir().expect("temp home");
    let server = Server::start(home.path());

    let listed = python_cli(&cli, home.path(), &["project", "list"]);
    let main = row(&listed, "main").unwrap_or_else(|| panic!("no main row:\n{listed}"));
    assert!(main.contains(&server.url), "{main}");
    assert!(
        main.contains(DEFAULT_MARK),
        "main is the default:\n{listed}"
    );

    let add_other = [
        "project",
        "add",
        "--name",
        "other",
        "--url",
        &server.url,
        "--token",
        ADMIN_TOKEN,
        "-y",
    ];
    let refused = python_cli_output(&cli, home.path(), &add_other);
    assert!(
        !refused.status.success(),
        "adding a project the server lacks succeeded"
    );
    assert!(
        String::from_utf8_lossy(&refused.stdout).contains("Status code 404"),
        "{refused:?}"
    );

    python_sdk(
        home.path(),
        &server,
        "APIClient(base_url=url, token=token).projects.create('other')",
    );
    python_cli(&cli, home.path(), &add_other);
    python_cli(&cli, home.path(), &["project", "set-default", "other"]);
    let config = std::fs::read_to_string(home.path().join(".dstack/config.yml"))
        .expect("~/.dstack/config.yml");
    assert!(
        config.contains("- default: true\n  name: other\n"),
        "other is not the default:\n{config}"
    );

    // `-v` asks the server for each project's user.
    let listed = python_cli(&cli, home.path(), &["project", "list", "-v"]);
    let other = row(&listed, "other").unwrap_or_else(|| panic!("no other row:\n{listed}"));
    assert!(other.contains(&server.url), "{other}");
    assert!(other.contains(" admin "), "{other}");
    assert!(
        other.contains(DEFAULT_MARK),
        "other is the default:\n{listed}"
    );
    let main = row(&listed, "main").unwrap_or_else(|| panic!("no main row:\n{listed}"));
    assert!(
        !main.contains(DEFAULT_MARK),
        "main is no longer the default:\n{listed}"
    );
}

#[test]
fn the_python_sdk_reads_and_writes_users_and_projects() {
    let home = tempfile::tempdir().expect("temp home");
    let server = Server::start(home.path());
    let stdout = python_sdk(home.path(), &server, SDK_SCRIPT);
    assert!(stdout.contains("sdk checks passed"), "{stdout}");
}

/// The event lines of `dstack event` output, without their timestamps.
fn event_lines(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter_map(|line| line.split_once("] ").map(|(_, rest)| rest))
        .collect()
}

#[test]
fn the_python_cli_shows_events_of_our_server() {
    let cli = setup_path("DSTACK_TEST_PYTHON_CLI");
    let home = tempfile::tempdir().expect("temp home");
    let _server = Server::start(home.path());

    python_cli(&cli, home.path(), &["secret", "set", "HF_TOKEN", "a"]);
    python_cli(&cli, home.path(), &["secret", "set", "HF_TOKEN", "b"]);
    python_cli(&cli, home.path(), &["secret", "delete", "HF_TOKEN", "-y"]);
    let all = python_cli(&cli, home.path(), &["event"]);
    assert_eq!(
        event_lines(&all),
        [
            "[👤admin] [project main] Project created",
            "[👤admin] [secret HF_TOKEN] Secret created",
            "[👤admin] [secret HF_TOKEN] Secret updated",
            "[👤admin] [secret HF_TOKEN] Secret deleted",
        ],
        "{all}"
    );
    let secrets = python_cli(
        &cli,
        home.path(),
        &[
            "event",
            "list",
            "--include-target-type",
            "secret",
            "--since",
            "1h",
        ],
    );
    assert_eq!(event_lines(&secrets).len(), 3, "{secrets}");
    let users = python_cli(
        &cli,
        home.path(),
        &["event", "--include-target-type", "user"],
    );
    assert!(
        event_lines(&users).is_empty(),
        "user events are not inside a project:\n{users}"
    );
}

/// The task the run tests apply.
const TASK_YAML: &str = "type: task\nname: hello\ncommands:\n  - echo hello\n";

/// Lists runs through the SDK's `Client.from_config()`; prints `name status` per run.
const SDK_RUNS_SCRIPT: &str = r#"
from dstack.api import Client

client = Client.from_config()
for run in client.runs.list(all=True):
    print(run.name, run.status.value)
print("deleted" if client.runs.get("hello") is None else "present")
"#;

#[test]
fn the_python_cli_applies_lists_stops_and_deletes_a_run() {
    let cli = setup_path("DSTACK_TEST_PYTHON_CLI");
    let home = tempfile::tempdir().expect("temp home");
    let server = Server::start(home.path());
    std::fs::write(home.path().join("task.dstack.yml"), TASK_YAML).expect("write the task");
    let task = "task.dstack.yml";

    let applied = python_cli(&cli, home.path(), &["apply", "-f", task, "-y", "-d"]);
    assert!(
        applied.contains("Run hello submitted, detaching..."),
        "{applied}"
    );
    let stored = python_sdk(home.path(), &server, SDK_RUNS_SCRIPT);
    assert_eq!(stored, "hello submitted\npresent\n");
    for args in [&["ps"][..], &["ps", "-a"]] {
        let table = python_cli(&cli, home.path(), args);
        let hello = row(&table, "hello").unwrap_or_else(|| panic!("no hello row:\n{table}"));
        assert!(hello.contains("submitted"), "{table}");
    }

    let stopped = python_cli(&cli, home.path(), &["stop", "-y", "hello"]);
    assert!(stopped.contains("Stopped"), "{stopped}");
    let table = python_cli(&cli, home.path(), &["ps", "-a"]);
    let hello = row(&table, "hello").unwrap_or_else(|| panic!("no hello row:\n{table}"));
    assert!(hello.contains("stopped"), "{table}");
    let listed = python_sdk(home.path(), &server, SDK_RUNS_SCRIPT);
    assert_eq!(listed, "hello terminated\npresent\n");

    let deleted = python_cli(&cli, home.path(), &["delete", "-f", task, "-y"]);
    assert!(deleted.contains("Run hello deleted"), "{deleted}");
    let after = python_sdk(home.path(), &server, SDK_RUNS_SCRIPT);
    assert!(after.ends_with("deleted\n"), "{after}");
}

/// An SSH fleet over two loopback hosts; nothing connects to them yet, the fleet is stored.
fn write_ssh_fleet(dir: &Path) -> std::path::PathBuf {
    let key = dir.join("idkey");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen failed");
    let path = dir.join("fleet.dstack.yml");
    let yaml = format!(
        "type: fleet\nname: ssh-fleet\nssh_config:\n  user: ubuntu\n  identity_file: {}\n  \
         hosts:\n    - 127.0.0.1\n    - 127.0.0.2\n",
        key.display()
    );
    std::fs::write(&path, yaml).expect("write the fleet configuration");
    path
}

#[test]
fn the_python_cli_applies_lists_and_deletes_an_ssh_fleet() {
    let cli = setup_path("DSTACK_TEST_PYTHON_CLI");
    let home = tempfile::tempdir().expect("temp home");
    let _server = Server::start(home.path());
    let fleet = write_ssh_fleet(home.path());
    let fleet = fleet.to_str().expect("utf-8 path");

    let applied = python_cli(&cli, home.path(), &["apply", "-f", fleet, "-y", "-d"]);
    assert!(
        applied.contains("Fleet configuration submitted"),
        "{applied}"
    );
    let again = python_cli(&cli, home.path(), &["apply", "-f", fleet, "-y", "-d"]);
    assert!(
        again.contains("No configuration changes detected"),
        "{again}"
    );

    let listed = python_cli(&cli, home.path(), &["fleet"]);
    let fleet_row = row(&listed, "ssh-fleet").unwrap_or_else(|| panic!("no fleet:\n{listed}"));
    assert!(fleet_row.contains("active"), "{listed}");
    for instance in ["instance=0", "instance=1"] {
        let line = row(&listed, instance).unwrap_or_else(|| panic!("no {instance}:\n{listed}"));
        assert!(
            line.contains("ssh (remote)") && line.contains("pending"),
            "{listed}"
        );
    }

    // No instance is idle yet, so there is nothing to offer.
    let grouped = python_cli(&cli, home.path(), &["offer", "--group-by", "gpu"]);
    assert!(grouped.contains("Group by     gpu"), "{grouped}");
    assert!(!grouped.contains("H100"), "{grouped}");

    let deleted = python_cli(&cli, home.path(), &["fleet", "delete", "ssh-fleet", "-y"]);
    assert!(deleted.contains("Fleet ssh-fleet deleted"), "{deleted}");
    let listed = python_cli(&cli, home.path(), &["fleet"]);
    let fleet_row = row(&listed, "ssh-fleet").unwrap_or_else(|| panic!("no fleet:\n{listed}"));
    assert!(fleet_row.contains("terminating"), "{listed}");
}

/// `dstack offer`'s header and no-offers line, as the reference 0.22.5 server makes the CLI
/// print them for a project without fleets or backends.
const NO_OFFERS: &[&str] = &[
    " Project      main",
    " Resources    cpu=1.. mem=0GB.. gpu=0..",
    " Spot policy  on-demand",
    " Max price    off",
    "",
    "No matching instance offers available. Possible reasons: \
     https://dstack.ai/docs/guides/troubleshooting/#no-offers",
    "",
];

#[test]
fn the_python_cli_offers_nothing_without_fleets() {
    let cli = setup_path("DSTACK_TEST_PYTHON_CLI");
    let home = tempfile::tempdir().expect("temp home");
    let _server = Server::start(home.path());

    let plain = python_cli(&cli, home.path(), &["offer"]);
    let lines: Vec<&str> = plain.lines().map(str::trim_end).collect();
    assert_eq!(lines, NO_OFFERS, "{plain}");

    let printed = python_cli(&cli, home.path(), &["offer", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&printed).expect("offer --json is JSON");
    let expected = serde_json::json!({
        "project": "main",
        "user": "admin",
        "requirements": {
            "resources": {
                "cpu": {"arch": null, "count": {"min": 1, "max": null}},
                "memory": {"min": 0.0, "max": null},
                "shm_size": null,
                "gpu": {"vendor": null, "name": null, "count": {"min": 0, "max": null},
                        "memory": null, "total_memory": null, "compute_capability": null},
                "disk": null,
            },
            "max_price": null,
            "spot": null,
            "reservation": null,
        },
        "offers": [],
        "total_offers": 0,
    });
    assert_eq!(json, expected, "{printed}");
}

/// Applies `yaml` as `file` under `home` with the Python CLI, detached.
fn apply_yaml(cli: &str, home: &Path, file: &str, yaml: &str) -> String {
    std::fs::write(home.join(file), yaml).expect("write the configuration");
    python_cli(cli, home, &["apply", "-f", file, "-y", "-d"])
}

#[test]
fn the_python_cli_creates_lists_and_deletes_volumes_and_gateways() {
    let cli = setup_path("DSTACK_TEST_PYTHON_CLI");
    let home = tempfile::tempdir().expect("temp home");
    let _server = Server::start(home.path());
    let home = home.path();

    let empty = python_cli(&cli, home, &["volume"]);
    assert!(
        empty.contains("NAME") && !empty.contains("cli-vol"),
        "{empty}"
    );
    let empty = python_cli(&cli, home, &["gateway"]);
    assert!(
        empty.contains("DOMAIN") && !empty.contains("cli-gw"),
        "{empty}"
    );

    let volume = "type: volume\nname: cli-vol\nbackend: aws\nregion: eu-west-1\nsize: 100GB\n";
    let applied = apply_yaml(&cli, home, "vol.dstack.yml", volume);
    assert!(
        applied.contains("Volume configuration submitted"),
        "{applied}"
    );
    let gateway = "type: gateway\nname: cli-gw\nbackend: aws\nregion: eu-west-1\n\
                   domain: cli.example.com\n";
    let applied = apply_yaml(&cli, home, "gw.dstack.yml", gateway);
    assert!(
        applied.contains("Gateway configuration submitted"),
        "{applied}"
    );

    let volumes = python_cli(&cli, home, &["volume"]);
    let line = row(&volumes, "cli-vol").unwrap_or_else(|| panic!("no volume:\n{volumes}"));
    assert!(
        line.contains("aws (eu-west-1)") && line.contains("submitted"),
        "{volumes}"
    );
    let gateways = python_cli(&cli, home, &["gateway"]);
    let line = row(&gateways, "cli-gw").unwrap_or_else(|| panic!("no gateway:\n{gateways}"));
    assert!(
        line.contains("cli.example.com") && line.contains(DEFAULT_MARK),
        "{gateways}"
    );

    let deleted = python_cli(&cli, home, &["delete", "-f", "vol.dstack.yml", "-y"]);
    assert!(deleted.contains("Volume cli-vol deleted"), "{deleted}");
    let deleted = python_cli(&cli, home, &["delete", "-f", "gw.dstack.yml", "-y"]);
    assert!(deleted.contains("Gateway cli-gw deleted"), "{deleted}");
    assert!(row(&python_cli(&cli, home, &["volume"]), "cli-vol").is_none());
    assert!(row(&python_cli(&cli, home, &["gateway"]), "cli-gw").is_none());
}

//! The official dstack 0.22.5 Python CLI and SDK against our server: the project commands and
//! the users and projects API as the real client sends and parses them.

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

/// Runs the Python `dstack` with `home` as HOME, whatever its exit status.
fn python_cli_output(cli: &str, home: &Path, args: &[&str]) -> Output {
    Command::new(cli)
        .args(args)
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

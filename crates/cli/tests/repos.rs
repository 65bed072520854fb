//! Git repos: `dstack init` and `dstack apply` with a checkout of a private remote (a real
//! `sshd` serving a bare repository), against our server and the reference 0.22.5 server, with
//! the official Python CLI applying the same checkout for comparison.

mod support;

use std::path::Path;
use std::process::Command;

use dstack_cli::api::ApiClient;
use dstack_cli::repo::{GitRepoUrl, RemoteRepo};
use serde_json::{Value, json};
use support::git_remote::{GitRemote, git};
use support::{ADMIN_TOKEN, Server, dstack, setup_path};

/// A binary file, so the diff has a binary hunk.
const BINARY: [u8; 6] = [0, 159, 146, 150, 255, 10];

/// `repos/get` with creds, through our client.
fn get_repo(server: &Server, repo_id: &str) -> Value {
    let client = ApiClient::new(&server.url, ADMIN_TOKEN).expect("a client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime
        .block_on(client.post::<_, Value>(
            "/api/project/main/repos/get",
            &json!({"repo_id": repo_id, "include_creds": true}),
        ))
        .expect("repos/get")
}

/// The run spec of `name` from `ps -a --json`.
fn run_spec(home: &Path, name: &str) -> Value {
    let json: Value = serde_json::from_str(&dstack(home, &["ps", "-a", "--json"], &[]).ok())
        .expect("ps --json prints JSON");
    json["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .find(|run| run["run_spec"]["run_name"] == name)
        .unwrap_or_else(|| panic!("no run {name} in {json}"))["run_spec"]
        .clone()
}

fn write_task(home: &Path, file: &str, name: &str, checkout: &Path) {
    std::fs::write(
        home.join(file),
        format!(
            "type: task\nname: {name}\nrepos:\n  - local_path: {}\n    path: /repo\ncommands:\n  - ls\n",
            checkout.display()
        ),
    )
    .expect("write the task");
}

/// Makes the checkout dirty: a changed tracked file, an untracked text and binary file, and an
/// ignored file.
fn dirty(checkout: &Path) {
    std::fs::write(checkout.join("README.md"), "hello\nchanged\n").expect("README");
    std::fs::write(checkout.join("new.txt"), "new\n").expect("new.txt");
    std::fs::create_dir_all(checkout.join("bin")).expect("bin");
    std::fs::write(checkout.join("bin/blob"), BINARY).expect("blob");
    std::fs::write(checkout.join("debug.log"), "ignored\n").expect("debug.log");
}

/// `init` without and with a key, then `apply -d` of a task whose `repos:` is the dirty
/// checkout: the repo is registered with the key, and the run names the remote branch, the
/// pushed commit, the git identity, and the diff's hash.
fn repo_story(home: &Path, server: &Server, remote: &GitRemote) {
    let checkout = remote.checkout.to_str().expect("UTF-8");
    let key = remote.key.to_str().expect("UTF-8");
    let repo_id = GitRepoUrl::parse(&remote.url).expect("URL").repo_id();

    let no_creds = dstack(home, &["init", "-P", checkout], &[]).failed();
    assert_eq!(
        no_creds.trim(),
        "No valid default Git credentials found. Pass valid `--token` or `--git-identity`."
    );
    let initialized = dstack(home, &["init", "-P", checkout, "--git-identity", key], &[]).ok();
    assert_eq!(initialized, "OK\n");
    let head = get_repo(server, &repo_id);
    assert_eq!(
        head["repo_info"],
        json!({"repo_type": "remote", "repo_name": "remote"})
    );
    assert_eq!(head["repo_creds"]["clone_url"], remote.url.as_str());
    assert_eq!(
        head["repo_creds"]["private_key"],
        std::fs::read_to_string(&remote.key).expect("key").as_str()
    );

    dirty(&remote.checkout);
    write_task(home, "repo-task.dstack.yml", "repo-task", &remote.checkout);
    let submitted = dstack(
        home,
        &["apply", "-f", "repo-task.dstack.yml", "-y", "-d"],
        &[],
    )
    .ok();
    assert!(
        submitted.ends_with("Run repo-task submitted, detaching...\n"),
        "{submitted}"
    );
    let spec = run_spec(home, "repo-task");
    assert_eq!(spec["repo_id"], repo_id.as_str(), "{spec}");
    assert_eq!(spec["repo_dir"], "/repo", "{spec}");
    assert_eq!(
        spec["repo_data"],
        json!({
            "repo_type": "remote",
            "repo_name": "remote",
            "repo_branch": "main",
            "repo_hash": remote.pushed_commit(),
            "repo_config_name": "Test User",
            "repo_config_email": "test@example.com",
        })
    );
    let (hash, _) = RemoteRepo::from_dir(&remote.checkout, true)
        .expect("the checkout")
        .code()
        .map(|(hash, code)| (hash, code.to_vec()))
        .expect("a diff");
    assert_eq!(spec["repo_code_hash"], hash.as_str(), "{spec}");
}

/// The errors of a run whose repo cannot be used: one line each, exit 1.
fn error_story(home: &Path, remote: &GitRemote) {
    let plain = home.join("plain-dir");
    std::fs::create_dir_all(&plain).expect("plain dir");
    let plain = plain.to_str().expect("UTF-8");
    let apply = |extra: &[&str]| {
        let mut args = vec!["apply", "-f", "repo-task.dstack.yml", "-y", "-d"];
        args.extend_from_slice(extra);
        dstack(home, &args, &[]).failed()
    };
    assert!(
        apply(&["-P", plain]).starts_with(&format!("Git repo not found: {plain}. Use `files`")),
        "not a repo"
    );
    assert_eq!(
        apply(&["-P", plain, "--no-repo"]).trim(),
        "Either --repo or --no-repo can be specified"
    );
    let missing = home.join("missing").display().to_string();
    assert_eq!(
        apply(&["-P", "missing"]).trim(),
        format!("Invalid repo path: missing -> {missing}")
    );
    git(&remote.checkout, &["checkout", "-q", "--detach"]);
    let detached = apply(&[]);
    git(&remote.checkout, &["checkout", "-q", "main"]);
    assert_eq!(
        detached.trim(),
        format!(
            "Git repo in 'detached HEAD' state: {}. Check out to a branch",
            remote.checkout.display()
        )
    );
}

#[test]
fn init_and_apply_send_a_checkout_to_our_server_as_dstack_does() {
    let home = tempfile::tempdir().expect("temp home");
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(home.path());
    let remote = GitRemote::start(dir.path());
    repo_story(home.path(), &server, &remote);
    error_story(home.path(), &remote);

    // The Python CLI applies the same checkout with the key the server stored: the same repo,
    // branch, commit and diff.
    write_task(
        home.path(),
        "py-task.dstack.yml",
        "py-task",
        &remote.checkout,
    );
    let output = Command::new(setup_path("DSTACK_TEST_PYTHON_CLI"))
        .args(["apply", "-f", "py-task.dstack.yml", "-y", "-d"])
        .current_dir(home.path())
        .env("HOME", home.path())
        .env_remove("DSTACK_PROJECT")
        .env_remove("DSTACK_SERVER_URL")
        .env_remove("DSTACK_TOKEN")
        .output()
        .expect("the Python dstack runs");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let ours = run_spec(home.path(), "repo-task");
    let theirs = run_spec(home.path(), "py-task");
    for field in ["repo_id", "repo_data", "repo_code_hash", "repo_dir"] {
        assert_eq!(ours[field], theirs[field], "{field}");
    }
}

#[test]
fn init_and_apply_send_a_checkout_to_the_reference_server() {
    let home = tempfile::tempdir().expect("temp home");
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_reference(home.path());
    let remote = GitRemote::start(dir.path());
    repo_story(home.path(), &server, &remote);
}

/// The uploaded diff takes a fresh clone of the pushed commit to the dirty working tree, with
/// `git apply` as the runner uses it; ignored files stay out.
#[test]
fn the_code_diff_applies_to_a_clone_of_the_remote() {
    let dir = tempfile::tempdir().expect("temp dir");
    let remote = GitRemote::start(dir.path());
    dirty(&remote.checkout);
    let repo = RemoteRepo::from_dir(&remote.checkout, true).expect("the checkout");
    let (_, code) = repo.code().expect("a diff");
    let patch = dir.path().join("code.diff");
    std::fs::write(&patch, code).expect("patch");

    let clone = dir.path().join("clone");
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            dir.path().join("remote.git").to_str().expect("UTF-8"),
            "clone",
        ],
    );
    git(&clone, &["apply", patch.to_str().expect("UTF-8")]);
    for file in ["README.md", "new.txt", "bin/blob"] {
        assert_eq!(
            std::fs::read(clone.join(file)).expect(file),
            std::fs::read(remote.checkout.join(file)).expect(file),
            "{file}"
        );
    }
    assert!(!clone.join("debug.log").exists());
}

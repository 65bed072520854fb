//! Tasks run end to end on the local backend: our `dstack` CLI against our server with its
//! pipelines, real shims started per slice, real Docker containers with the static runner
//! (`dstack-test/debian`), and the official dstack 0.22.5 CLI driving the same server.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Server, dstack, run_json, setup_path, write_task};

/// How long a test waits for a run to reach a status.
const RUN_DEADLINE: Duration = Duration::from_secs(120);

/// A task configuration in `home`, running `commands` in the Debian test image on a slice of
/// one CPU and `memory` of memory.
fn task(home: &Path, name: &str, memory: &str, commands: &[&str], extra: &str) -> PathBuf {
    let image = setup_path("DSTACK_TEST_DEBIAN_IMAGE");
    let fields = format!("image: {image}\nresources:\n  cpu: 1\n  memory: {memory}\n{extra}");
    write_task(home, name, &fields, commands)
}

/// `dstack apply -f <config> -y -d`, which must succeed.
fn apply_detached(home: &Path, config: &Path) {
    let applied = dstack(
        home,
        &[
            "apply",
            "-f",
            config.to_str().expect("a UTF-8 path"),
            "-y",
            "-d",
        ],
        &[],
    );
    assert!(applied.status.success(), "{applied}");
}

/// Polls the run until `done` holds, failing after [`RUN_DEADLINE`].
fn wait_for(home: &Path, name: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + RUN_DEADLINE;
    loop {
        if let Some(run) = run_json(home, name)
            && done(&run)
        {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "run {name} never became {what}: {:?}",
            run_json(home, name)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn status(run: &Value) -> &str {
    run["status"].as_str().unwrap_or_default()
}

fn last_submission(run: &Value) -> &Value {
    let submissions = run["jobs"][0]["job_submissions"]
        .as_array()
        .expect("submissions");
    submissions.last().expect("a submission")
}

fn finished(run: &Value) -> bool {
    matches!(status(run), "done" | "failed" | "terminated")
}

#[test]
fn a_task_runs_to_done_and_its_logs_are_complete_and_in_order() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server::start_scheduling(home.path());
    let config = task(
        home.path(),
        "hello",
        "1GB",
        &[
            "echo hello from dstack",
            "for i in $(seq 1 200); do echo line $i; done",
        ],
        "",
    );
    let output = dstack(
        home.path(),
        &["apply", "-f", config.to_str().unwrap(), "-y"],
        &[],
    )
    .ok();
    let expected: Vec<String> = std::iter::once("hello from dstack".to_owned())
        .chain((1..=200).map(|i| format!("line {i}")))
        .collect();
    let printed: Vec<&str> = output
        .lines()
        .map(str::trim_end)
        .filter(|line| *line == "hello from dstack" || line.starts_with("line "))
        .collect();
    assert_eq!(
        printed, expected,
        "apply streamed every line once, in order"
    );
    let run = wait_for(home.path(), "hello", "done", finished);
    assert_eq!(status(&run), "done", "{run}");
    assert_eq!(
        last_submission(&run)["termination_reason"],
        "done_by_runner"
    );
    let logs = dstack(home.path(), &["logs", "hello"], &[]).ok();
    let logged: Vec<&str> = logs
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .collect();
    assert_eq!(logged, expected, "dstack logs prints the whole output");
    let ps = dstack(home.path(), &["ps", "-a"], &[]).ok();
    assert!(
        support::row(&ps, "hello").is_some_and(|row| row.contains("exited (0)")),
        "{ps}"
    );
}

#[test]
fn failures_end_with_their_reasons() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server::start_scheduling(home.path());
    let exit3 = task(
        home.path(),
        "exit-three",
        "1GB",
        &["echo failing", "exit 3"],
        "",
    );
    let no_user = task(
        home.path(),
        "no-user",
        "1GB",
        &["echo never"],
        "user: nobody-here\n",
    );
    for config in [&exit3, &no_user] {
        apply_detached(home.path(), config);
    }
    let run = wait_for(home.path(), "exit-three", "finished", finished);
    assert_eq!(status(&run), "failed", "{run}");
    let job = last_submission(&run);
    assert_eq!(job["termination_reason"], "container_exited_with_error");
    assert_eq!(job["exit_status"], 3);
    let run = wait_for(home.path(), "no-user", "finished", finished);
    assert_eq!(status(&run), "failed", "{run}");
    let job = last_submission(&run);
    assert_eq!(job["termination_reason"], "creating_container_error");
    assert!(
        job["termination_reason_message"]
            .as_str()
            .is_some_and(|message| message.contains("nobody-here")),
        "{job}"
    );
    let verbose = dstack(home.path(), &["ps", "-a", "-v"], &[]).ok();
    assert!(
        support::row(&verbose, "exit-three").is_some_and(|row| row.contains("exited (3)")),
        "{verbose}"
    );
}

#[test]
fn limits_end_runs_with_their_reasons() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server::start_scheduling(home.path());
    let too_long = task(
        home.path(),
        "too-long",
        "1GB",
        &["sleep 600"],
        "max_duration: 3s\n",
    );
    let too_big = task(home.path(), "too-big", "100000GB", &["echo never"], "");
    for config in [&too_long, &too_big] {
        apply_detached(home.path(), config);
    }
    let run = wait_for(home.path(), "too-long", "finished", finished);
    assert_eq!(
        last_submission(&run)["termination_reason"],
        "max_duration_exceeded",
        "{run}"
    );
    // dstack's rule: a job ended by its limit fails the run.
    assert_eq!(status(&run), "failed", "{run}");
    let run = wait_for(home.path(), "too-big", "finished", finished);
    assert_eq!(status(&run), "failed", "{run}");
    let job = last_submission(&run);
    assert_eq!(
        job["termination_reason"],
        "failed_to_start_due_to_no_capacity"
    );
    assert!(
        job["termination_reason_message"]
            .as_str()
            .is_some_and(|message| message.contains("the host has")),
        "the message says what the host has: {job}"
    );
}

#[test]
fn without_docker_jobs_run_as_host_processes_and_images_are_refused() {
    let home = tempfile::tempdir().expect("home");
    let no_docker = [("DOCKER_HOST", "unix:///nonexistent/docker.sock")];
    let _server = Server::start_scheduling_with(home.path(), &no_docker);
    let on_host = write_task(
        home.path(),
        "on-host",
        "resources:\n  cpu: 1\n  memory: 1GB\n",
        &["echo running on the host in $(pwd)"],
    );
    let with_image = task(home.path(), "with-image", "1GB", &["echo never"], "");
    for config in [&on_host, &with_image] {
        apply_detached(home.path(), config);
    }
    let run = wait_for(home.path(), "on-host", "finished", finished);
    assert_eq!(status(&run), "done", "{run}");
    let logs = dstack(home.path(), &["logs", "on-host"], &[]).ok();
    assert!(
        logs.contains("running on the host in ")
            && logs.contains(&home.path().display().to_string()),
        "the job ran in its task directory under the server's state: {logs}"
    );
    let run = wait_for(home.path(), "with-image", "finished", finished);
    assert_eq!(status(&run), "failed", "{run}");
    let job = last_submission(&run);
    assert_eq!(job["termination_reason"], "creating_container_error");
    assert!(
        job["termination_reason_message"]
            .as_str()
            .is_some_and(|message| message.contains("needs Docker")),
        "{job}"
    );
}

#[test]
fn a_stopped_task_is_terminated_within_its_stop_duration() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server::start_scheduling(home.path());
    let config = task(home.path(), "sleeper", "1GB", &["sleep 600"], "");
    apply_detached(home.path(), &config);
    wait_for(home.path(), "sleeper", "running", |run| {
        status(run) == "running"
    });
    let stopping = Instant::now();
    dstack(home.path(), &["stop", "sleeper", "-y"], &[]).ok();
    let run = wait_for(home.path(), "sleeper", "finished", finished);
    let took = stopping.elapsed();
    assert_eq!(status(&run), "terminated", "{run}");
    assert_eq!(
        last_submission(&run)["termination_reason"],
        "terminated_by_user"
    );
    // dstack's default stop duration is 5 minutes; ours stops within the 10 s grace period.
    assert!(took < Duration::from_secs(30), "stopping took {took:?}");
}

#[test]
fn a_failed_task_is_retried_and_then_succeeds() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server::start_scheduling(home.path());
    let shared = tempfile::tempdir().expect("host directory");
    let mount = format!(
        "volumes:\n  - {}:/shared\nretry:\n  on_events: [error]\n  duration: 10m\n",
        shared.path().display()
    );
    let config = task(
        home.path(),
        "flaky",
        "1GB",
        &["if [ -f /shared/tried ]; then echo second try; else touch /shared/tried; exit 1; fi"],
        &mount,
    );
    apply_detached(home.path(), &config);
    let run = wait_for(home.path(), "flaky", "finished", finished);
    assert_eq!(status(&run), "done", "{run}");
    let job = last_submission(&run);
    assert_eq!(job["submission_num"], 1, "the second submission ran: {run}");
    assert_eq!(job["termination_reason"], "done_by_runner");
}

#[test]
fn a_job_outlives_a_server_restart_with_complete_logs() {
    let home = tempfile::tempdir().expect("home");
    let server = Server::start_scheduling(home.path());
    let config = task(
        home.path(),
        "steady",
        "1GB",
        &["for i in $(seq 1 10); do echo tick $i; sleep 1; done"],
        "",
    );
    apply_detached(home.path(), &config);
    wait_for(home.path(), "steady", "running", |run| {
        status(run) == "running"
    });
    // SIGKILL: no shutdown path runs; the shims and containers carry on without it.
    server.crash();
    let _server = Server::start_scheduling(home.path());
    let run = wait_for(home.path(), "steady", "finished", finished);
    assert_eq!(status(&run), "done", "{run}");
    let logs = dstack(home.path(), &["logs", "steady"], &[]).ok();
    let ticks: Vec<&str> = logs
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    let expected: Vec<String> = (1..=10).map(|i| format!("tick {i}")).collect();
    assert_eq!(ticks, expected, "{logs}");
}

#[test]
fn runs_of_one_name_needing_different_slices_get_fleets_of_their_own() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server::start_scheduling(home.path());
    let mut names = Vec::new();
    for memory in ["1GB", "2GB"] {
        let config = task(home.path(), "my-task", memory, &["echo done"], "");
        dstack(
            home.path(),
            &["apply", "-f", config.to_str().unwrap(), "-y"],
            &[],
        )
        .ok();
        let run = wait_for(home.path(), "my-task", "done", finished);
        assert_eq!(status(&run), "done", "{run}");
        names.push(run["fleet"]["name"].as_str().expect("a fleet").to_owned());
    }
    assert_ne!(names[0], names[1], "each run got a fleet of its own");
    assert!(names.iter().all(|name| name != "my-task"), "{names:?}");
    let listing = dstack(home.path(), &["fleet"], &[]).ok();
    for name in &names {
        assert!(support::row(&listing, name).is_some(), "{listing}");
    }
    let listed: Value =
        serde_json::from_str(&dstack(home.path(), &["fleet", "--json"], &[]).ok()).expect("json");
    let mut listed: Vec<&str> = listed["fleets"]
        .as_array()
        .expect("fleets")
        .iter()
        .filter_map(|fleet| fleet["name"].as_str())
        .collect();
    listed.sort_unstable();
    let mut expected: Vec<&str> = names.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected, "dstack fleet --json lists both");
    dstack(home.path(), &["fleet", "delete", &names[0], "-y"], &[]).ok();
    let deadline = Instant::now() + RUN_DEADLINE;
    loop {
        let left = dstack(home.path(), &["fleet"], &[]).ok();
        if support::row(&left, &names[0]).is_none() {
            assert!(support::row(&left, &names[1]).is_some(), "{left}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} was never deleted: {left}",
            names[0]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_official_cli_applies_follows_and_lists_runs() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server::start_scheduling(home.path());
    let cli = setup_path("DSTACK_TEST_PYTHON_CLI");
    let python = |args: &[&str]| {
        let output = std::process::Command::new(&cli)
            .args(args)
            .current_dir(home.path())
            .env("HOME", home.path())
            .env("COLUMNS", "200")
            .env_remove("DSTACK_PROJECT")
            .output()
            .expect("the Python dstack runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let errors = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "dstack {args:?}: {text}\n{errors}");
        text
    };
    let offers = python(&["offer"]);
    assert!(
        offers
            .lines()
            .any(|line| line.contains("ssh (local)") && line.contains("$0")),
        "the local backend offers a slice of this host: {offers}"
    );
    let good = task(
        home.path(),
        "py-hello",
        "1GB",
        &["for i in 1 2 3; do echo py $i; done"],
        "",
    );
    let bad = task(home.path(), "py-fail", "1GB", &["exit 3"], "");
    python(&["apply", "-f", good.to_str().unwrap(), "-y", "-d"]);
    python(&["apply", "-f", bad.to_str().unwrap(), "-y", "-d"]);
    wait_for(home.path(), "py-hello", "finished", finished);
    wait_for(home.path(), "py-fail", "finished", finished);
    let logs = python(&["logs", "py-hello"]);
    let lines: Vec<&str> = logs
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines, ["py 1", "py 2", "py 3"], "{logs}");
    let ps = python(&["ps", "-a"]);
    assert!(
        support::row(&ps, "py-hello").is_some_and(|row| row.contains("exited (0)")),
        "{ps}"
    );
    let verbose = python(&["ps", "-a", "-v"]);
    assert!(
        support::row(&verbose, "py-fail").is_some_and(|row| row.contains("exited (3)")),
        "{verbose}"
    );
}

#[test]
fn a_scheduled_task_waits_for_its_time_runs_and_waits_again() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server::start_scheduling(home.path());
    let config = task(
        home.path(),
        "nightly",
        "1GB",
        &["echo scheduled"],
        "schedule:\n  cron: \"* * * * *\"\n",
    );
    apply_detached(home.path(), &config);
    let run = run_json(home.path(), "nightly").expect("the run");
    assert_eq!(
        status(&run),
        "pending",
        "it waits for the next minute: {run}"
    );
    assert!(run["next_triggered_at"].is_string(), "{run}");
    let latest_status = |run: &Value| {
        run["jobs"][0]["job_submissions"]
            .as_array()
            .and_then(|submissions| submissions.last())
            .and_then(|job| job["status"].as_str())
            .map(str::to_owned)
    };
    let run = wait_for(home.path(), "nightly", "fired and done", |run| {
        latest_status(run).as_deref() == Some("done")
    });
    let run = if status(&run) == "pending" {
        run
    } else {
        wait_for(home.path(), "nightly", "pending again", |run| {
            status(run) == "pending"
        })
    };
    assert_eq!(
        last_submission(&run)["termination_reason"],
        "done_by_runner"
    );
    dstack(home.path(), &["stop", "nightly", "-y"], &[]).ok();
    let run = wait_for(home.path(), "nightly", "stopped", finished);
    assert_eq!(status(&run), "terminated", "{run}");
}

#[test]
fn an_auto_created_fleet_goes_away_once_idle_past_its_idle_duration() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server::start_scheduling(home.path());
    let config = task(
        home.path(),
        "brief",
        "1GB",
        &["echo hi"],
        "idle_duration: 0s\n",
    );
    dstack(
        home.path(),
        &["apply", "-f", config.to_str().unwrap(), "-y"],
        &[],
    )
    .ok();
    let run = wait_for(home.path(), "brief", "done", finished);
    let fleet = run["fleet"]["name"].as_str().expect("a fleet").to_owned();
    let deadline = Instant::now() + RUN_DEADLINE;
    loop {
        let listing = dstack(home.path(), &["fleet"], &[]).ok();
        if support::row(&listing, &fleet).is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{fleet} outlived its idle duration: {listing}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        std::process::Command::new("pgrep")
            .args([
                "-f",
                "--",
                &format!("--shim-home {}/", home.path().display())
            ])
            .output()
            .expect("pgrep")
            .stdout
            .is_empty(),
        "the slice's shim was stopped with its instance"
    );
}

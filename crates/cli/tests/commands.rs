//! Our `dstack` commands against the reference dstack 0.22.5 server and against our own
//! server (for the endpoints it has), plus the errors that need no server.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{ADMIN_TOKEN, Server, dstack, row};

/// `project list`, then `project add` of the existing project, an unknown one, and with a bad
/// token.
fn project_story(home: &Path, server: &Server) {
    let listed = dstack(home, &["project", "list"], &[]).ok();
    let main = row(&listed, "main").unwrap_or_else(|| panic!("no main row:\n{listed}"));
    assert!(main.contains(&server.url), "{listed}");
    assert!(main.contains('✓'), "main is the default:\n{listed}");
    for args in [
        &["project", "list", "--json"][..],
        &["project", "list", "-v", "--json"],
    ] {
        let printed = dstack(home, args, &[]).ok();
        assert!(
            !printed.contains(ADMIN_TOKEN),
            "a token was printed: {printed}"
        );
        let json: Value = serde_json::from_str(&printed).expect("project list --json prints JSON");
        let verbose = args.contains(&"-v");
        let mut expected = serde_json::json!({"name": "main", "url": server.url, "default": true});
        if verbose {
            expected["user"] = "admin".into();
        }
        assert_eq!(
            json,
            serde_json::json!({"projects": [expected]}),
            "{args:?}"
        );
    }

    let add = |name: &str, token: &str| {
        dstack(
            home,
            &[
                "project",
                "add",
                "--name",
                name,
                "--url",
                &server.url,
                "--token",
                token,
                "-y",
            ],
            &[],
        )
    };
    let added = add("main", ADMIN_TOKEN).ok();
    assert!(added.starts_with("Configuration updated at "), "{added}");
    let unknown = add("no-such-project", ADMIN_TOKEN).failed();
    assert!(
        unknown.contains("Project no-such-project does not exist"),
        "{unknown}"
    );
    let denied = add("main", "wrong-token").failed();
    assert!(
        denied.contains("Please check your access token"),
        "{denied}"
    );

    let unconfigured = dstack(home, &["ps", "--project", "elsewhere"], &[]).failed();
    assert_eq!(unconfigured.trim(), "Project elsewhere is not configured");
}

/// `secret set`, `list` (values hidden), `get`, `delete`, then `get` of the deleted one.
fn secret_story(home: &Path) {
    let set = dstack(home, &["secret", "set", "hf-token", "s3cr3t"], &[]).ok();
    assert_eq!(set.trim(), "OK");
    let listed = dstack(home, &["secret", "list"], &[]).ok();
    let hf = row(&listed, "hf-token").unwrap_or_else(|| panic!("no secret row:\n{listed}"));
    assert!(hf.contains("******") && !hf.contains("s3cr3t"), "{listed}");
    for args in [&["secret", "list", "--json"][..], &["secret", "--json"]] {
        let printed = dstack(home, args, &[]).ok();
        assert!(
            !printed.contains("s3cr3t"),
            "a value was printed: {printed}"
        );
        let json: Value = serde_json::from_str(&printed).expect("secret list --json prints JSON");
        assert_eq!(json["project"], "main", "{json}");
        let secrets = json["secrets"].as_array().expect("secrets");
        let hf = secrets.iter().find(|secret| secret["name"] == "hf-token");
        let hf = hf.unwrap_or_else(|| panic!("no hf-token in {json}"));
        assert!(hf["id"].is_string() && hf["value"].is_null(), "{json}");
    }
    let got: Value =
        serde_json::from_str(&dstack(home, &["secret", "get", "hf-token", "--json"], &[]).ok())
            .expect("secret get --json prints JSON");
    assert_eq!(
        (&got["name"], &got["value"]),
        (&"hf-token".into(), &"s3cr3t".into()),
        "{got}"
    );
    let got = dstack(home, &["secret", "get", "hf-token"], &[]).ok();
    assert!(
        row(&got, "hf-token").is_some_and(|line| line.contains("s3cr3t")),
        "{got}"
    );
    let deleted = dstack(home, &["secret", "delete", "hf-token", "-y"], &[]).ok();
    assert_eq!(deleted.trim(), "OK");
    let listed = dstack(home, &["secret"], &[]).ok();
    assert!(row(&listed, "hf-token").is_none(), "{listed}");
    dstack(home, &["secret", "get", "hf-token"], &[]).failed();
}

/// Polls `ps -a --json` until `run` has `status`, with a deadline.
fn wait_for_status(home: &Path, run: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let json: Value = serde_json::from_str(&dstack(home, &["ps", "-a", "--json"], &[]).ok())
            .expect("ps --json prints JSON");
        let runs = json["runs"].as_array().expect("runs");
        let current = runs
            .iter()
            .find(|candidate| candidate["run_spec"]["run_name"] == run)
            .map(|found| found["status"].clone());
        if current.as_ref().and_then(Value::as_str) == Some(status) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{run} never became {status}; last {current:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `apply -d` of a task, `ps -a`, `logs`, `stop -y`, `delete -f`; then `apply -y` of a task
/// that fails for lack of fleets, which exits 1 with dstack's reason.
fn run_story(home: &Path) {
    std::fs::create_dir_all(home.join("data")).expect("mkdir data");
    std::fs::write(home.join("data/input.txt"), "input").expect("write data");
    std::fs::write(
        home.join("task.dstack.yml"),
        "type: task\nname: cli-task\nfiles:\n  - data:/opt/data\ncommands:\n  - echo hello\n",
    )
    .expect("write the task");
    let submitted = dstack(home, &["apply", "-f", "task.dstack.yml", "-y", "-d"], &[]).ok();
    assert!(
        submitted.contains(" Type           task (nodes=1)"),
        "{submitted}"
    );
    assert!(
        submitted.contains("The project has no fleets."),
        "{submitted}"
    );
    assert!(
        submitted.ends_with("Run cli-task submitted, detaching...\n"),
        "{submitted}"
    );
    let listed = dstack(home, &["ps", "-a"], &[]).ok();
    assert!(row(&listed, "cli-task").is_some(), "{listed}");
    let json: Value = serde_json::from_str(&dstack(home, &["ps", "--json"], &[]).ok())
        .expect("ps --json prints JSON");
    let spec = &json["runs"][0]["run_spec"];
    assert_eq!(spec["run_name"], "cli-task");
    // The `files:` mapping went up as an archive, and its local path was made absolute.
    assert_eq!(spec["file_archives"][0]["path"], "/opt/data", "{spec}");
    assert_eq!(
        spec["configuration"]["files"][0]["local_path"],
        home.join("data").display().to_string()
    );
    dstack(home, &["logs", "cli-task"], &[]).ok();
    let missing_logs = dstack(home, &["logs", "no-such-run"], &[]).failed();
    assert_eq!(missing_logs.trim(), "Run no-such-run not found");

    let stopped = dstack(home, &["stop", "cli-task", "-y"], &[]).ok();
    assert_eq!(stopped.trim(), "Stopped");
    wait_for_status(home, "cli-task", "terminated");
    let deleted = dstack(home, &["delete", "-f", "task.dstack.yml", "-y"], &[]).ok();
    assert_eq!(deleted.trim(), "Run cli-task deleted");
    let gone = dstack(home, &["delete", "-f", "task.dstack.yml", "-y"], &[]).failed();
    assert_eq!(gone.trim(), "Run cli-task does not exist");

    std::fs::write(
        home.join("fails.dstack.yml"),
        "type: task\nname: cli-fails\ncommands:\n  - echo hello\n",
    )
    .expect("write the task");
    let failed = dstack(home, &["apply", "-f", "fails.dstack.yml", "-y"], &[]);
    assert_eq!(failed.status.code(), Some(1), "{failed}");
    assert!(
        failed
            .stdout
            .contains("cli-fails provisioning completed (failed)"),
        "{failed}"
    );
    assert!(
        failed.stdout.contains("No matching fleet found"),
        "{failed}"
    );
}

/// `apply` of a cloud fleet with no nodes, then `fleet`, `fleet get --json`, `fleet delete`.
fn fleet_story(home: &Path) {
    std::fs::write(
        home.join("fleet.dstack.yml"),
        "type: fleet\nname: cli-fleet\nnodes: 0..2\n",
    )
    .expect("write the fleet");
    let applied = dstack(home, &["apply", "-f", "fleet.dstack.yml", "-y"], &[]).ok();
    assert!(
        applied.contains("Fleet cli-fleet does not exist yet."),
        "{applied}"
    );
    assert!(
        applied.contains(" Nodes          min=0 target=0 max=2"),
        "{applied}"
    );
    let listed = dstack(home, &["fleet"], &[]).ok();
    let fleet = row(&listed, "cli-fleet").unwrap_or_else(|| panic!("no fleet row:\n{listed}"));
    assert!(
        fleet.contains("0..2") && fleet.contains("active"),
        "{listed}"
    );
    let json: Value =
        serde_json::from_str(&dstack(home, &["fleet", "get", "cli-fleet", "--json"], &[]).ok())
            .expect("fleet get --json prints JSON");
    assert_eq!(json["name"], "cli-fleet");
    let deleted = dstack(home, &["fleet", "delete", "cli-fleet", "-y"], &[]).ok();
    assert_eq!(deleted.trim(), "Fleet cli-fleet deleted");
}

/// Volumes, gateways, events, metrics and login on a server with no backends, after
/// [`run_story`].
fn listings_story(home: &Path, server: &Server) {
    let volumes = dstack(home, &["volume"], &[]).ok();
    assert_eq!(volumes.trim_end(), " NAME  BACKEND  STATUS  CREATED");
    let json: Value = serde_json::from_str(&dstack(home, &["volume", "--json"], &[]).ok())
        .expect("volume --json prints JSON");
    assert_eq!(json["volumes"], Value::Array(Vec::new()));
    let missing = dstack(home, &["volume", "delete", "nope", "-y"], &[]).failed();
    assert_eq!(missing.trim(), "Volume nope does not exist");
    let gateways = dstack(home, &["gateway"], &[]).ok();
    assert!(
        gateways.starts_with(" NAME  BACKEND  HOSTNAME  DOMAIN  DEFAULT  STATUS"),
        "{gateways}"
    );
    let missing = dstack(home, &["gateway", "get", "nope", "--json"], &[]).failed();
    assert_eq!(missing.trim(), "Gateway nope does not exist");

    let events = dstack(home, &["event"], &[]).ok();
    assert!(
        events
            .lines()
            .any(|line| line.contains("[👤admin] [run cli-fails] Run submitted")),
        "{events}"
    );
    let json: Value = serde_json::from_str(&dstack(home, &["event", "list", "--json"], &[]).ok())
        .expect("event --json prints JSON");
    assert_eq!(json["project"], "main");
    let events = json["events"].as_array().expect("events");
    let submitted = events
        .iter()
        .find(|event| {
            event["message"] == "Run submitted. Status: SUBMITTED"
                && event["targets"][0]["name"] == "cli-fails"
        })
        .unwrap_or_else(|| panic!("no event of cli-fails' submission in {json}"));
    assert_eq!(submitted["actor_user"], "admin", "{submitted}");
    assert_eq!(submitted["targets"][0]["type"], "run", "{submitted}");
    let times: Vec<_> = events
        .iter()
        .map(|event| {
            let time = event["recorded_at"].as_str().expect("recorded_at");
            chrono::DateTime::parse_from_rfc3339(time).expect("an RFC 3339 time")
        })
        .collect();
    assert!(times.is_sorted(), "oldest first: {times:?}");
    let metrics = dstack(home, &["metrics", "cli-fails"], &[]).ok();
    assert!(
        row(&metrics, "cpu").is_some_and(|line| line.contains("no data")),
        "{metrics}"
    );
    let missing = dstack(home, &["metrics", "no-such-run"], &[]).failed();
    assert_eq!(missing.trim(), "Run no-such-run not found");

    // Volumes and gateways need a backend: the reference server has none, so the plan or
    // the creation fails with its message on one line.
    std::fs::write(
        home.join("volume.dstack.yml"),
        "type: volume\nname: cli-volume\nbackend: aws\nregion: us-east-1\nsize: 100GB\n",
    )
    .expect("write the volume");
    let volume = dstack(home, &["apply", "-f", "volume.dstack.yml", "-y"], &[]);
    assert!(volume.stdout.contains(" Size           100GB"), "{volume}");
    assert!(volume.failed().starts_with("Backend aws not available."));
    std::fs::write(
        home.join("gateway.dstack.yml"),
        "type: gateway\nname: cli-gateway\nbackend: aws\nregion: us-east-1\ndomain: example.com\n",
    )
    .expect("write the gateway");
    let gateway = dstack(home, &["apply", "-f", "gateway.dstack.yml", "-y"], &[]).failed();
    assert!(
        gateway.starts_with("Backend aws not available."),
        "{gateway}"
    );

    let login = dstack(home, &["login", "--url", &server.url], &[]).failed();
    assert!(
        login.starts_with("No SSO providers configured on the server."),
        "{login}"
    );
}

#[test]
fn completion_scripts_for_each_shell() {
    let home = tempfile::tempdir().expect("temp home");
    for (shell, marker) in [
        ("bash", "_dstack()"),
        ("zsh", "#compdef dstack"),
        ("fish", "__fish_dstack"),
    ] {
        let script = dstack(home.path(), &["completion", shell], &[]).ok();
        assert!(script.contains(marker), "{shell}: {script}");
    }
}

#[test]
fn commands_against_the_reference_server() {
    let home = tempfile::tempdir().expect("temp home");
    let server = Server::start_reference(home.path());
    let home = home.path();
    project_story(home, &server);
    secret_story(home);

    let ps = dstack(home, &["ps"], &[]).ok();
    assert!(
        ps.starts_with(" NAME  BACKEND  GPU  PRICE  STATUS  SUBMITTED"),
        "{ps}"
    );
    let json: Value = serde_json::from_str(&dstack(home, &["ps", "--json"], &[]).ok())
        .expect("ps --json prints JSON");
    assert_eq!(json["project"], "main");
    assert!(json["runs"].is_array(), "{json}");

    let fleets = dstack(home, &["fleet"], &[]).ok();
    assert!(fleets.starts_with(" NAME  NODES  GPU  SPOT"), "{fleets}");
    let missing = dstack(home, &["fleet", "delete", "nope", "-y"], &[]).failed();
    assert_eq!(missing.trim(), "Fleet nope does not exist");

    // The reference server has no backends: no offers, and the requirements echo the flags.
    let offers = dstack(home, &["offer", "--gpu", "24GB"], &[]).ok();
    assert!(offers.contains(" Project      main"), "{offers}");
    assert!(offers.contains("gpu=24GB:1"), "{offers}");
    assert!(
        offers.contains("No matching instance offers available"),
        "{offers}"
    );
    let json: Value =
        serde_json::from_str(&dstack(home, &["offer", "--gpu", "A100", "--json"], &[]).ok())
            .expect("offer --json prints JSON");
    assert_eq!(json["project"], "main");
    assert_eq!(json["requirements"]["resources"]["gpu"]["name"][0], "A100");
    assert_eq!(json["offers"], Value::Array(Vec::new()));
    let grouped = dstack(home, &["offer", "--group-by", "gpu,backend"], &[]).ok();
    assert!(grouped.contains("No matching instance offers"), "{grouped}");
    let bad_group = dstack(home, &["offer", "--group-by", "backend"], &[]).failed();
    assert!(
        bad_group.contains("without also grouping by 'gpu'"),
        "{bad_group}"
    );

    let bad_gpu = dstack(home, &["offer", "--gpu", "bogus:zz"], &[]).failed();
    assert_eq!(
        bad_gpu.trim(),
        "--gpu: invalid gpu spec \"bogus:zz\": the name is given twice"
    );
    let bad_disk = dstack(home, &["offer", "--disk", "10GB..5GB"], &[]).failed();
    assert!(bad_disk.starts_with("--disk: invalid range"), "{bad_disk}");

    let stop = dstack(home, &["stop", "no-such-run", "-y"], &[]).failed();
    assert_eq!(stop.trim(), "Run no-such-run not found");
    run_story(home);
    fleet_story(home);
    listings_story(home, &server);

    // A newer minor version is refused by the server, in words.
    let newer = dstack(home, &["ps"], &[("DSTACK_CLIENT_API_VERSION", "0.23.0")]).failed();
    assert_eq!(
        newer.trim(),
        "The client/CLI version (0.23.0) is incompatible with the server version (0.22.5)."
    );

    // The environment names the server and token; then the project must be named too.
    let env = [
        ("DSTACK_SERVER_URL", server.url.as_str()),
        ("DSTACK_TOKEN", ADMIN_TOKEN),
    ];
    let unnamed = dstack(home, &["ps"], &env).failed();
    assert!(
        unnamed.contains("Set DSTACK_PROJECT or use --project"),
        "{unnamed}"
    );
    dstack(home, &["ps", "--project", "main"], &env).ok();
}

#[test]
fn commands_against_our_server() {
    let home = tempfile::tempdir().expect("temp home");
    let server = Server::start(home.path());
    project_story(home.path(), &server);
    secret_story(home.path());
}

#[test]
fn errors_need_no_server() {
    let home = tempfile::tempdir().expect("temp home");
    let home = home.path();
    let down = [
        ("DSTACK_SERVER_URL", "http://127.0.0.1:9"),
        ("DSTACK_TOKEN", "token"),
        ("DSTACK_PROJECT", "main"),
    ];
    let refused = dstack(home, &["secret", "list"], &down).failed();
    assert_eq!(
        refused.trim(),
        "Failed to connect to dstack server http://127.0.0.1:9"
    );
    let no_config = dstack(home, &["ps"], &[]).failed();
    assert_eq!(no_config.trim(), "No default project, specify project name");
    let url_only = dstack(home, &["ps"], &down[..1]).failed();
    assert_eq!(
        url_only.trim(),
        "DSTACK_SERVER_URL is set, but DSTACK_TOKEN is not set"
    );

    let missing = dstack(home, &["apply", "-f", "missing.yml", "-y"], &down).failed();
    assert!(missing.contains("missing.yml"), "{missing}");
    std::fs::write(home.join("bad.yml"), "type: task\ncommands: [echo\n").expect("write");
    let invalid = dstack(home, &["apply", "-f", "bad.yml", "-y"], &down).failed();
    assert!(invalid.contains("bad.yml"), "{invalid}");
}

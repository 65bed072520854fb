//! `dstack event` against our server: the target, within and type filters (checked against
//! what the official Python CLI shows for the same flags), `--since` over several pages,
//! `--json`, and `-w` printing each event once.

mod support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use support::{Server, dstack, setup_path};

/// The events `dstack event <args> --json` prints, after checking the envelope.
fn events_json(home: &Path, args: &[&str]) -> Vec<Value> {
    let args = [&["event"][..], args, &["--json"]].concat();
    let printed = dstack(home, &args, &[]).ok();
    let json: Value = serde_json::from_str(&printed).expect("event --json prints JSON");
    assert_eq!(json["project"], "main", "{json}");
    json["events"].as_array().expect("events").clone()
}

/// `<type> <name>` of each target of each event.
fn targets(events: &[Value]) -> Vec<Vec<String>> {
    events
        .iter()
        .map(|event| {
            event["targets"]
                .as_array()
                .expect("targets")
                .iter()
                .map(|target| {
                    format!(
                        "{} {}",
                        target["type"].as_str().expect("type"),
                        target["name"].as_str().expect("name")
                    )
                })
                .collect()
        })
        .collect()
}

/// Event lines without their timestamps.
fn event_lines(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| line.split_once("] ").map(|(_, rest)| rest.to_owned()))
        .collect()
}

/// The official Python CLI's `dstack event <args>` lines, against the config in `home`.
fn python_event_lines(home: &Path, args: &[&str]) -> Vec<String> {
    let output = Command::new(setup_path("DSTACK_TEST_PYTHON_CLI"))
        .arg("event")
        .args(args)
        .env("HOME", home)
        .env("COLUMNS", "400")
        .env_remove("DSTACK_PROJECT")
        .current_dir(home)
        .stdin(Stdio::null())
        .output()
        .expect("the Python CLI runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{args:?}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    event_lines(&stdout)
}

#[test]
fn filters_name_targets_as_dstacks_cli_does() {
    let home = tempfile::tempdir().expect("temp home");
    let _server = Server::start(home.path());
    let home = home.path();
    for (name, value) in [("alpha", "1"), ("beta", "2"), ("alpha", "3")] {
        dstack(home, &["secret", "set", name, value], &[]).ok();
    }
    std::fs::write(
        home.join("fleet.dstack.yml"),
        "type: fleet\nname: events-fleet\nnodes: 0..1\n",
    )
    .expect("write the fleet");
    dstack(home, &["apply", "-f", "fleet.dstack.yml", "-y"], &[]).ok();

    let alpha = events_json(home, &["--target-secret", "alpha"]);
    assert_eq!(targets(&alpha), [["secret alpha"], ["secret alpha"]]);
    let messages: Vec<_> = alpha.iter().map(|event| &event["message"]).collect();
    assert_eq!(messages, ["Secret created", "Secret updated"]);
    let both = events_json(
        home,
        &[
            "list",
            "--target-secret",
            "alpha",
            "--target-secret",
            "beta",
        ],
    );
    assert_eq!(both.len(), 3, "{both:?}");
    let fleet = events_json(home, &["--within-fleet", "main/events-fleet"]);
    assert_eq!(targets(&fleet), [["fleet events-fleet"]]);
    let secrets = events_json(home, &["--include-target-type", "secret"]);
    assert_eq!(secrets.len(), 3, "{secrets:?}");
    let everything = events_json(home, &[]);
    assert_eq!(
        targets(&everything),
        [
            ["project main"],
            ["secret alpha"],
            ["secret beta"],
            ["secret alpha"],
            ["fleet events-fleet"]
        ]
    );

    // The Python CLI sends its filters and shows the same events.
    for args in [
        &["--target-secret", "alpha"][..],
        &["--target-secret", "alpha", "--target-secret", "beta"],
        &["--target-fleet", "events-fleet"],
        &["--within-fleet", "events-fleet"],
        &[
            "--include-target-type",
            "fleet",
            "--include-target-type",
            "secret",
        ],
        &["--since", "1h"],
        &[],
    ] {
        let ours = event_lines(&dstack(home, &[&["event"][..], args].concat(), &[]).ok());
        assert!(!ours.is_empty(), "{args:?}");
        assert_eq!(ours, python_event_lines(home, args), "{args:?}");
    }

    for (args, error) in [
        (&["--target-run", "nope"][..], "Run nope does not exist"),
        (&["--target-secret", "nope"], "Secret nope does not exist"),
        (&["--target-volume", "nope"], "Volume nope does not exist"),
        (&["--target-gateway", "nope"], "Gateway nope does not exist"),
        (
            &["--within-fleet", "main/nope"],
            "Fleet main/nope does not exist",
        ),
        (
            &["--target-fleet", "a/b/c"],
            "Invalid reference a/b/c: only NAME or PROJECT/NAME is allowed",
        ),
        (
            &["--since", "2023-09-24T15:30:00"],
            "Timestamp 2023-09-24T15:30:00 is not offset-aware. Specify timezone, e.g. 2023-09-24T15:30:00Z",
        ),
    ] {
        let failed = dstack(home, &[&["event"][..], args].concat(), &[]).failed();
        assert_eq!(failed.trim(), error, "{args:?}");
    }
    let other = dstack(home, &["event", "--within-fleet", "elsewhere/x"], &[]).failed();
    assert!(
        other.starts_with("Project elsewhere does not exist at "),
        "{other}"
    );
    // Two target kinds at once is a usage error, as the server takes only one.
    let both = dstack(
        home,
        &["event", "--target-run", "a", "--target-fleet", "b"],
        &[],
    );
    assert_eq!(both.status.code(), Some(2), "{both}");
}

#[test]
fn since_reads_every_page() {
    let home = tempfile::tempdir().expect("temp home");
    let _server = Server::start(home.path());
    let home = home.path();
    dstack(home, &["secret", "set", "first", "x"], &[]).ok();
    for value in 0..110 {
        dstack(home, &["secret", "set", "bulk", &value.to_string()], &[]).ok();
    }

    let newest = events_json(home, &["--target-secret", "bulk"]);
    assert_eq!(newest.len(), 100, "without --since, the newest 100");
    let all = events_json(home, &["--target-secret", "bulk", "--since", "1h"]);
    assert_eq!(all.len(), 110, "--since pages past 100");
    let ids: HashSet<_> = all
        .iter()
        .map(|event| event["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 110, "no event twice");
    assert_eq!(
        all[10..],
        newest[..],
        "oldest first, ending with the newest"
    );

    // An RFC 3339 time: the events after the first `bulk` one.
    let first_bulk = all[0]["recorded_at"].as_str().expect("recorded_at");
    let later = events_json(home, &["--since", first_bulk]);
    assert_eq!(later.len(), 109, "{first_bulk}");
    assert_eq!(later[0]["id"], all[1]["id"]);
    let future = events_json(home, &["--since", "2999-01-01T00:00:00+01:00"]);
    assert!(future.is_empty(), "{future:?}");
}

/// Lines from a child's stdout, read on a thread.
struct Lines(mpsc::Receiver<String>);

impl Lines {
    /// The next line, within a deadline.
    fn next(&self) -> String {
        self.0
            .recv_timeout(Duration::from_secs(30))
            .expect("a line within 30 s")
    }
}

#[test]
fn watch_prints_each_event_once() {
    let home = tempfile::tempdir().expect("temp home");
    let _server = Server::start(home.path());
    let home = home.path();
    dstack(home, &["secret", "set", "watched", "1"], &[]).ok();
    dstack(home, &["secret", "set", "other", "1"], &[]).ok();

    let mut child = Command::new(env!("CARGO_BIN_EXE_dstack"))
        .args(["event", "-w", "--json", "--target-secret", "watched"])
        .env("HOME", home)
        .env_remove("DSTACK_PROJECT")
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("dstack event -w starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let lines = Lines(receiver);
    let event = |line: String| -> Value {
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: not one JSON event: {line}"))
    };

    // Every poll after an update asks again for the earlier events, all inside the 20 s
    // overlap, before the new one: a repeat would come before the next update's line.
    let mut ids = HashSet::new();
    let created = event(lines.next());
    assert_eq!(created["message"], "Secret created", "{created}");
    ids.insert(created["id"].to_string());
    for value in ["2", "3", "4"] {
        dstack(home, &["secret", "set", "watched", value], &[]).ok();
        dstack(home, &["secret", "set", "other", value], &[]).ok();
        let updated = event(lines.next());
        assert_eq!(updated["message"], "Secret updated", "{updated}");
        assert_eq!(updated["targets"][0]["name"], "watched", "{updated}");
        assert!(
            ids.insert(updated["id"].to_string()),
            "printed twice: {updated}"
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

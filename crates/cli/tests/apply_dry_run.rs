//! The real `dstack` binary checking configuration files: exit codes, stdout and stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn dstack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dstack"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("the dstack binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes `yaml` to a file named `name` in a fresh directory and returns its path.
fn write_config(name: &str, yaml: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dstack-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn every_example_is_valid_and_summarised() {
    let mut checked = 0;
    for entry in std::fs::read_dir(repo_root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let relative = format!("examples/{}", path.file_name().unwrap().to_string_lossy());
        let output = dstack(&["apply", "--dry-run", "-f", &relative]);
        let stdout = text(&output.stdout);
        assert!(
            output.status.success(),
            "{relative}: {}",
            text(&output.stderr)
        );
        assert!(
            stdout.contains(&format!(" Configuration  {relative}\n")),
            "{stdout}"
        );
        assert!(stdout.contains(" Type  "), "{stdout}");
        assert!(stdout.contains(" Name  "), "{stdout}");
        assert!(
            stdout.ends_with("is valid (dry run: nothing was submitted)\n"),
            "{stdout}"
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} examples found");
}

#[test]
fn task_summary_shows_nodes_name_and_resources() {
    let output = dstack(&[
        "apply",
        "--dry-run",
        "-f",
        "examples/multi-node-task.dstack.yml",
    ]);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(" Type           task (nodes=2)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(" Name           train-distrib\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(" Resources      cpu=2.. mem=8GB.. disk=100GB.. gpu=A100:80GB:8\n"),
        "{stdout}"
    );
}

#[test]
fn an_invalid_configuration_is_one_line_with_file_line_column_and_field() {
    let path = write_config(
        "gpu.dstack.yml",
        "type: task\ncommands: [nvidia-smi]\nresources:\n  gpu: H100:8:1..\n",
    );
    let output = dstack(&["apply", "--dry-run", "-f", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        format!(
            "{}:4:8: resources.gpu: invalid gpu spec \"H100:8:1..\": the count is given twice\n",
            path.display()
        )
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn an_unknown_field_is_named_with_its_location() {
    let path = write_config(
        "typo.dstack.yml",
        "type: task\ncommands: [ls]\nimagee: debian\n",
    );
    let output = dstack(&["apply", "--dry-run", "-f", path.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.starts_with(&format!("{}:3:1: imagee: ", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("unknown field"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let output = dstack(&["apply", "--dry-run", "-f", "examples/no-such-file.yml"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "cannot read configuration file examples/no-such-file.yml: No such file or directory (os error 2)\n"
    );
}

#[test]
fn applying_without_a_configured_project_says_what_is_missing() {
    let home = tempfile::tempdir().expect("temp home");
    let output = Command::new(env!("CARGO_BIN_EXE_dstack"))
        .args(["apply", "-f", "examples/hello-world.dstack.yml", "-y"])
        .current_dir(repo_root())
        .env("HOME", home.path())
        .env_remove("DSTACK_PROJECT")
        .env_remove("DSTACK_SERVER_URL")
        .env_remove("DSTACK_TOKEN")
        .output()
        .expect("the dstack binary runs");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "No default project, specify project name\n"
    );
}

#[test]
fn schema_command_prints_the_schema_kept_in_the_repository() {
    let output = dstack(&["schema"]);
    assert!(output.status.success());
    let stored = std::fs::read_to_string(repo_root().join("schemas/configuration.schema.json"))
        .expect("schemas/configuration.schema.json exists");
    assert_eq!(text(&output.stdout), stored);
}

//! The shell line a task's container runs: make sure sshd is there, then start the runner.

/// Where the runner binary appears inside every container.
pub const RUNNER_PATH_IN_CONTAINER: &str = "/usr/local/bin/dstack-runner";
/// The runner's temp dir inside the container, bound to the task's runner dir on the host.
pub const RUNNER_TEMP_DIR: &str = "/tmp/runner";

/// How the runner is started in a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerLaunch {
    pub log_level: String,
    pub http_port: u16,
    pub ssh_port: u16,
    /// sshd `LogLevel`; empty keeps the runner's default.
    pub ssh_log_level: String,
}

/// Installs sshd when the image lacks it. Runs in a subshell so that its `unset`s stay there.
/// An image without a known package manager keeps going without sshd: the job can still run,
/// and the runner reports that SSH is unavailable.
const SSHD_PRELUDE: &str = concat!(
    "( unset LD_LIBRARY_PATH; unset LD_PRELOAD; ",
    "exists() { command -v \"$1\" > /dev/null 2>&1; }; ",
    "install_pkg() { ",
    "if exists apt-get; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \"$1\"; ",
    "elif exists dnf; then dnf install -y \"$1\"; ",
    "elif exists yum; then yum install -y \"$1\"; ",
    "elif exists apk; then apk add --no-cache \"$1\"; ",
    "else return 11; fi; }; ",
    "if ! exists sshd; then install_pkg openssh-server || ",
    "echo 'dstack: sshd is missing and no package manager could install it' >&2; fi )",
);

/// The argument of `/bin/sh -c` for a container: the sshd prelude, then the runner.
pub fn container_command(launch: &RunnerLaunch, host_network: bool, ssh_keys: &[String]) -> String {
    let mut runner = vec![
        RUNNER_PATH_IN_CONTAINER.to_owned(),
        "--log-level".to_owned(),
        shell_quote(&launch.log_level),
        "start".to_owned(),
        "--temp-dir".to_owned(),
        RUNNER_TEMP_DIR.to_owned(),
        "--http-port".to_owned(),
        launch.http_port.to_string(),
        "--ssh-port".to_owned(),
        launch.ssh_port.to_string(),
    ];
    if host_network {
        // With host networking the runner's API would otherwise be open on every interface
        // of the host.
        runner.extend(["--http-address".to_owned(), "localhost".to_owned()]);
    }
    for key in ssh_keys {
        runner.extend(["--ssh-authorized-key".to_owned(), shell_quote(key)]);
    }
    if !launch.ssh_log_level.is_empty() {
        runner.extend([
            "--ssh-log-level".to_owned(),
            shell_quote(&launch.ssh_log_level),
        ]);
    }
    format!("{SSHD_PRELUDE} && {}", runner.join(" "))
}

/// Quotes a word for `sh`: single quotes, with each `'` written as `'\''`.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch() -> RunnerLaunch {
        RunnerLaunch {
            log_level: "4".into(),
            http_port: 10999,
            ssh_port: 10022,
            ssh_log_level: String::new(),
        }
    }

    #[test]
    fn host_network_binds_the_runner_to_localhost() {
        let command = container_command(&launch(), true, &["ssh-ed25519 AAAA me".into()]);
        assert!(
            command.ends_with(
                "&& /usr/local/bin/dstack-runner --log-level '4' start --temp-dir /tmp/runner \
             --http-port 10999 --ssh-port 10022 --http-address localhost \
             --ssh-authorized-key 'ssh-ed25519 AAAA me'"
            ),
            "{command}"
        );
    }

    #[test]
    fn bridge_network_listens_everywhere_and_passes_the_ssh_log_level() {
        let launch = RunnerLaunch {
            ssh_log_level: "DEBUG".into(),
            ..launch()
        };
        let command = container_command(&launch, false, &[]);
        assert!(!command.contains("--http-address"));
        assert!(command.ends_with("--ssh-port 10022 --ssh-log-level 'DEBUG'"));
    }

    #[test]
    fn quotes_in_keys_cannot_break_out() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn the_prelude_is_valid_shell_and_keeps_going_without_a_package_manager() {
        let output = std::process::Command::new("sh")
            .args([
                "-c",
                &format!("PATH=/nonexistent; {SSHD_PRELUDE} && echo after"),
            ])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "after\n");
        assert!(String::from_utf8_lossy(&output.stderr).contains("sshd is missing"));
    }
}

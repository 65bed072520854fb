//! Host checks and shim deployment for SSH fleets (spec lifecycle.md §6, agents.md §1.8):
//! what the host is, the project key in `authorized_keys`, then upload `dstack-shim` with its
//! `shim.env`, start it, and wait for its healthcheck through the pool's forward. Policy (when to deploy, what to do on failure)
//! belongs to the caller.
//!
//! dstack installs the shim as the systemd unit `dstack-shim.service`; we do the same where
//! systemd runs, and elsewhere (containers, test hosts) start it as a detached background
//! process with its pid in `<working_dir>/shim.pid`.

use std::sync::Arc;
use std::time::Duration;

use dstack_agents::shim::{HealthcheckResponse, SHIM_SERVICE_NAME, ShimClient};

use super::error::SshError;
use super::pool::{SshPool, shell_quote};
use super::target::SshTarget;

/// How long each deployment command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long uploading the binary may take (tens of MiB over a slow link).
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);
/// How often the healthcheck is tried while waiting for the shim.
const HEALTHCHECK_EVERY: Duration = Duration::from_millis(250);

/// Why a host check or deployment failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// SSH failed.
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// A step's command exited with an error.
    #[error("{step} on {host} failed: {detail}")]
    Step {
        /// What the command was for.
        step: &'static str,
        /// `user@host:port`.
        host: String,
        /// Its exit status and stderr.
        detail: String,
    },
    /// An environment variable for the shim cannot be written to `shim.env`.
    #[error("the shim environment variable {name} cannot be written: {reason}")]
    Env {
        /// The variable.
        name: String,
        /// Why not.
        reason: &'static str,
    },
    /// A public key is not one `authorized_keys` line (`type base64 [comment]`).
    #[error("not a public key line: {key:?}")]
    PublicKey {
        /// The offending text.
        key: String,
    },
    /// The shim did not answer its healthcheck in time.
    #[error("the shim on {host} did not answer its healthcheck within {timeout:?}: {last_error}")]
    NotHealthy {
        /// `user@host:port`.
        host: String,
        /// The limit.
        timeout: Duration,
        /// The last healthcheck failure.
        last_error: String,
    },
}

/// Whether Docker is on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Docker {
    /// The daemon answers; its version.
    Running(String),
    /// The CLI is installed but the daemon does not answer.
    NotRunning,
    /// No `docker` command.
    Missing,
}

/// What a host is, as far as deploying the shim cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// `uname -m`, such as `x86_64` or `aarch64`.
    pub arch: String,
    /// Docker's state.
    pub docker: Docker,
    /// Whether systemd is the running init (`/run/systemd/system` exists).
    pub systemd: bool,
}

/// The script printing the three lines [`inspect_host`] reads.
const INSPECT_SCRIPT: &str = "uname -m; \
    if command -v docker >/dev/null 2>&1; then \
      docker version --format '{{.Server.Version}}' 2>/dev/null || echo not-running; \
    else echo missing; fi; \
    if [ -d /run/systemd/system ]; then echo systemd; else echo no-systemd; fi";

/// Reads the host's architecture, Docker's state and whether systemd runs.
pub async fn inspect_host(pool: &SshPool, target: &SshTarget) -> Result<HostFacts, DeployError> {
    let output = pool.run(target, INSPECT_SCRIPT, COMMAND_TIMEOUT).await?;
    let text = output.stdout_text();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    match (output.success(), lines.as_slice()) {
        (true, [arch, docker, init]) => Ok(HostFacts {
            arch: (*arch).to_owned(),
            docker: match *docker {
                "missing" => Docker::Missing,
                "not-running" | "" => Docker::NotRunning,
                version => Docker::Running(version.to_owned()),
            },
            systemd: *init == "systemd",
        }),
        _ => Err(DeployError::Step {
            step: "inspecting the host",
            host: target.login(),
            detail: format!(
                "{}, stdout {text:?}, stderr {:?}",
                output.describe_exit(),
                output.stderr_text()
            ),
        }),
    }
}

/// The script [`authorize_keys`] runs: reads `authorized_keys` lines on stdin and appends
/// those whose key is not in the file yet.
const AUTHORIZE_SCRIPT: &str = r#"set -eu
umask 077
mkdir -p "$HOME/.ssh"
file="$HOME/.ssh/authorized_keys"
touch "$file"
if [ -s "$file" ] && [ -n "$(tail -c 1 "$file")" ]; then echo >> "$file"; fi
while read -r kind blob comment; do
  grep -qF -- "$blob" "$file" || printf '%s %s %s
' "$kind" "$blob" "$comment" >> "$file"
done"#;

/// Appends `public_keys` (`authorized_keys` lines, such as the project's key) to the login
/// user's `~/.ssh/authorized_keys` unless already there, as dstack does on deploy so that the
/// server can later log in with the project key.
pub async fn authorize_keys(
    pool: &SshPool,
    target: &SshTarget,
    public_keys: &[String],
) -> Result<(), DeployError> {
    let mut lines = String::new();
    for key in public_keys {
        let fields: Vec<&str> = key.split_whitespace().collect();
        if fields.len() < 2 || key.trim().contains('\n') {
            return Err(DeployError::PublicKey { key: key.clone() });
        }
        lines.push_str(&format!("{} # added by dstack\n", fields.join(" ")));
    }
    let output = pool
        .run_with_input(target, AUTHORIZE_SCRIPT, lines.as_bytes(), COMMAND_TIMEOUT)
        .await?;
    if output.success() {
        return Ok(());
    }
    Err(DeployError::Step {
        step: "adding keys to authorized_keys",
        host: target.login(),
        detail: format!("{}: {}", output.describe_exit(), output.stderr_text()),
    })
}

/// How the shim is kept running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supervisor {
    /// The systemd unit `dstack-shim.service`, restarted on exit, as dstack does.
    Systemd,
    /// A detached process; nothing restarts it.
    Background,
}

impl Supervisor {
    /// systemd where it runs, else a background process.
    pub fn for_host(facts: &HostFacts) -> Self {
        if facts.systemd {
            Self::Systemd
        } else {
            Self::Background
        }
    }
}

/// What to install and where.
#[derive(Debug, Clone)]
pub struct ShimDeployment {
    /// The `dstack-shim` binary for the host's architecture, shared by concurrent deployments.
    pub binary: Arc<[u8]>,
    /// Where the binary goes, e.g. `/usr/local/bin/dstack-shim`.
    pub binary_path: String,
    /// The shim's home (`DSTACK_SHIM_HOME`), holding `shim.env`, its log and `host_info.json`.
    pub working_dir: String,
    /// The shim's HTTP port on the host's loopback.
    pub http_port: u16,
    /// More variables for `shim.env` (the fleet's `env`).
    pub env: Vec<(String, String)>,
    /// How the shim is kept running.
    pub supervisor: Supervisor,
}

impl ShimDeployment {
    /// `shim.env`: service mode (so the shim writes `host_info.json`), the home, the port,
    /// then the extra variables. Single-quoted, which both `sh` and systemd's
    /// `EnvironmentFile` read.
    fn env_file(&self) -> Result<String, DeployError> {
        let mut lines = vec![
            "DSTACK_SERVICE_MODE='1'".to_owned(),
            format!("DSTACK_SHIM_HOME={}", shell_quote(&self.working_dir)),
            format!("DSTACK_SHIM_HTTP_PORT='{}'", self.http_port),
        ];
        for (name, value) in &self.env {
            let valid_name = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                return Err(DeployError::Env {
                    name: name.clone(),
                    reason: "not a shell variable name",
                });
            }
            if value.contains(['\'', '\n', '\\']) {
                return Err(DeployError::Env {
                    name: name.clone(),
                    reason: "quotes, backslashes and newlines are not supported in values",
                });
            }
            lines.push(format!("{name}='{value}'"));
        }
        Ok(lines.join("\n") + "\n")
    }

    fn systemd_unit(&self) -> String {
        format!(
            "[Unit]\nDescription={SHIM_SERVICE_NAME}\nAfter=network-online.target\n\n\
             [Service]\nType=simple\nUser=root\nRestart=always\nRestartSec=10\n\
             WorkingDirectory={dir}\nEnvironmentFile={dir}/shim.env\nExecStart={binary}\n\n\
             [Install]\nWantedBy=multi-user.target\n",
            dir = self.working_dir,
            binary = self.binary_path,
        )
    }

    /// Stops a shim this started before (waiting for it to exit so the port is free), then
    /// starts the new one detached from the SSH session, with its pid in `shim.pid`.
    fn background_start_script(&self) -> String {
        let dir = shell_quote(&self.working_dir);
        let binary = shell_quote(&self.binary_path);
        format!(
            "set -e\n\
             cd {dir}\n\
             if [ -f shim.pid ] && old=$(cat shim.pid) && kill \"$old\" 2>/dev/null; then\n\
             while kill -0 \"$old\" 2>/dev/null; do sleep 0.1; done\n\
             fi\n\
             set -a\n\
             . ./shim.env\n\
             set +a\n\
             nohup setsid {binary} >>shim.stdout 2>&1 </dev/null &\n\
             echo $! >shim.pid\n"
        )
    }
}

/// Uploads and starts the shim on `target` and waits, at most `healthy_within`, for its
/// healthcheck through the pool's forward to its port. Idempotent: running it again
/// replaces the binary and restarts the shim.
pub async fn deploy_shim(
    pool: &SshPool,
    target: &SshTarget,
    deployment: &ShimDeployment,
    healthy_within: Duration,
) -> Result<HealthcheckResponse, DeployError> {
    let host = target.login();
    let env_file = deployment.env_file()?;
    let dir = shell_quote(&deployment.working_dir);
    let prepare = format!("mkdir -p {dir} && rm -f {dir}/host_info.json");
    run_step(pool, target, "creating the working directory", &prepare).await?;
    pool.upload(
        target,
        &deployment.binary_path,
        &deployment.binary,
        0o755,
        UPLOAD_TIMEOUT,
    )
    .await?;
    let env_path = format!("{}/shim.env", deployment.working_dir);
    pool.upload(
        target,
        &env_path,
        env_file.as_bytes(),
        0o600,
        COMMAND_TIMEOUT,
    )
    .await?;
    match deployment.supervisor {
        Supervisor::Systemd => {
            let unit_path = format!("/etc/systemd/system/{SHIM_SERVICE_NAME}.service");
            let unit = deployment.systemd_unit();
            pool.upload(target, &unit_path, unit.as_bytes(), 0o644, COMMAND_TIMEOUT)
                .await?;
            let start = format!(
                "systemctl daemon-reload && systemctl --quiet enable {SHIM_SERVICE_NAME} && \
                 systemctl restart {SHIM_SERVICE_NAME}"
            );
            run_step(pool, target, "starting the shim service", &start).await?;
        }
        Supervisor::Background => {
            let start = deployment.background_start_script();
            run_step(pool, target, "starting the shim", &start).await?;
        }
    }
    let address = pool.forward(target, deployment.http_port)?;
    let shim =
        ShimClient::new(&format!("http://{address}")).map_err(|error| DeployError::Step {
            step: "reaching the shim",
            host: host.clone(),
            detail: error.to_string(),
        })?;
    wait_healthy(&shim, &host, healthy_within).await
}

async fn run_step(
    pool: &SshPool,
    target: &SshTarget,
    step: &'static str,
    command: &str,
) -> Result<(), DeployError> {
    let output = pool.run(target, command, COMMAND_TIMEOUT).await?;
    if output.success() {
        return Ok(());
    }
    Err(DeployError::Step {
        step,
        host: target.login(),
        detail: format!("{}: {}", output.describe_exit(), output.stderr_text()),
    })
}

/// Polls the healthcheck until it answers or `within` passes.
async fn wait_healthy(
    shim: &ShimClient,
    host: &str,
    within: Duration,
) -> Result<HealthcheckResponse, DeployError> {
    let deadline = tokio::time::Instant::now() + within;
    let mut attempts = tokio::time::interval(HEALTHCHECK_EVERY);
    loop {
        attempts.tick().await;
        let error = match shim.healthcheck().await {
            Ok(health) => return Ok(health),
            Err(error) => error,
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(DeployError::NotHealthy {
                host: host.to_owned(),
                timeout: within,
                last_error: error.to_string(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(env: Vec<(&str, &str)>) -> ShimDeployment {
        ShimDeployment {
            binary: Arc::from(Vec::new()),
            binary_path: "/usr/local/bin/dstack-shim".to_owned(),
            working_dir: "/root/.dstack".to_owned(),
            http_port: 10998,
            env: env
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
            supervisor: Supervisor::Systemd,
        }
    }

    #[test]
    fn env_file_sets_service_mode_home_and_port_then_the_fleet_env() {
        let file = deployment(vec![("HTTP_PROXY", "http://proxy:3128")])
            .env_file()
            .unwrap();
        assert_eq!(
            file,
            "DSTACK_SERVICE_MODE='1'\nDSTACK_SHIM_HOME='/root/.dstack'\n\
             DSTACK_SHIM_HTTP_PORT='10998'\nHTTP_PROXY='http://proxy:3128'\n"
        );
        for (name, value) in [("1X", "v"), ("A-B", "v"), ("OK", "it's")] {
            let error = deployment(vec![(name, value)]).env_file().unwrap_err();
            assert!(
                matches!(error, DeployError::Env { .. }),
                "{name}={value}: {error}"
            );
        }
    }

    #[test]
    fn systemd_unit_reads_the_env_file_and_restarts_the_shim() {
        let unit = deployment(Vec::new()).systemd_unit();
        for line in [
            "ExecStart=/usr/local/bin/dstack-shim",
            "EnvironmentFile=/root/.dstack/shim.env",
            "WorkingDirectory=/root/.dstack",
            "Restart=always",
            "WantedBy=multi-user.target",
        ] {
            assert!(
                unit.lines().any(|l| l == line),
                "{line} missing from:\n{unit}"
            );
        }
    }
}

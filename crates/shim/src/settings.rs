//! [`Settings`]: the shim's flags, each also read from the environment variable dstack sets.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Parser, ValueEnum};

/// Environment variables copied into every container by default, when the shim has them.
const DEFAULT_PASS_ENV: &str = "http_proxy,https_proxy,no_proxy,HTTP_PROXY,HTTPS_PROXY,NO_PROXY";

/// Flags of `dstack-shim`, with the names and variables of dstack's shim so the same cloud-init
/// and systemd unit start either.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "dstack-shim",
    about = "dstack host agent",
    disable_version_flag = true
)]
pub struct Settings {
    /// Print `dstack-shim version <version>` and exit.
    #[arg(long = "version")]
    pub print_version: bool,
    /// Directory for the runners' temp dirs and `host_info.json` [default: $HOME/.dstack].
    #[arg(long, env = "DSTACK_SHIM_HOME")]
    pub shim_home: Option<PathBuf>,
    /// Port of the HTTP API, bound on localhost.
    #[arg(long, env = "DSTACK_SHIM_HTTP_PORT", default_value_t = dstack_agents::shim::DEFAULT_SHIM_HTTP_PORT)]
    pub shim_http_port: u16,
    /// Log level of the shim: error, warn, info, debug, trace, or dstack's digits 1-6.
    #[arg(long, env = "DSTACK_SHIM_LOG_LEVEL", default_value = "info")]
    pub shim_log_level: String,
    /// Host path of the runner binary, bound into every container.
    #[arg(
        long,
        env = "DSTACK_RUNNER_BINARY_PATH",
        default_value = "/usr/local/bin/dstack-runner"
    )]
    pub runner_binary_path: PathBuf,
    /// Host path of the shim's own binary, which `/api/components/install` replaces
    /// [default: the running binary].
    #[arg(long, env = "DSTACK_SHIM_BINARY_PATH")]
    pub shim_binary_path: Option<PathBuf>,
    /// HTTP port of the runner inside the container.
    #[arg(long, env = "DSTACK_RUNNER_HTTP_PORT", default_value_t = 10999)]
    pub runner_http_port: u16,
    /// SSH port of the container's sshd.
    #[arg(long, env = "DSTACK_RUNNER_SSH_PORT", default_value_t = 10022)]
    pub runner_ssh_port: u16,
    /// sshd `LogLevel` in the container; empty keeps the runner's default.
    #[arg(long, env = "DSTACK_RUNNER_SSH_LOG_LEVEL", default_value = "")]
    pub runner_ssh_log_level: String,
    /// `--log-level` given to the runner.
    #[arg(long, env = "DSTACK_RUNNER_LOG_LEVEL", default_value = "info")]
    pub runner_log_level: String,
    /// Comma-separated names of the shim's environment variables copied into containers.
    #[arg(long, env = "DSTACK_DOCKER_PASS_ENV", default_value = DEFAULT_PASS_ENV)]
    pub pass_env: String,
    /// Run every container privileged.
    #[arg(long, env = "DSTACK_DOCKER_PRIVILEGED", value_parser = BoolishValueParser::new())]
    pub privileged: bool,
    /// `PJRT_DEVICE` for containers on TPU hosts.
    #[arg(long, env = "PJRT_DEVICE")]
    pub pjrt_device: Option<String>,
    /// Service mode (SSH fleets): write `host_info.json` into the shim home at startup.
    /// dstack's server writes `DSTACK_SERVICE_MODE="1"` into `shim.env`, so the environment
    /// takes `1`/`0`, `yes`/`no`, `on`/`off` as well as `true`/`false`, as Go's flags do.
    #[arg(long = "service", env = "DSTACK_SERVICE_MODE", value_parser = BoolishValueParser::new())]
    pub service_mode: bool,
    /// How tasks run: `docker` (containers), `process` (the runner as a host process, for
    /// hosts without Docker), or `auto`: Docker if its daemon answers at startup.
    #[arg(long, env = "DSTACK_SHIM_RUNTIME", value_enum, default_value_t = RuntimeSetting::Auto)]
    pub runtime: RuntimeSetting,
}

/// The `--runtime` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuntimeSetting {
    /// Docker when its daemon answers at startup, else host processes.
    Auto,
    /// Containers; the shim does not start without a Docker daemon.
    Docker,
    /// Host processes, whether or not Docker is there.
    Process,
}

impl Settings {
    /// The shim home: the flag, else `$HOME/.dstack`, else `/root/.dstack`.
    pub fn home(&self) -> PathBuf {
        self.shim_home.clone().unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map_or_else(|| PathBuf::from("/root"), PathBuf::from)
                .join(".dstack")
        })
    }

    /// The names listed in `--pass-env`.
    pub fn pass_env_names(&self) -> impl Iterator<Item = &str> {
        self.pass_env
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
    }
}

/// Turns a shim or runner log level into a `tracing` filter directive. dstack's agents also
/// take the digits 1 (fatal) to 6 (trace).
pub fn parse_log_level(level: &str) -> Option<&'static str> {
    match level.to_ascii_lowercase().as_str() {
        "1" | "fatal" | "2" | "error" => Some("error"),
        "3" | "warn" | "warning" => Some("warn"),
        "4" | "info" => Some("info"),
        "5" | "debug" => Some("debug"),
        "6" | "trace" => Some("trace"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_dstack() {
        let settings = Settings::try_parse_from(["dstack-shim"]).unwrap();
        assert_eq!(settings.shim_http_port, 10998);
        assert_eq!(settings.runner_http_port, 10999);
        assert_eq!(settings.runner_ssh_port, 10022);
        assert_eq!(
            settings.runner_binary_path,
            PathBuf::from("/usr/local/bin/dstack-runner")
        );
        assert_eq!(settings.pass_env_names().count(), 6);
        assert_eq!(settings.runtime, RuntimeSetting::Auto);
    }

    #[test]
    fn runtime_takes_its_three_names() {
        let runtime = |name: &str| {
            Settings::try_parse_from(["dstack-shim", "--runtime", name]).map(|s| s.runtime)
        };
        assert_eq!(runtime("process").unwrap(), RuntimeSetting::Process);
        assert_eq!(runtime("docker").unwrap(), RuntimeSetting::Docker);
        assert!(runtime("podman").is_err());
    }

    #[test]
    fn log_levels_take_names_and_digits() {
        assert_eq!(parse_log_level("5"), Some("debug"));
        assert_eq!(parse_log_level("WARNING"), Some("warn"));
        assert_eq!(parse_log_level("0"), None);
        assert_eq!(parse_log_level("loud"), None);
    }
}

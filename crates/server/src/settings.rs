//! [`Settings`]: everything `dstack server` is configured with, from flags or environment
//! (config-cli.md §15.19, §17). Secrets are redacted in `Debug`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use clap::Args;

/// A value that must not reach logs: its `Debug` is `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self(text.to_owned()))
    }
}

/// The server's settings: flags first, then `DSTACK_*` variables, then defaults.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// The address to listen on.
    #[arg(long, env = "DSTACK_SERVER_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// The port to listen on (0 picks a free one).
    #[arg(short, long, env = "DSTACK_SERVER_PORT", default_value_t = 3000)]
    pub port: u16,
    /// The log level: DEBUG, INFO, WARNING or ERROR.
    #[arg(
        short = 'l',
        long,
        env = "DSTACK_SERVER_LOG_LEVEL",
        default_value = "INFO"
    )]
    pub log_level: String,
    /// Log at DEBUG level, whatever the log level says.
    #[arg(short = 'd', long)]
    pub debug: bool,
    /// Update the main project in ~/.dstack/config.yml without asking.
    #[arg(short = 'y', long = "yes", conflicts_with = "no")]
    pub yes: bool,
    /// Never update ~/.dstack/config.yml.
    #[arg(short = 'n', long = "no")]
    pub no: bool,
    /// The admin's token, used only when the admin is first created.
    #[arg(
        long = "token",
        env = "DSTACK_SERVER_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<Secret>,
    /// Where the server keeps its state [default: ~/.dstack/server].
    #[arg(long, env = "DSTACK_SERVER_DIR")]
    pub server_dir: Option<PathBuf>,
    /// A PostgreSQL URL; SQLite under the server directory when unset.
    #[arg(long, env = "DSTACK_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,
    /// The URL clients reach the server at [default: http://HOST:PORT].
    #[arg(long, env = "DSTACK_SERVER_URL")]
    pub server_url: Option<String>,
    /// The largest code or file archive upload, in bytes, by its `Content-Length`; 0 turns the
    /// check off.
    #[arg(
        long,
        env = "DSTACK_SERVER_CODE_UPLOAD_LIMIT",
        default_value_t = DEFAULT_CODE_UPLOAD_LIMIT,
        hide = true
    )]
    pub code_upload_limit: u64,
    /// Run no pipelines: an API-only replica that leaves scheduling to others.
    #[arg(
        long,
        env = "DSTACK_SERVER_BACKGROUND_PROCESSING_DISABLED",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub background_processing_disabled: bool,
    /// Offer no slices of this host: runs then use only the project's fleets.
    #[arg(
        long,
        env = "DSTACK_SERVER_LOCAL_BACKEND_DISABLED",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub local_backend_disabled: bool,
    /// The `dstack-shim` the local backend starts for each slice [default: `dstack-shim`
    /// beside this program].
    #[arg(long, env = "DSTACK_SERVER_SHIM_BINARY")]
    pub shim_binary: Option<PathBuf>,
    /// The `dstack-runner` the local shims put into containers; it must be statically linked
    /// to run in any image [default: `dstack-runner` beside this program].
    #[arg(long, env = "DSTACK_SERVER_RUNNER_BINARY")]
    pub runner_binary: Option<PathBuf>,
    /// The home directory that holds `.dstack/`: `$HOME`, or the working directory without it.
    #[arg(skip = home_from_env())]
    pub home: PathBuf,
    /// The endpoints other programs call, from the environment only.
    #[arg(skip = Integrations::from_env())]
    pub integrations: Integrations,
}

/// Switches and tokens of the endpoints that programs other than the CLI call; dstack reads
/// them from the environment only.
#[derive(Debug, Clone, Default)]
pub struct Integrations {
    /// `DSTACK_SSHPROXY_API_TOKEN`: the token `dstack-sshproxy` presents; without it
    /// `/api/sshproxy/*` refuses every call.
    pub sshproxy_api_token: Option<Secret>,
    /// `DSTACK_ENABLE_PROMETHEUS_METRICS` is set (to anything): `GET /metrics` answers.
    pub prometheus_metrics: bool,
    /// `DSTACK_PROMETHEUS_AUTH_TOKEN`: the bearer token `GET /metrics` then requires.
    pub prometheus_auth_token: Option<Secret>,
}

impl Integrations {
    /// Reads the variables.
    pub fn from_env() -> Self {
        let secret = |name: &str| std::env::var(name).ok().map(Secret);
        Self {
            sshproxy_api_token: secret("DSTACK_SSHPROXY_API_TOKEN"),
            prometheus_metrics: std::env::var_os("DSTACK_ENABLE_PROMETHEUS_METRICS").is_some(),
            prometheus_auth_token: secret("DSTACK_PROMETHEUS_AUTH_TOKEN"),
        }
    }
}

/// dstack's default upload limit: 2 MiB.
pub const DEFAULT_CODE_UPLOAD_LIMIT: u64 = 2 * 1024 * 1024;

fn beside_this_program(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

fn home_from_env() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

impl Settings {
    /// Settings with every default, for a home directory; what tests start from.
    pub fn with_home(home: PathBuf) -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 3000,
            log_level: "INFO".to_owned(),
            debug: false,
            yes: false,
            no: false,
            admin_token: None,
            server_dir: None,
            database_url: None,
            server_url: None,
            code_upload_limit: DEFAULT_CODE_UPLOAD_LIMIT,
            background_processing_disabled: false,
            local_backend_disabled: false,
            shim_binary: None,
            runner_binary: None,
            home,
            integrations: Integrations::default(),
        }
    }

    /// The server directory.
    pub fn server_dir(&self) -> PathBuf {
        self.server_dir
            .clone()
            .unwrap_or_else(|| self.home.join(".dstack").join("server"))
    }

    /// The shim binary of the local backend.
    pub fn shim_binary(&self) -> PathBuf {
        self.shim_binary
            .clone()
            .unwrap_or_else(|| beside_this_program("dstack-shim"))
    }

    /// The runner binary of the local backend.
    pub fn runner_binary(&self) -> PathBuf {
        self.runner_binary
            .clone()
            .unwrap_or_else(|| beside_this_program("dstack-runner"))
    }

    /// The client configuration the server writes its `main` project into.
    pub fn client_config_path(&self) -> PathBuf {
        self.home.join(".dstack").join("config.yml")
    }

    /// The log filter for `tracing`, from `--log-level` or `-d`.
    pub fn log_filter(&self) -> &'static str {
        if self.debug {
            return "debug";
        }
        match self.log_level.to_ascii_uppercase().as_str() {
            "DEBUG" => "debug",
            "WARNING" | "WARN" => "warn",
            "ERROR" | "CRITICAL" => "error",
            _ => "info",
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Command {
        #[command(flatten)]
        settings: Settings,
    }

    fn parse(args: &[&str]) -> Settings {
        let argv = std::iter::once("server").chain(args.iter().copied());
        Command::try_parse_from(argv).expect("valid flags").settings
    }

    #[test]
    fn flags_set_address_token_and_config_policy() {
        let settings = parse(&["--host", "0.0.0.0", "-p", "0", "-y", "--token", "abc"]);
        assert_eq!((settings.host.as_str(), settings.port), ("0.0.0.0", 0));
        assert!(settings.yes && !settings.no);
        assert_eq!(settings.admin_token, Some(Secret("abc".to_owned())));
        assert!(Command::try_parse_from(["server", "-y", "-n"]).is_err());
    }

    #[test]
    fn debug_wins_over_the_log_level() {
        assert_eq!(parse(&["-l", "WARNING"]).log_filter(), "warn");
        assert_eq!(parse(&["-l", "WARNING", "-d"]).log_filter(), "debug");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let mut settings = Settings::with_home(PathBuf::from("/home/u"));
        settings.admin_token = Some(Secret("hunter2".to_owned()));
        settings.database_url = Some(Secret("postgres://u:pw@h/db".to_owned()));
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("pw@"),
            "{shown}"
        );
        assert_eq!(
            settings.server_dir(),
            PathBuf::from("/home/u/.dstack/server")
        );
        assert_eq!(
            settings.client_config_path(),
            PathBuf::from("/home/u/.dstack/config.yml")
        );
    }
}

//! The command line (agents.md §3.1): `dstack-runner [--log-level L] start [flags]`, and the
//! hidden `exec-job` helper the runner starts jobs through.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use dstack_agents::runner::DEFAULT_HTTP_PORT;

#[derive(Debug, Parser)]
#[command(
    name = "dstack-runner",
    about = "dstack's container agent: runs a job's commands and streams their logs",
    // `--version` prints `<name> version <version>`, which clap's own flag does not.
    disable_version_flag = true
)]
pub struct Cli {
    /// Print `dstack-runner version <version>` and exit; dstack's shim reads this line.
    #[arg(long = "version")]
    pub print_version: bool,
    /// fatal, error, warn, info, debug or trace (any case), or a digit from 1 (fatal) to 6
    /// (trace).
    #[arg(long, global = true, default_value = "info", value_parser = parse_log_level)]
    pub log_level: tracing::Level,
    /// Required unless `--version` is given.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the runner API until the job has run and its logs are pulled.
    Start(StartArgs),
    /// Start a session, become a user and exec a command (used by the runner itself).
    #[command(hide = true)]
    ExecJob(ExecJobArgs),
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Where uploads are kept.
    #[arg(long, default_value = "/tmp/runner")]
    pub temp_dir: PathBuf,
    /// The address to listen on: an IP address or `localhost`; empty for every interface.
    #[arg(long, default_value = "")]
    pub http_address: String,
    #[arg(long, default_value_t = DEFAULT_HTTP_PORT)]
    pub http_port: u16,
    /// The port of the container's sshd; 0 starts no sshd (for runners outside containers).
    #[arg(long, default_value_t = 10022)]
    pub ssh_port: u16,
    /// A public key allowed to log in to the container's sshd; repeatable.
    #[arg(long)]
    pub ssh_authorized_key: Vec<String>,
    /// The sshd `LogLevel`.
    #[arg(long, default_value = "INFO")]
    pub ssh_log_level: String,
    /// Ignored; accepted for shims older than 0.20.4.
    #[arg(long, hide = true)]
    pub home_dir: Option<String>,
    /// dstack's directory in the container, where the MPI hostfile is written.
    #[arg(long, default_value = "/dstack")]
    pub dstack_dir: PathBuf,
    /// The shell profile every login shell reads, made to source the job's environment.
    #[arg(long, hide = true, default_value = "/etc/profile")]
    pub etc_profile: PathBuf,
    /// The home of a job that names no `user` and so runs as the runner's own user, instead
    /// of that user's home in `/etc/passwd`: a shim running the runner on the host (no
    /// container) keeps such jobs out of the host's `/root`.
    #[arg(long, hide = true)]
    pub job_home_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExecJobArgs {
    /// The job user's uid; without it the job keeps the runner's user.
    #[arg(long, requires = "gid")]
    pub uid: Option<u32>,
    #[arg(long, requires = "uid")]
    pub gid: Option<u32>,
    /// Comma-separated gids.
    #[arg(long, default_value = "", value_parser = parse_ids)]
    pub groups: Ids,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<OsString>,
}

/// A list of numeric ids (a newtype, so clap takes the whole list as one value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids(pub Vec<u32>);

fn parse_ids(text: &str) -> Result<Ids, String> {
    text.split(',')
        .filter(|id| !id.is_empty())
        .map(|id| {
            id.parse()
                .map_err(|_| format!("{id:?} is not a numeric id"))
        })
        .collect::<Result<_, _>>()
        .map(Ids)
}

/// dstack's levels; `fatal` has no tracing equivalent and logs as `error`.
fn parse_log_level(text: &str) -> Result<tracing::Level, String> {
    use tracing::Level;
    let level = match text.to_ascii_lowercase().as_str() {
        "fatal" | "1" | "error" | "2" => Level::ERROR,
        "warn" | "warning" | "3" => Level::WARN,
        "info" | "4" => Level::INFO,
        "debug" | "5" => Level::DEBUG,
        "trace" | "6" => Level::TRACE,
        _ => return Err(format!("unknown log level {text:?}")),
    };
    Ok(level)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn log_levels_accepted_and_refused() {
        for text in [
            "fatal", "ERROR", "Warn", "warning", "info", "debug", "trace", "1", "6",
        ] {
            assert!(parse_log_level(text).is_ok(), "{text}");
        }
        for text in ["0", "7", "panic", "4 ", "", "٤"] {
            assert!(parse_log_level(text).is_err(), "{text}");
        }
    }

    #[test]
    fn start_flags_have_dstack_defaults() {
        let cli = Cli::try_parse_from(["dstack-runner", "--log-level", "6", "start"]).unwrap();
        let Some(Command::Start(args)) = cli.command else {
            panic!("not start");
        };
        assert_eq!(args.http_port, 10999);
        assert_eq!(args.temp_dir, PathBuf::from("/tmp/runner"));
        assert_eq!(args.http_address, "");
        Cli::command().debug_assert();
    }

    #[test]
    fn exec_job_takes_ids_and_a_command() {
        let cli = Cli::try_parse_from([
            "dstack-runner",
            "exec-job",
            "--uid",
            "1000",
            "--gid",
            "100",
            "--groups",
            "27,100",
            "--",
            "sh",
            "-c",
            "id",
        ])
        .unwrap();
        let Some(Command::ExecJob(args)) = cli.command else {
            panic!("not exec-job");
        };
        assert_eq!(args.groups, Ids(vec![27, 100]));
        assert_eq!(args.command, vec!["sh", "-c", "id"]);
        assert!(parse_ids("1,x").is_err());
    }
}

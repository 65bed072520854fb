//! A `dstack server` child process with a HOME of its own, and its memory as Linux reports it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};

/// The admin token the benchmarked server starts with.
pub const ADMIN_TOKEN: &str = "bench-admin-token";

/// A running server, killed on drop.
pub struct ServerProcess {
    child: Child,
    /// Where it listens, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    _home: Option<tempfile::TempDir>,
}

impl ServerProcess {
    /// Starts `dstack server --port 0` over SQLite in a fresh HOME, with background processing
    /// off, and waits until it listens.
    pub fn start(dstack: &Path) -> anyhow::Result<Self> {
        let home = tempfile::tempdir()?;
        let mut server = Self::start_at(dstack, home.path(), &[])?;
        server._home = Some(home);
        Ok(server)
    }

    /// Starts `dstack server --port 0` over SQLite with `home` as HOME (kept, so a later
    /// server can take over its state) and `envs` set.
    pub fn start_at(dstack: &Path, home: &Path, envs: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut child = Command::new(dstack)
            .args(["server", "--port", "0"])
            .env("HOME", home)
            .envs(envs.iter().copied())
            .env("DSTACK_SERVER_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "warn")
            // An API-only server: no pipeline schedules the seeded active runs meanwhile, so
            // every run keeps the status the seed left it in.
            .env("DSTACK_SERVER_BACKGROUND_PROCESSING_DISABLED", "1")
            .env_remove("DSTACK_DATABASE_URL")
            .env_remove("DSTACK_SERVER_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", dstack.display()))?;
        let url = wait_for_url(&mut child)?;
        Ok(Self {
            child,
            url,
            _home: None,
        })
    }

    /// The resident set size now, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        status_field(self.child.id(), "VmRSS")
    }

    /// The CPU time it has used so far, user and system (`/proc/<pid>/stat`).
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // The command name may hold spaces; the fields after it do not.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .context("no command name in /proc/<pid>/stat")?
            .1
            .split_whitespace()
            .collect();
        let ticks = |n: usize| -> anyhow::Result<u64> {
            Ok(fields.get(n).context("short /proc/<pid>/stat")?.parse()?)
        };
        // utime and stime, fields 14 and 15 of stat(5), counted after the name's field 2.
        let total = ticks(11)? + ticks(12)?;
        Ok(Duration::from_secs_f64(
            total as f64 / clock_ticks_per_second(),
        ))
    }

    /// The peak resident set size so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        status_field(self.child.id(), "VmHWM")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the server's stdout until the "is running at <url>" line, with a deadline.
fn wait_for_url(child: &mut Child) -> anyhow::Result<String> {
    let stdout = child.stdout.take().context("no stdout")?;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = receiver
            .recv_timeout(Duration::from_secs(60))
            .context("the server did not say where it runs within 60 s")?;
        if let Some((_, url)) = line.split_once("is running at ") {
            return Ok(url.trim().to_owned());
        }
    }
}

/// The unit of the times in `/proc/<pid>/stat`.
fn clock_ticks_per_second() -> f64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(ticks)) if ticks > 0 => ticks as f64,
        // Linux's USER_HZ.
        _ => 100.0,
    }
}

/// A `kB` field of `/proc/<pid>/status`.
fn status_field(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            let kib = rest.trim().trim_end_matches("kB").trim();
            return Ok(kib.parse()?);
        }
    }
    bail!("no {field} in /proc/{pid}/status")
}

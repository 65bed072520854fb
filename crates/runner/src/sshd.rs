//! The container's sshd (agents.md §3.9), which `dstack attach`, port forwarding and the
//! nodes of a cluster log in through. Its configuration lives under `<dstack dir>/ssh`: fresh
//! ECDSA and Ed25519 host keys, the authorized keys given to the runner (any user may log in
//! with them), and the `sshd_config`. An image without sshd runs its job without SSH.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// How long sshd gets to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Where images keep sshd.
const SSHD_PATHS: [&str; 2] = ["/usr/sbin/sshd", "/usr/bin/sshd"];
/// sshd's privilege separation directories, which must exist and belong to root.
const PRIVSEP_DIRS: [&str; 2] = ["/var/empty", "/run/sshd"];

#[derive(Debug, thiserror::Error)]
pub enum SshdError {
    #[error("cannot prepare {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot generate the {kind} host key: {detail}")]
    HostKey { kind: &'static str, detail: String },
    #[error("cannot start sshd: {0}")]
    Start(io::Error),
}

/// What the sshd is started with.
#[derive(Debug, Clone, Copy)]
pub struct SshdSettings<'a> {
    /// `<dstack dir>/ssh`; recreated at every start.
    pub dir: &'a Path,
    pub port: u16,
    /// sshd's `LogLevel`.
    pub log_level: &'a str,
    pub authorized_keys: &'a [String],
}

/// A running sshd; stopped with [`Sshd::stop`], killed if dropped.
#[derive(Debug)]
pub struct Sshd {
    child: Child,
}

/// Starts sshd, or returns `None` when the image has none.
pub async fn start_sshd(settings: SshdSettings<'_>) -> Result<Option<Sshd>, SshdError> {
    let Some(program) = SSHD_PATHS.iter().map(Path::new).find(|path| path.exists()) else {
        return Ok(None);
    };
    let conf = settings.dir.join("conf");
    let log = settings.dir.join("log");
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SshdError::Io { path, source }
    };
    match fs::remove_dir_all(settings.dir) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => {
            return Err(io_error(settings.dir)(error));
        }
        _ => {}
    }
    for dir in [&conf, &log] {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
    }
    // sshd's StrictModes refuses files under a directory others may write to.
    for dir in [
        settings.dir.parent().unwrap_or(settings.dir),
        settings.dir,
        &conf,
    ] {
        set_mode(dir, 0o755).map_err(io_error(dir))?;
    }
    let mut host_keys = Vec::new();
    for kind in ["ecdsa", "ed25519"] {
        host_keys.push(generate_host_key(&conf, kind).await?);
    }
    let authorized = conf.join("authorized_keys");
    let mut keys = settings.authorized_keys.join("\n");
    keys.push('\n');
    fs::write(&authorized, keys).map_err(io_error(&authorized))?;
    set_mode(&authorized, 0o644).map_err(io_error(&authorized))?;
    let config_path = conf.join("sshd_config");
    let config = sshd_config(&settings, &authorized, &host_keys);
    fs::write(&config_path, config).map_err(io_error(&config_path))?;
    for dir in PRIVSEP_DIRS.map(Path::new) {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        set_mode(dir, 0o755).map_err(io_error(dir))?;
    }
    let child = Command::new(program)
        .arg("-D")
        .arg("-f")
        .arg(&config_path)
        .arg("-E")
        .arg(log.join("sshd.log"))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(SshdError::Start)?;
    Ok(Some(Sshd { child }))
}

impl Sshd {
    /// SIGTERM, then SIGKILL if sshd has not exited after [`STOP_GRACE`].
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id().and_then(|id| i32::try_from(id).ok()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

async fn generate_host_key(conf: &Path, kind: &'static str) -> Result<PathBuf, SshdError> {
    let path = conf.join(format!("ssh_host_{kind}_key"));
    let output = Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-t", kind, "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|error| SshdError::HostKey {
            kind,
            detail: error.to_string(),
        })?;
    if !output.status.success() {
        return Err(SshdError::HostKey {
            kind,
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(path)
}

fn sshd_config(settings: &SshdSettings<'_>, authorized: &Path, host_keys: &[PathBuf]) -> String {
    let mut config = format!(
        "LogLevel {}\n\
         Port {}\n\
         PidFile none\n\
         Subsystem sftp internal-sftp\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         UsePAM yes\n\
         AuthorizedKeysFile {} .ssh/authorized_keys\n\
         AcceptEnv LANG LC_* COLORTERM NO_COLOR\n\
         ClientAliveInterval 30\n\
         ClientAliveCountMax 4\n",
        settings.log_level,
        settings.port,
        authorized.display()
    );
    for key in host_keys {
        config.push_str(&format!("HostKey {}\n", key.display()));
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_has_dstacks_lines() {
        let settings = SshdSettings {
            dir: Path::new("/dstack/ssh"),
            port: 10022,
            log_level: "INFO",
            authorized_keys: &[],
        };
        let config = sshd_config(
            &settings,
            Path::new("/dstack/ssh/conf/authorized_keys"),
            &[PathBuf::from("/k1"), PathBuf::from("/k2")],
        );
        assert!(config.starts_with("LogLevel INFO\nPort 10022\nPidFile none\n"));
        assert!(config.contains(
            "AuthorizedKeysFile /dstack/ssh/conf/authorized_keys .ssh/authorized_keys\n"
        ));
        assert!(config.ends_with("HostKey /k1\nHostKey /k2\n"));
    }
}

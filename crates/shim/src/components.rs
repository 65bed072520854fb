//! The agent binaries on the host (agents.md §2.8): checked by running `<binary> --version`,
//! and replaced on request by a download ([`Components::install`]).
//!
//! Downloads go through the host's `curl`, as dstack's cloud-init fetches the shim itself, so
//! the shim carries no TLS stack.

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dstack_agents::shim::{ComponentInfo, ComponentName, ComponentStatus};

/// dstack's shim gives a download 10 minutes.
const DOWNLOAD_TIMEOUT_SECS: &str = "600";

/// Why an install could not start.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("url is required")]
    NoUrl,
    #[error("{0} is already being installed")]
    InProgress(&'static str),
}

/// Why a download failed; the binary on disk is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("cannot prepare {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot run curl: {0}")]
    Curl(io::Error),
    #[error("download of {url} failed: {stderr}")]
    Failed { url: String, stderr: String },
}

/// The binaries the shim manages and the installs under way.
#[derive(Debug, Clone)]
pub struct Components {
    runner_path: PathBuf,
    shim_path: PathBuf,
    installing: Arc<Mutex<HashSet<ComponentName>>>,
}

impl Components {
    pub fn new(runner_path: PathBuf, shim_path: PathBuf) -> Self {
        Self {
            runner_path,
            shim_path,
            installing: Arc::default(),
        }
    }

    fn path(&self, name: ComponentName) -> &Path {
        match name {
            ComponentName::Runner => &self.runner_path,
            ComponentName::Shim => &self.shim_path,
        }
    }

    fn is_installing(&self, name: ComponentName) -> bool {
        self.installing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&name)
    }

    /// Every component: installing, or what its binary says.
    pub async fn list(&self) -> Vec<ComponentInfo> {
        let mut components = Vec::new();
        for name in [ComponentName::Runner, ComponentName::Shim] {
            components.push(if self.is_installing(name) {
                ComponentInfo {
                    name,
                    version: String::new(),
                    status: ComponentStatus::Installing,
                }
            } else {
                probe(name, self.path(name)).await
            });
        }
        components
    }

    /// Starts replacing the binary of `name` with the one at `url`, in the background. The
    /// shim's own new binary takes effect when its supervisor restarts it.
    pub fn install(&self, name: ComponentName, url: &str) -> Result<(), InstallError> {
        if url.is_empty() {
            return Err(InstallError::NoUrl);
        }
        let added = self
            .installing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name);
        if !added {
            return Err(InstallError::InProgress(binary_name(name)));
        }
        let components = self.clone();
        let url = url.to_owned();
        tokio::spawn(async move {
            match download(&url, components.path(name)).await {
                Ok(()) => tracing::info!(component = binary_name(name), %url, "installed"),
                Err(error) => {
                    tracing::warn!(component = binary_name(name), %error, "install failed")
                }
            }
            components
                .installing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&name);
        });
        Ok(())
    }
}

fn binary_name(name: ComponentName) -> &'static str {
    match name {
        ComponentName::Runner => "dstack-runner",
        ComponentName::Shim => "dstack-shim",
    }
}

/// Downloads `url` next to `path`, makes it executable and renames it over `path`, so a
/// running binary is never half-written.
async fn download(url: &str, path: &Path) -> Result<(), DownloadError> {
    let io_error = |source| DownloadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(dir).await.map_err(io_error)?;
    let partial = tempfile::Builder::new()
        .prefix(".download-")
        .tempfile_in(dir)
        .map_err(io_error)?
        .into_temp_path();
    let output = tokio::process::Command::new("curl")
        .args(["--fail", "--silent", "--show-error", "--location"])
        .args(["--max-time", DOWNLOAD_TIMEOUT_SECS, "--output"])
        .arg(&partial)
        .arg("--")
        .arg(url)
        .output()
        .await
        .map_err(DownloadError::Curl)?;
    if !output.status.success() {
        return Err(DownloadError::Failed {
            url: url.to_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    tokio::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))
        .await
        .map_err(io_error)?;
    partial.persist(path).map_err(|error| io_error(error.error))
}

/// The status and version of a binary. dstack's agents print `<name> version <version>`;
/// any other answer, or a binary that cannot run, is an error.
pub async fn probe(name: ComponentName, path: &Path) -> ComponentInfo {
    let expected = match name {
        ComponentName::Runner => "dstack-runner",
        ComponentName::Shim => "dstack-shim",
    };
    let (status, version) = if !path.exists() {
        (ComponentStatus::NotInstalled, String::new())
    } else {
        match tokio::process::Command::new(path)
            .arg("--version")
            .output()
            .await
        {
            Ok(output) if output.status.success() => {
                match parse_version_line(&String::from_utf8_lossy(&output.stdout), expected) {
                    Some(version) => (ComponentStatus::Installed, version),
                    None => (ComponentStatus::Error, String::new()),
                }
            }
            _ => (ComponentStatus::Error, String::new()),
        }
    };
    ComponentInfo {
        name,
        version,
        status,
    }
}

/// The version from `<name> version <version>`, when the line has exactly that form.
pub fn parse_version_line(line: &str, name: &str) -> Option<String> {
    match line.split_whitespace().collect::<Vec<_>>()[..] {
        [first, _, version] if first == name => Some(version.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lines() {
        assert_eq!(
            parse_version_line("dstack-runner version 0.20.1\n", "dstack-runner"),
            Some("0.20.1".into())
        );
        assert_eq!(
            parse_version_line("dstack-runner 0.20.1", "dstack-runner"),
            None
        );
        assert_eq!(parse_version_line("other version 1", "dstack-runner"), None);
    }

    #[tokio::test]
    async fn a_missing_binary_is_not_installed() {
        let info = probe(
            ComponentName::Runner,
            Path::new("/nonexistent/dstack-runner"),
        )
        .await;
        assert_eq!(info.status, ComponentStatus::NotInstalled);
        assert_eq!(info.version, "");
    }
}

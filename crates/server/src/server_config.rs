//! The server's own `config.yml` in the server directory (config-cli.md §17): the projects to
//! create at start. Written with the default content when missing; never written back.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::services::bootstrap::MAIN_PROJECT;

/// The default file: the `main` project with no backends and no encryption keys.
const DEFAULT_CONFIG: &str = "projects:\n- name: main\n  backends: []\nencryption:\n  keys: []\n";

/// Errors reading the server configuration.
#[derive(Debug, thiserror::Error)]
pub enum ServerConfigError {
    /// The file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid server configuration.
    #[error("invalid {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
}

/// The file; unknown keys are refused, as dstack does.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Projects to create if missing.
    pub projects: Vec<ProjectSection>,
    /// Encryption keys; accepted, not applied yet (nothing is encrypted at rest yet).
    #[serde(default)]
    pub encryption: Option<Value>,
    /// Default permissions; accepted, the defaults apply.
    #[serde(default)]
    pub default_permissions: Option<Value>,
    /// Plugins; accepted, none are loaded.
    #[serde(default)]
    pub plugins: Option<Vec<String>>,
}

/// One project of the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    /// The project name.
    pub name: String,
    /// Backend configurations; this server has none to create yet.
    #[serde(default)]
    pub backends: Option<Vec<Value>>,
}

/// What start-up found.
#[derive(Debug, Clone)]
pub enum Loaded {
    /// There was no file; the default was written.
    Initialized(ServerConfig),
    /// The file was read.
    Existing(ServerConfig),
}

impl ServerConfig {
    /// Reads `<dir>/config.yml`, writing the default first when it is missing.
    pub fn load_or_init(dir: &Path) -> Result<Loaded, ServerConfigError> {
        let path = dir.join("config.yml");
        let io_error = |source| ServerConfigError::Io {
            path: path.clone(),
            source,
        };
        if !path.exists() {
            std::fs::create_dir_all(dir).map_err(io_error)?;
            std::fs::write(&path, DEFAULT_CONFIG).map_err(io_error)?;
            return Self::parse(&path, DEFAULT_CONFIG).map(Loaded::Initialized);
        }
        let text = std::fs::read_to_string(&path).map_err(io_error)?;
        Self::parse(&path, &text).map(Loaded::Existing)
    }

    fn parse(path: &Path, text: &str) -> Result<Self, ServerConfigError> {
        serde_saphyr::from_str(text).map_err(|error| ServerConfigError::Invalid {
            path: path.to_owned(),
            message: error.to_string(),
        })
    }

    /// The projects to ensure, `main` first whether listed or not.
    pub fn project_names(&self) -> Vec<&str> {
        let mut names = vec![MAIN_PROJECT];
        for project in &self.projects {
            if !names.contains(&project.name.as_str()) {
                names.push(&project.name);
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_written_with_the_default() {
        let dir = tempfile::tempdir().expect("temp dir");
        let loaded = ServerConfig::load_or_init(dir.path()).expect("default config");
        assert!(matches!(loaded, Loaded::Initialized(_)));
        let text = std::fs::read_to_string(dir.path().join("config.yml")).expect("written");
        assert_eq!(text, DEFAULT_CONFIG);
        let again = ServerConfig::load_or_init(dir.path()).expect("existing config");
        let Loaded::Existing(config) = again else {
            panic!("the second start reads the file");
        };
        assert_eq!(config.project_names(), ["main"]);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("config.yml"), "projects: []\nfoo: 1\n").expect("write");
        let error = ServerConfig::load_or_init(dir.path()).expect_err("unknown key");
        assert!(error.to_string().contains("foo"), "{error}");
    }
}

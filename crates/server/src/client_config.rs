//! The CLI's `~/.dstack/config.yml` (config-cli.md §16): the server writes its `main` project
//! there on start.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Errors writing the client configuration.
#[derive(Debug, thiserror::Error)]
pub enum ClientConfigError {
    /// The file or its directory could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The configuration could not be rendered as YAML.
    #[error("cannot render the client configuration")]
    Render(#[source] serde_saphyr::SerializeError),
}

/// The whole file. A legacy `repos:` list is read and dropped, as dstack does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// The configured projects.
    #[serde(default)]
    pub projects: Vec<ProjectConfig>,
}

/// One project entry; fields in alphabetical order, as dstack writes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectConfig {
    /// Whether commands use this project when none is named.
    #[serde(default)]
    pub default: bool,
    /// The project name.
    pub name: String,
    /// The user's token.
    pub token: String,
    /// The server URL.
    pub url: String,
}

impl ClientConfig {
    /// Reads `path`; a missing or invalid file counts as empty (invalid ones are logged).
    pub fn load(path: &Path) -> Self {
        let Ok(text) = std::fs::read_to_string(path) else {
            return Self::default();
        };
        match serde_saphyr::from_str::<Option<Self>>(&text) {
            Ok(config) => config.unwrap_or_default(),
            Err(error) => {
                tracing::warn!("ignoring invalid {}: {error}", path.display());
                Self::default()
            }
        }
    }

    /// Writes the file, creating its directory.
    pub fn save(&self, path: &Path) -> Result<(), ClientConfigError> {
        let write_error = |source| ClientConfigError::Write {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(write_error)?;
        }
        let text = serde_saphyr::to_string(self).map_err(ClientConfigError::Render)?;
        std::fs::write(path, text).map_err(write_error)
    }

    /// The entry marked default.
    pub fn default_project(&self) -> Option<&ProjectConfig> {
        self.projects.iter().find(|project| project.default)
    }

    /// Adds or updates the entry `name`, as dstack's `configure_project` does: a new default
    /// clears the others, an existing entry keeps being the default, and a lone entry becomes
    /// the default.
    pub fn configure_project(&mut self, name: &str, url: &str, token: &str, default: bool) {
        if default {
            for project in &mut self.projects {
                project.default = false;
            }
        }
        match self
            .projects
            .iter_mut()
            .find(|project| project.name == name)
        {
            Some(project) => {
                project.url = url.to_owned();
                project.token = token.to_owned();
                project.default |= default;
            }
            None => self.projects.push(ProjectConfig {
                default,
                name: name.to_owned(),
                token: token.to_owned(),
                url: url.to_owned(),
            }),
        }
        if let [only] = self.projects.as_mut_slice() {
            only.default = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, default: bool) -> ProjectConfig {
        ProjectConfig {
            default,
            name: name.to_owned(),
            token: "t".to_owned(),
            url: "http://old".to_owned(),
        }
    }

    #[test]
    fn a_new_default_clears_the_others() {
        let mut config = ClientConfig {
            projects: vec![entry("other", true)],
        };
        config.configure_project("main", "http://new", "token", true);
        assert_eq!(
            config.default_project().map(|p| p.name.as_str()),
            Some("main")
        );
        assert_eq!(config.projects.len(), 2);
        assert!(!config.projects[0].default);
    }

    #[test]
    fn an_existing_entry_is_updated_in_place() {
        let mut config = ClientConfig {
            projects: vec![entry("main", false), entry("other", false)],
        };
        config.configure_project("main", "http://new", "token", false);
        assert_eq!(config.projects.len(), 2);
        assert_eq!(config.projects[0].url, "http://new");
        assert_eq!(config.projects[0].token, "token");
    }

    #[test]
    fn a_lone_entry_becomes_the_default() {
        let mut config = ClientConfig::default();
        config.configure_project("main", "http://new", "token", false);
        assert!(config.projects[0].default);
    }

    #[test]
    fn the_file_round_trips_and_drops_legacy_repos() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.yml");
        std::fs::write(
            &path,
            "projects:\n- default: true\n  name: main\n  token: abc\n  url: http://x\nrepos: []\n",
        )
        .expect("write");
        let config = ClientConfig::load(&path);
        assert_eq!(
            config.projects,
            vec![ProjectConfig {
                default: true,
                name: "main".to_owned(),
                token: "abc".to_owned(),
                url: "http://x".to_owned(),
            }]
        );
        config.save(&path).expect("save");
        assert_eq!(ClientConfig::load(&path), config);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("repos"), "{text}");
    }
}

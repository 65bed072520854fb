//! Which server, token and project a command talks to (config-cli.md §16): `--project` or
//! `DSTACK_PROJECT`, `DSTACK_SERVER_URL` and `DSTACK_TOKEN`, then `~/.dstack/config.yml`.

use std::path::PathBuf;

use dstack_server::client_config::ClientConfig;

use crate::api::{ApiClient, ApiError, ProjectClient};

/// Why no project could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// Only the URL came from the environment.
    #[error("DSTACK_SERVER_URL is set, but DSTACK_TOKEN is not set")]
    TokenMissing,
    /// Both came from the environment, but not the project.
    #[error(
        "DSTACK_SERVER_URL and DSTACK_TOKEN are set, but the project is not specified. Set DSTACK_PROJECT or use --project"
    )]
    ProjectMissing,
    /// The named project is not in config.yml.
    #[error("Project {0} is not configured")]
    NotConfigured(String),
    /// No project was named and none is the default.
    #[error("No default project, specify project name")]
    NoDefault,
    /// The HTTP client could not be set up.
    #[error(transparent)]
    Client(#[from] ApiError),
}

/// The path of `~/.dstack/config.yml`.
pub fn client_config_path() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".dstack").join("config.yml")
}

/// A client of the chosen project; `project` is `--project` (clap already read
/// `DSTACK_PROJECT` into it).
pub fn project_client(project: Option<&str>) -> Result<ProjectClient, ContextError> {
    let env = |name| {
        std::env::var(name)
            .ok()
            .filter(|value: &String| !value.is_empty())
    };
    let url = env("DSTACK_SERVER_URL");
    let token = env("DSTACK_TOKEN");
    if let (Some(url), Some(token)) = (&url, &token) {
        let project = project.ok_or(ContextError::ProjectMissing)?;
        return Ok(ProjectClient::new(ApiClient::new(url, token)?, project));
    }
    if url.is_some() {
        return Err(ContextError::TokenMissing);
    }
    let config = ClientConfig::load(&client_config_path());
    let entry = match project {
        Some(name) => config
            .projects
            .iter()
            .find(|entry| entry.name == name)
            .ok_or_else(|| ContextError::NotConfigured(name.to_owned()))?,
        None => config.default_project().ok_or(ContextError::NoDefault)?,
    };
    let token = token.as_deref().unwrap_or(&entry.token);
    Ok(ProjectClient::new(
        ApiClient::new(&entry.url, token)?,
        &entry.name,
    ))
}

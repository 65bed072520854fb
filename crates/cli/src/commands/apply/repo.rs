//! The repo of a run being applied (api.md §4.2 step 1): `--repo` or `repos[0]` names a git
//! repo by URL or local checkout; without either (or with `--no-repo`) the run has none.
//!
//! A git repo is looked up on the server with the caller's stored credentials; it is
//! (re)registered with `repos/init` when it is new, has no credentials stored, or the user gave
//! new ones. Credentials are checked against the remote first.

use std::path::Path;

use anyhow::bail;
use dstack_core::api::repos::{InitRepoRequest, RemoteRepoCreds};
use dstack_core::configuration::AnyRunConfiguration;
use dstack_core::configuration::repos::RepoSpec;

use super::RepoArgs;
use crate::api::ProjectClient;
use crate::commands::block_on;
use crate::repo::creds::{self, Candidates};
use crate::repo::{RemoteRepo, RepoSource};

/// The configuration's `repos:` (at most one).
pub fn repo_specs(configuration: &AnyRunConfiguration) -> &[RepoSpec] {
    match configuration {
        AnyRunConfiguration::Task(task) => &task.repos,
        AnyRunConfiguration::DevEnvironment(dev) => &dev.repos,
        AnyRunConfiguration::Service(service) => &service.repos,
    }
}

/// The run's git repo, registered with the server, or `None` for a run without one.
/// `config_dir` is where relative `repos[].local_path`s start.
pub fn prepare(
    client: &ProjectClient,
    args: &RepoArgs,
    configuration: &AnyRunConfiguration,
    config_dir: &Path,
) -> anyhow::Result<Option<RemoteRepo>> {
    if args.no_repo {
        if args.repo.is_some() {
            bail!("Either --repo or --no-repo can be specified");
        }
        return Ok(None);
    }
    let mut branch = args.repo_branch.clone();
    let mut hash = args.repo_hash.clone();
    let (given, source) = if let Some(value) = &args.repo {
        let cwd = std::env::current_dir()?;
        (value.clone(), RepoSource::parse(value, &cwd))
    } else if let Some(spec) = repo_specs(configuration).first() {
        branch = branch.or_else(|| spec.branch.clone());
        hash = hash.or_else(|| spec.hash.clone());
        match (&spec.url, &spec.local_path) {
            (Some(url), _) => (url.clone(), RepoSource::Url(url.clone())),
            (None, Some(path)) => (
                path.clone(),
                RepoSource::Dir(crate::paths::resolve(path, config_dir)),
            ),
            (None, None) => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    let repo = match &source {
        RepoSource::Url(url) => RemoteRepo::from_url(url, branch, hash)?,
        RepoSource::Dir(dir) => {
            if !dir.exists() {
                bail!("Invalid repo path: {given} -> {}", dir.display());
            }
            // A checkout's own branch and commit win over --repo-branch and --repo-hash.
            RemoteRepo::from_dir(dir, true)?
        }
    };
    let stored = block_on(stored_creds(client, repo.repo_id()))??;
    let init = args.creds.given() || stored.is_none();
    let candidates = match stored {
        Some(stored) if !args.creds.given() => Candidates {
            identity_file: None,
            private_key: stored.private_key,
            oauth_token: stored.oauth_token,
        },
        _ => args.creds.candidates(),
    };
    let repo_creds = creds::find(repo.url(), &candidates)?;
    if init {
        block_on(client.init_repo(&InitRepoRequest {
            repo_id: repo.repo_id().to_owned(),
            repo_info: repo.repo_info(),
            repo_creds: Some(repo_creds),
        }))??;
    }
    Ok(Some(repo))
}

/// The caller's credentials stored with the repo; `None` when the repo is not registered or
/// has none for this user.
async fn stored_creds(
    client: &ProjectClient,
    repo_id: &str,
) -> anyhow::Result<Option<RemoteRepoCreds>> {
    match client.get_repo(repo_id).await {
        Ok(head) => Ok(head.repo_creds),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error.into()),
    }
}

//! `dstack init` (config-cli.md §15.14): registers a git repo and the caller's credentials for
//! it with the server, so runs can clone it.

use std::process::ExitCode;

use clap::Args;
use dstack_core::api::repos::InitRepoRequest;

use super::repo_args::GitCredsArgs;
use super::{ProjectArg, block_on};
use crate::repo::{RemoteRepo, RepoSource, creds};

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    project: ProjectArg,
    /// The repo to initialize: a local path or a Git repo URL. Defaults to the current working
    /// directory.
    #[arg(short = 'P', long = "repo", value_name = "REPO")]
    repo: Option<String>,
    #[command(flatten)]
    creds: GitCredsArgs,
}

pub fn run(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir()?;
    let source = match &args.repo {
        Some(value) => RepoSource::parse(value, &cwd),
        None => RepoSource::Dir(cwd),
    };
    let repo = match &source {
        RepoSource::Url(url) => RemoteRepo::from_url(url, None, None)?,
        RepoSource::Dir(dir) => RemoteRepo::from_dir(dir, false)?,
    };
    let repo_creds = creds::find(repo.url(), &args.creds.candidates())?;
    let client = args.project.client()?;
    block_on(client.init_repo(&InitRepoRequest {
        repo_id: repo.repo_id().to_owned(),
        repo_info: repo.repo_info(),
        repo_creds: Some(repo_creds),
    }))??;
    println!("OK");
    Ok(ExitCode::SUCCESS)
}

//! The repo options shared by `dstack apply` and `dstack init` (config-cli.md §15.1, §15.14).

use std::path::PathBuf;

use clap::Args;

use crate::repo::creds::Candidates;

/// Credentials for a private git repo.
#[derive(Debug, Clone, Args)]
pub struct GitCredsArgs {
    /// An authentication token to access a private Git repo.
    #[arg(short = 't', long = "token", value_name = "OAUTH_TOKEN")]
    pub token: Option<String>,
    /// The private SSH key path to access a private Git repo.
    #[arg(long = "git-identity", value_name = "SSH_PRIVATE_KEY")]
    pub git_identity: Option<PathBuf>,
}

impl GitCredsArgs {
    /// Whether the user gave any credentials (they replace the stored ones).
    pub fn given(&self) -> bool {
        self.token.is_some() || self.git_identity.is_some()
    }

    /// The given credentials as candidates to check.
    pub fn candidates(&self) -> Candidates {
        Candidates {
            identity_file: self.git_identity.clone(),
            private_key: None,
            oauth_token: self.token.clone(),
        }
    }
}

//! Repos: `/api/project/{p}/repos/*`, and the repo data a run spec carries.

use serde::{Deserialize, Serialize};

use super::common::null_as_default;

/// The repo of a run, tagged by `repo_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "repo_type", rename_all = "snake_case")]
pub enum RunRepoData {
    /// A git repo with a remote.
    Remote {
        /// The repo name, e.g. `github.com/org/repo`.
        repo_name: String,
        /// The checked-out branch.
        #[serde(default)]
        repo_branch: Option<String>,
        /// The checked-out commit.
        #[serde(default)]
        repo_hash: Option<String>,
        /// `git config user.name`.
        #[serde(default)]
        repo_config_name: Option<String>,
        /// `git config user.email`.
        #[serde(default)]
        repo_config_email: Option<String>,
    },
    /// A local directory (legacy).
    Local {
        /// Its path on the client.
        repo_dir: String,
    },
    /// No repo.
    Virtual,
}

/// The identity of a repo, tagged by `repo_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "repo_type", rename_all = "snake_case")]
pub enum RepoInfo {
    /// A git repo with a remote.
    Remote {
        /// The repo name.
        repo_name: String,
    },
    /// A local directory (legacy).
    Local {
        /// Its path on the client.
        repo_dir: String,
    },
    /// No repo; its id is `none`.
    Virtual,
}

/// How the server clones a remote repo for the calling user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRepoCreds {
    /// The clone URL.
    pub clone_url: String,
    /// An SSH private key.
    #[serde(default)]
    pub private_key: Option<String>,
    /// An OAuth token.
    #[serde(default)]
    pub oauth_token: Option<String>,
}

/// An entry of `repos/list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoHead {
    /// The repo id.
    pub repo_id: String,
    /// What the repo is.
    pub repo_info: RepoInfo,
}

/// `repos/get` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoHeadWithCreds {
    /// The repo id.
    pub repo_id: String,
    /// What the repo is.
    pub repo_info: RepoInfo,
    /// The caller's creds, when asked for and known.
    #[serde(default)]
    pub repo_creds: Option<RemoteRepoCreds>,
}

/// `repos/get` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetRepoRequest {
    /// The repo id.
    pub repo_id: String,
    /// Whether to return the caller's creds.
    #[serde(default, deserialize_with = "null_as_default")]
    pub include_creds: bool,
}

/// `repos/init` request: creates or updates a repo and the caller's creds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitRepoRequest {
    /// The repo id.
    pub repo_id: String,
    /// What the repo is.
    pub repo_info: RepoInfo,
    /// The caller's creds; `null` deletes them.
    #[serde(default)]
    pub repo_creds: Option<RemoteRepoCreds>,
}

/// `repos/delete` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteReposRequest {
    /// The repo ids.
    pub repos_ids: Vec<String>,
}

/// The query of `repos/upload_code`, whose body is a multipart `file`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadCodeQuery {
    /// The repo the code belongs to.
    pub repo_id: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn repo_data_is_tagged_by_repo_type() {
        assert_eq!(
            serde_json::to_value(RunRepoData::Virtual).expect("serializes"),
            json!({"repo_type": "virtual"})
        );
        let remote: RunRepoData = serde_json::from_value(json!({
            "repo_type": "remote", "repo_name": "github.com/org/repo", "repo_branch": "main",
            "repo_hash": null, "repo_config_name": null, "repo_config_email": null,
        }))
        .expect("remote repo data");
        assert!(matches!(remote, RunRepoData::Remote { ref repo_branch, .. }
            if repo_branch.as_deref() == Some("main")));
        assert!(serde_json::from_value::<RepoInfo>(json!({"repo_type": "svn"})).is_err());
    }
}

//! `repos:` items: a git repository cloned into the container (spec §2.9).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::forms::{FormError, Forms, impl_deserialize_forms, impl_schema_forms};

/// What to do when the repo's container path already exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RepoExistsAction {
    /// Fail the run.
    #[default]
    Error,
    /// Keep what is there.
    Skip,
}

/// A repository to clone: a local checkout or a remote URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepoSpec {
    /// A local checkout, resolved against the configuration's directory.
    pub local_path: Option<String>,
    /// A remote git URL.
    pub url: Option<String>,
    /// The branch to check out.
    pub branch: Option<String>,
    /// The commit to check out.
    pub hash: Option<String>,
    /// Where to clone, relative to the working directory (`~` allowed, `~user` not).
    pub path: String,
    /// What to do when `path` already exists.
    pub if_exists: RepoExistsAction,
}

fn default_repo_path() -> String {
    ".".into()
}

/// The object form of [`RepoSpec`].
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepoSpecObject {
    #[serde(default)]
    local_path: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    hash: Option<String>,
    #[serde(default = "default_repo_path")]
    path: String,
    #[serde(default)]
    if_exists: RepoExistsAction,
}

/// Whether the short form's source is a URL: `user@host:...` or `scheme://...`.
fn looks_like_url(first: &str, rest: &str) -> bool {
    first.contains('@') || rest.starts_with("//")
}

/// Splits `<local_path_or_url>[:<path>]`. A URL keeps its own colon (`https://`, or the one
/// after the host in `git@host:org/repo`); a container path follows a later colon.
fn split_short_form(text: &str) -> Result<RepoSpecObject, String> {
    let (first, rest) = text.split_once(':').unwrap_or((text, ""));
    let is_url = looks_like_url(first, rest);
    let own_colon_end = if !is_url {
        0
    } else if let Some(scheme_end) = text.find("://") {
        scheme_end + 3
    } else {
        first.len() + 1
    };
    let (head, tail) = text.split_at(own_colon_end.min(text.len()));
    let (source, path) = match tail.rsplit_once(':') {
        Some((source_tail, path)) => (format!("{head}{source_tail}"), Some(path)),
        None => (text.to_owned(), None),
    };
    if source.is_empty() || path.is_some_and(str::is_empty) {
        return Err(format!(
            "invalid repo \"{text}\", expected `<local_path_or_url>[:<path>]`"
        ));
    }
    Ok(RepoSpecObject {
        local_path: (!is_url).then(|| source.clone()),
        url: is_url.then_some(source),
        branch: None,
        hash: None,
        path: path.map_or_else(default_repo_path, str::to_owned),
        if_exists: RepoExistsAction::Error,
    })
}

impl Forms for RepoSpec {
    type Object = RepoSpecObject;
    const EXPECTING: &'static str =
        "`<local_path_or_url>[:<path>]` or {local_path | url, branch, hash, path, if_exists}";

    fn from_object(object: RepoSpecObject) -> Result<Self, String> {
        match (&object.local_path, &object.url) {
            (Some(_), Some(_)) => {
                return Err("`local_path` and `url` are mutually exclusive".into());
            }
            (None, None) => return Err("either `local_path` or `url` must be set".into()),
            _ => {}
        }
        if object.path.starts_with('~') && !(object.path == "~" || object.path.starts_with("~/")) {
            return Err(format!(
                "repo path \"{}\": `~user` paths are not supported",
                object.path
            ));
        }
        Ok(Self {
            local_path: object.local_path,
            url: object.url,
            branch: object.branch,
            hash: object.hash,
            path: object.path,
            if_exists: object.if_exists,
        })
    }

    fn from_str(value: &str) -> Result<Self, FormError> {
        Ok(Self::from_object(split_short_form(value)?)?)
    }
}
impl_deserialize_forms!(RepoSpec);
impl_schema_forms!(RepoSpec, "RepoSpec", [{"type": "string"}]);

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> RepoSpec {
        serde_json::from_value(serde_json::Value::String(text.into())).unwrap()
    }

    #[test]
    fn short_forms_from_the_spec() {
        let cases = [
            (".:/repo", Some("."), None, "/repo"),
            ("..:repo", Some(".."), None, "repo"),
            ("~/repos/demo:~/repo", Some("~/repos/demo"), None, "~/repo"),
            (
                "https://github.com/org/repo:~/data/repo",
                None,
                Some("https://github.com/org/repo"),
                "~/data/repo",
            ),
            (
                "git@github.com:org/repo.git:data/repo",
                None,
                Some("git@github.com:org/repo.git"),
                "data/repo",
            ),
            (
                "https://github.com/org/repo",
                None,
                Some("https://github.com/org/repo"),
                ".",
            ),
            (
                "git@github.com:org/repo.git",
                None,
                Some("git@github.com:org/repo.git"),
                ".",
            ),
        ];
        for (text, local, url, path) in cases {
            let repo = parse(text);
            assert_eq!(repo.local_path.as_deref(), local, "{text}");
            assert_eq!(repo.url.as_deref(), url, "{text}");
            assert_eq!(repo.path, path, "{text}");
        }
    }

    #[test]
    fn object_rules() {
        let both = serde_json::from_str::<RepoSpec>(r#"{"local_path":".","url":"x"}"#);
        assert!(both.is_err());
        let neither = serde_json::from_str::<RepoSpec>(r#"{"path":"x"}"#);
        assert!(neither.is_err());
        let tilde_user = serde_json::from_str::<RepoSpec>(r#"{"url":"u","path":"~bob/x"}"#);
        assert!(tilde_user.is_err());
    }
}

//! Git remote URLs as dstack reads them: `https://host[:port]/path`, `ssh://[user@]host[:port]/path`
//! and the scp form `user@host:path`; the repo name and id derived from them, and the HTTPS and
//! SSH URLs the credentials are checked against.

use sha2::{Digest, Sha256};

use super::RepoError;

/// The parts of a git remote URL that dstack keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRepoUrl {
    ssh_user: Option<String>,
    /// Lower-case host.
    host: String,
    /// An HTTPS port other than 443.
    https_port: Option<u16>,
    ssh_port: Option<u16>,
    /// The path, `/` when empty.
    path: String,
}

impl GitRepoUrl {
    /// Parses a remote URL; only `https` and `ssh` (including the scp form) are git URLs.
    pub fn parse(value: &str) -> Result<Self, RepoError> {
        let url = match url::Url::parse(value) {
            Ok(url) => url,
            Err(_) => scp_to_ssh_url(value)
                .ok_or_else(|| RepoError::InvalidUrl(format!("Could not parse git URL {value}")))?,
        };
        let host = url.host_str().unwrap_or_default().to_lowercase();
        let path = match url.path() {
            "" => "/".to_owned(),
            path => path.to_owned(),
        };
        match url.scheme().to_lowercase().as_str() {
            // `port()` is None for 443, the default of the scheme.
            "https" => Ok(Self {
                ssh_user: None,
                host,
                https_port: url.port(),
                ssh_port: None,
                path,
            }),
            "ssh" => Ok(Self {
                ssh_user: Some(url.username().to_owned()).filter(|user| !user.is_empty()),
                host,
                https_port: None,
                ssh_port: url.port(),
                path,
            }),
            scheme => Err(RepoError::InvalidUrl(format!(
                "Unsupported URL scheme {scheme}"
            ))),
        }
    }

    /// The HTTPS clone URL, with `token` as the password when given.
    pub fn as_https(&self, token: Option<&str>) -> String {
        let creds = token.map_or_else(String::new, |token| format!("anything:{token}@"));
        let port = self
            .https_port
            .map_or_else(String::new, |port| format!(":{port}"));
        format!("https://{creds}{}{port}{}", self.host, self.path)
    }

    /// The SSH clone URL; the user is `git` unless the URL names one.
    pub fn as_ssh(&self) -> String {
        let user = self.ssh_user.as_deref().unwrap_or("git");
        let port = self
            .ssh_port
            .map_or_else(String::new, |port| format!(":{port}"));
        format!("ssh://{user}@{}{port}{}", self.host, self.path)
    }

    /// The path without trailing slashes and without `.git`.
    fn clean_path(&self) -> &str {
        let path = self.path.trim_end_matches('/');
        path.strip_suffix(".git").unwrap_or(path)
    }

    /// The last path segment, `unknown` when there is none: the repo name dstack shows.
    pub fn repo_name(&self) -> String {
        match self.clean_path().rsplit('/').next() {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => "unknown".to_owned(),
        }
    }

    /// The repo id: the name, a dash, and 8 base-36 digits of the SHA-256 of host and path, so
    /// the HTTPS and SSH URLs of one repo share an id.
    pub fn repo_id(&self) -> String {
        let location = format!("{}{}", self.host, self.clean_path());
        let digits = base36(&Sha256::digest(location.as_bytes()));
        format!("{}-{}", self.repo_name(), &digits[..8])
    }
}

/// `user@host:path` as `ssh://user@host/path`.
fn scp_to_ssh_url(value: &str) -> Option<url::Url> {
    let (user, rest) = value.split_once('@')?;
    let (host, path) = rest.split_once(':')?;
    if user.is_empty() || user.contains('/') || host.is_empty() || host.contains('/') {
        return None;
    }
    if path.is_empty() {
        return None;
    }
    url::Url::parse(&format!("ssh://{user}@{host}/{path}")).ok()
}

/// The 32 least significant base-36 digits, most significant first, of `bytes` read as a
/// little-endian number: the digest encoding of dstack's repo ids.
fn base36(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    // Big-endian, so that long division runs from the first byte.
    let mut number: Vec<u8> = bytes.iter().rev().copied().collect();
    let mut out = Vec::with_capacity(32);
    for _ in 0..32 {
        let mut remainder = 0u32;
        for byte in &mut number {
            let value = remainder * 256 + u32::from(*byte);
            *byte = (value / 36) as u8;
            remainder = value % 36;
        }
        out.push(DIGITS[remainder as usize]);
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids, names and clone URLs as dstack 0.22.5 computes them for the same inputs.
    #[test]
    fn urls_give_dstacks_ids_names_and_clone_urls() {
        let cases = [
            (
                "https://github.com/dstackai/dstack.git",
                "dstack-nizdmsg0",
                "https://anything:tok@github.com/dstackai/dstack.git",
                "ssh://git@github.com/dstackai/dstack.git",
            ),
            (
                "git@github.com:dstackai/dstack.git",
                "dstack-nizdmsg0",
                "https://anything:tok@github.com/dstackai/dstack.git",
                "ssh://git@github.com/dstackai/dstack.git",
            ),
            (
                "ssh://root@127.0.0.1:2222/tmp/x/bare.git",
                "bare-wlmte1sj",
                "https://anything:tok@127.0.0.1/tmp/x/bare.git",
                "ssh://root@127.0.0.1:2222/tmp/x/bare.git",
            ),
            (
                "https://GitHub.com:8443/org/Repo/",
                "Repo-pjlh2k78",
                "https://anything:tok@github.com:8443/org/Repo/",
                "ssh://git@github.com/org/Repo/",
            ),
            (
                "https://example.com",
                "unknown-mfeylsop",
                "https://anything:tok@example.com/",
                "ssh://git@example.com/",
            ),
        ];
        for (input, id, https, ssh) in cases {
            let url = GitRepoUrl::parse(input).expect(input);
            assert_eq!(url.repo_id(), id, "{input}");
            assert_eq!(url.as_https(Some("tok")), https, "{input}");
            assert_eq!(url.as_ssh(), ssh, "{input}");
        }
    }

    #[test]
    fn other_schemes_and_paths_are_not_git_urls() {
        let message = |input| GitRepoUrl::parse(input).expect_err(input).to_string();
        assert_eq!(message("http://x/y"), "Unsupported URL scheme http");
        assert_eq!(message("file:///tmp/r"), "Unsupported URL scheme file");
        assert_eq!(message("/tmp/r"), "Could not parse git URL /tmp/r");
        assert_eq!(message("."), "Could not parse git URL .");
    }
}

//! The client version rule (api.md §1.6): a client newer than this server in major or minor
//! version is refused; a missing header, a dev version (`latest`, `0.0.0`) and older or
//! patch-newer clients pass.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ServerError;

/// The dstack version this server is compatible with and reports in `server/get_info`.
pub const SERVER_VERSION: &str = "0.22.5";

/// The header every dstack client sends.
const VERSION_HEADER: &str = "x-api-version";

/// The release numbers of a PEP 440 version, e.g. `0.22.5rc1` -> `[0, 22, 5]`.
fn release(text: &str) -> Option<Vec<u64>> {
    let text = text.trim();
    let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
    let end = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (numbers, rest) = text.split_at(end);
    // A dot ends the release only before a suffix such as `.post1` or `.dev0`.
    let numbers = numbers.strip_suffix('.').unwrap_or(numbers);
    let release = numbers
        .split('.')
        .map(|part| part.parse().ok())
        .collect::<Option<Vec<u64>>>()?;
    let suffix_ok = rest
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'));
    suffix_ok.then_some(release)
}

fn part(release: &[u64], index: usize) -> u64 {
    release.get(index).copied().unwrap_or(0)
}

/// Checks `client` against [`SERVER_VERSION`].
pub fn check(client: &str) -> Result<(), ServerError> {
    if client == "latest" {
        return Ok(());
    }
    let client_release =
        release(client).ok_or_else(|| ServerError::InvalidVersion(client.to_owned()))?;
    if client_release.iter().all(|&n| n == 0) {
        return Ok(());
    }
    let server_release = release(SERVER_VERSION).unwrap_or_default();
    let (client_mm, server_mm) = (
        (part(&client_release, 0), part(&client_release, 1)),
        (part(&server_release, 0), part(&server_release, 1)),
    );
    if client_mm > server_mm {
        return Err(ServerError::IncompatibleVersion {
            client: client.to_owned(),
            server: SERVER_VERSION,
        });
    }
    Ok(())
}

/// Middleware over `/api`: refuses incompatible clients before any handler runs.
pub async fn check_client_version(request: Request, next: Next) -> Response {
    if let Some(value) = request.headers().get(VERSION_HEADER) {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if let Err(error) = check(&text) {
            return error.into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passes(version: &str) -> bool {
        check(version).is_ok()
    }

    #[test]
    fn older_same_and_patch_newer_clients_pass() {
        for version in [
            "0.22.5",
            "0.22.9",
            "0.21.0",
            "0.19.27",
            "0.22.5.post1",
            "0.22",
        ] {
            assert!(passes(version), "{version}");
        }
    }

    #[test]
    fn newer_minor_or_major_clients_are_refused() {
        for version in ["0.23.0", "1.0.0", "0.23.0rc1"] {
            assert!(
                matches!(check(version), Err(ServerError::IncompatibleVersion { .. })),
                "{version}"
            );
        }
    }

    #[test]
    fn dev_versions_skip_the_check() {
        assert!(passes("latest"));
        assert!(passes("0.0.0"));
        assert!(passes("0.0.0.dev1"));
    }

    #[test]
    fn garbage_is_an_invalid_version() {
        for version in ["abc", "", "1..2", "0.22.5 x"] {
            assert!(
                matches!(check(version), Err(ServerError::InvalidVersion(_))),
                "{version}"
            );
        }
    }
}

//! The agent binaries on the host, checked by running `<binary> --version`.

use std::path::Path;

use dstack_agents::shim::{ComponentInfo, ComponentName, ComponentStatus};

/// The status and version of a binary. dstack's agents print `<name> version <version>`;
/// any other answer, or a binary that cannot run, is an error.
pub async fn probe(name: ComponentName, path: &Path) -> ComponentInfo {
    let expected = match name {
        ComponentName::Runner => "dstack-runner",
        ComponentName::Shim => "dstack-shim",
    };
    let (status, version) = if !path.exists() {
        (ComponentStatus::NotInstalled, String::new())
    } else {
        match tokio::process::Command::new(path)
            .arg("--version")
            .output()
            .await
        {
            Ok(output) if output.status.success() => {
                match parse_version_line(&String::from_utf8_lossy(&output.stdout), expected) {
                    Some(version) => (ComponentStatus::Installed, version),
                    None => (ComponentStatus::Error, String::new()),
                }
            }
            _ => (ComponentStatus::Error, String::new()),
        }
    };
    ComponentInfo {
        name,
        version,
        status,
    }
}

/// The version from `<name> version <version>`, when the line has exactly that form.
pub fn parse_version_line(line: &str, name: &str) -> Option<String> {
    match line.split_whitespace().collect::<Vec<_>>()[..] {
        [first, _, version] if first == name => Some(version.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lines() {
        assert_eq!(
            parse_version_line("dstack-runner version 0.20.1\n", "dstack-runner"),
            Some("0.20.1".into())
        );
        assert_eq!(
            parse_version_line("dstack-runner 0.20.1", "dstack-runner"),
            None
        );
        assert_eq!(parse_version_line("other version 1", "dstack-runner"), None);
    }

    #[tokio::test]
    async fn a_missing_binary_is_not_installed() {
        let info = probe(
            ComponentName::Runner,
            Path::new("/nonexistent/dstack-runner"),
        )
        .await;
        assert_eq!(info.status, ComponentStatus::NotInstalled);
        assert_eq!(info.version, "");
    }
}

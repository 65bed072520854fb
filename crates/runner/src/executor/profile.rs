//! `/dstack/profile` (agents.md §3.5): the job's environment as shell exports, sourced from
//! `/etc/profile`, so login shells over SSH (`dstack attach`) get what the job gets and start
//! in its working directory.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Variables a login shell sets for itself.
const SHELL_OWN: [&str; 7] = ["HOSTNAME", "USER", "HOME", "SHELL", "SHLVL", "PWD", "_"];

/// The profile: one `export NAME='value'` per variable a shell can name, then a `cd` to the
/// working directory.
pub fn render_profile(env: &BTreeMap<String, String>) -> String {
    let mut profile = String::new();
    for (name, value) in env {
        if SHELL_OWN.contains(&name.as_str()) || !is_shell_identifier(name) {
            continue;
        }
        profile.push_str(&format!("export {name}={}\n", single_quote(value)));
    }
    profile.push_str("cd \"$DSTACK_WORKING_DIR\"\n");
    profile
}

/// Writes the profile (0644) and makes `etc_profile` source it, once.
pub fn install_profile(
    profile: &Path,
    etc_profile: &Path,
    env: &BTreeMap<String, String>,
) -> io::Result<()> {
    if let Some(dir) = profile.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(profile, render_profile(env))?;
    fs::set_permissions(profile, fs::Permissions::from_mode(0o644))?;
    let line = format!(". {}\n", single_quote(&profile.display().to_string()));
    let current = match fs::read_to_string(etc_profile) {
        Ok(current) => current,
        Err(error) if error.kind() == io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(error),
    };
    if current
        .lines()
        .any(|existing| format!("{existing}\n") == line)
    {
        return Ok(());
    }
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(etc_profile)?;
    if !current.is_empty() && !current.ends_with('\n') {
        file.write_all(b"\n")?;
    }
    file.write_all(line.as_bytes())?;
    fs::set_permissions(etc_profile, fs::Permissions::from_mode(0o644))
}

fn is_shell_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first == '_' || first.is_ascii_alphabetic())
        && chars.all(|next| next == '_' || next.is_ascii_alphanumeric())
}

/// `'value'` for sh, each `'` written as `'"'"'`.
fn single_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r#"'"'"'"#))
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn values_round_trip_through_sh_and_odd_names_are_skipped() {
        let temp = tempfile::tempdir().unwrap();
        let values = env(&[
            ("EMPTY", ""),
            ("QUOTE", "it's \"here\""),
            ("LINES", "a\nb\tc"),
            ("HOME", "/skipped"),
            ("BASH_FUNC_f%%", "() { :; }"),
            ("1BAD", "x"),
            ("DSTACK_WORKING_DIR", "/"),
        ]);
        let profile = render_profile(&values);
        assert!(
            !profile.contains("HOME") && !profile.contains("BAD"),
            "{profile}"
        );
        assert!(profile.ends_with("cd \"$DSTACK_WORKING_DIR\"\n"));
        let path = temp.path().join("profile");
        fs::write(&path, &profile).unwrap();
        let script = format!(
            ". {}; printf '%s|%s|%s|' \"$EMPTY\" \"$QUOTE\" \"$LINES\"; pwd",
            path.display()
        );
        let output = Command::new("sh").args(["-c", &script]).output().unwrap();
        assert!(output.stderr.is_empty(), "{output:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "|it's \"here\"|a\nb\tc|/\n"
        );
    }

    #[test]
    fn etc_profile_sources_the_profile_once() {
        let temp = tempfile::tempdir().unwrap();
        let profile = temp.path().join("dstack/profile");
        let etc_profile = temp.path().join("etc-profile");
        fs::write(&etc_profile, "umask 022").unwrap();
        let values = env(&[("FOO", "bar")]);
        install_profile(&profile, &etc_profile, &values).unwrap();
        install_profile(&profile, &etc_profile, &values).unwrap();
        assert_eq!(
            fs::read_to_string(&etc_profile).unwrap(),
            format!("umask 022\n. '{}'\n", profile.display())
        );
        let mode = fs::metadata(&profile).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }
}

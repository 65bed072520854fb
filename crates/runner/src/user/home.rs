//! Which home directory the job user gets.

/// What the filesystem says about a home path; the caller looks, this module decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomeState {
    Directory,
    NotDirectory,
    Missing,
}

/// The home directory the job runs with. No home, an empty or relative one, one that is
/// not a directory, and a missing one whose path says `nonexistent` (as system accounts'
/// homes do) fall back to `/`. Any other missing home is kept: it may be created later, for
/// example when `~/.ssh` is prepared. A home of `/` turns off home provisioning.
pub fn effective_home(home: Option<&str>, state: HomeState) -> String {
    const ROOT: &str = "/";
    match home {
        Some(home) if home.starts_with('/') => match state {
            HomeState::Directory => home.to_owned(),
            HomeState::NotDirectory => ROOT.to_owned(),
            HomeState::Missing if home.contains("nonexistent") => ROOT.to_owned(),
            HomeState::Missing => home.to_owned(),
        },
        _ => ROOT.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_to_root_when_home_is_unusable() {
        let cases = [
            (None, HomeState::Missing, "/"),
            (Some(""), HomeState::Missing, "/"),
            (Some("home/alice"), HomeState::Directory, "/"),
            (Some("/etc/passwd"), HomeState::NotDirectory, "/"),
            (Some("/nonexistent"), HomeState::Missing, "/"),
            (Some("/home/alice"), HomeState::Directory, "/home/alice"),
            (Some("/home/alice"), HomeState::Missing, "/home/alice"),
        ];
        for (home, state, expected) in cases {
            assert_eq!(effective_home(home, state), expected, "{home:?} {state:?}");
        }
    }
}

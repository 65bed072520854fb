//! Local paths as dstack reads them from configurations and flags.

use std::path::{Path, PathBuf};

/// `path` with a leading `~/` replaced by `$HOME`.
pub fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ if path == "~" => {
            std::env::var_os("HOME").map_or_else(|| PathBuf::from(path), PathBuf::from)
        }
        _ => PathBuf::from(path),
    }
}

/// `path` (with `~` expanded) made absolute against `base`, with symlinks and `..` resolved
/// when it exists.
pub fn resolve(path: &str, base: &Path) -> PathBuf {
    let joined = base.join(expand_home(path));
    std::fs::canonicalize(&joined).unwrap_or(joined)
}

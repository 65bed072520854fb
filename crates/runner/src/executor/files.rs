//! File archives (`files:` in a run configuration, agents.md §3.8): each uploaded tar holds
//! one top-level entry, a file or a directory, which is unpacked to the configured path
//! under that path's own name.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::paths::{PathError, resolve_archive_path};
use super::repo::{Owner, RepoError, chown_tree, create_dir_owned};

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("archive {0} was not uploaded")]
    Missing(PathBuf),
    #[error("{path} has no file name to unpack to")]
    NoFileName { path: PathBuf },
    #[error("archive entry {0:?} leaves its directory")]
    UnsafeEntry(PathBuf),
    #[error(transparent)]
    Fs(#[from] RepoError),
    #[error("cannot unpack {archive} to {path}: {source}")]
    Unpack {
        archive: PathBuf,
        path: PathBuf,
        source: io::Error,
    },
}

/// One archive and where it goes, as configured (`~` and relative paths allowed).
#[derive(Debug, Clone, Copy)]
pub struct ArchiveTarget<'a> {
    pub archive: &'a Path,
    pub path: &'a str,
}

/// Unpacks `target`; what was at its path before is replaced.
pub fn unpack_archive(
    target: ArchiveTarget<'_>,
    home: &str,
    working_dir: &Path,
    owner: Owner,
) -> Result<PathBuf, FilesError> {
    if !target.archive.is_file() {
        return Err(FilesError::Missing(target.archive.to_path_buf()));
    }
    let destination = resolve_archive_path(target.path, home, working_dir)?;
    let (Some(parent), Some(name)) = (destination.parent(), destination.file_name()) else {
        return Err(FilesError::NoFileName { path: destination });
    };
    create_dir_owned(parent, owner)?;
    remove_any(&destination).map_err(|source| unpack_error(target, &destination, source))?;
    let file = fs::File::open(target.archive)
        .map_err(|source| unpack_error(target, &destination, source))?;
    let mut archive = tar::Archive::new(file);
    archive.set_preserve_permissions(true);
    let entries = archive
        .entries()
        .map_err(|source| unpack_error(target, &destination, source))?;
    for entry in entries {
        let mut entry = entry.map_err(|source| unpack_error(target, &destination, source))?;
        let inside = entry
            .path()
            .map_err(|source| unpack_error(target, &destination, source))?
            .into_owned();
        let path = parent.join(rename_top_level(&inside, Path::new(name))?);
        // Archives need not list the directories their files are in.
        if let Some(entry_parent) = path.parent() {
            fs::create_dir_all(entry_parent)
                .map_err(|source| unpack_error(target, &destination, source))?;
        }
        entry
            .unpack(&path)
            .map_err(|source| unpack_error(target, &destination, source))?;
    }
    if let Some(owner) = owner {
        chown_tree(&destination, owner)?;
    }
    Ok(destination)
}

fn unpack_error(target: ArchiveTarget<'_>, path: &Path, source: io::Error) -> FilesError {
    FilesError::Unpack {
        archive: target.archive.to_path_buf(),
        path: path.to_path_buf(),
        source,
    }
}

/// `top/rest` becomes `name/rest`. Entries that climb out (`..`) or are absolute are refused.
fn rename_top_level(entry: &Path, name: &Path) -> Result<PathBuf, FilesError> {
    let mut parts = entry
        .components()
        .filter(|component| *component != Component::CurDir);
    let safe = |component: &Component<'_>| matches!(component, Component::Normal(_));
    let Some(_top) = parts.next().filter(safe) else {
        return Err(FilesError::UnsafeEntry(entry.to_path_buf()));
    };
    let mut renamed = name.to_path_buf();
    for part in parts {
        if !safe(&part) {
            return Err(FilesError::UnsafeEntry(entry.to_path_buf()));
        }
        renamed.push(part);
    }
    Ok(renamed)
}

fn remove_any(path: &Path) -> io::Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(error) => Err(error),
    };
    match result {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(dir: &Path, entries: &[(&str, &str)]) -> PathBuf {
        let path = dir.join("archive.tar");
        let mut builder = tar::Builder::new(fs::File::create(&path).unwrap());
        for (name, contents) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(contents.len() as u64);
            header.set_mode(0o600);
            header.set_cksum();
            builder
                .append_data(&mut header, name, contents.as_bytes())
                .unwrap();
        }
        builder.finish().unwrap();
        path
    }

    #[test]
    fn a_directory_is_unpacked_under_the_target_name_replacing_what_was_there() {
        let temp = tempfile::tempdir().unwrap();
        let archive = archive(
            temp.path(),
            &[("aws/config", "[default]\n"), ("aws/creds", "k\n")],
        );
        let home = temp.path().join("home");
        fs::create_dir_all(home.join(".aws")).unwrap();
        fs::write(home.join(".aws/old"), "x").unwrap();
        let target = ArchiveTarget {
            archive: &archive,
            path: "~/.aws",
        };
        let unpacked = unpack_archive(target, home.to_str().unwrap(), temp.path(), None).unwrap();
        assert_eq!(unpacked, home.join(".aws"));
        assert_eq!(
            fs::read_to_string(home.join(".aws/config")).unwrap(),
            "[default]\n"
        );
        assert!(!home.join(".aws/old").exists());
    }

    #[test]
    fn a_file_goes_relative_to_the_working_dir() {
        let temp = tempfile::tempdir().unwrap();
        let archive = archive(temp.path(), &[("local-name.txt", "hi\n")]);
        let target = ArchiveTarget {
            archive: &archive,
            path: "data/remote.txt",
        };
        unpack_archive(target, "/", temp.path(), None).unwrap();
        assert_eq!(
            fs::read_to_string(temp.path().join("data/remote.txt")).unwrap(),
            "hi\n"
        );
    }

    #[test]
    fn entries_that_climb_out_are_refused() {
        assert!(rename_top_level(Path::new("a/../../etc"), Path::new("x")).is_err());
        assert!(rename_top_level(Path::new("/etc/passwd"), Path::new("x")).is_err());
        assert_eq!(
            rename_top_level(Path::new("./a/b/c"), Path::new("x")).ok(),
            Some(PathBuf::from("x/b/c"))
        );
    }

    #[test]
    fn a_missing_upload_is_an_error() {
        let temp = tempfile::tempdir().unwrap();
        let target = ArchiveTarget {
            archive: &temp.path().join("nope"),
            path: "x",
        };
        assert!(matches!(
            unpack_archive(target, "/", temp.path(), None),
            Err(FilesError::Missing(_))
        ));
    }
}

//! `files:` mappings: each local path goes up as a tar archive named by its sha256, and the
//! run spec lists the archive ids with their container paths (api.md §4.2 step 2).

use std::path::Path;

use crate::api::ProjectClient;
use crate::paths::expand_home;
use crate::repo::sha256_hex;
use anyhow::Context;
use dstack_core::api::files::FileArchiveMapping;
use dstack_core::configuration::AnyRunConfiguration;

/// The mappings of `configuration`, with local paths made absolute against `base_dir` (the
/// configuration file's directory), as dstack sends them.
pub fn resolve_local_paths(configuration: &mut AnyRunConfiguration, base_dir: &Path) {
    let files = match configuration {
        AnyRunConfiguration::Task(task) => &mut task.files,
        AnyRunConfiguration::DevEnvironment(dev) => &mut dev.files,
        AnyRunConfiguration::Service(service) => &mut service.files,
    };
    for mapping in files {
        let local = expand_home(&mapping.local_path);
        if local.is_relative() {
            mapping.local_path = base_dir.join(local).display().to_string();
        } else {
            mapping.local_path = local.display().to_string();
        }
    }
}

/// Uploads one archive per mapping of `configuration`.
pub async fn upload(
    client: &ProjectClient,
    configuration: &AnyRunConfiguration,
) -> anyhow::Result<Vec<FileArchiveMapping>> {
    let files = match configuration {
        AnyRunConfiguration::Task(task) => &task.files,
        AnyRunConfiguration::DevEnvironment(dev) => &dev.files,
        AnyRunConfiguration::Service(service) => &service.files,
    };
    let mut archives = Vec::new();
    for mapping in files {
        let blob = archive(Path::new(&mapping.local_path))?;
        let hash = sha256_hex(&blob);
        let uploaded = client.upload_archive(&hash, &blob).await?;
        archives.push(FileArchiveMapping {
            id: uploaded.id,
            path: mapping.path.clone(),
        });
    }
    Ok(archives)
}

/// A tar with one top-level entry, the file or directory under its own name: the runner
/// renames that entry to the destination.
fn archive(local: &Path) -> anyhow::Result<Vec<u8>> {
    let name = local
        .file_name()
        .with_context(|| format!("files: {} has no file name", local.display()))?;
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let metadata = std::fs::metadata(local)
        .with_context(|| format!("files: cannot read {}", local.display()))?;
    if metadata.is_dir() {
        builder.append_dir_all(name, local)
    } else {
        builder.append_path_with_name(local, name)
    }
    .and_then(|()| builder.into_inner())
    .with_context(|| format!("files: cannot archive {}", local.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_has_the_path_as_its_one_top_level_entry() {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("sub")).expect("mkdir");
        std::fs::write(data.join("sub/a.txt"), "a").expect("write");
        let blob = archive(&data).expect("archive");
        let mut tops = std::collections::BTreeSet::new();
        for entry in tar::Archive::new(blob.as_slice())
            .entries()
            .expect("entries")
        {
            let path = entry.expect("entry").path().expect("path").into_owned();
            tops.insert(
                path.components()
                    .next()
                    .expect("a component")
                    .as_os_str()
                    .to_owned(),
            );
        }
        assert_eq!(tops.into_iter().collect::<Vec<_>>(), vec!["data"]);
        assert!(archive(&dir.path().join("missing")).is_err());
    }
}

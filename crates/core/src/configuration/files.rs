//! `files:` items: a local file or directory uploaded into the container (spec §2.8).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::forms::{FormError, Forms, impl_deserialize_forms, impl_schema_forms};

/// A local path and where it lands in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilePathMapping {
    /// The path on the user's machine, resolved by the CLI against the configuration's directory.
    pub local_path: String,
    /// The path in the container; relative paths are under the working directory.
    pub path: String,
}

/// The object form of [`FilePathMapping`].
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilePathMappingObject {
    local_path: String,
    path: String,
}

/// Splits `local[:path]`, where `local` may start with a Windows drive letter (`C:\data`).
fn split_short_form(text: &str) -> Result<(String, String), String> {
    let drive_len = match text.as_bytes() {
        [letter, b':', b'\\' | b'/', ..] if letter.is_ascii_alphabetic() => 2,
        _ => 0,
    };
    let (drive, rest) = text.split_at(drive_len);
    let mut parts = rest.split(':');
    let local = parts.next().unwrap_or_default();
    let path = parts.next();
    if parts.next().is_some() {
        return Err(format!(
            "invalid file mapping \"{text}\", expected `local_path[:path]`"
        ));
    }
    let local_path = format!("{drive}{local}");
    if local_path.is_empty() {
        return Err(format!("invalid file mapping \"{text}\": empty local path"));
    }
    let path = path.unwrap_or(&local_path).to_owned();
    Ok((local_path, path))
}

fn check_container_path(path: &str) -> Result<(), String> {
    let windows_absolute = matches!(path.as_bytes(), [l, b':', ..] if l.is_ascii_alphabetic());
    if path.is_empty() || windows_absolute || path.contains('\\') {
        return Err(format!("path must be a Unix file path: \"{path}\""));
    }
    Ok(())
}

impl Forms for FilePathMapping {
    type Object = FilePathMappingObject;
    const EXPECTING: &'static str = "`local_path[:path]` or {local_path, path}";

    fn from_object(object: FilePathMappingObject) -> Result<Self, String> {
        check_container_path(&object.path)?;
        Ok(Self {
            local_path: object.local_path,
            path: object.path,
        })
    }

    fn from_str(value: &str) -> Result<Self, FormError> {
        let (local_path, path) = split_short_form(value)?;
        Ok(Self::from_object(FilePathMappingObject {
            local_path,
            path,
        })?)
    }
}
impl_deserialize_forms!(FilePathMapping);
impl_schema_forms!(FilePathMapping, "FilePathMapping", [{"type": "string"}]);

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FilePathMapping, String> {
        serde_json::from_value(serde_json::Value::String(text.into())).map_err(|e| e.to_string())
    }

    #[test]
    fn short_forms() {
        let same = parse("data").unwrap();
        assert_eq!(
            (same.local_path.as_str(), same.path.as_str()),
            ("data", "data")
        );
        let mapped = parse("../x:/workflow/x").unwrap();
        assert_eq!(mapped.path, "/workflow/x");
        let windows = parse(r"C:\data:/data").unwrap();
        assert_eq!(windows.local_path, r"C:\data");
        assert!(parse("a:b:c").is_err());
        assert!(parse("x:C:/y").is_err());
    }
}

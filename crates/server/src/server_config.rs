//! The server's own `config.yml` in the server directory (config-cli.md §17): the projects to
//! create at start and the keys that encrypt secrets. Written with the default content when
//! missing; never written back.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::Value;

use crate::services::bootstrap::MAIN_PROJECT;

/// The default file: the `main` project with no backends and no encryption keys.
const DEFAULT_CONFIG: &str = "projects:\n- name: main\n  backends: []\nencryption:\n  keys: []\n";

/// Errors reading the server configuration.
#[derive(Debug, thiserror::Error)]
pub enum ServerConfigError {
    /// The file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid server configuration.
    #[error("invalid {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
}

/// The file; unknown keys are refused, as dstack does.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Projects to create if missing.
    pub projects: Vec<ProjectSection>,
    /// The keys that encrypt secrets at rest; none means they are stored as plaintext.
    #[serde(default)]
    pub encryption: Option<EncryptionSection>,
    /// What users other than admins may do.
    #[serde(default)]
    pub default_permissions: Option<DefaultPermissions>,
    /// Plugins; accepted, none are loaded.
    #[serde(default)]
    pub plugins: Option<Vec<String>>,
}

/// The `default_permissions` section; each flag has dstack's default when left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DefaultPermissions {
    /// Whether users other than global admins may create projects (default on).
    pub allow_non_admins_create_projects: bool,
    /// Whether project members other than admins may add and delete SSH fleets (default on).
    pub allow_non_admins_manage_ssh_fleets: bool,
    /// Whether project managers may manage the project's secrets (default off: only project
    /// and global admins may).
    pub allow_managers_manage_secrets: bool,
}

impl Default for DefaultPermissions {
    fn default() -> Self {
        Self {
            allow_non_admins_create_projects: true,
            allow_non_admins_manage_ssh_fleets: true,
            allow_managers_manage_secrets: false,
        }
    }
}

/// One project of the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    /// The project name.
    pub name: String,
    /// Backend configurations; this server has none to create yet.
    #[serde(default)]
    pub backends: Option<Vec<Value>>,
}

/// The `encryption` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionSection {
    /// The keys: the first encrypts, all are tried to decrypt.
    #[serde(default)]
    pub keys: Vec<EncryptionKeyConfig>,
}

/// One key of `encryption.keys`, by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum EncryptionKeyConfig {
    /// AES-256-GCM.
    Aes {
        /// The key's name, stored beside every value it encrypts.
        name: KeyName,
        /// The key itself.
        secret: AesSecret,
    },
    /// Plaintext.
    Identity,
}

/// An alphanumeric key name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct KeyName(pub String);

impl TryFrom<String> for KeyName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()) {
            Ok(Self(name))
        } else {
            Err(format!("key name {name:?} must be alphanumeric"))
        }
    }
}

/// The 32 bytes of an AES-256 key, written base64 in the file; redacted in `Debug`.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct AesSecret(pub [u8; 32]);

impl TryFrom<String> for AesSecret {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|error| format!("AES key is not valid base64: {error}"))?;
        let length = bytes.len();
        bytes
            .try_into()
            .map(Self)
            .map_err(|_| format!("AES key must be 32 bytes. Got {length} bytes"))
    }
}

impl fmt::Debug for AesSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesSecret(<redacted>)")
    }
}

/// What start-up found.
#[derive(Debug, Clone)]
pub enum Loaded {
    /// There was no file; the default was written.
    Initialized(ServerConfig),
    /// The file was read.
    Existing(ServerConfig),
}

impl ServerConfig {
    /// Reads `<dir>/config.yml`, writing the default first when it is missing.
    pub fn load_or_init(dir: &Path) -> Result<Loaded, ServerConfigError> {
        let path = dir.join("config.yml");
        let io_error = |source| ServerConfigError::Io {
            path: path.clone(),
            source,
        };
        if !path.exists() {
            std::fs::create_dir_all(dir).map_err(io_error)?;
            std::fs::write(&path, DEFAULT_CONFIG).map_err(io_error)?;
            return Self::parse(&path, DEFAULT_CONFIG).map(Loaded::Initialized);
        }
        let text = std::fs::read_to_string(&path).map_err(io_error)?;
        Self::parse(&path, &text).map(Loaded::Existing)
    }

    fn parse(path: &Path, text: &str) -> Result<Self, ServerConfigError> {
        serde_saphyr::from_str(text).map_err(|error| ServerConfigError::Invalid {
            path: path.to_owned(),
            message: error.to_string(),
        })
    }

    /// The configured encryption keys, in order.
    pub fn encryption_keys(&self) -> &[EncryptionKeyConfig] {
        self.encryption
            .as_ref()
            .map_or(&[], |section| section.keys.as_slice())
    }

    /// The permissions of the file, or the defaults.
    pub fn permissions(&self) -> DefaultPermissions {
        self.default_permissions.unwrap_or_default()
    }

    /// The projects to ensure, `main` first whether listed or not.
    pub fn project_names(&self) -> Vec<&str> {
        let mut names = vec![MAIN_PROJECT];
        for project in &self.projects {
            if !names.contains(&project.name.as_str()) {
                names.push(&project.name);
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_written_with_the_default() {
        let dir = tempfile::tempdir().expect("temp dir");
        let loaded = ServerConfig::load_or_init(dir.path()).expect("default config");
        assert!(matches!(loaded, Loaded::Initialized(_)));
        let text = std::fs::read_to_string(dir.path().join("config.yml")).expect("written");
        assert_eq!(text, DEFAULT_CONFIG);
        let again = ServerConfig::load_or_init(dir.path()).expect("existing config");
        let Loaded::Existing(config) = again else {
            panic!("the second start reads the file");
        };
        assert_eq!(config.project_names(), ["main"]);
    }

    fn parse(text: &str) -> Result<ServerConfig, ServerConfigError> {
        ServerConfig::parse(Path::new("config.yml"), text)
    }

    #[test]
    fn encryption_keys_are_read_in_order() {
        let config = parse(
            "projects: []\nencryption:\n  keys:\n  - type: aes\n    name: key1\n    \
             secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n  - type: identity\n",
        )
        .expect("valid keys");
        let [
            EncryptionKeyConfig::Aes { name, secret },
            EncryptionKeyConfig::Identity,
        ] = config.encryption_keys()
        else {
            panic!("an aes key then identity: {config:?}");
        };
        assert_eq!(name.0, "key1");
        assert_eq!(secret.0[31], 31);
        assert!(!format!("{config:?}").contains("AAEC"), "secret redacted");
    }

    #[test]
    fn short_aes_keys_and_bad_key_names_are_refused() {
        let short = parse(
            "projects: []\nencryption:\n  keys:\n  - type: aes\n    name: key1\n    \
             secret: AAECAw==\n",
        )
        .expect_err("4 bytes");
        assert!(
            short
                .to_string()
                .contains("AES key must be 32 bytes. Got 4 bytes"),
            "{short}"
        );
        let bad_name = parse(
            "projects: []\nencryption:\n  keys:\n  - type: aes\n    name: key-1\n    \
             secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        )
        .expect_err("a dash");
        assert!(bad_name.to_string().contains("alphanumeric"), "{bad_name}");
    }

    #[test]
    fn default_permissions_keep_dstack_defaults_for_missing_flags() {
        let none = parse("projects: []\n").expect("no section");
        assert_eq!(none.permissions(), DefaultPermissions::default());
        assert!(!none.permissions().allow_managers_manage_secrets);
        let some =
            parse("projects: []\ndefault_permissions:\n  allow_managers_manage_secrets: true\n")
                .expect("one flag");
        assert!(some.permissions().allow_managers_manage_secrets);
        assert!(some.permissions().allow_non_admins_create_projects);
        let typo = parse("projects: []\ndefault_permissions:\n  allow_managers: true\n")
            .expect_err("unknown flag");
        assert!(typo.to_string().contains("allow_managers"), "{typo}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("config.yml"), "projects: []\nfoo: 1\n").expect("write");
        let error = ServerConfig::load_or_init(dir.path()).expect_err("unknown key");
        assert!(error.to_string().contains("foo"), "{error}");
    }
}

//! Base run fields (spec §4), shared by dev environments, tasks and services.
//!
//! - `with_base_run_fields!`: declares a run configuration with its own fields, then the
//!   base run fields, then the profile parameters, so each field is written once.
//! - [`RegistryAuth`], [`PythonVersion`]: value types of the base fields.
//! - [`BaseRunFields`]: a borrowed view for the rules across base fields.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::error::{FieldPath, RuleViolation};
use super::interpolation::{check_command_references, check_env_references};
use super::names::check_resource_name;
use crate::env::{Env, EnvValue};

/// Declares a run configuration: `$tag` is its `type` literal; its own fields come first.
macro_rules! with_base_run_fields {
    ($(#[$meta:meta])* pub struct $name:ident ($tag:ty) { $($body:tt)* }) => {
        $crate::configuration::profile::with_profile_params! {
            $(#[$meta])*
            pub struct $name {
                $($body)*
                /// The configuration type.
                #[serde(rename = "type", default)]
                #[schemars(required)]
                pub kind: $tag,
                /// The run name; generated when unset.
                #[serde(default)]
                pub name: Option<String>,
                /// The Docker image; dstack's base image when unset.
                #[serde(default)]
                pub image: Option<String>,
                /// The user to run as, `user[:group]`; the image's user when unset.
                #[serde(default)]
                pub user: Option<String>,
                /// Whether the container is privileged.
                #[serde(default)]
                pub privileged: bool,
                /// The container entrypoint; `commands` become its arguments.
                #[serde(default)]
                pub entrypoint: Option<String>,
                /// The absolute working directory; the image's when unset.
                #[serde(default)]
                pub working_dir: Option<String>,
                /// Deprecated: the home directory.
                #[serde(default = "crate::configuration::run::default_home_dir")]
                pub home_dir: String,
                /// Credentials for a private image registry.
                #[serde(default)]
                pub registry_auth: Option<$crate::configuration::run::RegistryAuth>,
                /// The Python version of dstack's base image.
                #[serde(default)]
                pub python: Option<$crate::configuration::run::PythonVersion>,
                /// Whether dstack's base image includes the CUDA compiler.
                #[serde(default)]
                pub nvcc: Option<bool>,
                /// Whether only the current branch of the repo is cloned.
                #[serde(default)]
                pub single_branch: Option<bool>,
                /// Environment variables.
                #[serde(default)]
                pub env: $crate::env::Env,
                /// The shell that runs `commands`: `sh`, `bash` or an absolute path.
                #[serde(default)]
                pub shell: Option<String>,
                /// The resources the run needs.
                #[serde(default)]
                pub resources: $crate::resources::ResourcesSpec,
                /// Provisioning priority, 0 to 100; higher goes first.
                #[serde(default)]
                pub priority: Option<u32>,
                /// Network and instance volumes to mount.
                #[serde(default)]
                pub volumes: Vec<$crate::mounts::MountPoint>,
                /// Whether Docker runs inside the container.
                #[serde(default)]
                pub docker: Option<bool>,
                /// The repo to clone; at most one.
                #[serde(default)]
                pub repos: Vec<$crate::configuration::repos::RepoSpec>,
                /// Local files to upload.
                #[serde(default)]
                pub files: Vec<$crate::configuration::files::FilePathMapping>,
                /// Whether the dstack server is reachable from the container.
                #[serde(default)]
                pub dstack: bool,
                /// Deprecated: commands run before `init` in dev environments.
                #[serde(default)]
                pub setup: Vec<String>,
            }
        }

        impl $name {
            /// `name`: the run's name; the server generates one when unset.
            pub fn name(&self) -> Option<&str> {
                self.name.as_deref()
            }

            /// The base run fields, borrowed for their rules.
            pub fn base_run_fields(&self) -> $crate::configuration::run::BaseRunFields<'_> {
                $crate::configuration::run::BaseRunFields {
                    name: self.name.as_deref(),
                    image: self.image.as_deref(),
                    user: self.user.as_deref(),
                    entrypoint: self.entrypoint.as_deref(),
                    working_dir: self.working_dir.as_deref(),
                    python: self.python,
                    nvcc: self.nvcc,
                    docker: self.docker,
                    shell: self.shell.as_deref(),
                    priority: self.priority,
                    repos: self.repos.len(),
                    env: &self.env,
                }
            }

            /// Checks the base run fields and the profile parameters.
            pub(crate) fn check_common_fields(&self) -> Result<(), $crate::configuration::error::RuleViolation> {
                self.base_run_fields().check()?;
                self.check_profile_params()
            }
        }
    };
}
pub(crate) use with_base_run_fields;

pub(crate) fn default_home_dir() -> String {
    "/root".into()
}

/// Credentials for a private image registry; may use `${{ env.* }}` and `${{ secrets.* }}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryAuth {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

/// A Python version of dstack's base image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[allow(missing_docs)]
pub enum PythonVersion {
    #[serde(rename = "3.9")]
    Py39,
    #[serde(rename = "3.10")]
    Py310,
    #[serde(rename = "3.11")]
    Py311,
    #[serde(rename = "3.12")]
    Py312,
    #[serde(rename = "3.13")]
    Py313,
    #[serde(rename = "3.14")]
    Py314,
    #[serde(rename = "3.15")]
    Py315,
}

const PYTHON_VERSIONS: [(&str, PythonVersion); 7] = [
    ("3.9", PythonVersion::Py39),
    ("3.10", PythonVersion::Py310),
    ("3.11", PythonVersion::Py311),
    ("3.12", PythonVersion::Py312),
    ("3.13", PythonVersion::Py313),
    ("3.14", PythonVersion::Py314),
    ("3.15", PythonVersion::Py315),
];

impl PythonVersion {
    fn parse(text: &str) -> Result<Self, String> {
        PYTHON_VERSIONS
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, version)| *version)
            .ok_or_else(|| {
                format!("unsupported Python version \"{text}\", expected one of 3.9 to 3.15")
            })
    }
}

impl<'de> Deserialize<'de> for PythonVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct VersionVisitor;
        impl Visitor<'_> for VersionVisitor {
            type Value = PythonVersion;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Python version such as \"3.12\"")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<PythonVersion, E> {
                PythonVersion::parse(value).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<PythonVersion, E> {
                // An unquoted `3.10` is the float 3.1; it can only mean 3.10.
                let text = if value == 3.1 {
                    "3.10".to_owned()
                } else {
                    value.to_string()
                };
                PythonVersion::parse(&text).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(VersionVisitor)
    }
}

/// The base run fields a rule may look at.
#[derive(Debug, Clone, Copy)]
pub struct BaseRunFields<'a> {
    /// `name`.
    pub name: Option<&'a str>,
    /// `image`.
    pub image: Option<&'a str>,
    /// `user`.
    pub user: Option<&'a str>,
    /// `entrypoint`.
    pub entrypoint: Option<&'a str>,
    /// `working_dir`.
    pub working_dir: Option<&'a str>,
    /// `python`.
    pub python: Option<PythonVersion>,
    /// `nvcc`.
    pub nvcc: Option<bool>,
    /// `docker`.
    pub docker: Option<bool>,
    /// `shell`.
    pub shell: Option<&'a str>,
    /// `priority`.
    pub priority: Option<u32>,
    /// How many `repos` there are.
    pub repos: usize,
    /// `env`.
    pub env: &'a Env,
}

fn violation(key: &str, message: impl Into<String>) -> RuleViolation {
    RuleViolation::new(FieldPath::keys(&[key]), message)
}

/// Checks `user[:group]`, where each part is a name or a non-negative id.
fn check_user(user: &str) -> Result<(), RuleViolation> {
    let part_ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    };
    let valid = match user.split_once(':') {
        Some((name, group)) => part_ok(name) && part_ok(group),
        None => part_ok(user),
    };
    if valid {
        Ok(())
    } else {
        Err(violation(
            "user",
            format!("invalid user \"{user}\", expected `user[:group]` with names or numeric ids"),
        ))
    }
}

impl BaseRunFields<'_> {
    /// Checks the rules across the base run fields.
    pub fn check(&self) -> Result<(), RuleViolation> {
        if let Some(name) = self.name {
            check_resource_name(name).map_err(|message| violation("name", message))?;
        }
        if self.image.is_some() && self.python.is_some() {
            return Err(violation(
                "python",
                "`image` and `python` are mutually exclusive fields",
            ));
        }
        if self.docker == Some(true) {
            for (key, set) in [
                ("image", self.image.is_some()),
                ("python", self.python.is_some()),
                ("nvcc", self.nvcc.is_some()),
            ] {
                if set {
                    return Err(violation(
                        "docker",
                        format!("`docker` and `{key}` are mutually exclusive fields"),
                    ));
                }
            }
        }
        if let Some(dir) = self.working_dir
            && !dir.starts_with('/')
        {
            return Err(violation(
                "working_dir",
                format!("working_dir must be absolute, got \"{dir}\""),
            ));
        }
        if let Some(user) = self.user {
            check_user(user)?;
        }
        if let Some(shell) = self.shell
            && !(shell == "sh" || shell == "bash" || shell.starts_with('/'))
        {
            return Err(violation(
                "shell",
                format!("unsupported shell \"{shell}\", expected `sh`, `bash` or an absolute path"),
            ));
        }
        if let Some(priority) = self.priority
            && priority > 100
        {
            return Err(violation(
                "priority",
                format!("must be between 0 and 100, got {priority}"),
            ));
        }
        for (key, value) in self.env.iter() {
            if let EnvValue::Value(text) = value {
                check_env_references(text).map_err(|error| {
                    RuleViolation::new(FieldPath::keys(&["env", key]), error.to_string())
                })?;
            }
        }
        if self.repos > 1 {
            return Err(violation(
                "repos",
                "a maximum of one repo is currently supported",
            ));
        }
        Ok(())
    }
}

/// Checks the references in a list of commands at `path`.
pub(crate) fn check_commands(commands: &[String], path: &FieldPath) -> Result<(), RuleViolation> {
    for (index, command) in commands.iter().enumerate() {
        check_command_references(command)
            .map_err(|error| RuleViolation::new(path.clone().index(index), error.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_versions_from_strings_and_floats() {
        let from = |json: &str| serde_json::from_str::<PythonVersion>(json);
        assert_eq!(from("\"3.12\"").ok(), Some(PythonVersion::Py312));
        assert_eq!(from("3.1").ok(), Some(PythonVersion::Py310));
        assert_eq!(from("3.9").ok(), Some(PythonVersion::Py39));
        assert!(from("\"2.7\"").is_err());
        assert_eq!(
            serde_json::to_string(&PythonVersion::Py310).ok().as_deref(),
            Some("\"3.10\"")
        );
    }

    #[test]
    fn user_forms() {
        assert!(check_user("ubuntu").is_ok());
        assert!(check_user("1000:1000").is_ok());
        assert!(check_user(":x").is_err());
        assert!(check_user("a b").is_err());
    }
}

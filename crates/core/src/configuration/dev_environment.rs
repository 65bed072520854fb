//! `type: dev-environment` (spec §5): a container to work in over SSH or from an IDE.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::{FieldPath, RuleViolation};
use super::literal::literal;
use super::run::with_base_run_fields;
use crate::duration::InactivityDuration;
use crate::ports::PortMapping;

literal!(
    /// `type: dev-environment`.
    DevEnvironmentTag = "dev-environment"
);

/// The IDE a dev environment is prepared for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Ide {
    Vscode,
    Cursor,
    Windsurf,
    Zed,
}

with_base_run_fields! {
    /// A dev environment: an IDE server and SSH access, kept until stopped or idle.
    pub struct DevEnvironmentConfiguration (DevEnvironmentTag) {
        /// The IDE to prepare; SSH only when unset.
        #[serde(default)]
        pub ide: Option<Ide>,
        /// The IDE version; detected by the CLI when unset.
        #[serde(default)]
        pub version: Option<String>,
        /// Commands run at startup.
        #[serde(default)]
        pub init: Vec<String>,
        /// Stop after this long without an SSH connection; no limit when unset.
        #[serde(default, deserialize_with = "InactivityDuration::deserialize_option")]
        pub inactivity_duration: Option<InactivityDuration>,
        /// Ports forwarded to the user's machine.
        #[serde(default)]
        pub ports: Vec<PortMapping>,
    }
}

fn violation(key: &str, message: &str) -> RuleViolation {
    RuleViolation::new(FieldPath::keys(&[key]), message)
}

impl DevEnvironmentConfiguration {
    /// Checks the rules across fields.
    pub fn check(&self) -> Result<(), RuleViolation> {
        self.check_common_fields()?;
        if self.entrypoint.is_some() {
            return Err(violation(
                "entrypoint",
                "entrypoint is not supported for dev-environment",
            ));
        }
        if self.version.is_some() && self.ide.is_none() {
            return Err(violation("version", "`version` requires `ide` to be set"));
        }
        if self.inactivity_duration.is_some() && self.dstack {
            return Err(violation(
                "inactivity_duration",
                "`inactivity_duration` is not supported with `dstack: true`",
            ));
        }
        Ok(())
    }
}

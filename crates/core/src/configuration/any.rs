//! Unions of configurations told apart by `type`: [`AnyConfiguration`] (every type) and
//! [`AnyRunConfiguration`] (what `run_spec.configuration` holds).

use serde::{Deserialize, Deserializer, Serialize};

use super::dev_environment::DevEnvironmentConfiguration;
use super::error::RuleViolation;
use super::fleet::FleetConfiguration;
use super::gateway::GatewayConfiguration;
use super::service::ServiceConfiguration;
use super::task::TaskConfiguration;
use super::volume::VolumeConfiguration;

/// Lists names for a message: `a`, `b`, `c`.
pub(crate) fn list_names(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    quoted.join(", ")
}

/// Declares an enum over configuration types keyed by their `type`, serialized as the inner
/// configuration, deserialized from JSON-like input by dispatching on `type`.
macro_rules! configuration_union {
    ($(#[$meta:meta])* $name:ident, $types:ident { $($tag:literal => $variant:ident($inner:ty),)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
        #[serde(untagged)]
        pub enum $name {
            $(
                #[doc = concat!("`type: ", $tag, "`.")]
                $variant($inner),
            )*
        }

        /// The `type` values of this union.
        pub const $types: &[&str] = &[$($tag),*];

        impl $name {
            /// The configuration's `type`.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $tag,)*
                }
            }

            /// The configuration's `name`, if it sets one.
            pub fn name(&self) -> Option<&str> {
                match self {
                    $(Self::$variant(configuration) => configuration.name(),)*
                }
            }

            /// Checks the rules across fields of the configuration.
            pub fn check(&self) -> Result<(), RuleViolation> {
                match self {
                    $(Self::$variant(configuration) => configuration.check(),)*
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            /// Buffers the input to read `type`; YAML files go through `parse_configuration`,
            /// which dispatches without buffering to keep locations.
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                use serde::de::Error;
                let value = serde_json::Value::deserialize(deserializer)?;
                let tag = value
                    .get("type")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| D::Error::custom(format!("missing field `type`, expected one of {}", list_names($types))))?;
                match tag {
                    $($tag => <$inner>::deserialize(value).map(Self::$variant),)*
                    other => {
                        return Err(D::Error::custom(format!(
                            "unknown configuration type `{other}`, expected one of {}",
                            list_names($types)
                        )));
                    }
                }
                .map_err(D::Error::custom)
            }
        }
    };
}

configuration_union! {
    /// A run configuration: what `run_spec.configuration` holds.
    AnyRunConfiguration, RUN_TYPE_NAMES {
        "dev-environment" => DevEnvironment(DevEnvironmentConfiguration),
        "task" => Task(TaskConfiguration),
        "service" => Service(ServiceConfiguration),
    }
}

configuration_union! {
    /// Any configuration file.
    AnyConfiguration, TYPE_NAMES {
        "dev-environment" => DevEnvironment(DevEnvironmentConfiguration),
        "task" => Task(TaskConfiguration),
        "service" => Service(ServiceConfiguration),
        "fleet" => Fleet(FleetConfiguration),
        "volume" => Volume(VolumeConfiguration),
        "gateway" => Gateway(GatewayConfiguration),
    }
}

impl From<AnyRunConfiguration> for AnyConfiguration {
    fn from(run: AnyRunConfiguration) -> Self {
        match run {
            AnyRunConfiguration::DevEnvironment(c) => Self::DevEnvironment(c),
            AnyRunConfiguration::Task(c) => Self::Task(c),
            AnyRunConfiguration::Service(c) => Self::Service(c),
        }
    }
}

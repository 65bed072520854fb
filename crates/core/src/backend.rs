//! The backends dstack knows, spelled as on the wire.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Declares the enum with its wire names once, so parsing, printing and serde agree.
macro_rules! backend_types {
    ($($variant:ident => $wire:literal),+ $(,)?) => {
        /// A compute backend (`BackendType` in dstack's API).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(Serialize, Deserialize, JsonSchema)]
        pub enum BackendType {
            $(#[serde(rename = $wire)] $variant,)+
        }

        impl BackendType {
            /// Every backend, in the order of dstack's enum.
            pub const ALL: &'static [BackendType] = &[$(BackendType::$variant),+];

            /// The wire name, e.g. `aws` or `remote`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(BackendType::$variant => $wire,)+
                }
            }
        }
    };
}

backend_types! {
    AmdDevCloud => "amddevcloud",
    Aws => "aws",
    Azure => "azure",
    CloudRift => "cloudrift",
    Crusoe => "crusoe",
    Cudo => "cudo",
    DataCrunch => "datacrunch",
    Daytona => "daytona",
    DigitalOcean => "digitalocean",
    Dstack => "dstack",
    Gcp => "gcp",
    HotAisle => "hotaisle",
    JarvisLabs => "jarvislabs",
    Kubernetes => "kubernetes",
    Lambda => "lambda",
    Lium => "lium",
    Remote => "remote",
    Nebius => "nebius",
    Oci => "oci",
    RunPod => "runpod",
    Seeweb => "seeweb",
    TensorDock => "tensordock",
    VastAi => "vastai",
    Verda => "verda",
    Vultr => "vultr",
    Slurm => "slurm",
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown backend {given:?}: expected one of {}",
    BackendType::ALL.iter().map(|b| b.as_str()).collect::<Vec<_>>().join(", ")
)]
pub struct UnknownBackend {
    pub given: String,
}

impl FromStr for BackendType {
    type Err = UnknownBackend;

    fn from_str(given: &str) -> Result<Self, Self::Err> {
        BackendType::ALL
            .iter()
            .copied()
            .find(|b| b.as_str() == given)
            .ok_or_else(|| UnknownBackend {
                given: given.to_owned(),
            })
    }
}

impl fmt::Display for BackendType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        assert_eq!(BackendType::ALL.len(), 26);
        for backend in BackendType::ALL {
            let json = serde_json::to_string(backend).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", backend.as_str()));
            assert_eq!(
                serde_json::from_str::<BackendType>(&json).ok(),
                Some(*backend)
            );
            assert_eq!(backend.as_str().parse::<BackendType>().ok(), Some(*backend));
        }
    }

    #[test]
    fn rejects_unknown_names() {
        assert!("AWS".parse::<BackendType>().is_err());
        assert!(serde_json::from_str::<BackendType>("\"local\"").is_err());
    }
}

//! `type: volume` (spec §9), one struct per `backend`, and [`VolumeConfiguration`] over them.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use super::any::list_names;
use super::error::{FieldPath, RuleViolation};
use super::literal::literal;
use super::names::check_resource_name;
use crate::duration::IdleDuration;
use crate::memory::Memory;

literal!(
    /// `type: volume`.
    VolumeTag = "volume"
);

/// Declares a volume struct for one backend: `type`, `backend`, the common fields, then its own.
macro_rules! volume_struct {
    ($(#[$meta:meta])* $name:ident, $tag:ident = $backend:literal { $($body:tt)* }) => {
        literal!(
            #[doc = concat!("`backend: ", $backend, "`.")]
            $tag = $backend
        );

        $crate::configuration::profile::config_struct! {
            $(#[$meta])*
            pub struct $name {
                /// The configuration type.
                #[serde(rename = "type", default)]
                #[schemars(required)]
                pub kind: VolumeTag,
                /// The backend.
                pub backend: $tag,
                /// The volume name; generated when unset.
                #[serde(default)]
                pub name: Option<String>,
                /// Delete the volume after it is unused this long; kept forever when unset.
                #[serde(default, deserialize_with = "crate::duration::IdleDuration::deserialize_option")]
                pub auto_cleanup_duration: Option<IdleDuration>,
                /// Tags for the cloud volume.
                #[serde(default)]
                pub tags: Option<$crate::configuration::tags::Tags>,
                $($body)*
            }
        }

        impl $name {
            fn common(&self) -> VolumeCommon<'_> {
                VolumeCommon {
                    name: self.name.as_deref(),
                    auto_cleanup_duration: self.auto_cleanup_duration,
                }
            }
        }
    };
}

/// Declares a volume struct for a cloud backend with `size`, `volume_id`, `region` and zone.
macro_rules! cloud_volume_struct {
    ($(#[$meta:meta])* $name:ident, $tag:ident = $backend:literal) => {
        volume_struct! {
            $(#[$meta])*
            $name, $tag = $backend {
                /// The size of a new volume.
                #[serde(default)]
                pub size: Option<Memory>,
                /// An existing volume to register instead of creating one.
                #[serde(default)]
                pub volume_id: Option<String>,
                /// The region.
                pub region: String,
                /// The availability zone.
                #[serde(default)]
                pub availability_zone: Option<String>,
            }
        }
    };
}

cloud_volume_struct!(
    /// A volume on AWS (EBS).
    AwsVolumeConfiguration, AwsVolumeTag = "aws"
);
cloud_volume_struct!(
    /// A volume on GCP (persistent disk).
    GcpVolumeConfiguration, GcpVolumeTag = "gcp"
);

volume_struct! {
    /// A network volume on RunPod.
    RunpodVolumeConfiguration, RunpodVolumeTag = "runpod" {
        /// The size of a new volume.
        #[serde(default)]
        pub size: Option<Memory>,
        /// An existing volume to register instead of creating one.
        #[serde(default)]
        pub volume_id: Option<String>,
        /// The data center.
        pub region: String,
        /// Accepted and ignored: RunPod volumes have no zones.
        #[serde(default, skip_serializing)]
        pub availability_zone: Option<String>,
    }
}

fn default_access_modes() -> Vec<String> {
    vec!["ReadWriteOnce".into()]
}

volume_struct! {
    /// A persistent volume claim on Kubernetes.
    KubernetesVolumeConfiguration, KubernetesVolumeTag = "kubernetes" {
        /// The size of a new claim.
        #[serde(default)]
        pub size: Option<Memory>,
        /// The cluster; empty for the backend's only cluster.
        #[serde(default)]
        pub region: String,
        /// An existing claim to use instead of creating one.
        #[serde(default)]
        pub claim_name: Option<String>,
        /// The storage class of a new claim.
        #[serde(default)]
        pub storage_class_name: Option<String>,
        /// The access modes of a new claim.
        #[serde(default = "default_access_modes")]
        pub access_modes: Vec<String>,
        /// Whether the claim is mounted read-only.
        #[serde(default)]
        pub read_only: bool,
    }
}

volume_struct! {
    /// An existing Daytona volume.
    DaytonaVolumeConfiguration, DaytonaVolumeTag = "daytona" {
        /// The volume to use.
        #[serde(default)]
        pub volume_id: Option<String>,
    }
}

volume_struct! {
    /// An existing Lium volume.
    LiumVolumeConfiguration, LiumVolumeTag = "lium" {
        /// The volume to use.
        #[serde(default)]
        pub volume_id: Option<String>,
    }
}

/// A volume configuration, by backend.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum VolumeConfiguration {
    /// `backend: aws`.
    Aws(AwsVolumeConfiguration),
    /// `backend: gcp`.
    Gcp(GcpVolumeConfiguration),
    /// `backend: runpod`.
    Runpod(RunpodVolumeConfiguration),
    /// `backend: kubernetes`.
    Kubernetes(KubernetesVolumeConfiguration),
    /// `backend: daytona`.
    Daytona(DaytonaVolumeConfiguration),
    /// `backend: lium`.
    Lium(LiumVolumeConfiguration),
}

/// The volume backends.
pub const VOLUME_BACKENDS: &[&str] = &["aws", "gcp", "runpod", "kubernetes", "daytona", "lium"];

/// The fields every volume backend has, borrowed for their rules.
struct VolumeCommon<'a> {
    name: Option<&'a str>,
    auto_cleanup_duration: Option<IdleDuration>,
}

fn violation(key: &str, message: impl Into<String>) -> RuleViolation {
    RuleViolation::new(FieldPath::keys(&[key]), message)
}

impl VolumeConfiguration {
    /// Deserializes the struct that `backend` names; `None` for an unknown backend.
    pub(crate) fn deserialize_for_backend<'de, D: Deserializer<'de>>(
        backend: &str,
        deserializer: D,
    ) -> Option<Result<Self, D::Error>> {
        Some(match backend {
            "aws" => AwsVolumeConfiguration::deserialize(deserializer).map(Self::Aws),
            "gcp" => GcpVolumeConfiguration::deserialize(deserializer).map(Self::Gcp),
            "runpod" => RunpodVolumeConfiguration::deserialize(deserializer).map(Self::Runpod),
            "kubernetes" => {
                KubernetesVolumeConfiguration::deserialize(deserializer).map(Self::Kubernetes)
            }
            "daytona" => DaytonaVolumeConfiguration::deserialize(deserializer).map(Self::Daytona),
            "lium" => LiumVolumeConfiguration::deserialize(deserializer).map(Self::Lium),
            _ => return None,
        })
    }

    /// `name`: the volume's name; the server generates one when unset.
    pub fn name(&self) -> Option<&str> {
        self.common().name
    }

    fn common(&self) -> VolumeCommon<'_> {
        match self {
            Self::Aws(volume) => volume.common(),
            Self::Gcp(volume) => volume.common(),
            Self::Runpod(volume) => volume.common(),
            Self::Kubernetes(volume) => volume.common(),
            Self::Daytona(volume) => volume.common(),
            Self::Lium(volume) => volume.common(),
        }
    }

    /// The existing volume this registers, and whether a size is given.
    fn existing_and_size(&self) -> (Option<&str>, bool) {
        match self {
            Self::Aws(v) => (v.volume_id.as_deref(), v.size.is_some()),
            Self::Gcp(v) => (v.volume_id.as_deref(), v.size.is_some()),
            Self::Runpod(v) => (v.volume_id.as_deref(), v.size.is_some()),
            Self::Kubernetes(v) => (v.claim_name.as_deref(), v.size.is_some()),
            Self::Daytona(v) => (v.volume_id.as_deref(), false),
            Self::Lium(v) => (v.volume_id.as_deref(), false),
        }
    }

    /// Checks the rules across fields.
    pub fn check(&self) -> Result<(), RuleViolation> {
        let common = self.common();
        if let Some(name) = common.name {
            check_resource_name(name).map_err(|message| violation("name", message))?;
        }
        let (existing, has_size) = self.existing_and_size();
        let key = match self {
            Self::Kubernetes(_) => "claim_name",
            _ => "volume_id",
        };
        if existing.is_none() && !has_size {
            let message = match self {
                Self::Daytona(_) | Self::Lium(_) => "volume must specify an existing `volume_id`",
                _ => "volume must specify either an existing identifier or `size`",
            };
            return Err(violation(key, message));
        }
        if existing.is_some()
            && common
                .auto_cleanup_duration
                .is_some_and(|d| d.0.as_secs() > 0)
        {
            return Err(violation(
                "auto_cleanup_duration",
                "an external volume cannot have a positive `auto_cleanup_duration`",
            ));
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for VolumeConfiguration {
    /// Dispatches on `backend` through a buffered JSON value; YAML files go through
    /// `parse_configuration`, which dispatches without buffering to keep locations.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(deserializer)?;
        let backend = value
            .get("backend")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| {
                D::Error::custom(format!(
                    "missing field `backend`, expected one of {}",
                    list_names(VOLUME_BACKENDS)
                ))
            })?
            .to_owned();
        Self::deserialize_for_backend(&backend, value)
            .ok_or_else(|| {
                D::Error::custom(format!(
                    "unknown volume backend `{backend}`, expected one of {}",
                    list_names(VOLUME_BACKENDS)
                ))
            })?
            .map_err(D::Error::custom)
    }
}

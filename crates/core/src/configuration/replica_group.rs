//! Service replica groups (spec §7): replicas with their own commands, resources and scaling.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::profile::{SpotPolicy, config_struct};
use super::run::PythonVersion;
use super::scaling::ScalingSpec;
use crate::range::Range;
use crate::resources::ResourcesSpec;

/// The routers a replica group may run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RouterType {
    /// SGLang Model Gateway.
    #[default]
    #[serde(alias = "sglang")]
    Smg,
    /// NVIDIA Dynamo.
    Dynamo,
}

config_struct! {
    /// A router in front of a replica group.
    pub struct ReplicaGroupRouterConfig {
        /// The router kind.
        #[serde(rename = "type", default)]
        pub kind: RouterType,
    }
}

config_struct! {
    /// A group of service replicas with its own commands, resources and scaling.
    pub struct ReplicaGroup {
        /// The group name; its position (`"0"`, `"1"`, ...) when unset.
        #[serde(default)]
        pub name: Option<String>,
        /// The replica count or range.
        #[serde(alias = "count")]
        pub replicas: Range<u32>,
        /// Autoscaling; required when `replicas` is a range.
        #[serde(default)]
        pub scaling: Option<ScalingSpec>,
        /// The resources of each replica; not inherited from the service.
        #[serde(default)]
        pub resources: ResourcesSpec,
        /// Spot or on-demand, for this group only.
        #[serde(default)]
        pub spot_policy: Option<SpotPolicy>,
        /// A capacity reservation, for this group only.
        #[serde(default)]
        pub reservation: Option<String>,
        /// The group's commands.
        #[serde(default)]
        pub commands: Vec<String>,
        /// The group's image.
        #[serde(default)]
        pub image: Option<String>,
        /// The Python version of dstack's base image, for this group.
        #[serde(default)]
        pub python: Option<PythonVersion>,
        /// Whether dstack's base image includes the CUDA compiler, for this group.
        #[serde(default)]
        pub nvcc: Option<bool>,
        /// Whether Docker runs inside the group's containers.
        #[serde(default)]
        pub docker: Option<bool>,
        /// Whether the group's containers are privileged.
        #[serde(default)]
        pub privileged: Option<bool>,
        /// A router in front of the group.
        #[serde(default)]
        pub router: Option<ReplicaGroupRouterConfig>,
    }
}

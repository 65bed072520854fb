//! `type: fleet` (spec §8): a cloud fleet (`nodes`) or an SSH fleet (`ssh_config`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::{FieldPath, RuleViolation};
use super::forms::{FormError, Forms, NoObject, impl_deserialize_forms, impl_schema_forms};
use super::literal::literal;
use super::names::check_resource_name;
use super::profile::{SpotPolicy, check_backend_options, check_max_price, config_struct};
use super::retry::Retry;
use super::selectors::VastAiOptions;
use super::ssh::SshParams;
use super::tags::Tags;
use crate::backend::BackendType;
use crate::duration::IdleDuration;
use crate::env::Env;
use crate::resources::ResourcesSpec;

literal!(
    /// `type: fleet`.
    FleetTag = "fleet"
);
literal!(
    /// `auto`.
    AutoBlocks = "auto"
);

/// How instances are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// Anywhere.
    Any,
    /// In one interconnected cluster, as multi-node tasks need.
    Cluster,
}

/// How many blocks each instance is split into: a number, or `auto` (one per GPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Blocks {
    /// A fixed number, at least 1.
    Count(u32),
    /// One block per GPU.
    Auto(AutoBlocks),
}

impl Forms for Blocks {
    type Object = NoObject;
    const EXPECTING: &'static str = "a number of blocks or `auto`";
    const HAS_OBJECT: bool = false;

    fn from_object(object: NoObject) -> Result<Self, String> {
        match object {}
    }

    fn from_i64(value: i64) -> Result<Self, FormError> {
        u32::try_from(value)
            .map(Self::Count)
            .map_err(|_| format!("invalid number of blocks {value}, expected 1 or more").into())
    }

    fn from_str(value: &str) -> Result<Self, FormError> {
        match value {
            "auto" => Ok(Self::Auto(AutoBlocks::Value)),
            _ => Err(FormError::Unsupported),
        }
    }
}
impl_deserialize_forms!(Blocks);

impl Default for Blocks {
    fn default() -> Self {
        Self::Count(1)
    }
}

/// The number of instances of a cloud fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FleetNodes {
    /// Instances always kept.
    pub min: u32,
    /// Instances provisioned at first; `min` when unset. dstack leaves it out on the wire
    /// when it equals `min`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<u32>,
    /// The most instances; unlimited when unset.
    pub max: Option<u32>,
}

/// The object form of [`FleetNodes`].
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetNodesObject {
    #[serde(default)]
    min: Option<u32>,
    #[serde(default)]
    target: Option<u32>,
    #[serde(default)]
    max: Option<u32>,
}

impl Forms for FleetNodes {
    type Object = FleetNodesObject;
    const EXPECTING: &'static str = "a number of nodes, a range `min..max`, or {min, target, max}";

    fn from_object(object: FleetNodesObject) -> Result<Self, String> {
        let min = object.min.unwrap_or(0);
        let target = object.target.filter(|&target| target != min);
        if let Some(target) = target
            && target < min
        {
            return Err(format!("target {target} must not be less than min {min}"));
        }
        if let Some(max) = object.max {
            if max < min {
                return Err(format!("max {max} must not be less than min {min}"));
            }
            if let Some(target) = target
                && max < target
            {
                return Err(format!("max {max} must not be less than target {target}"));
            }
        }
        Ok(Self {
            min,
            target,
            max: object.max,
        })
    }

    fn from_i64(value: i64) -> Result<Self, FormError> {
        let count = u32::try_from(value)
            .map_err(|_| format!("invalid number of nodes {value}, expected 0 or more"))?;
        Ok(Self {
            min: count,
            target: None,
            max: Some(count),
        })
    }

    fn from_str(value: &str) -> Result<Self, FormError> {
        let compact: String = value.split_whitespace().collect();
        let invalid = || format!("invalid nodes \"{value}\", expected a number or `min..max`");
        let bound = |part: &str| -> Result<Option<u32>, String> {
            if part.is_empty() {
                Ok(None)
            } else {
                part.parse().map(Some).map_err(|_| invalid())
            }
        };
        let (min, max) = match compact.split_once("..") {
            Some((low, high)) if !(high.contains("..") || low.is_empty() && high.is_empty()) => {
                (bound(low)?, bound(high)?)
            }
            Some(_) => return Err(invalid().into()),
            None => {
                let count = bound(&compact)?.ok_or_else(invalid)?;
                (Some(count), Some(count))
            }
        };
        Ok(Self::from_object(FleetNodesObject {
            min,
            target: None,
            max,
        })?)
    }
}
impl_deserialize_forms!(FleetNodes);
impl_schema_forms!(FleetNodes, "FleetNodes", [{"type": "integer"}, {"type": "string", "pattern": crate::range::INT_RANGE_PATTERN}]);

config_struct! {
    /// A fleet: cloud instances (`nodes`) or existing hosts over SSH (`ssh_config`).
    pub struct FleetConfiguration {
        /// The configuration type.
        #[serde(rename = "type", default)]
        #[schemars(required)]
        pub kind: FleetTag,
        /// The fleet name; generated when unset.
        #[serde(default)]
        pub name: Option<String>,
        /// How instances are placed; `any` when unset.
        #[serde(default)]
        pub placement: Option<Placement>,
        /// How many blocks each instance is split into.
        #[serde(default)]
        pub blocks: Blocks,
        /// Cloud fleets: how many instances.
        #[serde(default)]
        pub nodes: Option<FleetNodes>,
        /// Cloud fleets: a capacity reservation.
        #[serde(default)]
        pub reservation: Option<String>,
        /// Cloud fleets: the resources of each instance.
        #[serde(default)]
        pub resources: Option<ResourcesSpec>,
        /// Cloud fleets: backends to provision on.
        #[serde(default)]
        pub backends: Option<Vec<BackendType>>,
        /// Cloud fleets: regions to provision in.
        #[serde(default)]
        pub regions: Option<Vec<String>>,
        /// Cloud fleets: availability zones to provision in.
        #[serde(default)]
        pub availability_zones: Option<Vec<String>>,
        /// Cloud fleets: instance types to use.
        #[serde(default)]
        pub instance_types: Option<Vec<String>>,
        /// Cloud fleets: spot or on-demand.
        #[serde(default)]
        pub spot_policy: Option<SpotPolicy>,
        /// Cloud fleets: when to retry provisioning.
        #[serde(default)]
        pub retry: Option<Retry>,
        /// Cloud fleets: the highest price per hour per instance.
        #[serde(default)]
        pub max_price: Option<f64>,
        /// Cloud fleets: how long an idle instance above `nodes.min` is kept.
        #[serde(default, deserialize_with = "IdleDuration::deserialize_option")]
        pub idle_duration: Option<IdleDuration>,
        /// Tags for cloud resources.
        #[serde(default)]
        pub tags: Option<Tags>,
        /// Cloud fleets: backend-specific options.
        #[serde(default)]
        pub backend_options: Option<Vec<VastAiOptions>>,
        /// SSH fleets: how to reach the hosts.
        #[serde(default)]
        pub ssh_config: Option<SshParams>,
        /// SSH fleets: environment variables.
        #[serde(default)]
        pub env: Env,
    }
}

fn violation(key: &str, message: impl Into<String>) -> RuleViolation {
    RuleViolation::new(FieldPath::keys(&[key]), message)
}

impl FleetConfiguration {
    /// `name`: the fleet's name; the server generates one when unset.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Cloud-only fields that are set.
    fn cloud_fields_set(&self) -> Vec<&'static str> {
        [
            ("reservation", self.reservation.is_some()),
            ("resources", self.resources.is_some()),
            ("backends", self.backends.is_some()),
            ("regions", self.regions.is_some()),
            ("availability_zones", self.availability_zones.is_some()),
            ("instance_types", self.instance_types.is_some()),
            ("spot_policy", self.spot_policy.is_some()),
            ("retry", self.retry.is_some()),
            ("max_price", self.max_price.is_some()),
            ("backend_options", self.backend_options.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect()
    }

    /// Checks the rules across fields.
    pub fn check(&self) -> Result<(), RuleViolation> {
        if let Some(name) = &self.name {
            check_resource_name(name).map_err(|message| violation("name", message))?;
        }
        if self.blocks == Blocks::Count(0) {
            return Err(violation("blocks", "must be at least 1 or `auto`"));
        }
        match (&self.nodes, &self.ssh_config) {
            (None, None) => Err(violation(
                "nodes",
                "no `ssh_config` or `nodes` specified, a fleet needs one of them",
            )),
            (Some(_), Some(_)) => Err(violation(
                "ssh_config",
                "`ssh_config` and `nodes` are mutually exclusive",
            )),
            (Some(_), None) => self.check_cloud_fleet(),
            (None, Some(ssh)) => self.check_ssh_fleet(ssh),
        }
    }

    fn check_cloud_fleet(&self) -> Result<(), RuleViolation> {
        if !self.env.is_empty() {
            return Err(violation(
                "env",
                "`env` is currently supported for SSH fleets only",
            ));
        }
        check_max_price(self.max_price)?;
        check_backend_options(self.backend_options.as_deref().unwrap_or_default())
    }

    fn check_ssh_fleet(&self, ssh: &SshParams) -> Result<(), RuleViolation> {
        let cloud_fields = self.cloud_fields_set();
        if let Some(first) = cloud_fields.first() {
            return Err(violation(
                first,
                format!(
                    "SSH fleet configuration does not support the following fields: {}",
                    cloud_fields.join(", ")
                ),
            ));
        }
        ssh.check()
    }
}

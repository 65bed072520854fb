//! Profile parameters (spec §3): where and how runs are provisioned.
//!
//! - `with_profile_params!`: adds the profile parameters to a configuration struct; run
//!   configurations and [`Profile`] are declared with it, so the fields are written once.
//! - [`Profile`]: an entry of `profiles.yml`, also sent as `run_spec.profile`.
//! - The enums of the parameters: [`SpotPolicy`], [`CreationPolicy`], [`StartupOrder`],
//!   [`StopCriteria`], and [`UtilizationPolicy`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::{FieldPath, RuleViolation};
use super::selectors::{InstanceSelector, VastAiOptions};
use crate::duration::Duration;

/// Declares a configuration struct: the usual derives and no unknown keys.
macro_rules! config_struct {
    ($(#[$meta:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name { $($body)* }
    };
}
pub(crate) use config_struct;

/// Declares a configuration struct with its own fields (each followed by a comma) and then the
/// profile parameters, which are listed here once.
macro_rules! with_profile_params {
    ($(#[$meta:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $crate::configuration::profile::declare_with_profile_params! {
            $(#[$meta])*
            pub struct $name { $($body)* }
            profile_params {
                /// Backends to provision on; all when unset.
                #[serde(default)]
                backends: Option<Vec<$crate::backend::BackendType>>,
                /// Regions to provision in; all when unset.
                #[serde(default)]
                regions: Option<Vec<String>>,
                /// Availability zones to provision in; all when unset.
                #[serde(default)]
                availability_zones: Option<Vec<String>>,
                /// Instance types to use; all when unset.
                #[serde(default)]
                instance_types: Option<Vec<String>>,
                /// A capacity reservation to use.
                #[serde(default)]
                reservation: Option<String>,
                /// Spot or on-demand; the server uses on-demand when unset.
                #[serde(default)]
                spot_policy: Option<$crate::configuration::profile::SpotPolicy>,
                /// When to resubmit; no retry when unset.
                #[serde(default)]
                retry: Option<$crate::configuration::retry::Retry>,
                /// The longest a run may last, or `off`.
                #[serde(default, deserialize_with = "crate::duration::OffOrDuration::deserialize_option")]
                max_duration: Option<$crate::duration::OffOrDuration>,
                /// The longest a graceful stop may take, or `off`; 5 minutes when unset.
                #[serde(default, deserialize_with = "crate::duration::OffOrDuration::deserialize_option")]
                stop_duration: Option<$crate::duration::OffOrDuration>,
                /// The highest price per hour, in dollars.
                #[serde(default)]
                max_price: Option<f64>,
                /// Whether new instances may be created.
                #[serde(default)]
                creation_policy: Option<$crate::configuration::profile::CreationPolicy>,
                /// How long an idle instance is kept; `-1` means forever.
                #[serde(default, deserialize_with = "crate::duration::IdleDuration::deserialize_option")]
                idle_duration: Option<$crate::duration::IdleDuration>,
                /// Stop the run when its GPUs stay below a utilization.
                #[serde(default)]
                utilization_policy: Option<$crate::configuration::profile::UtilizationPolicy>,
                /// Which jobs of a multi-node run start first.
                #[serde(default)]
                startup_order: Option<$crate::configuration::profile::StartupOrder>,
                /// When a multi-node run is done.
                #[serde(default)]
                stop_criteria: Option<$crate::configuration::profile::StopCriteria>,
                /// When the run starts.
                #[serde(default)]
                schedule: Option<$crate::configuration::schedule::Schedule>,
                /// Fleets the run may use; all when unset.
                #[serde(default)]
                fleets: Option<Vec<$crate::configuration::references::NameOrReference>>,
                /// Existing instances the run is limited to.
                #[serde(default)]
                instances: Option<Vec<$crate::configuration::selectors::InstanceSelector>>,
                /// Tags for cloud resources.
                #[serde(default)]
                tags: Option<$crate::configuration::tags::Tags>,
                /// Backend-specific options.
                #[serde(default)]
                backend_options: Option<Vec<$crate::configuration::selectors::VastAiOptions>>,
            }
        }
    };
}
pub(crate) use with_profile_params;

/// The second step of [`with_profile_params!`]: the struct, the rules of the profile
/// parameters, and merging a profile underneath.
macro_rules! declare_with_profile_params {
    (
        $(#[$meta:meta])* pub struct $name:ident { $($body:tt)* }
        profile_params { $($(#[$field_meta:meta])* $field:ident : $field_type:ty,)* }
    ) => {
        $crate::configuration::profile::config_struct! {
            $(#[$meta])*
            pub struct $name {
                $($body)*
                $($(#[$field_meta])* pub $field: $field_type,)*
            }
        }

        impl $name {
            /// Checks the rules of the profile parameters.
            pub(crate) fn check_profile_params(&self) -> Result<(), $crate::configuration::error::RuleViolation> {
                $crate::configuration::profile::check_profile_params(
                    self.max_price,
                    self.utilization_policy.as_ref(),
                    self.instances.as_deref(),
                    self.backend_options.as_deref(),
                )
            }

            /// Merges `profile` underneath: each profile parameter left unset here takes the
            /// profile's value, and values set here win.
            pub fn apply_profile(&mut self, profile: &$crate::configuration::profile::Profile) {
                $(
                    if self.$field.is_none() {
                        self.$field = profile.$field.clone();
                    }
                )*
            }
        }
    };
}
pub(crate) use declare_with_profile_params;

/// Whether spot instances are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SpotPolicy {
    /// Spot only.
    Spot,
    /// On-demand only.
    OnDemand,
    /// Spot when available, else on-demand.
    Auto,
}

/// Whether a run may create instances or only reuse idle ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CreationPolicy {
    /// Only idle instances of existing fleets.
    Reuse,
    /// Idle instances first, else new ones.
    ReuseOrCreate,
}

/// Which jobs of a multi-node run start first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StartupOrder {
    /// No order.
    Any,
    /// The master job, then the workers.
    MasterFirst,
    /// The workers, then the master job.
    WorkersFirst,
}

/// When a multi-node run is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StopCriteria {
    /// When every job is done.
    AllDone,
    /// When the master job is done.
    MasterDone,
}

/// Stops a run whose GPUs stay below a utilization for a time window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UtilizationPolicy {
    /// The minimum GPU utilization, in percent.
    pub min_gpu_utilization: u32,
    /// The window the utilization is measured over; at least 5 minutes.
    pub time_window: Duration,
}

/// The shortest utilization window dstack accepts, in seconds.
const MIN_UTILIZATION_WINDOW: i64 = 300;

fn check_utilization_policy(policy: &UtilizationPolicy) -> Result<(), RuleViolation> {
    let path = FieldPath::keys(&["utilization_policy"]);
    if policy.min_gpu_utilization > 100 {
        return Err(RuleViolation::new(
            path.key("min_gpu_utilization"),
            format!(
                "must be between 0 and 100, got {}",
                policy.min_gpu_utilization
            ),
        ));
    }
    if policy.time_window.as_secs() < MIN_UTILIZATION_WINDOW {
        return Err(RuleViolation::new(
            path.key("time_window"),
            format!(
                "must be at least 5m ({MIN_UTILIZATION_WINDOW}s), got {}s",
                policy.time_window.as_secs()
            ),
        ));
    }
    Ok(())
}

/// The rules of the profile parameters, shared by every struct declared with
/// [`with_profile_params!`].
pub(crate) fn check_profile_params(
    max_price: Option<f64>,
    utilization_policy: Option<&UtilizationPolicy>,
    instances: Option<&[InstanceSelector]>,
    backend_options: Option<&[VastAiOptions]>,
) -> Result<(), RuleViolation> {
    check_max_price(max_price)?;
    if let Some(policy) = utilization_policy {
        check_utilization_policy(policy)?;
    }
    if instances.is_some_and(<[InstanceSelector]>::is_empty) {
        return Err(RuleViolation::new(
            FieldPath::keys(&["instances"]),
            "must list at least one instance",
        ));
    }
    check_backend_options(backend_options.unwrap_or_default())
}

/// `max_price` must be positive.
pub(crate) fn check_max_price(max_price: Option<f64>) -> Result<(), RuleViolation> {
    match max_price {
        Some(price) if price.is_nan() || price <= 0.0 => Err(RuleViolation::new(
            FieldPath::keys(&["max_price"]),
            format!("must be greater than 0, got {price}"),
        )),
        _ => Ok(()),
    }
}

/// Each backend may have one `backend_options` entry, with values in bounds.
pub(crate) fn check_backend_options(options: &[VastAiOptions]) -> Result<(), RuleViolation> {
    let path = FieldPath::keys(&["backend_options"]);
    for (index, option) in options.iter().enumerate() {
        if index > 0 {
            return Err(RuleViolation::new(
                path.clone().index(index).key("type"),
                "duplicate backend options for `vastai`",
            ));
        }
        option
            .check()
            .map_err(|message| RuleViolation::new(path.clone().index(index), message))?;
    }
    Ok(())
}

with_profile_params! {
    /// An entry of `profiles.yml`: named profile parameters, merged under a configuration.
    pub struct Profile {
        /// The profile's name.
        #[serde(default)]
        pub name: String,
        /// Whether the profile applies when none is named.
        #[serde(default)]
        pub default: bool,
    }
}

impl Profile {
    /// Checks the rules of the profile parameters.
    pub fn check(&self) -> Result<(), RuleViolation> {
        self.check_profile_params()
    }
}

config_struct! {
    /// `profiles.yml`: named profile parameters for runs and fleets.
    #[derive(Default)]
    pub struct ProfilesConfig {
        /// The profiles, in file order.
        #[serde(default)]
        pub profiles: Vec<Profile>,
    }
}

impl ProfilesConfig {
    /// The profile with this name.
    pub fn named(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|profile| profile.name == name)
    }

    /// The first profile marked `default: true`.
    pub fn default_profile(&self) -> Option<&Profile> {
        self.profiles.iter().find(|profile| profile.default)
    }

    /// Checks every profile; paths are under `profiles`.
    pub fn check(&self) -> Result<(), RuleViolation> {
        for (index, profile) in self.profiles.iter().enumerate() {
            profile.check().map_err(|violation| {
                violation.within(&FieldPath::keys(&["profiles"]).index(index))
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::task::TaskConfiguration;
    use crate::duration::OffOrDuration;

    #[test]
    fn a_profile_fills_only_unset_parameters() {
        let mut task: TaskConfiguration = serde_json::from_value(serde_json::json!({
            "type": "task", "commands": ["echo"], "max_price": 2.0
        }))
        .unwrap();
        let profile: Profile = serde_json::from_value(serde_json::json!({
            "name": "cheap", "spot_policy": "auto", "max_price": 1.5, "max_duration": "off"
        }))
        .unwrap();
        task.apply_profile(&profile);
        assert_eq!(task.max_price, Some(2.0));
        assert_eq!(task.spot_policy, Some(SpotPolicy::Auto));
        assert_eq!(task.max_duration, Some(OffOrDuration::Off));
        assert_eq!(task.regions, None);
    }

    #[test]
    fn profiles_by_name_and_default() {
        let config: ProfilesConfig = serde_json::from_value(serde_json::json!({
            "profiles": [{"name": "a"}, {"name": "b", "default": true}]
        }))
        .unwrap();
        assert_eq!(config.default_profile().map(|p| p.name.as_str()), Some("b"));
        assert!(config.named("a").is_some_and(|p| !p.default));
        assert!(config.named("c").is_none());
        let bad: ProfilesConfig = serde_json::from_value(serde_json::json!({
            "profiles": [{"name": "a"}, {"name": "b", "max_price": -1.0}]
        }))
        .unwrap();
        let violation = bad.check().unwrap_err();
        assert_eq!(violation.path.to_string(), "profiles[1].max_price");
    }
}

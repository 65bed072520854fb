//! `type: service` (spec §7): replicas behind an HTTP endpoint, optionally autoscaled.
//!
//! - [`ServiceConfiguration`] and its rules.
//! - [`ServicePort`], [`GatewaySetting`], [`HttpsSetting`], [`ScalingSpec`]: field types.
//! - [`ReplicaGroup`]: a group of replicas with its own commands, resources and scaling.
//!   Models, probes and rate limits have their own modules.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::{FieldPath, RuleViolation};
use super::forms::{FormError, Forms, NoObject, impl_deserialize_forms, impl_schema_forms};
use super::literal::literal;
use super::probes::{ProbeConfig, check_probes};
use super::profile::{SpotPolicy, config_struct};
use super::rate_limits::{RateLimit, check_rate_limits};
use super::references::{EntityReferenceObject, NameOrReference};
use super::run::{PythonVersion, check_commands, with_base_run_fields};
use super::service_model::ServiceModel;
use super::task::check_group_names;
use crate::duration::Duration;
use crate::range::Range;
use crate::resources::ResourcesSpec;

literal!(
    /// `type: service`.
    ServiceTag = "service"
);
literal!(
    /// `metric: rps`, the only scaling metric.
    RpsMetric = "rps"
);

/// The service's port. Only the container port matters; an int maps from local port 80.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicePortObject {
    /// Kept for compatibility; not used.
    #[serde(default)]
    pub local_port: Option<u16>,
    /// The port the service listens on in the container.
    pub container_port: u16,
}

/// `port:` as dstack stores it: always the object form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ServicePort(pub ServicePortObject);

fn parse_port(text: &str, whole: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!(
            "invalid port \"{whole}\", expected a number from 1 to 65535 or `local:container`"
        )),
    }
}

fn from_local_80(container_port: u16) -> ServicePort {
    ServicePort(ServicePortObject {
        local_port: Some(80),
        container_port,
    })
}

impl Forms for ServicePort {
    type Object = ServicePortObject;
    const EXPECTING: &'static str =
        "a port number, `local:container` or {local_port, container_port}";

    fn from_object(object: ServicePortObject) -> Result<Self, String> {
        if object.container_port == 0 || object.local_port == Some(0) {
            return Err("ports must be between 1 and 65535".into());
        }
        Ok(Self(object))
    }

    fn from_i64(value: i64) -> Result<Self, FormError> {
        let port = parse_port(&value.to_string(), &value.to_string())?;
        Ok(from_local_80(port))
    }

    fn from_str(value: &str) -> Result<Self, FormError> {
        match value.split_once(':') {
            Some((local, container)) => Ok(Self(ServicePortObject {
                local_port: Some(parse_port(local, value)?),
                container_port: parse_port(container, value)?,
            })),
            None => Ok(from_local_80(parse_port(value, value)?)),
        }
    }
}
impl_deserialize_forms!(ServicePort);
impl_schema_forms!(ServicePort, "ServicePort", ["integer", "string"]);

/// `gateway:` as written: a switch, or the gateway to use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum GatewaySetting {
    /// `true`: the project's default gateway is required; `false`: no gateway.
    Enabled(bool),
    /// A gateway by name or reference.
    Named(NameOrReference),
}

impl Forms for GatewaySetting {
    type Object = EntityReferenceObject;
    const EXPECTING: &'static str = "`true`, `false`, a gateway name or {project, name}";

    fn from_object(object: EntityReferenceObject) -> Result<Self, String> {
        NameOrReference::from_object(object).map(Self::Named)
    }

    fn from_bool(value: bool) -> Result<Self, FormError> {
        Ok(Self::Enabled(value))
    }

    fn from_str(value: &str) -> Result<Self, FormError> {
        NameOrReference::from_str(value).map(Self::Named)
    }
}
impl_deserialize_forms!(GatewaySetting);
impl_schema_forms!(GatewaySetting, "GatewaySetting", ["boolean", "string"]);

/// `https:`: on, off, or `auto` (on when the gateway has a certificate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum HttpsSetting {
    /// `true` or `false`.
    Enabled(bool),
    /// `auto`.
    Auto(AutoTag),
}

literal!(
    /// `auto`.
    AutoTag = "auto"
);

impl Forms for HttpsSetting {
    type Object = NoObject;
    const EXPECTING: &'static str = "`true`, `false` or `auto`";
    const HAS_OBJECT: bool = false;

    fn from_object(object: NoObject) -> Result<Self, String> {
        match object {}
    }

    fn from_bool(value: bool) -> Result<Self, FormError> {
        Ok(Self::Enabled(value))
    }

    fn from_str(value: &str) -> Result<Self, FormError> {
        match value {
            "auto" => Ok(Self::Auto(AutoTag::Value)),
            _ => Err(FormError::Unsupported),
        }
    }
}
impl_deserialize_forms!(HttpsSetting);

/// The scaling windows dstack supports, in seconds.
const SCALING_WINDOWS: [i64; 3] = [30, 60, 300];

fn default_scale_up_delay() -> Duration {
    Duration::from_secs(300)
}

fn default_scale_down_delay() -> Duration {
    Duration::from_secs(600)
}

/// Autoscaling by requests per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScalingSpec {
    /// Always `rps`.
    pub metric: RpsMetric,
    /// The requests per second each replica should get.
    pub target: f64,
    /// The window the rate is averaged over: 30s, 60s or 300s; 60s when unset.
    #[serde(default)]
    pub window: Option<Duration>,
    /// How long the rate must stay high before scaling up.
    #[serde(default = "default_scale_up_delay")]
    pub scale_up_delay: Duration,
    /// How long the rate must stay low before scaling down.
    #[serde(default = "default_scale_down_delay")]
    pub scale_down_delay: Duration,
}

impl ScalingSpec {
    fn check(&self, path: FieldPath) -> Result<(), RuleViolation> {
        if self.target.is_nan() || self.target <= 0.0 {
            return Err(RuleViolation::new(
                path.key("target"),
                format!("must be greater than 0, got {}", self.target),
            ));
        }
        if let Some(window) = self.window
            && !SCALING_WINDOWS.contains(&window.as_secs())
        {
            return Err(RuleViolation::new(
                path.key("window"),
                format!("must be 30s, 60s or 300s, got {}s", window.as_secs()),
            ));
        }
        for (key, delay) in [
            ("scale_up_delay", self.scale_up_delay),
            ("scale_down_delay", self.scale_down_delay),
        ] {
            if delay.as_secs() < 0 {
                return Err(RuleViolation::new(
                    path.clone().key(key),
                    "cannot be negative",
                ));
            }
        }
        Ok(())
    }
}

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

with_base_run_fields! {
    /// A service: replicas behind an HTTP endpoint.
    pub struct ServiceConfiguration (ServiceTag) {
        /// The port the service listens on.
        pub port: ServicePort,
        /// The gateway to publish on; the project's default when unset.
        #[serde(default)]
        pub gateway: Option<GatewaySetting>,
        /// Whether the proxy strips `/proxy/services/<project>/<run>/`.
        #[serde(default = "default_true")]
        pub strip_prefix: bool,
        /// The model served, for the model endpoints.
        #[serde(default)]
        pub model: Option<ServiceModel>,
        /// Whether the endpoint uses HTTPS.
        #[serde(default)]
        pub https: Option<HttpsSetting>,
        /// Whether clients must send a dstack token.
        #[serde(default = "default_true")]
        pub auth: bool,
        /// Autoscaling; required when `replicas` is a range.
        #[serde(default)]
        pub scaling: Option<ScalingSpec>,
        /// Rate limits by path prefix.
        #[serde(default)]
        pub rate_limits: Vec<RateLimit>,
        /// Readiness probes; a default one for OpenAI models when unset, none when empty.
        #[serde(default)]
        pub probes: Option<Vec<ProbeConfig>>,
        /// The replica count or range; 1 when unset.
        #[serde(default, deserialize_with = "deserialize_service_replicas")]
        pub replicas: Option<Range<u32>>,
        /// Replica groups, instead of `replicas`.
        #[serde(default)]
        pub groups: Option<Vec<ReplicaGroup>>,
        /// The commands to run.
        #[serde(default)]
        pub commands: Vec<String>,
    }
}

fn default_true() -> bool {
    true
}

/// `replicas` of a service: a count or range like everywhere, with a clear error for the legacy
/// list of replica groups, which dstack 0.22 moved to `groups`.
fn deserialize_service_replicas<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Range<u32>>, D::Error> {
    use serde::de::{self, IntoDeserializer, value::MapAccessDeserializer};

    struct ReplicasVisitor;
    impl<'de> de::Visitor<'de> for ReplicasVisitor {
        type Value = Option<Range<u32>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a replica count or a range such as `1..4`")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
            Range::deserialize(value.into_deserializer()).map(Some)
        }
        fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
            Range::deserialize(value.into_deserializer()).map(Some)
        }
        fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
            Range::deserialize(value.into_deserializer()).map(Some)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Range::deserialize(MapAccessDeserializer::new(map)).map(Some)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom(
                "a list of replica groups belongs under `groups`, `replicas` takes a count or a range",
            ))
        }
    }
    deserializer.deserialize_any(ReplicasVisitor)
}

fn violation(key: &str, message: impl Into<String>) -> RuleViolation {
    RuleViolation::new(FieldPath::keys(&[key]), message)
}

/// `replicas` must have a max, and `scaling` is required exactly when it is a real range.
fn check_replicas_and_scaling(
    replicas: Range<u32>,
    scaling: Option<&ScalingSpec>,
    path: &FieldPath,
) -> Result<(), RuleViolation> {
    let Some(max) = replicas.max else {
        return Err(RuleViolation::new(
            path.clone().key("replicas"),
            "the maximum number of replicas is required",
        ));
    };
    let is_range = replicas.min.unwrap_or(0) != max;
    match scaling {
        None if is_range => Err(RuleViolation::new(
            path.clone().key("replicas"),
            "when `replicas` is a range, `scaling` must be set",
        )),
        Some(_) if !is_range => Err(RuleViolation::new(
            path.clone().key("scaling"),
            "to use `scaling`, `replicas` must be a range",
        )),
        Some(scaling) => scaling.check(path.clone().key("scaling")),
        None => Ok(()),
    }
}

impl ServiceConfiguration {
    /// Checks the rules across fields.
    pub fn check(&self) -> Result<(), RuleViolation> {
        self.check_common_fields()?;
        if self.https == Some(HttpsSetting::Enabled(false))
            && self.gateway == Some(GatewaySetting::Enabled(false))
        {
            return Err(violation(
                "https",
                "setting `https: false` is not allowed without a gateway",
            ));
        }
        if let Some(GatewaySetting::Named(name)) = &self.gateway {
            name.reference()
                .map_err(|message| violation("gateway", message))?;
        }
        check_commands(&self.commands, &FieldPath::keys(&["commands"]))?;
        check_rate_limits(&self.rate_limits)?;
        if let Some(probes) = &self.probes {
            check_probes(probes)?;
        }
        match &self.groups {
            Some(groups) => self.check_groups(groups),
            None => {
                if self.commands.is_empty() && self.image.is_none() {
                    return Err(violation(
                        "commands",
                        "either `commands` or `image` must be set",
                    ));
                }
                let replicas = self.replicas.unwrap_or(Range {
                    min: Some(1),
                    max: Some(1),
                });
                check_replicas_and_scaling(replicas, self.scaling.as_ref(), &FieldPath::root())
            }
        }
    }

    fn check_groups(&self, groups: &[ReplicaGroup]) -> Result<(), RuleViolation> {
        if self.replicas.is_some() {
            return Err(violation(
                "groups",
                "`replicas` and `groups` are mutually exclusive fields",
            ));
        }
        if groups.is_empty() {
            return Err(violation("groups", "`groups` cannot be an empty list"));
        }
        for (key, set) in [
            ("scaling", self.scaling.is_some()),
            ("commands", !self.commands.is_empty()),
        ] {
            if set {
                return Err(violation(
                    key,
                    format!(
                        "top-level `{key}` is not allowed when `groups` is set, specify it in each replica group"
                    ),
                ));
            }
        }
        check_group_names(groups.iter().map(|g| g.name.as_deref()), "groups")?;
        let mut routers = 0;
        for (index, group) in groups.iter().enumerate() {
            let path = FieldPath::keys(&["groups"]).index(index);
            self.check_group_overrides(group, &path)?;
            check_commands(&group.commands, &path.clone().key("commands"))?;
            if group.commands.is_empty() && group.image.is_none() && self.image.is_none() {
                return Err(RuleViolation::new(
                    path.key("commands"),
                    "each replica group needs `commands` or an `image`",
                ));
            }
            check_replicas_and_scaling(group.replicas, group.scaling.as_ref(), &path)?;
            if group.router.is_some() {
                routers += 1;
                if routers > 1 {
                    return Err(RuleViolation::new(
                        path.key("router"),
                        "at most one replica group may have a `router`",
                    ));
                }
                if group.replicas
                    != (Range {
                        min: Some(1),
                        max: Some(1),
                    })
                {
                    return Err(RuleViolation::new(
                        path.key("replicas"),
                        "a replica group with a `router` must have `replicas: 1`",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Fields that may be set on the service or on its groups, never on both.
    fn check_group_overrides(
        &self,
        group: &ReplicaGroup,
        path: &FieldPath,
    ) -> Result<(), RuleViolation> {
        let both = [
            ("image", self.image.is_some(), group.image.is_some()),
            ("docker", self.docker.is_some(), group.docker.is_some()),
            ("privileged", self.privileged, group.privileged.is_some()),
            ("python", self.python.is_some(), group.python.is_some()),
            ("nvcc", self.nvcc.is_some(), group.nvcc.is_some()),
            (
                "spot_policy",
                self.spot_policy.is_some(),
                group.spot_policy.is_some(),
            ),
            (
                "reservation",
                self.reservation.is_some(),
                group.reservation.is_some(),
            ),
        ];
        for (key, in_service, in_group) in both {
            if in_service && in_group {
                return Err(RuleViolation::new(
                    path.clone().key(key),
                    format!(
                        "`{key}` is set both on the service and on a replica group, set it in one place"
                    ),
                ));
            }
        }
        Ok(())
    }
}

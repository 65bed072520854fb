//! `type: service` (spec §7): replicas behind an HTTP endpoint, optionally autoscaled.
//!
//! - [`ServiceConfiguration`] and its rules.
//! - [`ServicePort`], [`GatewaySetting`], [`HttpsSetting`]: field types.
//!
//! Scaling, replica groups, models, probes and rate limits have their own modules.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::{FieldPath, RuleViolation};
use super::forms::{FormError, Forms, NoObject, impl_deserialize_forms, impl_schema_forms};
use super::literal::literal;
use super::names::check_group_names;
use super::probes::{ProbeConfig, check_probes};
use super::rate_limits::{RateLimit, check_rate_limits};
use super::references::{EntityReferenceObject, NameOrReference};
use super::replica_group::ReplicaGroup;
use super::run::{check_commands, with_base_run_fields};
use super::scaling::{ScalingSpec, check_replicas_and_scaling, deserialize_service_replicas};
use super::service_model::ServiceModel;
use crate::range::Range;

literal!(
    /// `type: service`.
    ServiceTag = "service"
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
impl_schema_forms!(ServicePort, "ServicePort", [{"type": "integer"}, {"type": "string"}]);

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
impl_schema_forms!(GatewaySetting, "GatewaySetting", [{"type": "boolean"}, {"type": "string"}]);

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

fn violation(key: &str, message: impl Into<String>) -> RuleViolation {
    RuleViolation::new(FieldPath::keys(&[key]), message)
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
                if self.schedule.is_some() && replicas.min.unwrap_or(0) == 0 {
                    return Err(violation(
                        "replicas",
                        "a scheduled service cannot scale to zero, set a minimum of 1 or more replicas",
                    ));
                }
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

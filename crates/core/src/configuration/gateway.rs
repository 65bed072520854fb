//! `type: gateway` (spec §10): a public entry point for services.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::{FieldPath, RuleViolation};
use super::literal::literal;
use super::names::check_resource_name;
use super::profile::config_struct;
use super::tags::Tags;
use crate::backend::BackendType;

literal!(
    /// `type: gateway`.
    GatewayTag = "gateway"
);

/// The TLS certificate of a gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum GatewayCertificate {
    /// Issued by Let's Encrypt.
    LetsEncrypt,
    /// An AWS Certificate Manager certificate.
    Acm {
        /// The certificate's ARN.
        arn: String,
    },
    /// A Google Certificate Manager certificate.
    GcpCm {
        /// The certificate's name.
        name: String,
    },
}

/// A load balancer in front of the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum GatewayLoadBalancer {
    /// An AWS Application Load Balancer.
    Alb,
}

fn default_certificate() -> Option<GatewayCertificate> {
    Some(GatewayCertificate::LetsEncrypt)
}

fn default_true() -> bool {
    true
}

/// The most gateway replicas the server allows (`DSTACK_SERVER_GATEWAY_MAX_REPLICAS`).
pub const MAX_GATEWAY_REPLICAS: u32 = 9;

config_struct! {
    /// A gateway: a host that publishes services on a wildcard domain.
    pub struct GatewayConfiguration {
        /// The configuration type.
        #[serde(rename = "type", default)]
        #[schemars(required)]
        pub kind: GatewayTag,
        /// The gateway name; generated when unset.
        #[serde(default)]
        pub name: Option<String>,
        /// Whether this is the project's default gateway.
        #[serde(default)]
        pub default: Option<bool>,
        /// The backend to provision on.
        pub backend: BackendType,
        /// The region to provision in.
        pub region: String,
        /// The instance type; the backend's small default when unset.
        #[serde(default)]
        pub instance_type: Option<String>,
        /// The wildcard domain; a service gets `<run>.<domain>`.
        #[serde(default)]
        pub domain: Option<String>,
        /// Whether the gateway has a public IP address.
        #[serde(default = "default_true")]
        pub public_ip: bool,
        /// A load balancer in front of the gateway.
        #[serde(default)]
        pub load_balancer: Option<GatewayLoadBalancer>,
        /// The TLS certificate; Let's Encrypt when omitted, none when null.
        #[serde(default = "default_certificate")]
        pub certificate: Option<GatewayCertificate>,
        /// How many gateway replicas; 1 when unset.
        #[serde(default)]
        pub replicas: Option<u32>,
        /// Tags for cloud resources.
        #[serde(default)]
        pub tags: Option<Tags>,
    }
}

fn violation(key: &str, message: impl Into<String>) -> RuleViolation {
    RuleViolation::new(FieldPath::keys(&[key]), message)
}

impl GatewayConfiguration {
    /// `name`: the gateway's name; the server generates one when unset.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Checks the rules across fields.
    pub fn check(&self) -> Result<(), RuleViolation> {
        if let Some(name) = &self.name {
            check_resource_name(name).map_err(|message| violation("name", message))?;
        }
        if self.instance_type.as_deref() == Some("") {
            return Err(violation("instance_type", "cannot be empty"));
        }
        let replicas = self.replicas.unwrap_or(1);
        if !(1..=MAX_GATEWAY_REPLICAS).contains(&replicas) {
            return Err(violation(
                "replicas",
                format!("must be between 1 and {MAX_GATEWAY_REPLICAS}, got {replicas}"),
            ));
        }
        match &self.certificate {
            Some(GatewayCertificate::LetsEncrypt) if !self.public_ip => Err(violation(
                "certificate",
                "a Let's Encrypt certificate needs `public_ip: true`",
            )),
            Some(GatewayCertificate::LetsEncrypt) if replicas > 1 => Err(violation(
                "certificate",
                "a Let's Encrypt certificate cannot be used with more than one replica",
            )),
            Some(GatewayCertificate::Acm { .. }) if self.backend != BackendType::Aws => Err(
                violation("certificate", "an ACM certificate needs `backend: aws`"),
            ),
            Some(GatewayCertificate::GcpCm { .. }) if self.backend != BackendType::Gcp => {
                Err(violation(
                    "certificate",
                    "a Google Certificate Manager certificate needs `backend: gcp`",
                ))
            }
            _ => Ok(()),
        }
    }
}

//! Profile parameters that pick where a run may go: `instances` and `backend_options`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::forms::{FormError, Forms, impl_deserialize_forms, impl_schema_forms};
use super::literal::literal;
use super::references::EntityReference;

/// An existing instance a run may be placed on. A plain string is an instance name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum InstanceSelector {
    /// `{name}`: an instance by name.
    Name {
        /// The instance name.
        name: String,
    },
    /// `{hostname}`: an instance by hostname or IP address.
    Hostname {
        /// The hostname or IP address.
        hostname: String,
    },
    /// `{fleet, instance}`: an instance by its number in a fleet.
    Fleet {
        /// The fleet.
        fleet: EntityReference,
        /// The instance number in the fleet.
        instance: u32,
    },
}

/// The object forms of [`InstanceSelector`], told apart by their keys.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceSelectorObject {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    fleet: Option<EntityReference>,
    #[serde(default)]
    instance: Option<u32>,
}

impl Forms for InstanceSelector {
    type Object = InstanceSelectorObject;
    const EXPECTING: &'static str = "an instance name, {name}, {hostname} or {fleet, instance}";

    fn from_object(object: InstanceSelectorObject) -> Result<Self, String> {
        match object {
            InstanceSelectorObject {
                name: Some(name),
                hostname: None,
                fleet: None,
                instance: None,
            } => Ok(Self::Name { name }),
            InstanceSelectorObject {
                name: None,
                hostname: Some(hostname),
                fleet: None,
                instance: None,
            } => Ok(Self::Hostname { hostname }),
            InstanceSelectorObject {
                name: None,
                hostname: None,
                fleet: Some(fleet),
                instance: Some(instance),
            } => Ok(Self::Fleet { fleet, instance }),
            _ => Err(format!("expected {}", Self::EXPECTING)),
        }
    }

    fn from_str(value: &str) -> Result<Self, FormError> {
        Ok(Self::Name {
            name: value.to_owned(),
        })
    }
}
impl_deserialize_forms!(InstanceSelector);
impl_schema_forms!(InstanceSelector, "InstanceSelector", [{"type": "string"}]);

literal!(
    /// The `type` of [`VastAiOptions`].
    VastAiTag = "vastai"
);

/// How vast.ai offers are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OfferOrder {
    /// Best score first.
    Score,
    /// Cheapest first.
    Price,
}

/// Options for the vast.ai backend; the only `backend_options` kind dstack has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VastAiOptions {
    /// Always `vastai`.
    #[serde(rename = "type")]
    pub kind: VastAiTag,
    /// How offers are ordered.
    #[serde(default)]
    pub offer_order: Option<OfferOrder>,
    /// The minimum host reliability, 0 to 1.
    #[serde(default)]
    pub min_reliability: Option<f64>,
    /// The minimum host score.
    #[serde(default)]
    pub min_score: Option<u32>,
}

impl VastAiOptions {
    /// Checks the value bounds.
    pub fn check(&self) -> Result<(), String> {
        match self.min_reliability {
            Some(value) if !(0.0..=1.0).contains(&value) => Err(format!(
                "`min_reliability` must be between 0 and 1, got {value}"
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_by_shape() {
        let name: InstanceSelector = serde_json::from_str("\"node-1\"").unwrap();
        assert_eq!(
            serde_json::to_string(&name).unwrap(),
            r#"{"name":"node-1"}"#
        );
        let fleet: InstanceSelector =
            serde_json::from_str(r#"{"fleet":"main/f","instance":2}"#).unwrap();
        assert!(matches!(fleet, InstanceSelector::Fleet { instance: 2, .. }));
        assert!(
            serde_json::from_str::<InstanceSelector>(r#"{"name":"a","hostname":"b"}"#).is_err()
        );
        assert!(serde_json::from_str::<InstanceSelector>(r#"{"fleet":"f"}"#).is_err());
    }

    #[test]
    fn vastai_reliability_bounds() {
        let options: VastAiOptions =
            serde_json::from_str(r#"{"type":"vastai","min_reliability":1.5}"#).unwrap();
        assert!(options.check().is_err());
    }
}

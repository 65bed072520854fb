//! `compute_capability` of a GPU spec: the minimum CUDA compute capability.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid compute capability {given:?}: expected major.minor, e.g. 7.5")]
pub struct ComputeCapabilityError {
    pub given: String,
}

/// Minimum CUDA compute capability, `major.minor`; serialised as `[major, minor]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComputeCapability {
    pub major: u32,
    pub minor: u32,
}

impl FromStr for ComputeCapability {
    type Err = ComputeCapabilityError;

    fn from_str(given: &str) -> Result<Self, Self::Err> {
        let invalid = || ComputeCapabilityError {
            given: given.to_owned(),
        };
        let (major, minor) = given.trim().split_once('.').ok_or_else(invalid)?;
        Ok(ComputeCapability {
            major: major.parse().map_err(|_| invalid())?,
            minor: minor.parse().map_err(|_| invalid())?,
        })
    }
}

impl fmt::Display for ComputeCapability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Serialize for ComputeCapability {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut pair = serializer.serialize_tuple(2)?;
        pair.serialize_element(&self.major)?;
        pair.serialize_element(&self.minor)?;
        pair.end()
    }
}

struct ComputeCapabilityVisitor;

impl<'de> Visitor<'de> for ComputeCapabilityVisitor {
    type Value = ComputeCapability;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a compute capability: 7.5, \"7.5\" or [7, 5]")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // `7.5` as a float: its shortest decimal form holds major and minor.
        let text = if v.fract() == 0.0 {
            format!("{v}.0")
        } else {
            v.to_string()
        };
        self.visit_str(&text)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        let major = u32::try_from(v).map_err(E::custom)?;
        Ok(ComputeCapability { major, minor: 0 })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let major = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let minor = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(3, &self));
        }
        Ok(ComputeCapability { major, minor })
    }
}

impl<'de> Deserialize<'de> for ComputeCapability {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ComputeCapabilityVisitor)
    }
}

impl JsonSchema for ComputeCapability {
    fn schema_name() -> Cow<'static, str> {
        "ComputeCapability".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "minimum compute capability: 7.5, \"7.5\" or [7, 5]",
            "anyOf": [
                { "type": "number" },
                { "type": "string", "pattern": r"^\d+\.\d+$" },
                { "type": "array", "items": { "type": "integer" }, "minItems": 2, "maxItems": 2 }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compute_capability_forms() {
        let expected = Some(ComputeCapability { major: 7, minor: 5 });
        for given in [json!(7.5), json!("7.5"), json!([7, 5])] {
            assert_eq!(
                serde_json::from_value::<ComputeCapability>(given).ok(),
                expected
            );
        }
        assert_eq!(serde_json::to_value(expected).ok(), Some(json!([7, 5])));
        assert!(serde_json::from_value::<ComputeCapability>(json!("seven")).is_err());
        assert!(serde_json::from_value::<ComputeCapability>(json!([7, 5, 1])).is_err());
    }
}

//! `resources.disk`: the disk size range.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::memory::Memory;
use crate::range::Range;

/// `resources.disk` (`DiskSpec`); a bare size or range means `size`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DiskSpec {
    pub size: Range<Memory>,
}

impl fmt::Display for DiskSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.size)
    }
}

struct DiskSpecVisitor;

impl<'de> Visitor<'de> for DiskSpecVisitor {
    type Value = DiskSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a disk spec: a size or size range such as `100GB..`, or {size}")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<DiskSpec, E> {
        let size = Memory::from_gb(v).map_err(E::custom)?;
        Ok(DiskSpec {
            size: Range::exactly(size),
        })
    }

    crate::memory::integers_as_f64!();

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DiskSpec, E> {
        Range::parse(v)
            .map(|size| DiskSpec { size })
            .map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DiskSpec, A::Error> {
        let mut size = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "size" => size = Some(map.next_value()?),
                other => return Err(de::Error::unknown_field(other, &["size"])),
            }
        }
        size.map(|size| DiskSpec { size })
            .ok_or_else(|| de::Error::missing_field("size"))
    }
}

impl<'de> Deserialize<'de> for DiskSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DiskSpecVisitor)
    }
}

impl JsonSchema for DiskSpec {
    fn schema_name() -> Cow<'static, str> {
        "DiskSpec".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let size = generator.subschema_for::<Range<Memory>>();
        json_schema!({
            "description": "disk: a size or size range (e.g. `100GB..`), or {size}",
            "anyOf": [
                size,
                {
                    "type": "object",
                    "properties": { "size": size },
                    "required": ["size"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn disk(v: serde_json::Value) -> Option<DiskSpec> {
        serde_json::from_value(v).ok()
    }

    #[test]
    fn shorthand_and_object_agree() {
        let at_least_100 = Some(DiskSpec {
            size: Range::at_least(Memory::from_mib(102_400)),
        });
        assert_eq!(disk(json!("100GB..")), at_least_100);
        assert_eq!(disk(json!({"size": "100GB.."})), at_least_100);
        assert_eq!(
            disk(json!({"size": {"min": 100.0, "max": null}})),
            at_least_100
        );
        let exactly_200 = Some(DiskSpec {
            size: Range::exactly(Memory::from_mib(204_800)),
        });
        assert_eq!(disk(json!(200)), exactly_200);
        assert_eq!(disk(json!(200.0)), exactly_200);
    }

    #[test]
    fn rejects_bad_disks() {
        assert_eq!(disk(json!({})), None);
        assert_eq!(disk(json!({"size": "1..", "type": "ssd"})), None);
        assert_eq!(disk(json!("200GB..100GB")), None);
        assert_eq!(disk(json!(-1)), None);
    }

    #[test]
    fn serialises_as_size_object() {
        let spec = disk(json!("100GB.."));
        let wire = spec.and_then(|s| serde_json::to_value(s).ok());
        assert_eq!(wire, Some(json!({"size": {"min": 100.0, "max": null}})));
    }
}

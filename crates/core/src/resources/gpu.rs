//! `resources.gpu`: vendor, names, per-GPU memory, count, total memory, compute capability.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::ComputeCapability;
use crate::memory::Memory;
use crate::range::{Range, RangeError};

/// Accelerator vendor (`AcceleratorVendor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GpuVendor {
    Nvidia,
    Amd,
    Google,
    Intel,
    Tenstorrent,
}

impl GpuVendor {
    pub const fn as_str(self) -> &'static str {
        match self {
            GpuVendor::Nvidia => "nvidia",
            GpuVendor::Amd => "amd",
            GpuVendor::Google => "google",
            GpuVendor::Intel => "intel",
            GpuVendor::Tenstorrent => "tenstorrent",
        }
    }

    /// A vendor name or alias (`tpu` for google, `tt` for tenstorrent), any case.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_lowercase().as_str() {
            "nvidia" => Some(GpuVendor::Nvidia),
            "amd" => Some(GpuVendor::Amd),
            "google" | "tpu" => Some(GpuVendor::Google),
            "intel" => Some(GpuVendor::Intel),
            "tenstorrent" | "tt" => Some(GpuVendor::Tenstorrent),
            _ => None,
        }
    }
}

impl fmt::Display for GpuVendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for GpuVendor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let given = Cow::<str>::deserialize(deserializer)?;
        GpuVendor::from_name(&given).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown gpu vendor {given:?}: expected nvidia, amd, google (tpu), intel or tenstorrent (tt)"
            ))
        })
    }
}

/// `resources.gpu` (`GPUSpec`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuSpec {
    pub vendor: Option<GpuVendor>,
    pub name: Option<Vec<String>>,
    pub count: Range<u32>,
    pub memory: Option<Range<Memory>>,
    pub total_memory: Option<Range<Memory>>,
    pub compute_capability: Option<ComputeCapability>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GpuSpecError {
    #[error("invalid gpu spec {spec:?}: a token between `:` is empty")]
    EmptyToken { spec: String },
    #[error("invalid gpu spec {spec:?}: the {part} is given twice")]
    Conflict { spec: String, part: GpuSpecPart },
    #[error("invalid gpu spec {spec:?}: a gpu name is empty")]
    EmptyName { spec: String },
    #[error("invalid gpu {part} in {spec:?}: {source}")]
    Range {
        spec: String,
        part: GpuSpecPart,
        source: RangeError,
    },
}

/// The parts of a GPU spec string, named in conflict messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuSpecPart {
    Vendor,
    Name,
    Memory,
    Count,
}

impl fmt::Display for GpuSpecPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GpuSpecPart::Vendor => "vendor",
            GpuSpecPart::Name => "name",
            GpuSpecPart::Memory => "memory",
            GpuSpecPart::Count => "count",
        })
    }
}

impl GpuSpec {
    /// The count when a GPU spec is given without one.
    pub const DEFAULT_COUNT: Range<u32> = Range::at_least(1);

    /// Only the count set: what a bare integer or the resources default mean.
    pub fn with_count(count: Range<u32>) -> Self {
        GpuSpec {
            vendor: None,
            name: None,
            count,
            memory: None,
            total_memory: None,
            compute_capability: None,
        }
    }
}

impl FromStr for GpuSpec {
    type Err = GpuSpecError;

    /// `vendor:name[,name]:memory:count` in any order, each token classified by its shape.
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let compact = spec.replace(' ', "");
        let mut parsed = GpuSpec::with_count(Self::DEFAULT_COUNT);
        let mut count = None;
        for token in compact.split(':') {
            let conflict = |part| GpuSpecError::Conflict {
                spec: spec.into(),
                part,
            };
            let range_error = |part| {
                move |source| GpuSpecError::Range {
                    spec: spec.into(),
                    part,
                    source,
                }
            };
            if token.is_empty() {
                return Err(GpuSpecError::EmptyToken { spec: spec.into() });
            }
            if let Some(vendor) = GpuVendor::from_name(token) {
                if parsed.vendor.replace(vendor).is_some() {
                    return Err(conflict(GpuSpecPart::Vendor));
                }
            } else if token.starts_with(|c: char| c.is_ascii_alphabetic()) {
                let names = parse_names(token, spec)?;
                if parsed.name.replace(names).is_some() {
                    return Err(conflict(GpuSpecPart::Name));
                }
            } else if token.contains(|c: char| c.is_ascii_alphabetic()) {
                let memory = Range::parse(token).map_err(range_error(GpuSpecPart::Memory))?;
                if parsed.memory.replace(memory).is_some() {
                    return Err(conflict(GpuSpecPart::Memory));
                }
            } else {
                let range = Range::parse(token).map_err(range_error(GpuSpecPart::Count))?;
                if count.replace(range).is_some() {
                    return Err(conflict(GpuSpecPart::Count));
                }
            }
        }
        parsed.count = count.unwrap_or(Self::DEFAULT_COUNT);
        Ok(parsed)
    }
}

/// A comma-separated name list; the deprecated `tpu-` prefix is dropped.
fn parse_names(token: &str, spec: &str) -> Result<Vec<String>, GpuSpecError> {
    token
        .split(',')
        .map(|name| {
            let name = strip_tpu_prefix(name);
            if name.is_empty() {
                Err(GpuSpecError::EmptyName { spec: spec.into() })
            } else {
                Ok(name.to_owned())
            }
        })
        .collect()
}

fn strip_tpu_prefix(name: &str) -> &str {
    name.strip_prefix("tpu-").unwrap_or(name)
}

/// `<names|vendor>[:memory]:count[:total_memory][:cc]`, as in the `gpu=` part of the resources
/// line.
impl fmt::Display for GpuSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        match (&self.name, self.vendor) {
            (Some(names), _) if !names.is_empty() => parts.push(names.join(",")),
            (_, Some(vendor)) => parts.push(vendor.to_string()),
            _ => {}
        }
        if let Some(memory) = &self.memory {
            parts.push(memory.to_string());
        }
        parts.push(self.count.to_string());
        if let Some(total) = &self.total_memory {
            parts.push(total.to_string());
        }
        if let Some(cc) = self.compute_capability {
            parts.push(cc.to_string());
        }
        f.write_str(&parts.join(":"))
    }
}

/// `name` in the object form: one string or a list of strings.
struct NameList(Vec<String>);

impl<'de> Deserialize<'de> for NameList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameListVisitor;

        impl<'de> Visitor<'de> for NameListVisitor {
            type Value = NameList;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a gpu name or a list of gpu names")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<NameList, E> {
                self.visit_seq(de::value::SeqDeserializer::new(std::iter::once(v)))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NameList, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    let name = strip_tpu_prefix(&name);
                    if name.is_empty() {
                        return Err(de::Error::custom("a gpu name is empty"));
                    }
                    names.push(name.to_owned());
                }
                Ok(NameList(names))
            }
        }

        deserializer.deserialize_any(NameListVisitor)
    }
}

struct GpuSpecVisitor;

impl<'de> Visitor<'de> for GpuSpecVisitor {
    type Value = GpuSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a gpu spec: a count, a string such as `A100:80GB:2`, or an object")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<GpuSpec, E> {
        let count = u32::try_from(v).map_err(E::custom)?;
        Ok(GpuSpec::with_count(Range::exactly(count)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<GpuSpec, E> {
        let count = u64::try_from(v).map_err(|_| E::custom(format!("invalid gpu count {v}")))?;
        self.visit_u64(count)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<GpuSpec, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GpuSpec, A::Error> {
        const FIELDS: &[&str] = &[
            "vendor",
            "name",
            "count",
            "memory",
            "total_memory",
            "compute_capability",
        ];
        let mut spec = GpuSpec::with_count(GpuSpec::DEFAULT_COUNT);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "vendor" => spec.vendor = map.next_value()?,
                "name" => spec.name = map.next_value::<Option<NameList>>()?.map(|n| n.0),
                "count" => spec.count = map.next_value()?,
                "memory" => spec.memory = map.next_value()?,
                "total_memory" => spec.total_memory = map.next_value()?,
                "compute_capability" => spec.compute_capability = map.next_value()?,
                other => return Err(de::Error::unknown_field(other, FIELDS)),
            }
        }
        Ok(spec)
    }
}

impl<'de> Deserialize<'de> for GpuSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(GpuSpecVisitor)
    }
}

impl JsonSchema for GpuSpec {
    fn schema_name() -> Cow<'static, str> {
        "GpuSpec".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let count = generator.subschema_for::<Range<u32>>();
        let memory = generator.subschema_for::<Option<Range<Memory>>>();
        let vendor = generator.subschema_for::<Option<GpuVendor>>();
        let cc = generator.subschema_for::<Option<ComputeCapability>>();
        json_schema!({
            "description": "gpu: a count, a string `vendor:name[,name]:memory:count` in any order, or an object",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string" },
                {
                    "type": "object",
                    "properties": {
                        "vendor": vendor,
                        "name": { "anyOf": [
                            { "type": "string" },
                            { "type": "array", "items": { "type": "string" } },
                            { "type": "null" }
                        ] },
                        "count": count,
                        "memory": memory,
                        "total_memory": memory,
                        "compute_capability": cc
                    },
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

    fn gb(v: f64) -> Memory {
        Memory::from_gb(v).unwrap_or_default()
    }

    fn names(list: &[&str]) -> Option<Vec<String>> {
        Some(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn string_forms() {
        let base = GpuSpec::with_count(Range::at_least(1));
        let cases = [
            (
                "A100",
                GpuSpec {
                    name: names(&["A100"]),
                    ..base.clone()
                },
            ),
            (
                "A100:2",
                GpuSpec {
                    name: names(&["A100"]),
                    count: Range::exactly(2),
                    ..base.clone()
                },
            ),
            (
                "24GB",
                GpuSpec {
                    memory: Some(Range::exactly(gb(24.0))),
                    ..base.clone()
                },
            ),
            (
                "24GB..80GB:2",
                GpuSpec {
                    memory: Some(Range {
                        min: Some(gb(24.0)),
                        max: Some(gb(80.0)),
                    }),
                    count: Range::exactly(2),
                    ..base.clone()
                },
            ),
            (
                "nvidia:1..8",
                GpuSpec {
                    vendor: Some(GpuVendor::Nvidia),
                    count: Range {
                        min: Some(1),
                        max: Some(8),
                    },
                    ..base.clone()
                },
            ),
            (
                "amd:MI300X:8",
                GpuSpec {
                    vendor: Some(GpuVendor::Amd),
                    name: names(&["MI300X"]),
                    count: Range::exactly(8),
                    ..base.clone()
                },
            ),
            (
                "A100:80GB:2",
                GpuSpec {
                    name: names(&["A100"]),
                    memory: Some(Range::exactly(gb(80.0))),
                    count: Range::exactly(2),
                    ..base.clone()
                },
            ),
            (
                "tpu:v5litepod-8",
                GpuSpec {
                    vendor: Some(GpuVendor::Google),
                    name: names(&["v5litepod-8"]),
                    ..base.clone()
                },
            ),
            (
                "tpu-v3-8",
                GpuSpec {
                    name: names(&["v3-8"]),
                    ..base.clone()
                },
            ),
            (
                "A10G,A100",
                GpuSpec {
                    name: names(&["A10G", "A100"]),
                    ..base.clone()
                },
            ),
            (
                "TT:2",
                GpuSpec {
                    vendor: Some(GpuVendor::Tenstorrent),
                    count: Range::exactly(2),
                    ..base
                },
            ),
        ];
        for (given, expected) in cases {
            assert_eq!(given.parse::<GpuSpec>(), Ok(expected), "{given}");
        }
    }

    #[test]
    fn string_errors() {
        let cases = [
            (
                "H100:8:1..",
                "invalid gpu spec \"H100:8:1..\": the count is given twice",
            ),
            (
                "nvidia:amd",
                "invalid gpu spec \"nvidia:amd\": the vendor is given twice",
            ),
            (
                "A100:H100",
                "invalid gpu spec \"A100:H100\": the name is given twice",
            ),
            (
                "24GB:80GB",
                "invalid gpu spec \"24GB:80GB\": the memory is given twice",
            ),
            (
                "A100::2",
                "invalid gpu spec \"A100::2\": a token between `:` is empty",
            ),
            ("A100,", "invalid gpu spec \"A100,\": a gpu name is empty"),
            (
                "A100:1.5",
                "invalid gpu count in \"A100:1.5\": invalid range \"1.5\": \"1.5\" is not a whole number",
            ),
        ];
        for (given, message) in cases {
            let err = given.parse::<GpuSpec>().map_err(|e| e.to_string());
            assert_eq!(err, Err(message.to_owned()), "{given}");
        }
    }

    #[test]
    fn object_form_defaults_count_to_one() {
        let spec = serde_json::from_value::<GpuSpec>(json!({"name": "A100", "memory": "40GB.."}));
        assert_eq!(
            spec.ok(),
            Some(GpuSpec {
                name: names(&["A100"]),
                memory: Some(Range::at_least(gb(40.0))),
                ..GpuSpec::with_count(Range::at_least(1))
            })
        );
        assert!(serde_json::from_value::<GpuSpec>(json!({"model": "A100"})).is_err());
        assert!(serde_json::from_value::<GpuSpec>(json!({"vendor": "qualcomm"})).is_err());
    }

    #[test]
    fn displays_like_the_resources_line() {
        let cases = [
            ("24GB", "24GB:1.."),
            ("A100:80GB:2", "A100:80GB:2"),
            ("nvidia:1..8", "nvidia:1..8"),
        ];
        for (given, shown) in cases {
            let spec = given.parse::<GpuSpec>().map(|s| s.to_string());
            assert_eq!(spec.as_deref(), Ok(shown));
        }
    }

    #[test]
    fn wire_form_round_trips() {
        let wire = json!({"vendor": null, "name": null, "count": {"min": 0, "max": 0},
            "memory": null, "total_memory": null, "compute_capability": null});
        let spec = serde_json::from_value::<GpuSpec>(wire.clone()).ok();
        assert_eq!(spec.and_then(|s| serde_json::to_value(s).ok()), Some(wire));
    }
}

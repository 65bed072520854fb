//! `resources.cpu`: a count range and an optional architecture.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::range::{Range, RangeError};

/// CPU architecture (`CPUArchitecture`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CpuArch {
    X86,
    Arm,
}

impl CpuArch {
    pub const fn as_str(self) -> &'static str {
        match self {
            CpuArch::X86 => "x86",
            CpuArch::Arm => "arm",
        }
    }
}

impl fmt::Display for CpuArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CpuArch {
    type Err = CpuSpecError;

    fn from_str(given: &str) -> Result<Self, Self::Err> {
        match given.to_lowercase().as_str() {
            "x86" => Ok(CpuArch::X86),
            "arm" => Ok(CpuArch::Arm),
            _ => Err(CpuSpecError::Arch {
                spec: given.to_owned(),
            }),
        }
    }
}

impl<'de> Deserialize<'de> for CpuArch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let given = Cow::<str>::deserialize(deserializer)?;
        given.parse().map_err(de::Error::custom)
    }
}

/// `resources.cpu`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuSpec {
    pub arch: Option<CpuArch>,
    pub count: Range<u32>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CpuSpecError {
    #[error("invalid cpu architecture in {spec:?}: expected x86 or arm")]
    Arch { spec: String },
    #[error("invalid cpu spec {spec:?}: a token between `:` is empty")]
    EmptyToken { spec: String },
    #[error("invalid cpu spec {spec:?}: the count is given twice")]
    CountConflict { spec: String },
    #[error("invalid cpu spec {spec:?}: the architecture is given twice")]
    ArchConflict { spec: String },
    #[error("invalid cpu count in {spec:?}: {source}")]
    Count { spec: String, source: RangeError },
}

impl CpuSpec {
    pub const DEFAULT_COUNT: Range<u32> = Range::at_least(2);
}

impl Default for CpuSpec {
    fn default() -> Self {
        CpuSpec {
            arch: None,
            count: Self::DEFAULT_COUNT,
        }
    }
}

impl FromStr for CpuSpec {
    type Err = CpuSpecError;

    /// `4`, `2..`, `arm:8..`, `16:arm`: tokens split on `:` and told apart by their shape.
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let compact = spec.replace(' ', "");
        let mut arch = None;
        let mut count = None;
        for token in compact.split(':') {
            if token.is_empty() {
                return Err(CpuSpecError::EmptyToken { spec: spec.into() });
            }
            if token.contains("..") || token.bytes().all(|b| b.is_ascii_digit()) {
                let parsed = Range::parse(token).map_err(|source| CpuSpecError::Count {
                    spec: spec.into(),
                    source,
                })?;
                if count.replace(parsed).is_some() {
                    return Err(CpuSpecError::CountConflict { spec: spec.into() });
                }
            } else {
                let parsed = token
                    .parse::<CpuArch>()
                    .map_err(|_| CpuSpecError::Arch { spec: spec.into() })?;
                if arch.replace(parsed).is_some() {
                    return Err(CpuSpecError::ArchConflict { spec: spec.into() });
                }
            }
        }
        Ok(CpuSpec {
            arch,
            count: count.unwrap_or(Self::DEFAULT_COUNT),
        })
    }
}

/// `[arch:]count`, as in the `cpu=` part of the resources line.
impl fmt::Display for CpuSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(arch) = self.arch {
            write!(f, "{arch}:")?;
        }
        write!(f, "{}", self.count)
    }
}

struct CpuSpecVisitor;

impl<'de> Visitor<'de> for CpuSpecVisitor {
    type Value = CpuSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a cpu spec: a count, a string such as `arm:8..`, or {arch, count}")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<CpuSpec, E> {
        let count = u32::try_from(v).map_err(E::custom)?;
        Ok(CpuSpec {
            arch: None,
            count: Range::exactly(count),
        })
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<CpuSpec, E> {
        let count = u64::try_from(v).map_err(|_| E::custom(format!("invalid cpu count {v}")))?;
        self.visit_u64(count)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<CpuSpec, E> {
        v.parse().map_err(E::custom)
    }

    /// Either `{arch, count}` or a bare `{min, max}` that means the count.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CpuSpec, A::Error> {
        const FIELDS: &[&str] = &["arch", "count", "min", "max"];
        let mut spec = CpuSpec::default();
        let mut bare = Range::unbounded();
        let (mut saw_spec, mut saw_bare) = (false, false);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "arch" => spec.arch = map.next_value()?,
                "count" => spec.count = map.next_value()?,
                "min" => bare.min = map.next_value()?,
                "max" => bare.max = map.next_value()?,
                other => return Err(de::Error::unknown_field(other, FIELDS)),
            }
            let is_bare = matches!(key.as_str(), "min" | "max");
            saw_bare |= is_bare;
            saw_spec |= !is_bare;
        }
        match (saw_spec, saw_bare) {
            (true, true) => Err(de::Error::custom(
                "a cpu spec takes either {arch, count} or a bare {min, max} count, not both",
            )),
            (_, true) => {
                let count = Range::new(bare.min, bare.max).map_err(de::Error::custom)?;
                Ok(CpuSpec { arch: None, count })
            }
            _ => Ok(spec),
        }
    }
}

impl<'de> Deserialize<'de> for CpuSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CpuSpecVisitor)
    }
}

impl JsonSchema for CpuSpec {
    fn schema_name() -> Cow<'static, str> {
        "CpuSpec".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let count = generator.subschema_for::<Range<u32>>();
        let arch = generator.subschema_for::<Option<CpuArch>>();
        json_schema!({
            "description": "cpu: a count or range, a string `[arch:]count` (e.g. `arm:8..`), or {arch, count}",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string" },
                {
                    "type": "object",
                    "properties": { "arch": arch, "count": count },
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "properties": { "min": { "type": ["integer", "null"] }, "max": { "type": ["integer", "null"] } },
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

    #[test]
    fn string_forms() {
        let cases = [
            ("4", None, Range::exactly(4)),
            ("2..", None, Range::at_least(2)),
            ("arm:8..", Some(CpuArch::Arm), Range::at_least(8)),
            ("16:arm", Some(CpuArch::Arm), Range::exactly(16)),
            ("arm", Some(CpuArch::Arm), Range::at_least(2)),
            (
                "X86 : 1..4",
                Some(CpuArch::X86),
                Range {
                    min: Some(1),
                    max: Some(4),
                },
            ),
        ];
        for (given, arch, count) in cases {
            assert_eq!(
                given.parse::<CpuSpec>(),
                Ok(CpuSpec { arch, count }),
                "{given}"
            );
        }
    }

    #[test]
    fn string_errors() {
        let cases = [
            (
                "amd64:4",
                "invalid cpu architecture in \"amd64:4\": expected x86 or arm",
            ),
            (
                "arm::4",
                "invalid cpu spec \"arm::4\": a token between `:` is empty",
            ),
            ("4:8", "invalid cpu spec \"4:8\": the count is given twice"),
            (
                "arm:x86",
                "invalid cpu spec \"arm:x86\": the architecture is given twice",
            ),
            (
                "8..2",
                "invalid cpu count in \"8..2\": invalid range \"8..2\": min 8 is greater than max 2",
            ),
        ];
        for (given, message) in cases {
            let err = given.parse::<CpuSpec>().map_err(|e| e.to_string());
            assert_eq!(err, Err(message.to_owned()), "{given}");
        }
    }

    #[test]
    fn object_forms() {
        let spec = |v| serde_json::from_value::<CpuSpec>(v).map_err(|e| e.to_string());
        assert_eq!(
            spec(json!({"arch": "arm"})),
            Ok(CpuSpec {
                arch: Some(CpuArch::Arm),
                count: Range::at_least(2)
            })
        );
        assert_eq!(
            spec(json!({"min": 4, "max": null})),
            Ok(CpuSpec {
                arch: None,
                count: Range::at_least(4)
            })
        );
        assert_eq!(
            spec(json!(8)),
            Ok(CpuSpec {
                arch: None,
                count: Range::exactly(8)
            })
        );
        assert!(spec(json!({"arch": "arm", "min": 2})).is_err());
        assert!(spec(json!({"cores": 2})).is_err());
        assert!(spec(json!(-2)).is_err());
    }

    #[test]
    fn wire_form_round_trips() {
        let wire = json!({"arch": "x86", "count": {"min": 2, "max": null}});
        let spec = serde_json::from_value::<CpuSpec>(wire.clone()).ok();
        assert_eq!(
            spec.as_ref().map(ToString::to_string).as_deref(),
            Some("x86:2..")
        );
        assert_eq!(spec.and_then(|s| serde_json::to_value(s).ok()), Some(wire));
    }
}

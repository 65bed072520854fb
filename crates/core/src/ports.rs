//! `ports:` of dev environments and tasks: `8080`, `"80:8080"`, `"*:8080"` or an object.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// A forwarded port; `local_port: None` means any free local port (`*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct PortMapping {
    pub local_port: Option<u16>,
    pub container_port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("invalid port mapping {given:?}: expected PORT, LOCAL:CONTAINER or *:CONTAINER")]
    Format { given: String },
    #[error("invalid port {given}: ports are between 1 and 65535")]
    OutOfRange { given: String },
}

impl PortMapping {
    /// dstack keeps container ports 10000-10999 for itself; they are never forwarded.
    pub const RESERVED: std::ops::RangeInclusive<u16> = 10000..=10999;

    /// The same port locally and in the container.
    pub fn same(port: u16) -> Result<Self, PortError> {
        let port = check_port(u64::from(port))?;
        Ok(PortMapping {
            local_port: Some(port),
            container_port: port,
        })
    }

    pub fn is_reserved(&self) -> bool {
        Self::RESERVED.contains(&self.container_port)
    }
}

fn check_port(value: u64) -> Result<u16, PortError> {
    u16::try_from(value)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| PortError::OutOfRange {
            given: value.to_string(),
        })
}

fn parse_port(text: &str, given: &str) -> Result<u16, PortError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PortError::Format {
            given: given.to_owned(),
        });
    }
    // All digits: only overflow can fail, and that is out of range too.
    let value = text.parse::<u64>().unwrap_or(u64::MAX);
    check_port(value).map_err(|_| PortError::OutOfRange {
        given: text.to_owned(),
    })
}

impl FromStr for PortMapping {
    type Err = PortError;

    fn from_str(given: &str) -> Result<Self, Self::Err> {
        let (local, container) = match given.split_once(':') {
            Some(("*", container)) => (None, container),
            Some((local, container)) => (Some(parse_port(local, given)?), container),
            None => return parse_port(given, given).and_then(PortMapping::same),
        };
        Ok(PortMapping {
            local_port: local,
            container_port: parse_port(container, given)?,
        })
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.local_port {
            Some(local) => write!(f, "{local}:{}", self.container_port),
            None => write!(f, "*:{}", self.container_port),
        }
    }
}

struct PortMappingVisitor;

impl<'de> Visitor<'de> for PortMappingVisitor {
    type Value = PortMapping;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a port mapping: 8080, \"80:8080\", \"*:8080\" or {local_port, container_port}")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<PortMapping, E> {
        check_port(v).and_then(PortMapping::same).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<PortMapping, E> {
        let port = u64::try_from(v).map_err(|_| {
            E::custom(PortError::OutOfRange {
                given: v.to_string(),
            })
        })?;
        self.visit_u64(port)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<PortMapping, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PortMapping, A::Error> {
        let mut local_port = None;
        let mut container_port = None;
        while let Some(key) = map.next_key::<String>()? {
            let slot = match key.as_str() {
                "local_port" => &mut local_port,
                "container_port" => &mut container_port,
                other => {
                    return Err(de::Error::unknown_field(
                        other,
                        &["local_port", "container_port"],
                    ));
                }
            };
            *slot = map
                .next_value::<Option<u64>>()?
                .map(check_port)
                .transpose()
                .map_err(de::Error::custom)?;
        }
        let container_port =
            container_port.ok_or_else(|| de::Error::missing_field("container_port"))?;
        Ok(PortMapping {
            local_port,
            container_port,
        })
    }
}

impl<'de> Deserialize<'de> for PortMapping {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PortMappingVisitor)
    }
}

impl JsonSchema for PortMapping {
    fn schema_name() -> Cow<'static, str> {
        "PortMapping".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let port = json_schema!({ "type": "integer", "minimum": 1, "maximum": 65535 });
        json_schema!({
            "description": "a port: 8080, \"80:8080\" (local:container) or \"*:8080\" (any free local port)",
            "anyOf": [
                port,
                { "type": "string", "pattern": r"^(?:(\d+|\*):)?(\d+)$" },
                {
                    "type": "object",
                    "properties": {
                        "local_port": { "anyOf": [port, { "type": "null" }] },
                        "container_port": port
                    },
                    "required": ["container_port"],
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

    fn mapping(local_port: Option<u16>, container_port: u16) -> PortMapping {
        PortMapping {
            local_port,
            container_port,
        }
    }

    #[test]
    fn string_forms() {
        let cases = [
            ("8080", mapping(Some(8080), 8080)),
            ("80:8080", mapping(Some(80), 8080)),
            ("*:8080", mapping(None, 8080)),
            ("65535", mapping(Some(65535), 65535)),
        ];
        for (given, expected) in cases {
            assert_eq!(given.parse(), Ok(expected), "{given}");
            assert_eq!(expected.to_string().parse(), Ok(expected));
        }
    }

    #[test]
    fn string_errors() {
        let cases = [
            ("0", "invalid port 0: ports are between 1 and 65535"),
            ("65536", "invalid port 65536: ports are between 1 and 65535"),
            (
                "80:",
                "invalid port mapping \"80:\": expected PORT, LOCAL:CONTAINER or *:CONTAINER",
            ),
            (
                "a:80",
                "invalid port mapping \"a:80\": expected PORT, LOCAL:CONTAINER or *:CONTAINER",
            ),
            (
                "1:2:3",
                "invalid port mapping \"1:2:3\": expected PORT, LOCAL:CONTAINER or *:CONTAINER",
            ),
            (
                "*",
                "invalid port mapping \"*\": expected PORT, LOCAL:CONTAINER or *:CONTAINER",
            ),
        ];
        for (given, message) in cases {
            let err = given.parse::<PortMapping>().map_err(|e| e.to_string());
            assert_eq!(err, Err(message.to_owned()), "{given}");
        }
    }

    #[test]
    fn json_forms() {
        let port = |v| serde_json::from_value::<PortMapping>(v).ok();
        assert_eq!(port(json!(8080)), Some(mapping(Some(8080), 8080)));
        assert_eq!(port(json!({"container_port": 22})), Some(mapping(None, 22)));
        assert_eq!(port(json!({"local_port": 0, "container_port": 22})), None);
        assert_eq!(port(json!(-1)), None);
        let wire = serde_json::to_value(mapping(None, 8080)).ok();
        assert_eq!(
            wire,
            Some(json!({"local_port": null, "container_port": 8080}))
        );
    }

    #[test]
    fn reserved_ports() {
        assert!(mapping(None, 10999).is_reserved());
        assert!(!mapping(None, 11000).is_reserved());
    }
}

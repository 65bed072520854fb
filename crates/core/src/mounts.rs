//! `volumes:` of run configurations: network volumes (`name:/path`) and instance directories
//! (`/host/dir:/path`).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One entry of `volumes:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountPoint {
    Volume(VolumeMountPoint),
    Instance(InstanceMountPoint),
}

/// A network volume mounted at `path`; with several names, whichever is available is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeMountPoint {
    pub name: VolumeNames,
    pub path: String,
}

/// `name` of a volume mount: one volume or a list to choose from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeNames {
    One(String),
    AnyOf(Vec<String>),
}

/// A directory of the instance mounted at `path`; `optional` lets runs go to backends that
/// cannot mount instance directories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceMountPoint {
    pub instance_path: String,
    pub path: String,
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountError {
    #[error("invalid mount point {given:?}: expected SOURCE:PATH with exactly one `:`")]
    Format { given: String },
    #[error("invalid mount path {given:?}: the path must be absolute")]
    NotAbsolute { given: String },
    #[error("invalid mount path {given:?}: `..` is not allowed")]
    ParentDir { given: String },
    #[error("invalid mount point: the volume name is empty")]
    EmptyName,
}

/// Checks a mount path and normalises it as a POSIX path: no repeated `/`, no `.` parts, no
/// trailing `/`.
pub fn normalize_mount_path(given: &str) -> Result<String, MountError> {
    if !given.starts_with('/') {
        return Err(MountError::NotAbsolute {
            given: given.to_owned(),
        });
    }
    let mut parts = Vec::new();
    for part in given.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(MountError::ParentDir {
                    given: given.to_owned(),
                });
            }
            part => parts.push(part),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

impl FromStr for MountPoint {
    type Err = MountError;

    fn from_str(given: &str) -> Result<Self, Self::Err> {
        let (source, path) = given
            .split_once(':')
            .filter(|(_, path)| !path.contains(':'))
            .ok_or_else(|| MountError::Format {
                given: given.to_owned(),
            })?;
        let path = normalize_mount_path(path)?;
        if source.contains('/') {
            Ok(MountPoint::Instance(InstanceMountPoint {
                instance_path: normalize_mount_path(source)?,
                path,
                optional: false,
            }))
        } else if source.is_empty() {
            Err(MountError::EmptyName)
        } else {
            Ok(MountPoint::Volume(VolumeMountPoint {
                name: VolumeNames::One(source.to_owned()),
                path,
            }))
        }
    }
}

impl fmt::Display for VolumeNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VolumeNames::One(name) => f.write_str(name),
            VolumeNames::AnyOf(names) => f.write_str(&names.join(",")),
        }
    }
}

impl fmt::Display for MountPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MountPoint::Volume(v) => write!(f, "{}:{}", v.name, v.path),
            MountPoint::Instance(i) => write!(f, "{}:{}", i.instance_path, i.path),
        }
    }
}

impl Serialize for VolumeNames {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            VolumeNames::One(name) => serializer.serialize_str(name),
            VolumeNames::AnyOf(names) => names.serialize(serializer),
        }
    }
}

impl Serialize for MountPoint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            MountPoint::Volume(v) => v.serialize(serializer),
            MountPoint::Instance(i) => i.serialize(serializer),
        }
    }
}

struct VolumeNamesVisitor;

impl<'de> Visitor<'de> for VolumeNamesVisitor {
    type Value = VolumeNames;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a volume name or a list of volume names")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<VolumeNames, E> {
        if v.is_empty() {
            return Err(E::custom(MountError::EmptyName));
        }
        Ok(VolumeNames::One(v.to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<VolumeNames, A::Error> {
        let mut names = Vec::new();
        while let Some(name) = seq.next_element::<String>()? {
            if name.is_empty() {
                return Err(de::Error::custom(MountError::EmptyName));
            }
            names.push(name);
        }
        if names.is_empty() {
            return Err(de::Error::custom(
                "invalid mount point: the list of volume names is empty",
            ));
        }
        Ok(VolumeNames::AnyOf(names))
    }
}

impl<'de> Deserialize<'de> for VolumeNames {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(VolumeNamesVisitor)
    }
}

struct MountPointVisitor;

impl<'de> Visitor<'de> for MountPointVisitor {
    type Value = MountPoint;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a mount point: \"name:/path\", \"/instance/path:/path\", {name, path} or {instance_path, path, optional}",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<MountPoint, E> {
        v.parse().map_err(E::custom)
    }

    /// The keys decide the kind: `name` for a volume, `instance_path` for an instance mount.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MountPoint, A::Error> {
        const FIELDS: &[&str] = &["name", "instance_path", "path", "optional"];
        let mut name: Option<VolumeNames> = None;
        let mut instance_path: Option<String> = None;
        let mut path: Option<String> = None;
        let mut optional: Option<bool> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "name" => name = Some(map.next_value()?),
                "instance_path" => instance_path = Some(map.next_value()?),
                "path" => path = Some(map.next_value()?),
                "optional" => optional = Some(map.next_value()?),
                other => return Err(de::Error::unknown_field(other, FIELDS)),
            }
        }
        let path = path.ok_or_else(|| de::Error::missing_field("path"))?;
        let path = normalize_mount_path(&path).map_err(de::Error::custom)?;
        match (name, instance_path) {
            (Some(name), None) if optional.is_none() => {
                Ok(MountPoint::Volume(VolumeMountPoint { name, path }))
            }
            (Some(_), None) => Err(de::Error::custom(
                "`optional` applies to instance mounts ({instance_path, path}), not to volumes",
            )),
            (None, Some(instance_path)) => Ok(MountPoint::Instance(InstanceMountPoint {
                instance_path: normalize_mount_path(&instance_path).map_err(de::Error::custom)?,
                path,
                optional: optional.unwrap_or(false),
            })),
            (Some(_), Some(_)) => Err(de::Error::custom(
                "a mount point has either `name` (a volume) or `instance_path`, not both",
            )),
            (None, None) => Err(de::Error::custom(
                "a mount point needs `name` (a volume) or `instance_path` (an instance directory)",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for MountPoint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MountPointVisitor)
    }
}

impl JsonSchema for MountPoint {
    fn schema_name() -> Cow<'static, str> {
        "MountPoint".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "a mount: \"volume-name:/path\", \"/instance/dir:/path\", or an object",
            "anyOf": [
                { "type": "string", "pattern": "^[^:]*:[^:]+$" },
                {
                    "type": "object",
                    "properties": {
                        "name": { "anyOf": [
                            { "type": "string" },
                            { "type": "array", "items": { "type": "string" }, "minItems": 1 }
                        ] },
                        "path": { "type": "string" }
                    },
                    "required": ["name", "path"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "properties": {
                        "instance_path": { "type": "string" },
                        "path": { "type": "string" },
                        "optional": { "type": "boolean" }
                    },
                    "required": ["instance_path", "path"],
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

    fn volume(name: &str, path: &str) -> MountPoint {
        MountPoint::Volume(VolumeMountPoint {
            name: VolumeNames::One(name.into()),
            path: path.into(),
        })
    }

    fn instance(instance_path: &str, path: &str, optional: bool) -> MountPoint {
        MountPoint::Instance(InstanceMountPoint {
            instance_path: instance_path.into(),
            path: path.into(),
            optional,
        })
    }

    #[test]
    fn short_forms() {
        let cases = [
            ("data:/data", volume("data", "/data")),
            (
                "my-vol:/workflow//cache/",
                volume("my-vol", "/workflow/cache"),
            ),
            ("/mnt/data:/data", instance("/mnt/data", "/data", false)),
            ("/mnt/./x:/./y", instance("/mnt/x", "/y", false)),
        ];
        for (given, expected) in cases {
            assert_eq!(given.parse(), Ok(expected), "{given}");
        }
    }

    #[test]
    fn short_form_errors() {
        let cases = [
            (
                "data:/data:ro",
                "invalid mount point \"data:/data:ro\": expected SOURCE:PATH with exactly one `:`",
            ),
            (
                "data",
                "invalid mount point \"data\": expected SOURCE:PATH with exactly one `:`",
            ),
            (
                "data:rel",
                "invalid mount path \"rel\": the path must be absolute",
            ),
            (
                "data:/a/../b",
                "invalid mount path \"/a/../b\": `..` is not allowed",
            ),
            (":/data", "invalid mount point: the volume name is empty"),
        ];
        for (given, message) in cases {
            let err = given.parse::<MountPoint>().map_err(|e| e.to_string());
            assert_eq!(err, Err(message.to_owned()), "{given}");
        }
    }

    #[test]
    fn object_forms() {
        let mount = |v| serde_json::from_value::<MountPoint>(v).map_err(|e| e.to_string());
        assert_eq!(
            mount(json!({"name": "v", "path": "/d"})),
            Ok(volume("v", "/d"))
        );
        let any_of = mount(json!({"name": ["a", "b"], "path": "/d"}));
        assert_eq!(
            any_of,
            Ok(MountPoint::Volume(VolumeMountPoint {
                name: VolumeNames::AnyOf(vec!["a".into(), "b".into()]),
                path: "/d".into()
            }))
        );
        assert_eq!(
            mount(json!({"instance_path": "/m", "path": "/d", "optional": true})),
            Ok(instance("/m", "/d", true))
        );
        for bad in [
            json!({"name": "v"}),
            json!({"path": "/d"}),
            json!({"name": "v", "instance_path": "/m", "path": "/d"}),
            json!({"name": "v", "path": "/d", "optional": true}),
            json!({"name": [], "path": "/d"}),
            json!({"name": "v", "path": "/d", "ro": true}),
        ] {
            assert!(mount(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn wire_forms_round_trip() {
        for wire in [
            json!({"name": "v", "path": "/d"}),
            json!({"name": ["a", "b"], "path": "/d"}),
            json!({"instance_path": "/m", "path": "/d", "optional": false}),
        ] {
            let mount = serde_json::from_value::<MountPoint>(wire.clone()).ok();
            assert_eq!(mount.and_then(|m| serde_json::to_value(m).ok()), Some(wire));
        }
    }
}

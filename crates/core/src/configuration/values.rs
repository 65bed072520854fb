//! The shared value grammars the configurations are built on.
//!
//! They belong to the `resources` branch (memory, range, duration, resources, env, ports,
//! mounts, backend). Until that branch is merged, this module holds small stand-ins with the
//! same wire forms so the configurations compile and round-trip; on merge it becomes a list of
//! re-exports.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares an opaque stand-in that keeps any JSON value and defaults to `$default`.
macro_rules! opaque_value {
    ($(#[$meta:meta])* $name:ident, $default:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub serde_json::Value);

        impl Default for $name {
            fn default() -> Self {
                Self($default)
            }
        }
    };
}

opaque_value!(
    /// Stand-in for `resources::ResourcesSpec`.
    ResourcesSpec,
    serde_json::json!({
        "cpu": {"arch": null, "count": {"min": 2, "max": null}},
        "memory": {"min": 8.0, "max": null},
        "shm_size": null,
        "gpu": {"vendor": null, "name": null, "count": {"min": 0, "max": null},
                "memory": null, "total_memory": null, "compute_capability": null},
        "disk": {"size": {"min": 100.0, "max": null}}
    })
);
opaque_value!(
    /// Stand-in for `env::Env`.
    Env,
    serde_json::json!({})
);
opaque_value!(
    /// Stand-in for `mounts::MountPoint`.
    MountPoint,
    serde_json::Value::Null
);
opaque_value!(
    /// Stand-in for `ports::PortMapping`.
    PortMapping,
    serde_json::Value::Null
);

/// Whether an `env` sets no variable.
pub(crate) fn env_is_empty(env: &Env) -> bool {
    match &env.0 {
        serde_json::Value::Object(map) => map.is_empty(),
        serde_json::Value::Array(items) => items.is_empty(),
        _ => true,
    }
}

/// Stand-in for `memory::Memory`: a number of GB.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Memory(pub f64);

/// Stand-in for `backend::BackendType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum BackendType {
    Amddevcloud,
    Aws,
    Azure,
    Cloudrift,
    Crusoe,
    Cudo,
    Datacrunch,
    Daytona,
    Digitalocean,
    Dstack,
    Gcp,
    Hotaisle,
    Jarvislabs,
    Kubernetes,
    Lambda,
    Lium,
    Remote,
    Nebius,
    Oci,
    Runpod,
    Seeweb,
    Tensordock,
    Vastai,
    Verda,
    Vultr,
    Slurm,
}

/// Stand-in for `range::Range<u32>`: `a..b`, `a..`, `..b`, a number, or `{min, max}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Range {
    /// Lower bound, unbounded when unset.
    pub min: Option<u32>,
    /// Upper bound, unbounded when unset.
    pub max: Option<u32>,
}

impl Range {
    fn parse(text: &str) -> Result<Self, String> {
        let compact: String = text.split_whitespace().collect();
        let bound = |part: &str| -> Result<Option<u32>, String> {
            if part.is_empty() {
                return Ok(None);
            }
            part.parse()
                .map(Some)
                .map_err(|_| format!("invalid range \"{text}\": `{part}` is not a count"))
        };
        let range = match compact.split_once("..") {
            Some((_, high)) if high.contains("..") => {
                return Err(format!("invalid range \"{text}\": more than one `..`"));
            }
            Some(("", "")) => return Err(format!("invalid range \"{text}\": both sides empty")),
            Some((low, high)) => Self {
                min: bound(low)?,
                max: bound(high)?,
            },
            None => {
                let value = bound(&compact)?;
                Self {
                    min: value,
                    max: value,
                }
            }
        };
        range.checked(text)
    }

    fn checked(self, text: &str) -> Result<Self, String> {
        match (self.min, self.max) {
            (Some(min), Some(max)) if min > max => Err(format!(
                "invalid range \"{text}\": min {min} is greater than max {max}"
            )),
            _ => Ok(self),
        }
    }
}

impl<'de> Deserialize<'de> for Range {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RangeVisitor;
        impl<'de> Visitor<'de> for RangeVisitor {
            type Value = Range;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count or a range such as `1..4`, `2..` or `..8`")
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Range, E> {
                let count = u32::try_from(value).map_err(E::custom)?;
                Ok(Range {
                    min: Some(count),
                    max: Some(count),
                })
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Range, E> {
                let count = u64::try_from(value).map_err(|_| {
                    E::custom(format!("invalid range \"{value}\": counts cannot be negative"))
                })?;
                self.visit_u64(count)
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Range, E> {
                Range::parse(value).map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Range, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Bounds {
                    #[serde(default)]
                    min: Option<u32>,
                    #[serde(default)]
                    max: Option<u32>,
                }
                let bounds = Bounds::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Range {
                    min: bounds.min,
                    max: bounds.max,
                }
                .checked("{min, max}")
                .map_err(de::Error::custom)
            }
        }
        deserializer.deserialize_any(RangeVisitor)
    }
}

/// Stand-in for `duration::Duration`: seconds, written `N` or `N<s|m|h|d|w>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Duration(pub i64);

impl Duration {
    fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("cannot parse the duration \"{text}\"");
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !c.is_ascii_digit() && c != '-')
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let number: i64 = number.parse().map_err(|_| invalid())?;
        let multiplier = match unit.trim() {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return Err(invalid()),
        };
        number.checked_mul(multiplier).map(Self).ok_or_else(invalid)
    }
}

/// How a duration-like scalar was written.
enum DurationScalar {
    Seconds(Duration),
    Off,
    /// `true` or null: use the default.
    Unset,
}

fn duration_scalar<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DurationScalar, D::Error> {
    struct ScalarVisitor;
    impl Visitor<'_> for ScalarVisitor {
        type Value = DurationScalar;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as `90`, `30m` or `2h`, or `off`")
        }
        fn visit_i64<E: de::Error>(self, value: i64) -> Result<DurationScalar, E> {
            Ok(DurationScalar::Seconds(Duration(value)))
        }
        fn visit_u64<E: de::Error>(self, value: u64) -> Result<DurationScalar, E> {
            i64::try_from(value)
                .map(|v| DurationScalar::Seconds(Duration(v)))
                .map_err(E::custom)
        }
        fn visit_f64<E: de::Error>(self, value: f64) -> Result<DurationScalar, E> {
            if value.is_finite() && value.abs() < 1e15 {
                // Fractions of a second are dropped, as dstack does.
                Ok(DurationScalar::Seconds(Duration(value.trunc() as i64)))
            } else {
                Err(E::custom(format!("cannot parse the duration {value}")))
            }
        }
        fn visit_bool<E: de::Error>(self, value: bool) -> Result<DurationScalar, E> {
            Ok(if value {
                DurationScalar::Unset
            } else {
                DurationScalar::Off
            })
        }
        fn visit_unit<E: de::Error>(self) -> Result<DurationScalar, E> {
            Ok(DurationScalar::Unset)
        }
        fn visit_none<E: de::Error>(self) -> Result<DurationScalar, E> {
            Ok(DurationScalar::Unset)
        }
        fn visit_str<E: de::Error>(self, value: &str) -> Result<DurationScalar, E> {
            if value == "off" {
                return Ok(DurationScalar::Off);
            }
            Duration::parse(value)
                .map(DurationScalar::Seconds)
                .map_err(E::custom)
        }
    }
    deserializer.deserialize_any(ScalarVisitor)
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match duration_scalar(deserializer)? {
            DurationScalar::Seconds(duration) => Ok(duration),
            DurationScalar::Off | DurationScalar::Unset => Err(de::Error::custom(
                "expected a duration such as `90`, `30m` or `2h`",
            )),
        }
    }
}

/// Stand-in for the off-able duration (`max_duration`, `stop_duration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
pub enum OffOrDuration {
    /// No limit.
    Off,
    /// A limit.
    Seconds(Duration),
}

impl Serialize for OffOrDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Off => serializer.serialize_str("off"),
            Self::Seconds(duration) => duration.serialize(serializer),
        }
    }
}

/// Off-able durations: `true` means "use the default" and reads as unset.
pub(crate) fn deserialize_off_or_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<OffOrDuration>, D::Error> {
    match duration_scalar(deserializer)? {
        DurationScalar::Off => Ok(Some(OffOrDuration::Off)),
        DurationScalar::Unset => Ok(None),
        DurationScalar::Seconds(Duration(seconds)) if seconds < 0 => {
            Err(de::Error::custom("duration cannot be negative"))
        }
        DurationScalar::Seconds(duration) => Ok(Some(OffOrDuration::Seconds(duration))),
    }
}

/// Idle durations: `off`, `false` and any negative number mean "never".
pub(crate) fn deserialize_idle_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    Ok(match duration_scalar(deserializer)? {
        DurationScalar::Off => Some(Duration(-1)),
        DurationScalar::Unset => None,
        DurationScalar::Seconds(duration) => Some(duration),
    })
}

/// Inactivity durations: like off-able ones, but `off` also means "no limit", read as unset.
pub(crate) fn deserialize_inactivity_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    Ok(match deserialize_off_or_duration(deserializer)? {
        Some(OffOrDuration::Seconds(duration)) => Some(duration),
        Some(OffOrDuration::Off) | None => None,
    })
}

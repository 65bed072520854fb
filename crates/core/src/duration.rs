//! Durations in seconds (`90`, `5m`, `2h`) and the off-able variants used by profile fields.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A number of seconds; may be negative only where a field allows it (`-1` means off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct Duration(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error(
        "cannot parse the duration {given:?}: expected seconds or a number with one unit of s, m, h, d or w (e.g. 90, 5m, 2h)"
    )]
    Unparsable { given: String },
    #[error("invalid duration {given}: a duration cannot be negative")]
    Negative { given: String },
    #[error("invalid duration {given}: too large")]
    TooLarge { given: String },
    #[error("invalid duration {given}: expected a duration, not `true`")]
    NotAFlag { given: String },
}

const UNITS: [(char, i64); 5] = [
    ('w', 604_800),
    ('d', 86_400),
    ('h', 3_600),
    ('m', 60),
    ('s', 1),
];

impl Duration {
    pub const fn from_secs(seconds: i64) -> Self {
        Duration(seconds)
    }

    pub const fn as_secs(self) -> i64 {
        self.0
    }

    /// Parses seconds (`90`, `-1`) or a number with a unit (`5m`, `90 m`).
    pub fn parse(given: &str) -> Result<Self, DurationError> {
        let unparsable = || DurationError::Unparsable {
            given: given.to_owned(),
        };
        if let Ok(seconds) = given.parse::<i64>() {
            return Ok(Duration(seconds));
        }
        let mut chars = given.chars();
        let unit = chars.next_back().ok_or_else(unparsable)?;
        let (_, factor) = UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .ok_or_else(unparsable)?;
        let number = chars.as_str().trim_end_matches(' ');
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(unparsable());
        }
        number
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(*factor))
            .map(Duration)
            .ok_or_else(|| DurationError::TooLarge {
                given: given.to_owned(),
            })
    }

    /// Seconds from a float, truncated toward zero as dstack does.
    fn from_f64(value: f64) -> Result<Self, DurationError> {
        if value.is_finite() && value.abs() < 9.0e18 {
            Ok(Duration(value.trunc() as i64))
        } else {
            Err(DurationError::TooLarge {
                given: value.to_string(),
            })
        }
    }

    fn non_negative(self) -> Result<Self, DurationError> {
        if self.0 < 0 {
            Err(DurationError::Negative {
                given: self.0.to_string(),
            })
        } else {
            Ok(self)
        }
    }
}

/// The largest unit that divides the value exactly: 300 is `5m`, 90 is `90s`.
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (unit, factor) = UNITS
            .iter()
            .find(|(_, factor)| self.0 != 0 && self.0 % factor == 0)
            .unwrap_or(&('s', 1));
        write!(f, "{}{unit}", self.0 / factor)
    }
}

/// `max_duration` / `stop_duration`: either turned off or a non-negative duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffOrDuration {
    Off,
    After(Duration),
}

/// `idle_duration` / volume `auto_cleanup_duration`: seconds, where any negative value means off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct IdleDuration(pub Duration);

impl IdleDuration {
    pub const OFF: IdleDuration = IdleDuration(Duration(-1));

    pub fn is_off(self) -> bool {
        self.0.0 < 0
    }
}

/// Dev-environment `inactivity_duration`: a non-negative duration; `off` means no limit (null).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct InactivityDuration(pub Duration);

/// How a duration variant maps the special inputs. `Ok(None)` means "null: use the default".
trait DurationVariant: Sized {
    const EXPECTING: &'static str;
    fn from_flag(flag: bool) -> Option<Self>;
    fn from_off() -> Option<Self>;
    fn from_duration(duration: Duration) -> Result<Self, DurationError>;
}

impl DurationVariant for OffOrDuration {
    const EXPECTING: &'static str = "a duration (seconds, or e.g. 5m, 2h), `off` or a boolean";

    fn from_flag(flag: bool) -> Option<Self> {
        (!flag).then_some(OffOrDuration::Off)
    }

    fn from_off() -> Option<Self> {
        Some(OffOrDuration::Off)
    }

    fn from_duration(duration: Duration) -> Result<Self, DurationError> {
        duration.non_negative().map(OffOrDuration::After)
    }
}

impl DurationVariant for IdleDuration {
    const EXPECTING: &'static str = "a duration (seconds, or e.g. 5m, 2h), -1, `off` or a boolean";

    fn from_flag(flag: bool) -> Option<Self> {
        (!flag).then_some(IdleDuration::OFF)
    }

    fn from_off() -> Option<Self> {
        Some(IdleDuration::OFF)
    }

    fn from_duration(duration: Duration) -> Result<Self, DurationError> {
        Ok(IdleDuration(duration))
    }
}

impl DurationVariant for InactivityDuration {
    const EXPECTING: &'static str = "a duration (seconds, or e.g. 5m, 2h), `off` or a boolean";

    fn from_flag(_: bool) -> Option<Self> {
        None
    }

    fn from_off() -> Option<Self> {
        None
    }

    fn from_duration(duration: Duration) -> Result<Self, DurationError> {
        duration.non_negative().map(InactivityDuration)
    }
}

/// One visitor for all variants; yields `None` for the inputs that mean "use the default".
struct VariantVisitor<T>(PhantomData<T>);

impl<'de, T: DurationVariant> Visitor<'de> for VariantVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(T::from_flag(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        T::from_duration(Duration(v)).map(Some).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        let seconds = i64::try_from(v).map_err(|_| {
            E::custom(DurationError::TooLarge {
                given: v.to_string(),
            })
        })?;
        self.visit_i64(seconds)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        let duration = Duration::from_f64(v).map_err(E::custom)?;
        self.visit_i64(duration.0)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v == "off" {
            return Ok(T::from_off());
        }
        let duration = Duration::parse(v).map_err(E::custom)?;
        self.visit_i64(duration.0)
    }
}

fn deserialize_variant<'de, T: DurationVariant, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    deserializer.deserialize_option(VariantVisitor(PhantomData))
}

/// Implements the field helpers, `Deserialize` (which refuses the "use default" inputs, since
/// a bare value has no default to fall back to) and the schema of a duration variant.
macro_rules! duration_variant {
    ($ty:ident, $name:literal, $schema:tt) => {
        impl $ty {
            /// For `Option<Self>` fields: `#[serde(default, deserialize_with = "...")]`, so that
            /// `true` (and `off` where it means "no limit") become null as in dstack.
            pub fn deserialize_option<'de, D: Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Option<Self>, D::Error> {
                deserialize_variant(deserializer)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserialize_variant(deserializer)?.ok_or_else(|| {
                    de::Error::custom(format!("expected {}", <$ty as DurationVariant>::EXPECTING))
                })
            }
        }

        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

duration_variant!(OffOrDuration, "OffOrDuration", {
    "description": "a duration: seconds or a number with a unit (s, m, h, d, w); `off` or false turns it off",
    "anyOf": [
        { "type": "integer", "minimum": 0 },
        { "type": "string", "pattern": r"^([0-9]+ *[smhdw]?|off)$" },
        { "type": "boolean" }
    ]
});
duration_variant!(IdleDuration, "IdleDuration", {
    "description": "a duration: seconds or a number with a unit (s, m, h, d, w); `off`, false or -1 turn it off",
    "anyOf": [
        { "type": "integer" },
        { "type": "string", "pattern": r"^(-?[0-9]+|[0-9]+ *[smhdw]|off)$" },
        { "type": "boolean" }
    ]
});
duration_variant!(InactivityDuration, "InactivityDuration", {
    "description": "a duration: seconds or a number with a unit (s, m, h, d, w); `off` means no limit",
    "anyOf": [
        { "type": "integer", "minimum": 0 },
        { "type": "string", "pattern": r"^([0-9]+ *[smhdw]?|off)$" },
        { "type": "boolean" }
    ]
});

impl Serialize for OffOrDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            OffOrDuration::Off => serializer.serialize_str("off"),
            OffOrDuration::After(duration) => duration.serialize(serializer),
        }
    }
}

/// `off` or the duration, as the CLI shows profile values.
impl fmt::Display for OffOrDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OffOrDuration::Off => f.write_str("off"),
            OffOrDuration::After(duration) => write!(f, "{duration}"),
        }
    }
}

impl fmt::Display for IdleDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_off() {
            f.write_str("off")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

struct PlainVisitor;

impl Visitor<'_> for PlainVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration: seconds or a number with a unit (s, m, h, d, w)")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        Ok(Duration(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        i64::try_from(v).map(Duration).map_err(|_| {
            E::custom(DurationError::TooLarge {
                given: v.to_string(),
            })
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        Duration::from_f64(v).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        Duration::parse(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PlainVisitor)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "a duration: seconds or a number with a unit (s, m, h, d, w)",
            "anyOf": [
                { "type": "integer" },
                { "type": "string", "pattern": r"^(-?[0-9]+|[0-9]+ *[smhdw])$" }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_seconds_and_units() {
        let cases = [
            ("90", 90),
            ("-1", -1),
            ("30s", 30),
            ("5m", 300),
            ("90 m", 5400),
            ("2h", 7200),
            ("1d", 86_400),
            ("2w", 1_209_600),
        ];
        for (given, seconds) in cases {
            assert_eq!(Duration::parse(given), Ok(Duration(seconds)), "{given}");
        }
    }

    #[test]
    fn rejects_other_shapes() {
        for given in [
            "1h30m",
            "1.5h",
            "5M",
            "h",
            "",
            " 5m",
            "5x",
            "m5",
            "-5m",
            "99999999999999999w",
        ] {
            assert!(Duration::parse(given).is_err(), "{given} should fail");
        }
        assert_eq!(
            Duration::parse("1h30m").map_err(|e| e.to_string()),
            Err("cannot parse the duration \"1h30m\": expected seconds or a number with one unit of s, m, h, d or w (e.g. 90, 5m, 2h)".to_owned())
        );
    }

    #[test]
    fn prints_with_the_largest_exact_unit() {
        let cases = [
            (300, "5m"),
            (90, "90s"),
            (7200, "2h"),
            (0, "0s"),
            (604_800, "1w"),
            (-60, "-1m"),
        ];
        for (seconds, shown) in cases {
            assert_eq!(Duration(seconds).to_string(), shown);
        }
    }

    fn off_able(value: serde_json::Value) -> Result<Option<OffOrDuration>, String> {
        OffOrDuration::deserialize_option(value).map_err(|e| e.to_string())
    }

    #[test]
    fn off_able_duration_inputs() {
        let after = |s| Ok(Some(OffOrDuration::After(Duration(s))));
        assert_eq!(off_able(json!("off")), Ok(Some(OffOrDuration::Off)));
        assert_eq!(off_able(json!(false)), Ok(Some(OffOrDuration::Off)));
        assert_eq!(off_able(json!(true)), Ok(None));
        assert_eq!(off_able(json!(null)), Ok(None));
        assert_eq!(off_able(json!("2h")), after(7200));
        assert_eq!(off_able(json!(90.9)), after(90));
        assert_eq!(off_able(json!(600)), after(600));
        let negative = off_able(json!(-5));
        assert!(
            negative
                .as_ref()
                .is_err_and(|e| e.contains("cannot be negative")),
            "{negative:?}"
        );
        assert_eq!(
            serde_json::to_value(OffOrDuration::Off).ok(),
            Some(json!("off"))
        );
        assert_eq!(
            serde_json::to_value(OffOrDuration::After(Duration(60))).ok(),
            Some(json!(60))
        );
    }

    #[test]
    fn idle_duration_inputs() {
        let idle =
            |v| IdleDuration::deserialize_option(v).map_err(|e: serde_json::Error| e.to_string());
        assert_eq!(idle(json!("off")), Ok(Some(IdleDuration::OFF)));
        assert_eq!(idle(json!(false)), Ok(Some(IdleDuration::OFF)));
        assert_eq!(idle(json!(-1)), Ok(Some(IdleDuration::OFF)));
        assert_eq!(idle(json!("-1")), Ok(Some(IdleDuration::OFF)));
        assert_eq!(idle(json!(-7)), Ok(Some(IdleDuration(Duration(-7)))));
        assert_eq!(idle(json!(true)), Ok(None));
        assert_eq!(idle(json!("5m")), Ok(Some(IdleDuration(Duration(300)))));
        assert!(IdleDuration(Duration(-7)).is_off());
    }

    #[test]
    fn inactivity_duration_inputs() {
        let inactive = |v| {
            InactivityDuration::deserialize_option(v).map_err(|e: serde_json::Error| e.to_string())
        };
        assert_eq!(inactive(json!("off")), Ok(None));
        assert_eq!(inactive(json!(true)), Ok(None));
        assert_eq!(inactive(json!(false)), Ok(None));
        assert_eq!(
            inactive(json!("1h")),
            Ok(Some(InactivityDuration(Duration(3600))))
        );
        assert!(inactive(json!(-1)).is_err());
    }

    #[test]
    fn variants_print_off_or_the_duration() {
        assert_eq!(OffOrDuration::Off.to_string(), "off");
        assert_eq!(OffOrDuration::After(Duration(300)).to_string(), "5m");
        assert_eq!(IdleDuration::OFF.to_string(), "off");
        assert_eq!(IdleDuration(Duration(7200)).to_string(), "2h");
    }

    #[test]
    fn bare_variant_refuses_default_inputs() {
        assert!(serde_json::from_value::<OffOrDuration>(json!(true)).is_err());
        assert_eq!(
            serde_json::from_value::<OffOrDuration>(json!("off")).ok(),
            Some(OffOrDuration::Off)
        );
    }
}

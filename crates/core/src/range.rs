//! Closed ranges with optional ends: `a..b`, `a..`, `..b`, a single value, or `{min, max}`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::memory::Memory;

/// A range of counts (`Range[int]`) or sizes (`Range[Memory]`); a missing end is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Range<T> {
    pub min: Option<T>,
    pub max: Option<T>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RangeError {
    #[error("invalid range {given:?}: both ends are empty, give at least one bound")]
    Empty { given: String },
    #[error("invalid range {given:?}: min {min} is greater than max {max}")]
    Order {
        given: String,
        min: String,
        max: String,
    },
    #[error("invalid range {given:?}: expected a single `..` between min and max")]
    TooManyDots { given: String },
    #[error("invalid range {given:?}: {reason}")]
    Bound { given: String, reason: String },
}

/// A value that can be an end of a [`Range`].
/// Pattern of a whole-number range written as text (`2`, `1..8`, `2..`, `..4`).
pub(crate) const INT_RANGE_PATTERN: &str = r"^ *[0-9]* *(\.\. *[0-9]* *)?$";

pub trait RangeBound: Copy + PartialOrd + fmt::Display + Sized {
    /// Names the bound type in schema names (`Range_int`, `Range_Memory`).
    const NAME: &'static str;
    /// Parses one end of a range written as text.
    fn parse_bound(text: &str) -> Result<Self, String>;
    /// Accepts a YAML/JSON number as a bound.
    fn from_f64(value: f64) -> Result<Self, String>;
    /// The JSON schema of one bound.
    fn bound_schema() -> Schema;
    /// Pattern of a range of this bound written as text (`1..2`, `8GB..`), for schemas.
    const RANGE_PATTERN: &'static str;
}

impl RangeBound for u32 {
    const NAME: &'static str = "int";
    const RANGE_PATTERN: &'static str = INT_RANGE_PATTERN;
    fn parse_bound(text: &str) -> Result<Self, String> {
        text.parse()
            .map_err(|_| format!("{text:?} is not a whole number"))
    }

    fn from_f64(value: f64) -> Result<Self, String> {
        if value.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&value) {
            Ok(value as u32)
        } else {
            Err(format!("{value} is not a whole number"))
        }
    }

    fn bound_schema() -> Schema {
        json_schema!({ "type": "integer", "minimum": 0 })
    }
}

impl RangeBound for Memory {
    const NAME: &'static str = "Memory";
    const RANGE_PATTERN: &'static str =
        r"^ *([0-9.]+ *([mMgGtT][bB])?)? *(\.\. *([0-9.]+ *([mMgGtT][bB])?)? *)?$";
    fn parse_bound(text: &str) -> Result<Self, String> {
        text.parse()
            .map_err(|e: crate::memory::MemoryError| e.to_string())
    }

    fn from_f64(value: f64) -> Result<Self, String> {
        Memory::from_gb(value).map_err(|e| e.to_string())
    }

    fn bound_schema() -> Schema {
        json_schema!({
            "anyOf": [
                { "type": "number", "minimum": 0 },
                { "type": "string", "pattern": crate::memory::MEMORY_PATTERN }
            ]
        })
    }
}

impl<T> Range<T> {
    /// A range with no bounds at all.
    pub const fn unbounded() -> Self {
        Range {
            min: None,
            max: None,
        }
    }

    pub const fn at_least(min: T) -> Self {
        Range {
            min: Some(min),
            max: None,
        }
    }
}

impl<T: RangeBound> Range<T> {
    /// Exactly one value.
    pub fn exactly(value: T) -> Self {
        Range {
            min: Some(value),
            max: Some(value),
        }
    }

    /// Builds a range, refusing `min > max`.
    pub fn new(min: Option<T>, max: Option<T>) -> Result<Self, RangeError> {
        let range = Range { min, max };
        range.check_order(|| range.to_string())?;
        Ok(range)
    }

    fn check_order(&self, given: impl FnOnce() -> String) -> Result<(), RangeError> {
        match (self.min, self.max) {
            (Some(min), Some(max)) if min > max => Err(RangeError::Order {
                given: given(),
                min: min.to_string(),
                max: max.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// Whether `value` lies within the range, ends included.
    pub fn contains(&self, value: T) -> bool {
        self.min.is_none_or(|min| value >= min) && self.max.is_none_or(|max| value <= max)
    }

    /// Parses `a..b`, `a..`, `..b` or a single value; spaces are ignored.
    pub fn parse(given: &str) -> Result<Self, RangeError> {
        let compact: String = given.chars().filter(|c| *c != ' ').collect();
        let bound = |text: &str| -> Result<Option<T>, RangeError> {
            if text.is_empty() {
                return Ok(None);
            }
            T::parse_bound(text)
                .map(Some)
                .map_err(|reason| RangeError::Bound {
                    given: given.to_owned(),
                    reason,
                })
        };
        let range = match compact.split_once("..") {
            None => {
                let value = bound(&compact)?.ok_or_else(|| RangeError::Empty {
                    given: given.to_owned(),
                })?;
                Range::exactly(value)
            }
            Some((_, rest)) if rest.contains("..") => {
                return Err(RangeError::TooManyDots {
                    given: given.to_owned(),
                });
            }
            Some((min, max)) => Range {
                min: bound(min)?,
                max: bound(max)?,
            },
        };
        if range.min.is_none() && range.max.is_none() {
            return Err(RangeError::Empty {
                given: given.to_owned(),
            });
        }
        range.check_order(|| given.to_owned())?;
        Ok(range)
    }
}

impl<T: RangeBound> fmt::Display for Range<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Some(min), Some(max)) if min == max => write!(f, "{min}"),
            (min, max) => {
                if let Some(min) = min {
                    write!(f, "{min}")?;
                }
                f.write_str("..")?;
                if let Some(max) = max {
                    write!(f, "{max}")?;
                }
                Ok(())
            }
        }
    }
}

/// One end in the object form: a number, a string such as `8GB` or `2`, or null.
struct Bound<T>(Option<T>);

struct BoundVisitor<T>(PhantomData<T>);

impl<'de, T: RangeBound> Visitor<'de> for BoundVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a range bound: a number, a string or null")
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

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        T::from_f64(v).map(Some).map_err(E::custom)
    }

    crate::memory::integers_as_f64!();

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        T::parse_bound(v).map(Some).map_err(E::custom)
    }
}

impl<'de, T: RangeBound> Deserialize<'de> for Bound<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_option(BoundVisitor(PhantomData))
            .map(Bound)
    }
}

struct RangeVisitor<T>(PhantomData<T>);

impl<'de, T: RangeBound> Visitor<'de> for RangeVisitor<T> {
    type Value = Range<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a range: a value, a string `min..max`, `min..` or `..max`, or {min, max}")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        T::from_f64(v).map(Range::exactly).map_err(E::custom)
    }

    crate::memory::integers_as_f64!();

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Range::parse(v).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut range = Range::unbounded();
        while let Some(key) = map.next_key::<String>()? {
            let slot = match key.as_str() {
                "min" => &mut range.min,
                "max" => &mut range.max,
                other => return Err(de::Error::unknown_field(other, &["min", "max"])),
            };
            if slot.is_some() {
                return Err(de::Error::custom(format!("duplicate field `{key}`")));
            }
            *slot = map.next_value::<Bound<T>>()?.0;
        }
        range
            .check_order(|| range.to_string())
            .map_err(de::Error::custom)?;
        Ok(range)
    }
}

impl<'de, T: RangeBound> Deserialize<'de> for Range<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RangeVisitor(PhantomData))
    }
}

/// Schema for the three accepted shapes; `schema_name` differs per bound type.
impl<T: RangeBound> JsonSchema for Range<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("Range_{}", T::NAME).into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let bound = T::bound_schema();
        let nullable_bound = json_schema!({ "anyOf": [bound, { "type": "null" }] });
        json_schema!({
            "description": "a range: `min..max`, `min..`, `..max`, a single value, or {min, max}",
            "anyOf": [
                bound,
                { "type": "string", "pattern": T::RANGE_PATTERN },
                {
                    "type": "object",
                    "properties": { "min": nullable_bound, "max": nullable_bound },
                    "additionalProperties": false
                }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gb(v: f64) -> Memory {
        Memory::from_gb(v).unwrap_or_default()
    }

    #[test]
    fn parses_count_ranges() {
        let cases: [(&str, Option<u32>, Option<u32>); 6] = [
            ("1..2", Some(1), Some(2)),
            ("2..", Some(2), None),
            ("..8", None, Some(8)),
            ("4", Some(4), Some(4)),
            (" 1 .. 3 ", Some(1), Some(3)),
            ("3..3", Some(3), Some(3)),
        ];
        for (given, min, max) in cases {
            assert_eq!(
                Range::<u32>::parse(given),
                Ok(Range { min, max }),
                "{given}"
            );
        }
    }

    #[test]
    fn parses_memory_ranges() {
        assert_eq!(
            Range::<Memory>::parse("24GB..80GB"),
            Ok(Range {
                min: Some(gb(24.0)),
                max: Some(gb(80.0))
            })
        );
        assert_eq!(
            Range::<Memory>::parse("512MB.."),
            Ok(Range::at_least(gb(0.5)))
        );
    }

    #[test]
    fn reports_errors_with_the_input() {
        let cases = [
            (
                "..",
                "invalid range \"..\": both ends are empty, give at least one bound",
            ),
            (
                "",
                "invalid range \"\": both ends are empty, give at least one bound",
            ),
            (
                "2..1",
                "invalid range \"2..1\": min 2 is greater than max 1",
            ),
            (
                "64..32",
                "invalid range \"64..32\": min 64 is greater than max 32",
            ),
            (
                "1..2..3",
                "invalid range \"1..2..3\": expected a single `..` between min and max",
            ),
            (
                "a..2",
                "invalid range \"a..2\": \"a\" is not a whole number",
            ),
        ];
        for (given, message) in cases {
            let err = Range::<u32>::parse(given)
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert_eq!(err, Err(message.to_owned()), "{given}");
        }
    }

    #[test]
    fn displays_like_dstack() {
        let cases = [
            (Range::exactly(4u32), "4"),
            (Range::at_least(2), "2.."),
            (
                Range {
                    min: None,
                    max: Some(8),
                },
                "..8",
            ),
            (
                Range {
                    min: Some(1),
                    max: Some(2),
                },
                "1..2",
            ),
        ];
        for (range, shown) in cases {
            assert_eq!(range.to_string(), shown);
        }
        assert_eq!(Range::at_least(gb(8.0)).to_string(), "8GB..");
    }

    #[test]
    fn json_forms() {
        let from_object: Result<Range<Memory>, _> =
            serde_json::from_str(r#"{"min": 8.0, "max": null}"#);
        assert_eq!(from_object.as_ref().ok(), Some(&Range::at_least(gb(8.0))));
        let back = from_object
            .ok()
            .and_then(|r| serde_json::to_string(&r).ok());
        assert_eq!(back.as_deref(), Some(r#"{"min":8.0,"max":null}"#));

        let strings: Result<Range<Memory>, _> =
            serde_json::from_str(r#"{"min":"8GB","max":"1TB"}"#);
        assert_eq!(
            strings.ok(),
            Some(Range {
                min: Some(gb(8.0)),
                max: Some(gb(1024.0))
            })
        );
        let count: Result<Range<u32>, _> = serde_json::from_str(r#"{"min":0,"max":0}"#);
        assert_eq!(count.ok(), Some(Range::exactly(0)));
        let scalar: Result<Range<u32>, _> = serde_json::from_str("3");
        assert_eq!(scalar.ok(), Some(Range::exactly(3)));
        assert!(serde_json::from_str::<Range<u32>>("1.5").is_err());
        assert!(serde_json::from_str::<Range<u32>>(r#"{"min":3,"max":1}"#).is_err());
        assert!(serde_json::from_str::<Range<u32>>(r#"{"min":1,"other":1}"#).is_err());
    }

    #[test]
    fn contains_respects_open_ends() {
        let range = Range {
            min: Some(2u32),
            max: Some(4),
        };
        assert!(range.contains(2) && range.contains(4));
        assert!(!range.contains(1) && !range.contains(5));
        assert!(Range::<u32>::unbounded().contains(u32::MAX));
    }
}

//! Memory sizes in gigabytes, as dstack writes them in configurations and on the wire.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const MIB_PER_GB: f64 = 1024.0;

/// A size in GB (1 GB = 1024 MB), kept as a float because dstack allows `0.5GB` or `512MB`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Memory(f64);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MemoryError {
    #[error(
        "invalid memory size {given:?}: expected a number of GB or a number with an MB, GB or TB suffix"
    )]
    NotANumber { given: String },
    #[error("invalid memory size {given:?}: must be a finite number not below zero")]
    OutOfRange { given: String },
}

impl Memory {
    /// Zero bytes.
    pub const ZERO: Memory = Memory(0.0);

    /// A size in GB; negative, infinite or NaN values are refused.
    pub fn from_gb(gb: f64) -> Result<Self, MemoryError> {
        if gb.is_finite() && gb >= 0.0 {
            Ok(Memory(gb))
        } else {
            Err(MemoryError::OutOfRange {
                given: gb.to_string(),
            })
        }
    }

    /// A size given in MiB, as offers carry it.
    pub fn from_mib(mib: u64) -> Self {
        // Precision loss only above 2^53 MiB, far beyond any real machine.
        Memory(mib as f64 / MIB_PER_GB)
    }

    /// The size in GB.
    pub fn gb(self) -> f64 {
        self.0
    }
}

impl FromStr for Memory {
    type Err = MemoryError;

    fn from_str(given: &str) -> Result<Self, Self::Err> {
        let compact = given.replace(' ', "").to_lowercase();
        let (number, factor) = if let Some(n) = compact.strip_suffix("tb") {
            (n, MIB_PER_GB)
        } else if let Some(n) = compact.strip_suffix("gb") {
            (n, 1.0)
        } else if let Some(n) = compact.strip_suffix("mb") {
            (n, 1.0 / MIB_PER_GB)
        } else {
            (compact.as_str(), 1.0)
        };
        let value: f64 = number.parse().map_err(|_| MemoryError::NotANumber {
            given: given.to_owned(),
        })?;
        Memory::from_gb(value * factor).map_err(|_| MemoryError::OutOfRange {
            given: given.to_owned(),
        })
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}GB", format_general(self.0))
    }
}

/// Formats like C's `%g`: six significant digits, trailing zeros dropped, exponent form for
/// very large or very small values.
pub(crate) fn format_general(value: f64) -> String {
    const PRECISION: i32 = 6;
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let exponent = value.abs().log10().floor() as i32;
    if !(-4..PRECISION).contains(&exponent) {
        let text = format!("{:.*e}", (PRECISION - 1) as usize, value);
        let (mantissa, exp) = text.split_once('e').unwrap_or((text.as_str(), "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim_fraction(mantissa), exp.abs());
    }
    let decimals = (PRECISION - 1 - exponent).max(0) as usize;
    trim_fraction(&format!("{value:.decimals$}")).to_owned()
}

fn trim_fraction(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

impl Serialize for Memory {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

/// Visitor methods that read YAML/JSON integers through the visitor's `visit_f64`.
macro_rules! integers_as_f64 {
    () => {
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.visit_f64(v as f64)
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.visit_f64(v as f64)
        }
    };
}
pub(crate) use integers_as_f64;

struct MemoryVisitor;

impl Visitor<'_> for MemoryVisitor {
    type Value = Memory;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a memory size: a number of GB or a string such as 512MB, 8GB or 1TB")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Memory, E> {
        Memory::from_gb(v).map_err(E::custom)
    }

    crate::memory::integers_as_f64!();

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Memory, E> {
        v.parse().map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Memory {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MemoryVisitor)
    }
}

/// Pattern of the string form, shared with the range schema.
pub(crate) const MEMORY_PATTERN: &str = r"^ *[0-9.]+ *([mMgGtT][bB])? *$";

impl JsonSchema for Memory {
    fn schema_name() -> Cow<'static, str> {
        "Memory".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "memory size: a number of GB, or a string with an MB, GB or TB suffix",
            "anyOf": [
                { "type": "number", "minimum": 0 },
                { "type": "string", "pattern": MEMORY_PATTERN }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        let cases = [
            ("8", 8.0),
            ("8GB", 8.0),
            ("8gb", 8.0),
            (" 8 GB ", 8.0),
            ("512MB", 0.5),
            ("1TB", 1024.0),
            ("0.5GB", 0.5),
            ("1.5tb", 1536.0),
        ];
        for (given, gb) in cases {
            assert_eq!(given.parse::<Memory>().map(Memory::gb), Ok(gb), "{given}");
        }
    }

    #[test]
    fn rejects_bad_sizes() {
        for given in [
            "16GiB", "", "GB", "eight", "-1GB", "1e400", "inf", "NaN", "8 G B x",
        ] {
            assert!(given.parse::<Memory>().is_err(), "{given} should fail");
        }
        let err = "16GiB".parse::<Memory>().unwrap_err().to_string();
        assert!(err.contains("\"16GiB\""), "{err}");
    }

    #[test]
    fn displays_like_printf_g() {
        let cases = [
            (8.0, "8GB"),
            (0.5, "0.5GB"),
            (100.0, "100GB"),
            (251.0, "251GB"),
            (1.0 / 3.0, "0.333333GB"),
            (0.0, "0GB"),
            (1_000_000.0, "1e+06GB"),
            (0.00001, "1e-05GB"),
        ];
        for (gb, shown) in cases {
            assert_eq!(Memory(gb).to_string(), shown);
        }
    }

    #[test]
    fn exponent_form_parses_back() {
        let shown = Memory(2_500_000.0).to_string();
        assert_eq!(shown.parse::<Memory>(), Ok(Memory(2_500_000.0)));
    }

    #[test]
    fn json_is_a_float() {
        assert_eq!(
            serde_json::to_string(&Memory(8.0)).ok().as_deref(),
            Some("8.0")
        );
        let parsed: Result<Memory, _> = serde_json::from_str("\"512MB\"");
        assert_eq!(parsed.ok(), Some(Memory(0.5)));
        let parsed: Result<Memory, _> = serde_json::from_str("16");
        assert_eq!(parsed.ok(), Some(Memory(16.0)));
        assert!(serde_json::from_str::<Memory>("-3").is_err());
    }

    #[test]
    fn mib_converts_to_gb() {
        assert_eq!(Memory::from_mib(102_400), Memory(100.0));
        assert_eq!(Memory::from_mib(512), Memory(0.5));
    }
}

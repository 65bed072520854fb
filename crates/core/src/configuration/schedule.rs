//! `schedule:` (spec §3): one or more crontab lines, in UTC.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::forms::{FormError, Forms, NoObject, impl_deserialize_forms};

/// One crontab line or several; dstack sends back the form it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum CronSpec {
    /// A single line.
    One(String),
    /// Several lines, at least one.
    Many(Vec<String>),
}

/// When a run starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Crontab expressions (`minute hour day-of-month month day-of-week`), in UTC.
    pub cron: CronSpec,
}

/// The bounds of each crontab field, in order.
const CRON_FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
];

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn check_value(text: &str, field: usize, low: u32, high: u32) -> bool {
    let named = match field {
        3 => MONTHS.contains(&text.to_ascii_lowercase().as_str()),
        4 => WEEKDAYS.contains(&text.to_ascii_lowercase().as_str()),
        _ => false,
    };
    named || text.parse::<u32>().is_ok_and(|v| (low..=high).contains(&v))
}

/// Checks one comma-separated item: `*`, `a`, `a-b`, each optionally followed by `/step`.
fn check_item(item: &str, field: usize, low: u32, high: u32) -> bool {
    let (base, step) = match item.split_once('/') {
        Some((base, step)) => (base, Some(step)),
        None => (item, None),
    };
    let step_ok = step.is_none_or(|s| s.parse::<u32>().is_ok_and(|v| v > 0));
    let base_ok = base == "*"
        || match base.split_once('-') {
            Some((from, to)) => {
                check_value(from, field, low, high) && check_value(to, field, low, high)
            }
            None => check_value(base, field, low, high),
        };
    step_ok && base_ok
}

/// Checks a crontab line: five fields of numbers, names, ranges, lists and steps.
pub fn check_crontab(line: &str) -> Result<(), String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() != CRON_FIELDS.len() {
        return Err(format!(
            "invalid cron expression \"{line}\": expected 5 fields, got {}",
            fields.len()
        ));
    }
    for (index, (text, (name, low, high))) in fields.iter().zip(CRON_FIELDS).enumerate() {
        if !text
            .split(',')
            .all(|item| check_item(item, index, low, high))
        {
            return Err(format!(
                "invalid cron expression \"{line}\": bad {name} field `{text}`"
            ));
        }
    }
    Ok(())
}

impl Forms for CronSpec {
    type Object = NoObject;
    const EXPECTING: &'static str = "a crontab line or a list of them";
    const HAS_OBJECT: bool = false;

    fn from_object(object: NoObject) -> Result<Self, String> {
        match object {}
    }

    fn from_str(value: &str) -> Result<Self, FormError> {
        check_crontab(value)?;
        Ok(Self::One(value.to_owned()))
    }

    fn from_seq<'de, A: serde::de::SeqAccess<'de>>(
        mut seq: A,
    ) -> Result<Result<Self, FormError>, A::Error> {
        let mut lines = Vec::new();
        while let Some(line) = seq.next_element::<String>()? {
            if let Err(message) = check_crontab(&line) {
                return Ok(Err(FormError::Invalid(message)));
            }
            lines.push(line);
        }
        if lines.is_empty() {
            return Ok(Err(FormError::Invalid(
                "`cron` must list at least one expression".into(),
            )));
        }
        Ok(Ok(Self::Many(lines)))
    }
}
impl_deserialize_forms!(CronSpec);

impl JsonSchema for CronSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CronSpec".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_crontab_lines() {
        for line in ["0 8 * * *", "*/15 0-6 1,15 jan-mar mon-fri", "5 4 * * sun"] {
            assert_eq!(check_crontab(line), Ok(()), "{line}");
        }
    }

    #[test]
    fn rejects_bad_lines() {
        for line in [
            "0 8 * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "*/0 * * * *",
            "x * * * *",
        ] {
            assert!(check_crontab(line).is_err(), "{line}");
        }
    }

    #[test]
    fn single_or_list_and_never_empty() {
        let one: Schedule = serde_json::from_str(r#"{"cron":"0 8 * * *"}"#).unwrap();
        assert_eq!(one.cron, CronSpec::One("0 8 * * *".into()));
        let many: Schedule = serde_json::from_str(r#"{"cron":["0 8 * * *"]}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&many).unwrap(),
            r#"{"cron":["0 8 * * *"]}"#
        );
        assert!(serde_json::from_str::<Schedule>(r#"{"cron":[]}"#).is_err());
    }
}

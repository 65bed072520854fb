//! `tags:` on runs, fleets, volumes and gateways (spec §2.10).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Tags propagated to cloud resources; keys and values are checked against dstack's rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "BTreeMap<String, String>")]
pub struct Tags(pub BTreeMap<String, String>);

fn key_is_valid(key: &str) -> bool {
    (1..=60).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn value_is_valid(value: &str) -> bool {
    value.len() <= 256
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " .:/=_-+@".contains(c))
}

impl TryFrom<BTreeMap<String, String>> for Tags {
    type Error = String;

    fn try_from(tags: BTreeMap<String, String>) -> Result<Self, String> {
        for (key, value) in &tags {
            if !key_is_valid(key) {
                return Err(format!(
                    "invalid tag key \"{key}\": use 1 to 60 letters, digits, `_` or `-`"
                ));
            }
            if !value_is_valid(value) {
                return Err(format!(
                    "invalid value for tag \"{key}\": use at most 256 letters, digits, spaces or `.:/=_-+@`"
                ));
            }
        }
        Ok(Self(tags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_keys_and_values() {
        let ok: Result<Tags, _> = serde_json::from_str(r#"{"team":"ml-infra","cost":"a/b c"}"#);
        assert_eq!(ok.map(|t| t.0.len()).ok(), Some(2));
        assert!(serde_json::from_str::<Tags>(r#"{"bad key":"x"}"#).is_err());
        assert!(serde_json::from_str::<Tags>(r#"{"k":"a$b"}"#).is_err());
    }
}

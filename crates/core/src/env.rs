//! `env:` of runs and fleets: ordered variables, some of them placeholders filled at apply time.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The value of one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    Value(String),
    /// Named without a value (`- HF_TOKEN`): the CLI fills it from its own environment.
    /// On the wire this is an `EnvSentinel` `{"key": NAME}`.
    Placeholder,
}

/// Variables in the order written; serialised in the mapping form dstack's API uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Env(Vec<(String, EnvValue)>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error(
        "invalid environment variable {given:?}: expected KEY=VALUE or KEY, where KEY is letters, digits and `_` and does not start with a digit"
    )]
    InvalidItem { given: String },
    #[error("duplicate environment variable {given:?}: {key} is already set")]
    Duplicate { given: String, key: String },
    #[error("environment variable {key} has no value here and is not set in the local environment")]
    NotSet { key: String },
}

impl Env {
    pub fn new() -> Self {
        Env::default()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &EnvValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn get(&self, key: &str) -> Option<&EnvValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Names of the variables still waiting for a value.
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.iter()
            .filter(|(_, v)| **v == EnvValue::Placeholder)
            .map(|(k, _)| k)
    }

    /// Sets a variable, replacing an earlier value in place (as `-e` overrides do).
    pub fn set(&mut self, key: impl Into<String>, value: EnvValue) {
        let key = key.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((key, value)),
        }
    }

    /// Gives every placeholder its value from `lookup` (the CLI's own environment).
    pub fn fill_placeholders(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), EnvError> {
        for (key, value) in &mut self.0 {
            if *value == EnvValue::Placeholder {
                let found = lookup(key).ok_or_else(|| EnvError::NotSet { key: key.clone() })?;
                *value = EnvValue::Value(found);
            }
        }
        Ok(())
    }

    /// Adds a variable from the list form, refusing one already present.
    fn push_new(&mut self, item: &str) -> Result<(), EnvError> {
        let (key, value) = parse_item(item)?;
        if self.get(key).is_some() {
            return Err(EnvError::Duplicate {
                given: item.to_owned(),
                key: key.to_owned(),
            });
        }
        self.0.push((key.to_owned(), value));
        Ok(())
    }

    /// Parses the list form: `KEY=VALUE` or `KEY` items.
    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, EnvError> {
        let mut env = Env::new();
        for item in items {
            env.push_new(item)?;
        }
        Ok(env)
    }
}

/// `KEY=VALUE` (split at the first `=`) or a bare `KEY`.
pub fn parse_item(item: &str) -> Result<(&str, EnvValue), EnvError> {
    let (key, value) = match item.split_once('=') {
        Some((key, value)) => (key, EnvValue::Value(value.to_owned())),
        None => (item, EnvValue::Placeholder),
    };
    let mut chars = key.chars();
    let valid_start = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if valid_start && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok((key, value))
    } else {
        Err(EnvError::InvalidItem {
            given: item.to_owned(),
        })
    }
}

impl FromIterator<(String, EnvValue)> for Env {
    fn from_iter<I: IntoIterator<Item = (String, EnvValue)>>(iter: I) -> Self {
        let mut env = Env::new();
        for (key, value) in iter {
            env.set(key, value);
        }
        env
    }
}

/// The wire form of a placeholder.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvSentinel {
    key: String,
}

impl Serialize for Env {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            match value {
                EnvValue::Value(text) => map.serialize_entry(key, text)?,
                EnvValue::Placeholder => {
                    map.serialize_entry(key, &EnvSentinel { key: key.clone() })?
                }
            }
        }
        map.end()
    }
}

/// A value of the mapping form: strings and numbers (as text) or an `EnvSentinel`.
struct MapValue(EnvValue);

impl<'de> Deserialize<'de> for MapValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapValueVisitor;

        impl<'de> Visitor<'de> for MapValueVisitor {
            type Value = MapValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number (booleans and null are not allowed)")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<MapValue, E> {
                Ok(MapValue(EnvValue::Value(v.to_owned())))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<MapValue, E> {
                self.visit_str(&v.to_string())
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MapValue, E> {
                self.visit_str(&v.to_string())
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<MapValue, E> {
                self.visit_str(&v.to_string())
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MapValue, A::Error> {
                EnvSentinel::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(MapValue(EnvValue::Placeholder))
            }
        }

        deserializer.deserialize_any(MapValueVisitor)
    }
}

struct EnvVisitor;

impl<'de> Visitor<'de> for EnvVisitor {
    type Value = Env;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of KEY=VALUE or KEY items, or a mapping of names to values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Env, A::Error> {
        let mut env = Env::new();
        while let Some(item) = seq.next_element::<Cow<'de, str>>()? {
            env.push_new(&item).map_err(de::Error::custom)?;
        }
        Ok(env)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Env, A::Error> {
        let mut env = Env::new();
        while let Some(key) = map.next_key::<String>()? {
            let MapValue(value) = map.next_value()?;
            if env.get(&key).is_some() {
                return Err(de::Error::custom(format!(
                    "duplicate environment variable {key}"
                )));
            }
            env.0.push((key, value));
        }
        Ok(env)
    }
}

impl<'de> Deserialize<'de> for Env {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EnvVisitor)
    }
}

impl JsonSchema for Env {
    fn schema_name() -> Cow<'static, str> {
        "Env".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "environment variables: a list of KEY=VALUE or KEY items, or a mapping",
            "anyOf": [
                {
                    "type": "array",
                    "items": { "type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*(=.*)?$" }
                },
                {
                    "type": "object",
                    "additionalProperties": {
                        "anyOf": [
                            { "type": "string" },
                            { "type": "number" },
                            {
                                "type": "object",
                                "properties": { "key": { "type": "string" } },
                                "required": ["key"],
                                "additionalProperties": false
                            }
                        ]
                    }
                }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value(text: &str) -> EnvValue {
        EnvValue::Value(text.to_owned())
    }

    #[test]
    fn list_form_keeps_order_and_placeholders() {
        let env = serde_json::from_value::<Env>(json!(["B=1", "A=x=y", "HF_TOKEN", "EMPTY="]));
        let env = env.unwrap_or_default();
        let items: Vec<_> = env.iter().collect();
        assert_eq!(
            items,
            [
                ("B", &value("1")),
                ("A", &value("x=y")),
                ("HF_TOKEN", &EnvValue::Placeholder),
                ("EMPTY", &value("")),
            ]
        );
        assert_eq!(env.placeholders().collect::<Vec<_>>(), ["HF_TOKEN"]);
    }

    #[test]
    fn list_form_errors() {
        let cases = [
            (
                json!(["A=1", "A=2"]),
                "duplicate environment variable \"A=2\": A is already set",
            ),
            (json!(["1A=x"]), "invalid environment variable \"1A=x\""),
            (json!(["A-B=x"]), "invalid environment variable \"A-B=x\""),
            (json!(["=x"]), "invalid environment variable \"=x\""),
        ];
        for (given, message) in cases {
            let err = serde_json::from_value::<Env>(given).map_err(|e| e.to_string());
            assert!(
                err.as_ref().is_err_and(|e| e.starts_with(message)),
                "{err:?}"
            );
        }
    }

    #[test]
    fn mapping_form_coerces_numbers_and_refuses_bools() {
        let env = serde_json::from_value::<Env>(json!({"PORT": 8080, "RATE": 0.5, "NAME": "x"}));
        let env = env.unwrap_or_default();
        assert_eq!(env.get("PORT"), Some(&value("8080")));
        assert_eq!(env.get("RATE"), Some(&value("0.5")));
        assert_eq!(env.get("NAME"), Some(&value("x")));
        for bad in [
            json!({"A": true}),
            json!({"A": null}),
            json!({"A": {"key": "A", "x": 1}}),
        ] {
            assert!(serde_json::from_value::<Env>(bad).is_err());
        }
    }

    #[test]
    fn wire_form_round_trips_with_sentinels() {
        let wire = json!({"A": "1", "TOKEN": {"key": "TOKEN"}});
        let env = serde_json::from_value::<Env>(wire.clone()).unwrap_or_default();
        assert_eq!(env.get("TOKEN"), Some(&EnvValue::Placeholder));
        assert_eq!(serde_json::to_value(&env).ok(), Some(wire));
        assert_eq!(
            serde_json::to_string(&Env::new()).ok().as_deref(),
            Some("{}")
        );
    }

    #[test]
    fn placeholders_are_filled_from_the_lookup() {
        let mut env = Env::from_items(["A=1", "TOKEN"]).unwrap_or_default();
        let filled = env.fill_placeholders(|k| (k == "TOKEN").then(|| "secret".to_owned()));
        assert_eq!(filled, Ok(()));
        assert_eq!(env.get("TOKEN"), Some(&value("secret")));
        let mut missing = Env::from_items(["HF_TOKEN"]).unwrap_or_default();
        assert_eq!(
            missing.fill_placeholders(|_| None),
            Err(EnvError::NotSet {
                key: "HF_TOKEN".into()
            })
        );
    }

    #[test]
    fn set_overrides_in_place() {
        let mut env = Env::from_items(["A=1", "B=2"]).unwrap_or_default();
        env.set("A", value("3"));
        env.set("C", EnvValue::Placeholder);
        let keys: Vec<_> = env.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["A", "B", "C"]);
        assert_eq!(env.get("A"), Some(&value("3")));
    }
}

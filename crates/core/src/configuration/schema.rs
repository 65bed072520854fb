//! A JSON schema of configuration files, for editors.

use super::any::AnyConfiguration;

/// The JSON schema of every configuration type, as a JSON value.
pub fn configuration_json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(AnyConfiguration);
    schema.to_value()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::TYPE_NAMES;

    #[test]
    fn lists_every_type() {
        let schema = configuration_json_schema();
        let text = serde_json::to_string(&schema).unwrap();
        let reparsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(reparsed, schema);
        let variants = schema["anyOf"].as_array().map_or(0, Vec::len);
        assert_eq!(variants, TYPE_NAMES.len());
        for name in TYPE_NAMES {
            assert!(
                text.contains(&format!("\"{name}\"")),
                "{name} missing from the schema"
            );
        }
    }
}

//! The JSON Schema kept in the repository for editors must match the configuration types.
//! Regenerate it with `UPDATE_SCHEMA=1 cargo test -p dstack-core --test schema_file`.

use std::path::PathBuf;

use dstack_core::configuration::configuration_json_schema;

fn schema_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/configuration.schema.json")
}

#[test]
fn schema_file_matches_the_configuration_types() {
    let generated = serde_json::to_string_pretty(&configuration_json_schema()).unwrap() + "\n";
    let path = schema_file();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == generated,
        "{} is out of date: run `UPDATE_SCHEMA=1 cargo test -p dstack-core --test schema_file`",
        path.display()
    );
}

fn examples() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path.display().to_string(), text)
        })
        .collect();
    files.sort();
    files
}

fn yaml_to_json(yaml: &str) -> serde_json::Value {
    serde_saphyr::from_str(yaml).unwrap()
}

/// An editor checking files with the schema accepts what `dstack apply` accepts.
#[test]
fn examples_validate_against_the_schema() {
    let validator = jsonschema::validator_for(&configuration_json_schema()).unwrap();
    let examples = examples();
    assert!(
        examples.len() >= 8,
        "expected the example set, found {examples:?}"
    );
    for (path, yaml) in examples {
        let errors: Vec<String> = validator
            .iter_errors(&yaml_to_json(&yaml))
            .map(|error| error.to_string())
            .collect();
        assert!(errors.is_empty(), "{path}: {errors:?}");
    }
}

#[test]
fn schema_rejects_unknown_fields_and_wrong_types() {
    let validator = jsonschema::validator_for(&configuration_json_schema()).unwrap();
    for invalid in [
        "type: task\ncommands: [echo]\nresourcez: {}\n",
        "type: task\ncommands: echo\n",
        "type: tusk\ncommands: [echo]\n",
        "type: fleet\nnodes: many\n",
    ] {
        assert!(
            !validator.is_valid(&yaml_to_json(invalid)),
            "schema accepted {invalid:?}"
        );
    }
}

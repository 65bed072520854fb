//! The hand-written schemas fit together into one JSON Schema of a configuration.

use dstack_core::duration::{IdleDuration, OffOrDuration};
use dstack_core::env::Env;
use dstack_core::mounts::MountPoint;
use dstack_core::ports::PortMapping;
use dstack_core::resources::ResourcesSpec;
use schemars::JsonSchema;
use serde_json::Value;

#[allow(dead_code)]
#[derive(JsonSchema)]
struct Conf {
    resources: Option<ResourcesSpec>,
    env: Env,
    ports: Vec<PortMapping>,
    volumes: Vec<MountPoint>,
    max_duration: Option<OffOrDuration>,
    idle_duration: Option<IdleDuration>,
}

fn schema() -> Value {
    serde_json::to_value(schemars::schema_for!(Conf)).unwrap_or_default()
}

/// The types accepted by a definition: its own `type` and those of its `anyOf` branches.
fn accepted_types(definition: &Value) -> Vec<String> {
    let own = definition.get("type").into_iter();
    let branches = definition["anyOf"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("type"));
    own.chain(branches)
        .flat_map(|t| match t {
            Value::Array(types) => types.clone(),
            other => vec![other.clone()],
        })
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn shorthand_forms_are_in_the_schema() {
    let schema = schema();
    let defs = &schema["$defs"];
    let expectations: [(&str, &[&str]); 9] = [
        ("Range_int", &["integer", "string", "object"]),
        ("Range_Memory", &["string", "object"]),
        ("Memory", &["number", "string"]),
        ("CpuSpec", &["integer", "string", "object"]),
        ("GpuSpec", &["integer", "string", "object"]),
        ("DiskSpec", &["object"]),
        ("Env", &["array", "object"]),
        ("PortMapping", &["integer", "string", "object"]),
        ("OffOrDuration", &["integer", "string", "boolean"]),
    ];
    for (name, types) in expectations {
        let accepted = accepted_types(&defs[name]);
        for t in types {
            assert!(
                accepted.iter().any(|a| a == t),
                "{name} lacks {t}: {accepted:?}"
            );
        }
    }
    let resources = &defs["ResourcesSpec"]["properties"];
    for field in ["cpu", "memory", "shm_size", "gpu", "disk"] {
        assert!(
            resources.get(field).is_some(),
            "ResourcesSpec.{field} missing"
        );
    }
    assert_eq!(
        defs["ResourcesSpec"]["additionalProperties"],
        Value::Bool(false)
    );
}

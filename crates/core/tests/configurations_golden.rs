//! Every `configuration` and `profile` object in the recorded dstack 0.22.5 API traffic
//! deserializes; those the server sent serialize back to exactly the same JSON.

use dstack_core::configuration::{AnyConfiguration, AnyRunConfiguration, Profile};
use serde_json::Value;

const TRAFFIC: &str = include_str!("fixtures/api-traffic-0.22.5.jsonl");

/// Where an object was found, for failure messages.
struct Found {
    origin: String,
    from_server: bool,
    value: Value,
}

fn collect(value: &Value, key: &str, origin: &str, from_server: bool, out: &mut Vec<Found>) {
    match value {
        Value::Object(map) => {
            for (name, child) in map {
                if name == key && child.is_object() {
                    out.push(Found {
                        origin: origin.to_owned(),
                        from_server,
                        value: child.clone(),
                    });
                }
                collect(child, key, origin, from_server, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect(item, key, origin, from_server, out);
            }
        }
        _ => {}
    }
}

fn objects_named(key: &str) -> Vec<Found> {
    let mut found = Vec::new();
    for (number, line) in TRAFFIC.lines().enumerate() {
        let exchange: Value = serde_json::from_str(line).expect("fixture lines are JSON");
        let path = exchange["path"].as_str().unwrap_or_default();
        for (body, from_server) in [("req_body", false), ("resp_body", true)] {
            let Some(text) = exchange[body].as_str() else {
                continue;
            };
            let Ok(parsed) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            let origin = format!("line {} {path} {body}", number + 1);
            collect(&parsed, key, &origin, from_server, &mut found);
        }
    }
    found
}

#[test]
fn configurations_deserialize_and_responses_round_trip() {
    let found = objects_named("configuration");
    assert!(
        found.len() >= 10,
        "expected many configurations, found {}",
        found.len()
    );
    let mut round_trips = 0;
    for Found {
        origin,
        from_server,
        value,
    } in found
    {
        let configuration: AnyConfiguration = serde_json::from_value(value.clone())
            .unwrap_or_else(|error| panic!("{origin}: {error}\n{value}"));
        if from_server {
            let written = serde_json::to_value(&configuration).unwrap();
            assert_eq!(written, value, "{origin}: serialized JSON differs");
            round_trips += 1;
        }
    }
    assert!(
        round_trips >= 4,
        "expected several server responses, got {round_trips}"
    );
}

#[test]
fn run_configurations_deserialize_as_run_configurations() {
    let runs: Vec<Found> = objects_named("run_spec")
        .into_iter()
        .filter_map(|found| {
            let configuration = found.value.get("configuration")?.clone();
            Some(Found {
                value: configuration,
                ..found
            })
        })
        .collect();
    assert!(!runs.is_empty());
    for Found { origin, value, .. } in runs {
        let run: AnyRunConfiguration = serde_json::from_value(value.clone())
            .unwrap_or_else(|error| panic!("{origin}: {error}"));
        assert_eq!(Some(run.type_name()), value["type"].as_str(), "{origin}");
    }
}

#[test]
fn profiles_deserialize_and_responses_round_trip() {
    let found = objects_named("profile");
    assert!(!found.is_empty());
    for Found {
        origin,
        from_server,
        value,
    } in found
    {
        let profile: Profile = serde_json::from_value(value.clone())
            .unwrap_or_else(|error| panic!("{origin}: {error}\n{value}"));
        if from_server {
            assert_eq!(serde_json::to_value(&profile).unwrap(), value, "{origin}");
        }
    }
}

#[test]
fn unknown_fields_are_rejected_in_json_too() {
    let mut task = serde_json::json!({"type": "task", "commands": ["echo"]});
    assert!(serde_json::from_value::<AnyConfiguration>(task.clone()).is_ok());
    task["bogus"] = Value::Bool(true);
    let error = serde_json::from_value::<AnyConfiguration>(task).unwrap_err();
    assert!(
        error.to_string().contains("unknown field `bogus`"),
        "{error}"
    );
}

//! Values recorded from dstack 0.22.5 deserialize and serialise back to the same JSON.

use std::collections::BTreeMap;

use dstack_core::backend::BackendType;
use dstack_core::duration::{IdleDuration, InactivityDuration, OffOrDuration};
use dstack_core::env::Env;
use dstack_core::mounts::MountPoint;
use dstack_core::offers::{InstanceOfferWithAvailability, InstanceType, Requirements};
use dstack_core::ports::PortMapping;
use dstack_core::resources::ResourcesSpec;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

const TRAFFIC: &str = include_str!("fixtures/api-traffic-0.22.5.jsonl");

/// Every JSON body of the recorded traffic.
fn bodies() -> Vec<Value> {
    let mut out = Vec::new();
    for line in TRAFFIC.lines() {
        let exchange: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
        for field in ["req_body", "resp_body"] {
            if let Some(Ok(body)) = exchange[field].as_str().map(serde_json::from_str::<Value>) {
                out.push(body);
            }
        }
    }
    out
}

/// Collects `(parent key, key) -> values` for every object member in the tree.
fn collect<'a>(
    value: &'a Value,
    parent: &str,
    found: &mut BTreeMap<(String, String), Vec<&'a Value>>,
) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                found
                    .entry((parent.to_owned(), key.clone()))
                    .or_default()
                    .push(child);
                collect(child, key, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect(item, parent, found)),
        _ => {}
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(value: &Value) -> Result<Value, String> {
    let typed: T = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(typed).map_err(|e| e.to_string())
}

/// Round-trips each recorded value of one field with its type; returns how many were checked.
fn check<T: DeserializeOwned + Serialize>(
    found: &BTreeMap<(String, String), Vec<&Value>>,
    parents: &[&str],
    key: &str,
) -> usize {
    let mut checked = 0;
    for parent in parents {
        for value in found
            .get(&(parent.to_string(), key.to_owned()))
            .into_iter()
            .flatten()
        {
            assert_eq!(
                round_trip::<T>(value).as_ref(),
                Ok(*value),
                "{parent}.{key}"
            );
            checked += 1;
        }
    }
    checked
}

/// Same for list-valued fields, item by item.
fn check_items<T: DeserializeOwned + Serialize>(
    found: &BTreeMap<(String, String), Vec<&Value>>,
    parents: &[&str],
    key: &str,
) -> usize {
    let values = parents.iter().flat_map(|p| {
        found
            .get(&(p.to_string(), key.to_owned()))
            .into_iter()
            .flatten()
    });
    let items: Vec<Value> = values
        .filter_map(|v| v.as_array())
        .flatten()
        .cloned()
        .collect();
    for item in &items {
        assert_eq!(round_trip::<T>(item).as_ref(), Ok(item), "{key} item");
    }
    items.len()
}

#[test]
fn recorded_values_round_trip() {
    let bodies = bodies();
    let mut found = BTreeMap::new();
    for body in &bodies {
        collect(body, "", &mut found);
    }
    let config = &["configuration"];
    let job_spec = &["job_spec"];
    let profiles = &["configuration", "profile", "job_spec"];

    let resources =
        check::<Option<ResourcesSpec>>(&found, &["configuration", "requirements"], "resources");
    assert!(resources > 50, "only {resources} resources specs");
    assert!(check::<Requirements>(&found, job_spec, "requirements") > 10);
    assert!(check::<InstanceType>(&found, &["instances"], "instance_type") > 0);
    assert!(check::<Env>(&found, &["configuration", "job_spec"], "env") > 50);
    check_items::<PortMapping>(&found, config, "ports");
    check_items::<MountPoint>(&found, &["configuration", "job_spec"], "volumes");
    check_items::<InstanceOfferWithAvailability>(&found, &["job_plans", ""], "offers");
    check_items::<BackendType>(&found, &["configuration", "profile", ""], "backends");
    assert!(check::<Option<OffOrDuration>>(&found, profiles, "max_duration") > 50);
    assert!(check::<Option<OffOrDuration>>(&found, profiles, "stop_duration") > 50);
    assert!(check::<Option<IdleDuration>>(&found, profiles, "idle_duration") > 50);
    check::<Option<InactivityDuration>>(&found, config, "inactivity_duration");
}

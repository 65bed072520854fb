//! Whatever text it is given, `parse_configuration` answers with a value or an error and never
//! panics.

use dstack_core::configuration::parse_configuration;
use proptest::prelude::*;
use serde_json::{Map, Value};

const TYPES: &[&str] = &[
    "task",
    "service",
    "dev-environment",
    "fleet",
    "volume",
    "gateway",
    "preset",
];

/// Keys the configurations know, so generated documents reach deep into the structs.
const KEYS: &[&str] = &[
    "type",
    "name",
    "commands",
    "image",
    "python",
    "resources",
    "gpu",
    "cpu",
    "memory",
    "disk",
    "nodes",
    "groups",
    "replicas",
    "scaling",
    "port",
    "ports",
    "env",
    "volumes",
    "repos",
    "files",
    "retry",
    "on_events",
    "duration",
    "max_duration",
    "idle_duration",
    "schedule",
    "cron",
    "fleets",
    "instances",
    "tags",
    "backend",
    "region",
    "size",
    "ssh_config",
    "hosts",
    "hostname",
    "network",
    "internal_ip",
    "model",
    "format",
    "probes",
    "url",
    "method",
    "body",
    "rate_limits",
    "prefix",
    "rps",
    "key",
    "gateway",
    "https",
    "certificate",
    "arn",
    "blocks",
    "min",
    "max",
    "target",
    "utilization_policy",
    "time_window",
    "backend_options",
    "max_price",
    "spot_policy",
    "metric",
    "ide",
    "version",
    "entrypoint",
    "working_dir",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        prop::sample::select(TYPES).prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::String),
        prop::sample::select(
            &[
                "1..",
                "..8",
                "2..4",
                "A100:80GB:2",
                "5m",
                "off",
                "auto",
                "8000",
                "a:b"
            ][..]
        )
        .prop_map(Value::from),
    ]
}

fn document() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|entries| {
                let map: Map<String, Value> = entries
                    .into_iter()
                    .map(|(key, value)| (key.to_owned(), value))
                    .collect();
                Value::Object(map)
            }),
        ]
    })
}

/// Writes a value in YAML block style, to exercise more of the parser than flow style.
fn block_yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                out.push_str(&format!("{pad}{key}:"));
                write_child(child, indent, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&format!("{pad}-"));
                write_child(item, indent, out);
            }
        }
        other => out.push_str(&format!("{pad}{other}\n")),
    }
}

fn write_child(child: &Value, indent: usize, out: &mut String) {
    match child {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            block_yaml(child, indent + 2, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            block_yaml(child, indent + 2, out);
        }
        other => out.push_str(&format!(" {other}\n")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_configuration("fuzz.yml", &text);
    }

    #[test]
    fn arbitrary_yaml_lines_never_panic(lines in prop::collection::vec("[ -~]{0,30}", 0..8)) {
        let _ = parse_configuration("fuzz.yml", &lines.join("\n"));
    }

    #[test]
    fn arbitrary_documents_never_panic(
        kind in prop::sample::select(TYPES),
        body in document(),
    ) {
        let mut document = match body {
            Value::Object(map) => map,
            other => Map::from_iter([("commands".to_owned(), other)]),
        };
        document.insert("type".to_owned(), Value::from(kind));
        let value = Value::Object(document);
        let flow = value.to_string();
        let _ = parse_configuration("fuzz.yml", &flow);
        let mut block = String::new();
        block_yaml(&value, 0, &mut block);
        let _ = parse_configuration("fuzz.yml", &block);
        let _ = serde_json::from_value::<dstack_core::configuration::AnyConfiguration>(value);
    }
}

//! Valid configurations of every shape are accepted, and parse to the JSON dstack sends.

use dstack_core::configuration::{AnyConfiguration, parse_configuration};
use serde_json::{Value, json};

fn parse(yaml: &str) -> AnyConfiguration {
    parse_configuration("ok.dstack.yml", yaml).unwrap_or_else(|error| panic!("{error}"))
}

fn json_of(yaml: &str) -> Value {
    serde_json::to_value(parse(yaml)).unwrap()
}

fn error_of(yaml: &str) -> String {
    match parse_configuration("bad.dstack.yml", yaml) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn service_shorthands_become_dstack_objects() {
    let service = json_of(
        "type: service\nport: 8000\ncommands: [serve]\nmodel: org/model\nhttps: auto\n\
         gateway: main/gw\nreplicas: 0..2\nscaling: {metric: rps, target: 5}\n",
    );
    assert_eq!(
        service["port"],
        json!({"local_port": 80, "container_port": 8000})
    );
    assert_eq!(
        service["model"],
        json!({"type": "chat", "name": "org/model", "format": "openai", "prefix": "/v1"})
    );
    assert_eq!(service["https"], json!("auto"));
    assert_eq!(service["gateway"], json!("main/gw"));
    assert_eq!(service["replicas"], json!({"min": 0, "max": 2}));
    assert_eq!(
        service["scaling"],
        json!({"metric": "rps", "target": 5.0, "window": null,
               "scale_up_delay": 300, "scale_down_delay": 600})
    );
    assert_eq!(service["strip_prefix"], json!(true));
    assert_eq!(service["auth"], json!(true));
    let mapped = json_of("type: service\nport: \"8080:80\"\nimage: nginx\n");
    assert_eq!(
        mapped["port"],
        json!({"local_port": 8080, "container_port": 80})
    );
}

#[test]
fn service_replica_groups() {
    let yaml = "type: service\nport: 8000\nimage: lmsysorg/sglang\ngroups:\n\
                - name: router\n  replicas: 1\n  commands: [route]\n  router: {type: sglang}\n\
                - name: workers\n  count: 1..3\n  scaling: {metric: rps, target: 2}\n  commands: [work]\n";
    let service = json_of(yaml);
    assert_eq!(service["groups"][0]["router"], json!({"type": "smg"}));
    assert_eq!(
        service["groups"][1]["replicas"],
        json!({"min": 1, "max": 3})
    );

    let two_images = "type: service\nport: 8000\nimage: a\ngroups:\n- replicas: 1\n  image: b\n";
    assert_eq!(
        error_of(two_images),
        "bad.dstack.yml:6:10: groups[0].image: `image` is set both on the service and on a replica group, set it in one place"
    );
    let router_scaled = "type: service\nport: 8000\nimage: a\ngroups:\n\
                         - replicas: 2\n  router: {type: dynamo}\n";
    assert_eq!(
        error_of(router_scaled),
        "bad.dstack.yml:5:13: groups[0].replicas: a replica group with a `router` must have `replicas: 1`"
    );
}

#[test]
fn task_node_groups() {
    let yaml = "type: task\nimage: pytorch/pytorch\ngroups:\n- name: master\n  nodes: 1\n\
                - nodes: 3\n  commands: [worker]\n  ports: [8080]\n";
    let task = json_of(yaml);
    assert_eq!(task["groups"][0]["nodes"], json!(1));
    assert_eq!(task["groups"][1]["name"], Value::Null);
    assert_eq!(task["nodes"], Value::Null);
    assert_eq!(
        error_of("type: task\ngroups:\n- nodes: 1\n"),
        "bad.dstack.yml:3:3: groups[0].commands: each node group needs `commands` unless the task sets `image`"
    );
    assert_eq!(
        error_of("type: task\nnodes: 2\ngroups:\n- commands: [a]\n"),
        "bad.dstack.yml:4:3: groups: `nodes` and `groups` are mutually exclusive fields"
    );
}

#[test]
fn fleets_cloud_and_ssh() {
    let cloud = json_of("type: fleet\nnodes: {min: 1, target: 2, max: 4}\nblocks: auto\n");
    assert_eq!(cloud["nodes"], json!({"min": 1, "target": 2, "max": 4}));
    assert_eq!(cloud["blocks"], json!("auto"));
    let ranged = json_of("type: fleet\nnodes: ..3\n");
    assert_eq!(ranged["nodes"], json!({"min": 0, "max": 3}));

    let ssh = json_of(
        "type: fleet\nssh_config:\n  user: ubuntu\n  hosts:\n  - hostname: 10.0.0.1\n    internal_ip: 10.1.0.1\n\
         \x20 - hostname: 10.0.0.2\n    internal_ip: 10.1.0.2\n",
    );
    assert_eq!(
        ssh["ssh_config"]["hosts"][1]["internal_ip"],
        json!("10.1.0.2")
    );
    assert_eq!(ssh["nodes"], Value::Null);
    assert_eq!(
        error_of(
            "type: fleet\nssh_config:\n  hosts:\n  - hostname: a\n    internal_ip: 10.1.0.1\n  - b\n"
        ),
        "bad.dstack.yml:4:5: ssh_config.hosts: internal_ip must be specified for all hosts or for none"
    );
    assert_eq!(
        error_of("type: fleet\nssh_config:\n  hosts: [a]\n  network: 8.8.8.0/24\n"),
        "bad.dstack.yml:4:12: ssh_config.network: \"8.8.8.0\" is not a private IPv4 address"
    );
}

#[test]
fn volumes_per_backend() {
    let kubernetes = json_of("type: volume\nbackend: kubernetes\nclaim_name: data\n");
    assert_eq!(kubernetes["access_modes"], json!(["ReadWriteOnce"]));
    assert_eq!(kubernetes["region"], json!(""));
    let runpod =
        json_of("type: volume\nbackend: runpod\nregion: EU-RO-1\nsize: 50\navailability_zone: x\n");
    assert!(runpod.get("availability_zone").is_none(), "{runpod}");
    assert_eq!(runpod["size"], json!(50.0));
    assert_eq!(
        error_of(
            "type: volume\nbackend: aws\nregion: r\nvolume_id: vol-1\nauto_cleanup_duration: 1d\n"
        ),
        "bad.dstack.yml:5:24: auto_cleanup_duration: an external volume cannot have a positive `auto_cleanup_duration`"
    );
    assert_eq!(
        error_of("type: volume\nregion: r\n"),
        "bad.dstack.yml:1:1: backend: missing field `backend`, expected one of `aws`, `gcp`, `runpod`, `kubernetes`, `daytona`, `lium`"
    );
}

#[test]
fn gateways_and_certificates() {
    let gateway = json_of("type: gateway\nbackend: aws\nregion: us-east-1\n");
    assert_eq!(gateway["certificate"], json!({"type": "lets-encrypt"}));
    assert_eq!(gateway["public_ip"], json!(true));
    let acm = json_of(
        "type: gateway\nbackend: aws\nregion: us-east-1\npublic_ip: false\nload_balancer: {type: alb}\n\
         certificate: {type: acm, arn: \"arn:aws:acm:x\"}\nreplicas: 2\n",
    );
    assert_eq!(
        acm["certificate"],
        json!({"type": "acm", "arn": "arn:aws:acm:x"})
    );
    let none = json_of("type: gateway\nbackend: gcp\nregion: r\ncertificate: null\n");
    assert_eq!(none["certificate"], Value::Null);
    let error = error_of(
        "type: gateway\nbackend: aws\nregion: r\ncertificate: {type: acm, arn: a, x: 1}\n",
    );
    assert!(
        error.contains("certificate") && error.contains("unknown field `x`"),
        "{error}"
    );
}

#[test]
fn dev_environments_and_profile_parameters() {
    let dev = json_of(
        "type: dev-environment\nide: cursor\npython: 3.10\ninactivity_duration: off\n\
         max_duration: off\nstop_duration: 10m\nidle_duration: off\nretry: true\n\
         instances: [node-1, {hostname: 10.0.0.5}]\nfleets: [my-fleet, {project: p, name: f}]\n\
         schedule: {cron: ['0 8 * * mon-fri']}\nbackend_options: [{type: vastai, min_score: 3}]\n",
    );
    assert_eq!(dev["python"], json!("3.10"));
    assert_eq!(dev["inactivity_duration"], Value::Null);
    assert_eq!(dev["max_duration"], json!("off"));
    assert_eq!(dev["stop_duration"], json!(600));
    assert_eq!(dev["idle_duration"], json!(-1));
    assert_eq!(dev["retry"], json!(true));
    assert_eq!(
        dev["instances"],
        json!([{"name": "node-1"}, {"hostname": "10.0.0.5"}])
    );
    assert_eq!(
        dev["fleets"],
        json!(["my-fleet", {"project": "p", "name": "f"}])
    );
    assert_eq!(dev["home_dir"], json!("/root"));
    let error = error_of("type: task\ncommands: [a]\nrate_limits: []\n");
    assert!(error.contains("unknown field `rate_limits`"), "{error}");
}

/// The keys dstack 0.22.5's models serialize, as listed in `api-models-0.22.5.md`.
fn keys_of(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn sorted(keys: &[&str]) -> Vec<String> {
    let mut keys: Vec<String> = keys.iter().map(|key| (*key).to_owned()).collect();
    keys.sort();
    keys
}

#[test]
fn every_wire_field_is_written() {
    let volume_common = ["type", "backend", "name", "auto_cleanup_duration", "tags"];
    let cases: [(&str, Vec<&str>); 5] = [
        (
            "type: gateway\nbackend: aws\nregion: r\n",
            vec![
                "type",
                "name",
                "default",
                "backend",
                "region",
                "instance_type",
                "domain",
                "public_ip",
                "load_balancer",
                "certificate",
                "replicas",
                "tags",
            ],
        ),
        (
            "type: volume\nbackend: gcp\nregion: r\nsize: 10\n",
            [
                &volume_common[..],
                &["size", "volume_id", "region", "availability_zone"],
            ]
            .concat(),
        ),
        (
            "type: volume\nbackend: kubernetes\nsize: 10\n",
            [
                &volume_common[..],
                &[
                    "size",
                    "region",
                    "claim_name",
                    "storage_class_name",
                    "access_modes",
                    "read_only",
                ],
            ]
            .concat(),
        ),
        (
            "type: volume\nbackend: lium\nvolume_id: v\n",
            [&volume_common[..], &["volume_id"]].concat(),
        ),
        (
            "type: fleet\nnodes: 1\n",
            vec![
                "type",
                "name",
                "placement",
                "blocks",
                "nodes",
                "reservation",
                "resources",
                "backends",
                "regions",
                "availability_zones",
                "instance_types",
                "spot_policy",
                "retry",
                "max_price",
                "idle_duration",
                "tags",
                "backend_options",
                "ssh_config",
                "env",
            ],
        ),
    ];
    for (yaml, expected) in cases {
        assert_eq!(keys_of(&json_of(yaml)), sorted(&expected), "{yaml}");
    }
}

//! The value grammars read from YAML the way the project reads configuration files: through
//! serde-saphyr and serde_path_to_error, so errors carry a field path and a line.

use dstack_core::duration::{Duration, IdleDuration, InactivityDuration, OffOrDuration};
use dstack_core::env::{Env, EnvValue};
use dstack_core::memory::Memory;
use dstack_core::mounts::MountPoint;
use dstack_core::ports::PortMapping;
use dstack_core::range::Range;
use dstack_core::resources::{CpuArch, GpuVendor, ResourcesSpec};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Parses YAML like the configuration loader; an error reads `path: message`.
fn parse_yaml<T: DeserializeOwned>(src: &str) -> Result<T, String> {
    let mut path = String::new();
    serde_saphyr::with_deserializer_from_str(src, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    })
    .map_err(|e| format!("{path}: {e}"))
}

/// A stand-in for a run configuration holding every value type.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Conf {
    #[serde(default)]
    resources: Option<ResourcesSpec>,
    #[serde(default)]
    env: Env,
    #[serde(default)]
    ports: Vec<PortMapping>,
    #[serde(default)]
    volumes: Vec<MountPoint>,
    #[serde(default, deserialize_with = "OffOrDuration::deserialize_option")]
    max_duration: Option<OffOrDuration>,
    #[serde(default, deserialize_with = "IdleDuration::deserialize_option")]
    idle_duration: Option<IdleDuration>,
    #[serde(default, deserialize_with = "InactivityDuration::deserialize_option")]
    inactivity_duration: Option<InactivityDuration>,
}

fn conf(src: &str) -> Conf {
    parse_yaml(src).unwrap_or_else(|e| panic!("{src}\n{e}"))
}

fn gb(v: f64) -> Memory {
    Memory::from_gb(v).unwrap_or_default()
}

#[test]
fn resources_shorthands() {
    let resources = conf(
        "resources:\n  cpu: arm:8..\n  memory: 16GB..\n  shm_size: 512MB\n  gpu: A100:80GB:2\n  disk: 200GB\n",
    )
    .resources
    .unwrap_or_default();
    assert_eq!(resources.cpu.arch, Some(CpuArch::Arm));
    assert_eq!(resources.cpu.count, Range::at_least(8));
    assert_eq!(resources.memory, Range::at_least(gb(16.0)));
    assert_eq!(resources.shm_size, Some(gb(0.5)));
    let gpu = resources.gpu.unwrap_or_else(|| panic!("gpu missing"));
    assert_eq!(gpu.name, Some(vec!["A100".to_owned()]));
    assert_eq!(
        (gpu.count, gpu.memory),
        (Range::exactly(2), Some(Range::exactly(gb(80.0))))
    );
    assert_eq!(
        resources.disk.map(|d| d.size),
        Some(Range::exactly(gb(200.0)))
    );
}

#[test]
fn resources_numbers_and_objects() {
    let resources = conf(
        "resources:\n  cpu: 4\n  memory: 8\n  gpu:\n    vendor: AMD\n    name: [MI300X]\n    compute_capability: 7.5\n",
    )
    .resources
    .unwrap_or_default();
    assert_eq!(resources.cpu.count, Range::exactly(4));
    assert_eq!(resources.memory, Range::exactly(gb(8.0)));
    let gpu = resources.gpu.unwrap_or_else(|| panic!("gpu missing"));
    assert_eq!(gpu.vendor, Some(GpuVendor::Amd));
    assert_eq!(gpu.count, Range::at_least(1));
    assert_eq!(
        gpu.compute_capability.map(|c| c.to_string()).as_deref(),
        Some("7.5")
    );
}

#[test]
fn errors_name_the_field_and_the_input() {
    let cases = [
        (
            "resources:\n  gpu: H100:8:1..\n",
            "resources.gpu",
            "the count is given twice",
        ),
        (
            "resources:\n  cpu: amd64:4\n",
            "resources.cpu",
            "invalid cpu architecture in \"amd64:4\"",
        ),
        (
            "resources:\n  memory: 64GB..32GB\n",
            "resources.memory",
            "min 64GB is greater than max 32GB",
        ),
        (
            "resources:\n  memory: 16GiB\n",
            "resources.memory",
            "\"16GiB\"",
        ),
        (
            "resources:\n  ram: 8GB\n",
            "resources.ram",
            "unknown field `ram`",
        ),
        (
            "max_duration: 1h30m\n",
            "max_duration",
            "cannot parse the duration \"1h30m\"",
        ),
        ("max_duration: -5\n", "max_duration", "cannot be negative"),
        (
            "env:\n  - A=1\n  - A=2\n",
            "env",
            "duplicate environment variable \"A=2\"",
        ),
        (
            "env:\n  A: true\n",
            "env.A",
            "booleans and null are not allowed",
        ),
        ("ports:\n  - 70000\n", "ports[0]", "invalid port 70000"),
        (
            "volumes:\n  - data:/data:ro\n",
            "volumes[0]",
            "invalid mount point \"data:/data:ro\"",
        ),
        (
            "volumes:\n  - data:rel\n",
            "volumes[0]",
            "the path must be absolute",
        ),
    ];
    for (src, path, message) in cases {
        let err = parse_yaml::<Conf>(src)
            .map(|_| ())
            .err()
            .unwrap_or_default();
        assert!(err.starts_with(&format!("{path}: ")), "{src}\n{err}");
        assert!(err.contains(message), "{src}\n{err}");
    }
}

#[test]
fn errors_carry_the_yaml_line() {
    let err = parse_yaml::<Conf>("env: []\nresources:\n  gpu: A100::2\n")
        .err()
        .unwrap_or_default();
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn durations_accept_off_as_string_and_bool() {
    let cases = [
        ("max_duration: off\n", Some(OffOrDuration::Off)),
        ("max_duration: \"off\"\n", Some(OffOrDuration::Off)),
        ("max_duration: false\n", Some(OffOrDuration::Off)),
        ("max_duration: true\n", None),
        ("max_duration: null\n", None),
        (
            "max_duration: 2h\n",
            Some(OffOrDuration::After(Duration::from_secs(7200))),
        ),
        (
            "max_duration: 90 m\n",
            Some(OffOrDuration::After(Duration::from_secs(5400))),
        ),
        (
            "max_duration: 300\n",
            Some(OffOrDuration::After(Duration::from_secs(300))),
        ),
    ];
    for (src, expected) in cases {
        assert_eq!(conf(src).max_duration, expected, "{src}");
    }
    assert_eq!(
        conf("idle_duration: off\n").idle_duration,
        Some(IdleDuration::OFF)
    );
    assert_eq!(
        conf("idle_duration: -1\n").idle_duration,
        Some(IdleDuration::OFF)
    );
    assert_eq!(
        conf("idle_duration: 1d\n")
            .idle_duration
            .map(|d| d.0.as_secs()),
        Some(86_400)
    );
    assert_eq!(conf("inactivity_duration: off\n").inactivity_duration, None);
    assert_eq!(
        conf("inactivity_duration: 30m\n").inactivity_duration,
        Some(InactivityDuration(Duration::from_secs(1800)))
    );
}

#[test]
fn env_both_forms() {
    let listed = conf("env:\n  - A=1\n  - HF_TOKEN\n").env;
    assert_eq!(listed.get("A"), Some(&EnvValue::Value("1".into())));
    assert_eq!(listed.get("HF_TOKEN"), Some(&EnvValue::Placeholder));
    let mapped = conf("env:\n  PORT: 8080\n  NAME: x\n").env;
    let keys: Vec<_> = mapped.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["PORT", "NAME"]);
    assert_eq!(mapped.get("PORT"), Some(&EnvValue::Value("8080".into())));
}

#[test]
fn ports_and_volumes() {
    let parsed = conf(
        "ports:\n  - 8080\n  - \"80:8080\"\n  - \"*:9000\"\n  - container_port: 22\nvolumes:\n  - data:/data\n  - /mnt/x:/x\n  - instance_path: /mnt/y\n    path: /y\n    optional: true\n  - name: [a, b]\n    path: /z\n",
    );
    let ports: Vec<_> = parsed.ports.iter().map(ToString::to_string).collect();
    assert_eq!(ports, ["8080:8080", "80:8080", "*:9000", "*:22"]);
    let volumes: Vec<_> = parsed.volumes.iter().map(ToString::to_string).collect();
    assert_eq!(volumes, ["data:/data", "/mnt/x:/x", "/mnt/y:/y", "a,b:/z"]);
    assert!(matches!(&parsed.volumes[2], MountPoint::Instance(m) if m.optional));
}

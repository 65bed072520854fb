//! Invalid configurations and the exact error each one gets: file, line, column, field path
//! and message.

use dstack_core::configuration::parse_configuration;

/// (case, YAML, expected error).
const CASES: &[(&str, &str, &str)] = &[
    (
        "invalid yaml",
        "type: task\ncommands: [echo\n",
        "c.dstack.yml:2:11: invalid YAML: unclosed bracket '['",
    ),
    (
        "not a mapping",
        "- a\n- b\n",
        "c.dstack.yml:1:1: a configuration must be a mapping with a `type` field: invalid type, expected a mapping",
    ),
    (
        "missing type",
        "name: x\ncommands: [echo]\n",
        "c.dstack.yml:1:1: missing field `type`, expected one of `dev-environment`, `task`, `service`, `fleet`, `volume`, `gateway`",
    ),
    (
        "unknown type",
        "type: taskx\n",
        "c.dstack.yml:1:7: type: unknown configuration type `taskx`, expected one of `dev-environment`, `task`, `service`, `fleet`, `volume`, `gateway`",
    ),
    (
        "unknown field nested",
        "type: task\ncommands: [echo]\nretry:\n  on_events: [error]\n  attempts: 3\n",
        "c.dstack.yml:5:3: retry.attempts: unknown field `attempts`, expected one of on_events, duration",
    ),
    (
        "wrong type list",
        "type: task\ncommands: echo hi\n",
        "c.dstack.yml:2:11: commands: invalid type, expected a list",
    ),
    (
        "wrong type bool",
        "type: task\ncommands: [echo]\nprivileged: maybe\n",
        "c.dstack.yml:3:13: privileged: invalid boolean",
    ),
    (
        "gpu count twice",
        "type: task\ncommands: [echo]\nresources:\n  gpu: H100:8:1..\n",
        "c.dstack.yml:4:8: resources.gpu: invalid gpu spec \"H100:8:1..\": the count is given twice",
    ),
    (
        "range order",
        "type: task\ncommands: [echo]\nresources:\n  cpu: 64..32\n",
        "c.dstack.yml:4:8: resources.cpu: invalid cpu count in \"64..32\": invalid range \"64..32\": min 64 is greater than max 32",
    ),
    (
        "duration",
        "type: task\ncommands: [echo]\nmax_duration: 1h30m\n",
        "c.dstack.yml:3:15: max_duration: cannot parse the duration \"1h30m\": expected seconds or a number with one unit of s, m, h, d or w (e.g. 90, 5m, 2h)",
    ),
    (
        "commands or image",
        "type: task\nname: hello\n",
        "c.dstack.yml:1:1: commands: either `commands` or `image` must be set",
    ),
    (
        "nodes zero",
        "type: task\ncommands: [echo]\nnodes: 0\n",
        "c.dstack.yml:3:8: nodes: must be at least 1",
    ),
    (
        "groups and commands",
        "type: task\ncommands: [echo]\ngroups:\n  - commands: [a]\n",
        "c.dstack.yml:2:11: commands: top-level `commands` is not allowed when `groups` is set, specify `commands` in each node group instead",
    ),
    (
        "duplicate group",
        "type: task\ngroups:\n  - name: a\n    commands: [x]\n  - name: a\n    commands: [y]\n",
        "c.dstack.yml:5:11: groups[1].name: duplicate group name \"a\"",
    ),
    (
        "missing port",
        "type: service\ncommands: [serve]\n",
        "c.dstack.yml:2:1: missing field `port`",
    ),
    (
        "replicas without scaling",
        "type: service\nport: 8000\ncommands: [serve]\nreplicas: 1..4\n",
        "c.dstack.yml:4:11: replicas: when `replicas` is a range, `scaling` must be set",
    ),
    (
        "scaling without range",
        "type: service\nport: 8000\ncommands: [serve]\nscaling:\n  metric: rps\n  target: 10\n",
        "c.dstack.yml:5:3: scaling: to use `scaling`, `replicas` must be a range",
    ),
    (
        "replicas no max",
        "type: service\nport: 8000\ncommands: [serve]\nreplicas: 1..\nscaling: {metric: rps, target: 1}\n",
        "c.dstack.yml:4:11: replicas: the maximum number of replicas is required",
    ),
    (
        "bad port",
        "type: service\nport: 70000\ncommands: [serve]\n",
        "c.dstack.yml:2:7: port: invalid port \"70000\", expected a number from 1 to 65535 or `local:container`",
    ),
    (
        "image and python",
        "type: task\nimage: ubuntu\npython: \"3.12\"\ncommands: [echo]\n",
        "c.dstack.yml:3:9: python: `image` and `python` are mutually exclusive fields",
    ),
    (
        "relative working dir",
        "type: task\ncommands: [echo]\nworking_dir: src\n",
        "c.dstack.yml:3:14: working_dir: working_dir must be absolute, got \"src\"",
    ),
    (
        "dev entrypoint",
        "type: dev-environment\nide: vscode\nentrypoint: bash\n",
        "c.dstack.yml:3:13: entrypoint: entrypoint is not supported for dev-environment",
    ),
    (
        "version without ide",
        "type: dev-environment\nversion: 1.90.0\n",
        "c.dstack.yml:2:10: version: `version` requires `ide` to be set",
    ),
    (
        "bad ide",
        "type: dev-environment\nide: emacs\n",
        "c.dstack.yml:2:6: ide: unknown variant `emacs`, expected one of vscode, cursor, windsurf, zed",
    ),
    (
        "fleet neither",
        "type: fleet\nname: my-fleet\n",
        "c.dstack.yml:1:1: nodes: no `ssh_config` or `nodes` specified, a fleet needs one of them",
    ),
    (
        "fleet both",
        "type: fleet\nnodes: 2\nssh_config:\n  hosts: [10.0.0.1]\n",
        "c.dstack.yml:4:3: ssh_config: `ssh_config` and `nodes` are mutually exclusive",
    ),
    (
        "fleet nodes order",
        "type: fleet\nnodes: 4..2\n",
        "c.dstack.yml:2:8: nodes: max 2 must not be less than min 4",
    ),
    (
        "ssh fleet with resources",
        "type: fleet\nresources:\n  gpu: 1\nssh_config:\n  hosts: [10.0.0.1]\n",
        "c.dstack.yml:3:3: resources: SSH fleet configuration does not support the following fields: resources",
    ),
    (
        "cloud fleet env",
        "type: fleet\nnodes: 1\nenv: [A=1]\n",
        "c.dstack.yml:3:6: env: `env` is currently supported for SSH fleets only",
    ),
    (
        "volume backend",
        "type: volume\nbackend: azure\nregion: x\n",
        "c.dstack.yml:2:10: backend: unknown volume backend `azure`, expected one of `aws`, `gcp`, `runpod`, `kubernetes`, `daytona`, `lium`",
    ),
    (
        "volume no size",
        "type: volume\nbackend: aws\nregion: eu-west-1\n",
        "c.dstack.yml:1:1: volume_id: volume must specify either an existing identifier or `size`",
    ),
    (
        "gateway certificate",
        "type: gateway\nbackend: gcp\nregion: us-east1\ncertificate:\n  type: acm\n  arn: x\n",
        "c.dstack.yml:5:3: certificate: an ACM certificate needs `backend: aws`",
    ),
    (
        "gateway replicas",
        "type: gateway\nbackend: aws\nregion: us-east-1\nreplicas: 12\n",
        "c.dstack.yml:4:11: replicas: must be between 1 and 9, got 12",
    ),
    (
        "bad name",
        "type: task\nname: My_Run\ncommands: [echo]\n",
        "c.dstack.yml:2:7: name: invalid name \"My_Run\": use 2 to 41 lower-case letters, digits or `-`, starting with a letter",
    ),
    (
        "retry empty events",
        "type: task\ncommands: [echo]\nretry:\n  on_events: []\n",
        "c.dstack.yml:4:3: retry: `on_events` cannot be empty",
    ),
    (
        "utilization window",
        "type: task\ncommands: [echo]\nutilization_policy:\n  min_gpu_utilization: 10\n  time_window: 1m\n",
        "c.dstack.yml:5:16: utilization_policy.time_window: must be at least 5m (300s), got 60s",
    ),
    (
        "cron",
        "type: task\ncommands: [echo]\nschedule:\n  cron: \"0 25 * * *\"\n",
        "c.dstack.yml:4:9: schedule.cron: invalid cron expression \"0 25 * * *\": bad hour field `25`",
    ),
    (
        "bad spot policy",
        "type: task\ncommands: [echo]\nspot_policy: sometimes\n",
        "c.dstack.yml:3:14: spot_policy: unknown variant `sometimes`, expected one of spot, on-demand, auto",
    ),
    (
        "max price",
        "type: task\ncommands: [echo]\nmax_price: 0\n",
        "c.dstack.yml:3:12: max_price: must be greater than 0, got 0",
    ),
    (
        "two repos",
        "type: task\ncommands: [echo]\nrepos: [\".:/a\", \"..:/b\"]\n",
        "c.dstack.yml:3:8: repos: a maximum of one repo is currently supported",
    ),
    (
        "env duplicate",
        "type: task\ncommands: [echo]\nenv: [A=1, A=2]\n",
        "c.dstack.yml:3:6: env: duplicate environment variable \"A=2\": A is already set",
    ),
    (
        "mount format",
        "type: task\ncommands: [echo]\nvolumes: [\"data:/data:ro\"]\n",
        "c.dstack.yml:3:11: volumes[0]: invalid mount point \"data:/data:ro\": expected SOURCE:PATH with exactly one `:`",
    ),
    (
        "rate limit prefix",
        "type: service\nport: 80\ncommands: [x]\nrate_limits:\n  - prefix: api\n    rps: 1\n",
        "c.dstack.yml:5:13: rate_limits[0].prefix: invalid prefix \"api\": must start with `/` and have no spaces, `\\`, `{` or `}`",
    ),
    (
        "probe body get",
        "type: service\nport: 80\ncommands: [x]\nprobes:\n  - type: http\n    body: hi\n",
        "c.dstack.yml:6:11: probes[0].body: a body is not allowed with the `get` or `head` method",
    ),
    (
        "https false no gateway",
        "type: service\nport: 80\ncommands: [x]\ngateway: false\nhttps: false\n",
        "c.dstack.yml:5:8: https: setting `https: false` is not allowed without a gateway",
    ),
    (
        "entity reference",
        "type: task\ncommands: [echo]\nfleets: [\"a/b/c\"]\n",
        "c.dstack.yml:3:10: fleets[0]: invalid entity reference, only `<name>` or `<project>/<name>` formats are allowed: \"a/b/c\"",
    ),
    (
        "env reference in commands",
        "type: task\ncommands:\n  - echo ok\n  - echo ${{ env.USER }}\n",
        "c.dstack.yml:4:5: commands[1]: `${{ env.USER }}` cannot be used in `commands`, only `run.*`, `secrets.*` and group IP addresses can",
    ),
    (
        "group address in env",
        "type: task\ncommands: [a]\nenv:\n  MASTER: ${{ groups[0].nodes[0].IP_ADDRESS }}\n",
        "c.dstack.yml:4:11: env.MASTER: groups IP references are only supported in commands, not in `env`",
    ),
    (
        "unclosed reference",
        "type: service\nport: 80\ncommands: [\"echo ${{ run.args\"]\n",
        "c.dstack.yml:3:12: commands[0]: no closing `}}` for the reference in \"echo ${{ run.args\"",
    ),
    (
        "type not a string",
        "type: [task]\ncommands: [a]\n",
        "c.dstack.yml:1:7: type: invalid type, expected a single value",
    ),
    (
        "legacy replica list",
        "type: service\nport: 80\nimage: x\nreplicas:\n  - count: 1\n",
        "c.dstack.yml:5:3: replicas: a list of replica groups belongs under `groups`, `replicas` takes a count or a range",
    ),
    (
        "scheduled service scaling to zero",
        "type: service\nport: 80\nimage: x\nreplicas: 0..2\nscaling: {metric: rps, target: 1}\nschedule: {cron: \"0 8 * * *\"}\n",
        "c.dstack.yml:4:11: replicas: a scheduled service cannot scale to zero, set a minimum of 1 or more replicas",
    ),
    (
        "https value",
        "type: service\nport: 80\ncommands: [x]\nhttps: maybe\n",
        "c.dstack.yml:4:1: https: invalid type: string \"maybe\", expected `true`, `false` or `auto`",
    ),
    (
        "blocks value",
        "type: fleet\nnodes: 1\nblocks: {count: 2}\n",
        "c.dstack.yml:3:9: blocks: invalid type: map, expected a number of blocks or `auto`",
    ),
    (
        "cron mapping",
        "type: task\ncommands: [a]\nschedule:\n  cron: {at: 8}\n",
        "c.dstack.yml:4:9: schedule.cron: invalid type: map, expected a crontab line or a list of them",
    ),
    (
        "unknown gpu vendor",
        "type: task\ncommands: [echo]\nresources:\n  gpu:\n    vendor: acme\n",
        "c.dstack.yml:5:13: resources.gpu.vendor: unknown gpu vendor \"acme\": expected nvidia, amd, google (tpu), intel or tenstorrent (tt)",
    ),
];

#[test]
fn each_invalid_configuration_gets_its_error() {
    assert!(CASES.len() >= 20);
    let mut failures = Vec::new();
    for (case, yaml, expected) in CASES {
        match parse_configuration("c.dstack.yml", yaml) {
            Ok(_) => failures.push(format!("{case}: accepted")),
            Err(error) if error.to_string() != *expected => {
                failures.push(format!(
                    "{case}:\n  expected {expected}\n  got      {error}"
                ));
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unknown_fields_name_the_field_and_list_the_allowed_ones() {
    let error = parse_configuration("task.dstack.yml", "type: task\ncommands: [echo]\nfoo: 1\n")
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("task.dstack.yml:3:1: foo: unknown field `foo`, expected one of nodes, groups, ports, commands, type, name, image,"),
        "{text}"
    );
    for allowed in [
        "resources",
        "max_duration",
        "backend_options",
        "spot_policy",
    ] {
        assert!(text.contains(allowed), "{allowed} not listed: {text}");
    }
}

#[test]
fn profiles_files_parse_and_report_errors_with_locations() {
    use dstack_core::configuration::parse_profiles;

    let text = "profiles:\n  - name: cheap\n    default: true\n    spot_policy: auto\n    max_price: 1.5\n";
    let profiles = parse_profiles("profiles.yml", text).unwrap();
    assert_eq!(
        profiles.default_profile().map(|p| p.name.as_str()),
        Some("cheap")
    );
    assert!(
        parse_profiles("profiles.yml", "")
            .unwrap()
            .profiles
            .is_empty()
    );

    let negative = "profiles:\n  - name: a\n    max_price: -1\n";
    assert_eq!(
        parse_profiles("profiles.yml", negative)
            .unwrap_err()
            .to_string(),
        "profiles.yml:3:16: profiles[0].max_price: must be greater than 0, got -1"
    );
    let unknown = "profiles:\n  - name: a\n    gpu: 1\n";
    let error = parse_profiles("profiles.yml", unknown)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("profiles.yml:3:5: profiles[0].gpu: unknown field `gpu`"),
        "{error}"
    );
}

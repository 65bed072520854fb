//! The runner's parsers on recorded real inputs (see fixtures/README.md).

use dstack_runner::metrics::cgroup::{CgroupSample, CgroupV1Files, CgroupV2Files};
use dstack_runner::metrics::cgroup_location::{find_v1_mount, find_v2_mount, v1_path, v2_path};
use dstack_runner::metrics::gpu::{GpuMetrics, parse_nvidia_smi_metrics};
use dstack_runner::user::home::{HomeState, effective_home};
use dstack_runner::user::{JobUser, UserDb, UserError, UserSpec};

const MOUNTS: &str = include_str!("fixtures/cgroup/gvisor-hybrid/proc-self-mounts");
const PROC_CGROUP: &str = include_str!("fixtures/cgroup/gvisor-hybrid/proc-self-cgroup");

#[test]
fn hybrid_host_cgroup_locations() {
    assert_eq!(
        find_v2_mount(MOUNTS),
        Ok("/sys/fs/cgroup/unified".to_owned())
    );
    assert_eq!(
        find_v1_mount(MOUNTS, "memory"),
        Ok("/sys/fs/cgroup/memory".to_owned())
    );
    assert_eq!(
        find_v1_mount(MOUNTS, "cpuacct"),
        Ok("/sys/fs/cgroup/cpuacct".to_owned())
    );
    assert_eq!(v2_path(PROC_CGROUP), Some("/"));
    assert_eq!(
        v1_path(PROC_CGROUP, "memory"),
        Some("/process_api/66d41726317699cc92119302084c5431")
    );
    assert_eq!(v1_path(PROC_CGROUP, "cpuacct"), Some("/"));
}

#[test]
fn v1_sample_from_recorded_files() {
    let files = CgroupV1Files {
        cpuacct_usage: include_str!("fixtures/cgroup/gvisor-hybrid/v1/cpuacct.usage"),
        memory_usage_in_bytes: include_str!(
            "fixtures/cgroup/gvisor-hybrid/v1/memory.usage_in_bytes"
        ),
        memory_stat: include_str!("fixtures/cgroup/gvisor-hybrid/v1/memory.stat"),
        memory_limit_in_bytes: include_str!(
            "fixtures/cgroup/gvisor-hybrid/v1/memory.limit_in_bytes"
        ),
    };
    assert_eq!(
        files.sample(),
        Ok(CgroupSample {
            cpu_usage_micro: 132_702_266,
            memory_usage_bytes: 13_905_920,
            memory_working_set_bytes: 13_905_920 - 7_409_664,
            memory_limit_bytes: None,
        })
    );
}

#[test]
fn v2_cpu_usage_from_recorded_cpu_stat() {
    // The sandbox's v2 mount has no memory controller: the memory files are constructed.
    let files = CgroupV2Files {
        cpu_stat: include_str!("fixtures/cgroup/gvisor-hybrid/v2/cpu.stat"),
        memory_current: "4096\n",
        memory_stat: "inactive_file 1024\n",
        memory_max: "max\n",
    };
    assert_eq!(
        files.sample().map(|sample| sample.cpu_usage_micro),
        Ok(125_006_822)
    );
}

#[test]
fn h100_idle_gpu_metrics() {
    let output = include_str!("fixtures/nvidia-smi/h100-80gb-hbm3/query-metrics.csv");
    assert_eq!(
        parse_nvidia_smi_metrics(output),
        Ok(vec![GpuMetrics {
            gpu_memory_usage_bytes: 0,
            gpu_util_percent: 0
        }])
    );
}

fn debian_users() -> UserDb {
    UserDb::from_contents(
        include_str!("fixtures/etc/debian-12/passwd"),
        include_str!("fixtures/etc/debian-12/group"),
    )
}

fn resolve(spec: &str) -> Result<JobUser, UserError> {
    let spec: UserSpec = spec.parse().unwrap_or_default();
    debian_users().resolve(&spec)
}

#[test]
fn debian_files_have_no_malformed_lines() {
    let users = debian_users();
    assert_eq!(
        (
            users.passwd.malformed_lines.len(),
            users.group.malformed_lines.len()
        ),
        (0, 0)
    );
    assert_eq!(
        (users.passwd.entries.len(), users.group.entries.len()),
        (24, 47)
    );
}

#[test]
fn debian_user_with_a_supplementary_group() {
    assert_eq!(
        resolve("postgres"),
        Ok(JobUser {
            uid: 101,
            gid: 104,
            groups: vec![103, 104],
            username: Some("postgres".to_owned()),
            home: Some("/var/lib/postgresql".to_owned()),
            shell: Some("/bin/bash".to_owned()),
        })
    );
}

#[test]
fn debian_user_with_a_group_by_name() {
    let user = resolve("cloudsdk:users");
    assert_eq!(
        user.as_ref()
            .map(|user| (user.uid, user.gid, user.groups.clone())),
        Ok((1000, 100, vec![100]))
    );
    assert_eq!(user, resolve("1000:100"));
}

#[test]
fn debian_system_account_home_falls_back_to_root() {
    let nobody = resolve("nobody");
    let home = nobody.as_ref().ok().and_then(|user| user.home.as_deref());
    assert_eq!(home, Some("/nonexistent"));
    assert_eq!(effective_home(home, HomeState::Missing), "/");
}

#[test]
fn debian_unknown_user_and_uid() {
    assert_eq!(
        resolve("alice").map_err(|error| error.to_string()),
        Err(r#"user "alice" does not exist in the image"#.to_owned())
    );
    assert_eq!(
        resolve("4242").map(|user| (user.uid, user.gid, user.username)),
        Ok((4242, 0, None))
    );
}

//! The Docker container a task asks for: [`container_body`] turns a task and the shim's
//! settings into Docker's create body, with no I/O, so every choice is unit-tested.

use std::collections::HashMap;
use std::path::PathBuf;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, DeviceMapping,
    DeviceRequest, HostConfig, Mount, MountType, PortBinding, PortMap, ResourcesUlimits,
};
use dstack_agents::shim::{GpuVendor, NetworkMode, PortMapping, TaskSubmitRequest};

use super::command::{RUNNER_PATH_IN_CONTAINER, RUNNER_TEMP_DIR, RunnerLaunch, container_command};
use super::{TASK_ID_LABEL, TASK_LABEL, TaskContainer};

/// Where network volumes are mounted on the host, one directory per volume name.
pub const VOLUMES_ROOT: &str = "/mnt/disks/dstack-volumes";

/// Capabilities the NVIDIA runtime gives a container, so CUDA, NVML, graphics and video
/// libraries all work.
const NVIDIA_CAPABILITIES: [&str; 7] = [
    "gpu", "utility", "compute", "graphics", "video", "display", "compat32",
];

/// What every container of this shim shares: decided once at startup.
#[derive(Debug, Clone)]
pub struct ContainerDefaults {
    pub runner_binary_path: PathBuf,
    pub launch: RunnerLaunch,
    /// `--privileged`: every container privileged.
    pub privileged: bool,
    /// `NAME=value` pairs copied from the shim's environment (`--pass-env`, `PJRT_DEVICE`).
    pub env: Vec<String>,
    pub gpu_vendor: GpuVendor,
    /// Whether the host has `/dev/infiniband` (InfiniBand or AWS EFA) to pass through.
    pub infiniband: bool,
}

/// One task's share: its configuration, the GPUs it holds, and its runner dir on the host.
#[derive(Debug, Clone, Copy)]
pub struct ContainerRequest<'a> {
    pub config: &'a TaskSubmitRequest,
    pub gpu_ids: &'a [String],
    pub runner_dir: &'a std::path::Path,
    /// Whether NVIDIA GPUs get the `display` capability. Hosts without the
    /// `nvidia-modeset` device cannot start containers that ask for it.
    pub nvidia_display: bool,
}

/// Docker's create body for a task.
pub fn container_body(
    defaults: &ContainerDefaults,
    request: ContainerRequest<'_>,
) -> ContainerCreateBody {
    let config = request.config;
    let host_network = config.network_mode == NetworkMode::Host;
    let runner_ports = [defaults.launch.http_port, defaults.launch.ssh_port];
    let mut host = HostConfig {
        network_mode: Some(config.network_mode.as_str().to_owned()),
        port_bindings: Some(loopback_bindings(&runner_ports)),
        privileged: Some(config.privileged || defaults.privileged),
        mounts: Some(mounts(defaults, request)),
        ..Default::default()
    };
    if config.cpu > 0.0 {
        // Docker takes CPUs in billionths.
        host.nano_cpus = Some((config.cpu * 1e9).round() as i64);
    }
    if config.memory > 0 {
        host.memory = Some(i64::try_from(config.memory).unwrap_or(i64::MAX));
    }
    if config.shm_size > 0 {
        host.shm_size = Some(i64::try_from(config.shm_size).unwrap_or(i64::MAX));
        // Docker mounts /dev/shm `noexec` by default, which breaks libraries that map
        // executable shared memory.
        host.tmpfs = Some(HashMap::from([(
            "/dev/shm".to_owned(),
            format!("exec,size={}", config.shm_size),
        )]));
    }
    add_gpus(&mut host, defaults.gpu_vendor, request);
    if defaults.infiniband {
        push(
            &mut host.devices,
            device("/dev/infiniband", "/dev/infiniband"),
        );
        push(
            &mut host.ulimits,
            ResourcesUlimits {
                name: Some("memlock".to_owned()),
                soft: Some(-1),
                hard: Some(-1),
            },
        );
    }
    let user = if config.container_user.is_empty() {
        "root"
    } else {
        &config.container_user
    };
    ContainerCreateBody {
        image: Some(super::image::with_explicit_tag(&config.image_name)),
        user: Some(user.to_owned()),
        entrypoint: Some(vec!["/bin/sh".to_owned(), "-c".to_owned()]),
        cmd: Some(vec![container_command(
            &defaults.launch,
            host_network,
            &config.container_ssh_keys,
        )]),
        env: Some(defaults.env.clone()),
        labels: Some(HashMap::from([
            (TASK_LABEL.to_owned(), "true".to_owned()),
            (TASK_ID_LABEL.to_owned(), config.id.clone()),
        ])),
        exposed_ports: Some(
            runner_ports
                .iter()
                .map(|port| format!("{port}/tcp"))
                .collect(),
        ),
        host_config: Some(host),
        ..Default::default()
    }
}

/// The runner's ports published on loopback with ports Docker picks (ignored with host
/// networking).
fn loopback_bindings(ports: &[u16]) -> PortMap {
    ports
        .iter()
        .map(|port| {
            let binding = PortBinding {
                host_ip: Some("127.0.0.1".to_owned()),
                host_port: Some(String::new()),
            };
            (format!("{port}/tcp"), Some(vec![binding]))
        })
        .collect()
}

fn mounts(defaults: &ContainerDefaults, request: ContainerRequest<'_>) -> Vec<Mount> {
    let config = request.config;
    let mut mounts = vec![
        bind(&request.runner_dir.to_string_lossy(), RUNNER_TEMP_DIR),
        bind(
            &defaults.runner_binary_path.to_string_lossy(),
            RUNNER_PATH_IN_CONTAINER,
        ),
    ];
    mounts.extend(
        config
            .volume_mounts
            .iter()
            .map(|mount| bind(&format!("{VOLUMES_ROOT}/{}", mount.name), &mount.path)),
    );
    mounts.extend(
        config
            .instance_mounts
            .iter()
            .map(|mount| bind(&mount.instance_path, &mount.path)),
    );
    mounts
}

fn bind(source: &str, target: &str) -> Mount {
    Mount {
        typ: Some(MountType::BIND),
        source: Some(source.to_owned()),
        target: Some(target.to_owned()),
        ..Default::default()
    }
}

fn device(on_host: &str, in_container: &str) -> DeviceMapping {
    DeviceMapping {
        path_on_host: Some(on_host.to_owned()),
        path_in_container: Some(in_container.to_owned()),
        cgroup_permissions: Some("rwm".to_owned()),
    }
}

fn push<T>(list: &mut Option<Vec<T>>, item: T) {
    list.get_or_insert_with(Vec::new).push(item);
}

/// Gives the container the task's GPUs: the devices the server named, or the vendor's way.
fn add_gpus(host: &mut HostConfig, vendor: GpuVendor, request: ContainerRequest<'_>) {
    if request.gpu_ids.is_empty() {
        return;
    }
    if !request.config.gpu_devices.is_empty() {
        for gpu in &request.config.gpu_devices {
            push(
                &mut host.devices,
                device(&gpu.path_on_host, &gpu.path_in_container),
            );
        }
        return;
    }
    match vendor {
        GpuVendor::Nvidia => {
            push(
                &mut host.device_requests,
                DeviceRequest {
                    device_ids: Some(request.gpu_ids.to_vec()),
                    capabilities: Some(vec![
                        NVIDIA_CAPABILITIES
                            .iter()
                            .filter(|&&capability| {
                                request.nvidia_display || capability != "display"
                            })
                            .map(|c| c.to_string())
                            .collect(),
                    ]),
                    ..Default::default()
                },
            );
        }
        GpuVendor::Amd => {
            push(&mut host.devices, device("/dev/kfd", "/dev/kfd"));
            for render_node in request.gpu_ids {
                push(&mut host.devices, device(render_node, render_node));
            }
            host.ipc_mode = Some("host".to_owned());
            push(&mut host.cap_add, "SYS_PTRACE".to_owned());
            push(&mut host.security_opt, "seccomp=unconfined".to_owned());
        }
        // Only NVIDIA and AMD GPUs are discovered, so no other vendor holds ids.
        GpuVendor::Intel | GpuVendor::Tenstorrent | GpuVendor::None => {}
    }
}

/// What a restarted shim needs to know about one of its containers.
pub fn task_container(id: String, inspected: ContainerInspectResponse) -> Option<TaskContainer> {
    let task_id = inspected
        .config
        .as_ref()?
        .labels
        .as_ref()?
        .get(TASK_ID_LABEL)?
        .clone();
    let container_name = inspected
        .name
        .as_deref()?
        .trim_start_matches('/')
        .to_owned();
    let running = inspected
        .state
        .as_ref()
        .and_then(|state| state.status)
        .is_some_and(|status| {
            matches!(
                status,
                ContainerStateStatusEnum::RUNNING
                    | ContainerStateStatusEnum::RESTARTING
                    | ContainerStateStatusEnum::PAUSED
            )
        });
    let ports = inspected
        .network_settings
        .and_then(|settings| settings.ports)
        .map(|ports| port_mappings(&ports))
        .unwrap_or_default();
    let host = inspected.host_config.unwrap_or_default();
    let mut gpu_ids: Vec<String> = host
        .device_requests
        .unwrap_or_default()
        .into_iter()
        .flat_map(|request| request.device_ids.unwrap_or_default())
        .collect();
    gpu_ids.extend(
        host.devices
            .unwrap_or_default()
            .into_iter()
            .filter_map(|device| device.path_on_host)
            .filter(|path| path.starts_with("/dev/dri/renderD")),
    );
    Some(TaskContainer {
        task_id,
        container_name,
        container_id: id,
        running,
        gpu_ids,
        ports,
    })
}

/// Whether a failed start is the NVIDIA runtime missing `/dev/nvidia-modeset` for the
/// `display` capability, so that the container can be created again without it. Devices the
/// server named explicitly are passed as they are and never retried.
pub fn is_missing_nvidia_modeset(
    vendor: GpuVendor,
    config: &TaskSubmitRequest,
    start_error: &str,
) -> bool {
    vendor == GpuVendor::Nvidia
        && config.gpu_devices.is_empty()
        && start_error.contains("/dev/nvidia-modeset")
}

/// IPv4 TCP bindings from an inspected container's `NetworkSettings.Ports`.
pub fn port_mappings(ports: &PortMap) -> Vec<PortMapping> {
    let mut mappings: Vec<PortMapping> = ports
        .iter()
        .filter_map(|(key, bindings)| {
            let container = key.strip_suffix("/tcp")?.parse().ok()?;
            Some((container, bindings.as_deref().unwrap_or_default()))
        })
        .flat_map(|(container, bindings)| {
            bindings
                .iter()
                .filter(|binding| {
                    binding
                        .host_ip
                        .as_deref()
                        .is_none_or(|ip| !ip.contains(':'))
                })
                .filter_map(move |binding| {
                    let host = binding.host_port.as_deref()?.parse().ok()?;
                    Some(PortMapping { host, container })
                })
        })
        .collect();
    mappings.sort_by_key(|mapping| (mapping.container, mapping.host));
    mappings
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use dstack_agents::shim::{GpuDevice, InstanceMountPoint, VolumeMountPoint};

    use super::*;

    fn defaults(vendor: GpuVendor) -> ContainerDefaults {
        ContainerDefaults {
            runner_binary_path: "/usr/local/bin/dstack-runner".into(),
            launch: RunnerLaunch {
                log_level: "4".into(),
                http_port: 10999,
                ssh_port: 10022,
                ssh_log_level: String::new(),
            },
            privileged: false,
            env: vec!["http_proxy=http://proxy:3128".into()],
            gpu_vendor: vendor,
            infiniband: false,
        }
    }

    fn config() -> TaskSubmitRequest {
        TaskSubmitRequest {
            id: "task-1".into(),
            name: "job-0-0".into(),
            image_name: "ubuntu".into(),
            ..Default::default()
        }
    }

    fn body(
        defaults: &ContainerDefaults,
        config: &TaskSubmitRequest,
        gpus: &[String],
    ) -> ContainerCreateBody {
        container_body(
            defaults,
            ContainerRequest {
                config,
                gpu_ids: gpus,
                runner_dir: Path::new("/root/.dstack/runners/job-0-0-abcd"),
                nvidia_display: true,
            },
        )
    }

    #[test]
    fn a_plain_task_runs_as_root_on_the_host_network_with_the_runner_mounted() {
        let body = body(&defaults(GpuVendor::None), &config(), &[]);
        assert_eq!(body.image.as_deref(), Some("ubuntu:latest"));
        assert_eq!(body.user.as_deref(), Some("root"));
        assert_eq!(body.entrypoint, Some(vec!["/bin/sh".into(), "-c".into()]));
        assert_eq!(body.env, Some(vec!["http_proxy=http://proxy:3128".into()]));
        let labels = body.labels.unwrap();
        assert_eq!(labels[TASK_LABEL], "true");
        assert_eq!(labels[TASK_ID_LABEL], "task-1");
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("host"));
        assert_eq!(host.privileged, Some(false));
        assert_eq!(host.shm_size, None);
        assert_eq!(host.tmpfs, None);
        assert_eq!(host.nano_cpus, None);
        assert_eq!(host.device_requests, None);
        let mounts: Vec<(String, String)> = host
            .mounts
            .unwrap()
            .into_iter()
            .map(|m| (m.source.unwrap(), m.target.unwrap()))
            .collect();
        assert_eq!(
            mounts,
            [
                (
                    "/root/.dstack/runners/job-0-0-abcd".into(),
                    "/tmp/runner".into()
                ),
                (
                    "/usr/local/bin/dstack-runner".into(),
                    "/usr/local/bin/dstack-runner".into()
                ),
            ]
        );
    }

    #[test]
    fn resources_shm_and_mounts_follow_the_task() {
        let config = TaskSubmitRequest {
            cpu: 1.5,
            memory: 2 << 30,
            shm_size: 1 << 20,
            privileged: true,
            volume_mounts: vec![VolumeMountPoint {
                name: "data".into(),
                path: "/data".into(),
            }],
            instance_mounts: vec![InstanceMountPoint {
                instance_path: "/mnt/cache".into(),
                path: "/cache".into(),
            }],
            ..config()
        };
        let host = body(&defaults(GpuVendor::None), &config, &[])
            .host_config
            .unwrap();
        assert_eq!(host.nano_cpus, Some(1_500_000_000));
        assert_eq!(host.memory, Some(2 << 30));
        assert_eq!(host.shm_size, Some(1 << 20));
        assert_eq!(host.tmpfs.unwrap()["/dev/shm"], "exec,size=1048576");
        assert_eq!(host.privileged, Some(true));
        let targets: Vec<String> = host
            .mounts
            .unwrap()
            .into_iter()
            .filter_map(|m| m.target)
            .collect();
        assert_eq!(
            targets,
            [
                "/tmp/runner",
                "/usr/local/bin/dstack-runner",
                "/data",
                "/cache"
            ]
        );
    }

    #[test]
    fn nvidia_gpus_become_one_device_request_with_every_capability() {
        let gpus = vec!["GPU-a".to_string(), "GPU-b".to_string()];
        let host = body(&defaults(GpuVendor::Nvidia), &config(), &gpus)
            .host_config
            .unwrap();
        let requests = host.device_requests.unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].device_ids, Some(gpus));
        assert_eq!(
            requests[0].capabilities,
            Some(vec![
                NVIDIA_CAPABILITIES.iter().map(|c| c.to_string()).collect()
            ])
        );
        assert_eq!(host.devices, None);
    }

    #[test]
    fn nvidia_gpus_can_go_without_display() {
        let gpus = vec!["GPU-a".to_string()];
        let body = container_body(
            &defaults(GpuVendor::Nvidia),
            ContainerRequest {
                config: &config(),
                gpu_ids: &gpus,
                runner_dir: Path::new("/tmp/r"),
                nvidia_display: false,
            },
        );
        let requests = body.host_config.unwrap().device_requests.unwrap();
        assert_eq!(
            requests[0].capabilities,
            Some(vec![
                ["gpu", "utility", "compute", "graphics", "video", "compat32"]
                    .map(String::from)
                    .to_vec()
            ])
        );
    }

    #[test]
    fn only_nvidia_modeset_failures_without_explicit_devices_are_retried() {
        let error = "error gathering device information while adding custom device \"/dev/nvidia-modeset\": no such file or directory";
        assert!(is_missing_nvidia_modeset(
            GpuVendor::Nvidia,
            &config(),
            error
        ));
        assert!(!is_missing_nvidia_modeset(GpuVendor::Amd, &config(), error));
        assert!(!is_missing_nvidia_modeset(
            GpuVendor::Nvidia,
            &config(),
            "no such image"
        ));
        let explicit = TaskSubmitRequest {
            gpu_devices: vec![GpuDevice::default()],
            ..config()
        };
        assert!(!is_missing_nvidia_modeset(
            GpuVendor::Nvidia,
            &explicit,
            error
        ));
    }

    #[test]
    fn amd_gpus_become_devices_with_host_ipc() {
        let gpus = vec!["/dev/dri/renderD128".to_string()];
        let host = body(&defaults(GpuVendor::Amd), &config(), &gpus)
            .host_config
            .unwrap();
        let devices: Vec<String> = host
            .devices
            .unwrap()
            .into_iter()
            .filter_map(|d| d.path_on_host)
            .collect();
        assert_eq!(devices, ["/dev/kfd", "/dev/dri/renderD128"]);
        assert_eq!(host.ipc_mode.as_deref(), Some("host"));
        assert_eq!(host.cap_add, Some(vec!["SYS_PTRACE".into()]));
    }

    #[test]
    fn explicit_gpu_devices_replace_the_vendor_logic() {
        let config = TaskSubmitRequest {
            gpu_devices: vec![GpuDevice {
                path_on_host: "/dev/nvidia0".into(),
                path_in_container: "/dev/nvidia0".into(),
            }],
            ..config()
        };
        let gpus = vec!["GPU-a".to_string()];
        let host = body(&defaults(GpuVendor::Nvidia), &config, &gpus)
            .host_config
            .unwrap();
        assert_eq!(host.device_requests, None);
        assert_eq!(host.devices.unwrap().len(), 1);
    }

    #[test]
    fn no_gpus_held_means_no_gpu_devices() {
        let host = body(&defaults(GpuVendor::Nvidia), &config(), &[])
            .host_config
            .unwrap();
        assert_eq!(host.device_requests, None);
    }

    #[test]
    fn bridge_ports_keep_ipv4_tcp_bindings_only() {
        let binding = |ip: &str, port: &str| PortBinding {
            host_ip: Some(ip.into()),
            host_port: Some(port.into()),
        };
        let ports = PortMap::from([
            (
                "10999/tcp".to_owned(),
                Some(vec![binding("127.0.0.1", "32770"), binding("::1", "32771")]),
            ),
            (
                "10022/tcp".to_owned(),
                Some(vec![binding("127.0.0.1", "32772")]),
            ),
            (
                "53/udp".to_owned(),
                Some(vec![binding("127.0.0.1", "32773")]),
            ),
            ("8080/tcp".to_owned(), None),
        ]);
        assert_eq!(
            port_mappings(&ports),
            [
                PortMapping {
                    host: 32772,
                    container: 10022
                },
                PortMapping {
                    host: 32770,
                    container: 10999
                },
            ]
        );
    }
}

//! The v2 tasks API of the shim: what the server submits, what it reads back, and the
//! statuses a task goes through.

use dstack_core::api::common::null_as_default;
pub use dstack_core::api::jobs::ImagePullProgress;
use dstack_core::status::JobTerminationReason;
use serde::{Deserialize, Deserializer, Serialize};

/// `POST /api/tasks`: one container to run on the host. Unknown fields are ignored and
/// missing ones take their zero value, as dstack's shim reads this body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskSubmitRequest {
    /// The job submission id; it names the task in every later call.
    pub id: String,
    /// The job name, e.g. `horrible-mule-1-0-0`; the container name is derived from it.
    pub name: String,
    pub registry_username: String,
    pub registry_password: String,
    pub image_name: String,
    /// The user the container starts as; `""` means `root`.
    pub container_user: String,
    pub privileged: bool,
    /// `-1`: every GPU that is free now (maybe none); `0`: none; `N`: exactly `N`.
    pub gpu: i32,
    /// CPUs as a fraction; `0` is unlimited.
    pub cpu: f64,
    /// Memory limit in bytes; `0` is unlimited.
    pub memory: u64,
    /// `/dev/shm` size in bytes; `0` keeps Docker's 64 MiB `noexec` default.
    pub shm_size: u64,
    pub network_mode: NetworkMode,
    #[serde(deserialize_with = "null_as_default")]
    pub volumes: Vec<VolumeInfo>,
    #[serde(deserialize_with = "null_as_default")]
    pub volume_mounts: Vec<VolumeMountPoint>,
    #[serde(deserialize_with = "null_as_default")]
    pub instance_mounts: Vec<InstanceMountPoint>,
    /// Devices to pass as they are; when set, the shim adds no vendor GPU devices.
    #[serde(deserialize_with = "null_as_default")]
    pub gpu_devices: Vec<GpuDevice>,
    pub host_ssh_user: String,
    #[serde(deserialize_with = "null_as_default")]
    pub host_ssh_keys: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub container_ssh_keys: Vec<String>,
}

/// The container's network: the host's (the default), or a Docker bridge with the runner's
/// ports published on loopback.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    #[default]
    Host,
    Bridge,
}

impl NetworkMode {
    /// The value of Docker's `HostConfig.NetworkMode`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Bridge => "bridge",
        }
    }
}

impl<'de> Deserialize<'de> for NetworkMode {
    /// `""` and `null` mean the default, host networking.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Option::<String>::deserialize(deserializer)?.as_deref() {
            None | Some("") | Some("host") => Ok(Self::Host),
            Some("bridge") => Ok(Self::Bridge),
            Some(other) => Err(serde::de::Error::custom(format_args!(
                "unknown network_mode {other:?}, expected \"host\" or \"bridge\""
            ))),
        }
    }
}

/// A network volume to attach and mount before the container starts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeInfo {
    pub backend: String,
    pub name: String,
    pub volume_id: String,
    /// Whether the shim may create a file system on a blank disk.
    pub init_fs: bool,
    pub device_name: String,
}

/// Where a volume, by name, appears inside the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeMountPoint {
    pub name: String,
    pub path: String,
}

/// A host directory bound into the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceMountPoint {
    pub instance_path: String,
    pub path: String,
}

/// A device node passed to the container as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GpuDevice {
    pub path_on_host: String,
    pub path_in_container: String,
}

/// Where a task is in its life. Every status can end in `terminated`; otherwise a task only
/// moves forward one step, and `running` may be set again to publish its ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Pending,
    Preparing,
    Pulling,
    Creating,
    Running,
    Terminated,
}

impl TaskStatus {
    /// Every status, in the order a task goes through them.
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Preparing,
        Self::Pulling,
        Self::Creating,
        Self::Running,
        Self::Terminated,
    ];

    /// Whether a task in `self` may be set to `next`. `pending` is only ever the first status.
    pub const fn can_move_to(self, next: Self) -> bool {
        matches!(
            (self, next),
            (Self::Pending, Self::Preparing)
                | (Self::Preparing, Self::Pulling)
                | (Self::Pulling, Self::Creating)
                | (Self::Creating | Self::Running, Self::Running)
                | (_, Self::Terminated)
        )
    }

    /// The wire string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Preparing => "preparing",
            Self::Pulling => "pulling",
            Self::Creating => "creating",
            Self::Running => "running",
            Self::Terminated => "terminated",
        }
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /api/tasks/{id}` and the terminate response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfoResponse {
    pub id: String,
    pub status: TaskStatus,
    #[serde(with = "super::reason", default)]
    pub termination_reason: Option<JobTerminationReason>,
    #[serde(default)]
    pub termination_message: String,
    /// `None` until the container has started; empty with host networking.
    pub ports: Option<Vec<PortMapping>>,
    /// `None` until the pull has reported a layer.
    #[serde(default)]
    pub image_pull_progress: Option<ImagePullProgress>,
    #[serde(default)]
    pub container_name: String,
    #[serde(default)]
    pub container_id: String,
    /// The GPUs locked for the task (dstack spells the key `gpus_ids`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub gpus_ids: Vec<String>,
}

/// A published container port and the host port it is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    pub host: u16,
    pub container: u16,
}

/// `GET /api/tasks`: every task the shim knows, terminated ones included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskListResponse {
    pub tasks: Vec<TaskListItem>,
}

/// One entry of [`TaskListResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskListItem {
    pub id: String,
    pub status: TaskStatus,
}

/// `POST /api/tasks/{id}/terminate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskTerminateRequest {
    /// Kept only if the task has no reason yet.
    #[serde(with = "super::reason")]
    pub termination_reason: Option<JobTerminationReason>,
    pub termination_message: String,
    /// Seconds a running container gets between SIGTERM and SIGKILL; `0` kills at once.
    pub timeout: u64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn submit_body_of_the_spec_decodes() {
        let body = json!({
            "id": "23a2c7a0-6c88-48ee-8028-b9ad9f6f5c24",
            "name": "horrible-mule-1-0-0",
            "registry_username": "", "registry_password": "",
            "image_name": "dstackai/base:0.15-base-ubuntu24.04",
            "container_user": "root",
            "privileged": false,
            "gpu": -1, "cpu": 0, "memory": 0, "shm_size": 0,
            "network_mode": "host",
            "volumes": [{"backend":"aws","name":"my-vol","volume_id":"vol-0abc","init_fs":true,"device_name":"/dev/sdf"}],
            "volume_mounts": [{"name":"my-vol","path":"/data"}],
            "instance_mounts": [{"instance_path":"/mnt/cache","path":"/cache","optional":false}],
            "gpu_devices": [{"path_on_host":"/dev/nvidia0","path_in_container":"/dev/nvidia0"}],
            "host_ssh_user": "ubuntu",
            "host_ssh_keys": ["ssh-ed25519 AAAA me@laptop"],
            "container_ssh_keys": ["ssh-rsa project", "ssh-ed25519 user"]
        });
        let request: TaskSubmitRequest = serde_json::from_value(body).unwrap();
        assert_eq!(request.gpu, -1);
        assert_eq!(request.network_mode, NetworkMode::Host);
        assert_eq!(
            request.volumes,
            [VolumeInfo {
                backend: "aws".into(),
                name: "my-vol".into(),
                volume_id: "vol-0abc".into(),
                init_fs: true,
                device_name: "/dev/sdf".into(),
            }]
        );
        assert_eq!(request.instance_mounts[0].instance_path, "/mnt/cache");
        assert_eq!(request.gpu_devices[0].path_in_container, "/dev/nvidia0");
        assert_eq!(request.container_ssh_keys.len(), 2);
    }

    #[test]
    fn submit_body_with_only_the_required_fields_takes_zero_values() {
        let request: TaskSubmitRequest = serde_json::from_value(
            json!({"id": "a", "name": "b", "image_name": "c", "volumes": null}),
        )
        .unwrap();
        assert_eq!(request.gpu, 0);
        assert_eq!(request.network_mode, NetworkMode::Host);
        assert!(request.volumes.is_empty());
        assert_eq!(request.container_user, "");
    }

    #[test]
    fn unknown_network_mode_is_refused() {
        let error = serde_json::from_value::<TaskSubmitRequest>(json!({"network_mode": "none"}))
            .unwrap_err();
        assert!(
            error.to_string().contains("unknown network_mode \"none\""),
            "{error}"
        );
    }

    #[test]
    fn task_info_of_the_spec_round_trips() {
        let body = json!({
            "id": "t", "status": "running",
            "termination_reason": "", "termination_message": "",
            "ports": [{"host": 32770, "container": 10999}, {"host": 32771, "container": 10022}],
            "image_pull_progress": {"downloaded_bytes": 1, "extracted_bytes": 0, "total_bytes": 9, "is_total_bytes_final": false},
            "container_name": "horrible-mule-1-0-0-44f7cb95",
            "container_id": "a6bb",
            "gpus_ids": ["GPU-2b79"]
        });
        let info: TaskInfoResponse = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(info.status, TaskStatus::Running);
        assert_eq!(info.termination_reason, None);
        assert_eq!(serde_json::to_value(&info).unwrap(), body);
    }

    #[test]
    fn terminated_task_info_carries_its_reason() {
        let body = json!({
            "id": "t", "status": "terminated",
            "termination_reason": "container_exited_with_error",
            "termination_message": "container exited with code 3",
            "ports": null, "image_pull_progress": null,
            "container_name": "n", "container_id": "", "gpus_ids": null
        });
        let info: TaskInfoResponse = serde_json::from_value(body).unwrap();
        assert_eq!(
            info.termination_reason,
            Some(JobTerminationReason::ContainerExitedWithError)
        );
        assert!(info.gpus_ids.is_empty());
    }

    #[test]
    fn terminate_body_reads_timeout_as_seconds_and_empty_reason_as_none() {
        let request: TaskTerminateRequest = serde_json::from_value(json!({
            "termination_reason": "", "termination_message": "", "timeout": 0
        }))
        .unwrap();
        assert_eq!(request, TaskTerminateRequest::default());
        let request: TaskTerminateRequest = serde_json::from_value(json!({
            "termination_reason": "terminated_by_user", "termination_message": "bye", "timeout": 10
        }))
        .unwrap();
        assert_eq!(
            request.termination_reason,
            Some(JobTerminationReason::TerminatedByUser)
        );
        assert_eq!(request.timeout, 10);
        assert!(
            serde_json::from_value::<TaskTerminateRequest>(json!({"termination_reason": "nope"}))
                .is_err()
        );
    }

    #[test]
    fn allowed_transitions_are_exactly_the_shim_table() {
        use TaskStatus::*;
        let allowed = [
            (Pending, Preparing),
            (Preparing, Pulling),
            (Pulling, Creating),
            (Creating, Running),
            (Running, Running),
        ];
        for from in TaskStatus::ALL {
            for to in TaskStatus::ALL {
                let expected = to == Terminated || allowed.contains(&(from, to));
                assert_eq!(from.can_move_to(to), expected, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn task_list_shape() {
        let list = TaskListResponse {
            tasks: vec![TaskListItem {
                id: "a".into(),
                status: TaskStatus::Pulling,
            }],
        };
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            json!({"tasks": [{"id": "a", "status": "pulling"}]})
        );
    }
}

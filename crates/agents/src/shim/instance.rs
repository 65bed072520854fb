//! The shim's instance-level endpoints and the `host_info.json` it writes for SSH fleets.

use serde::{Deserialize, Serialize};

/// `GET /api/healthcheck`. The server reads `version` to choose which endpoints to call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthcheckResponse {
    pub service: String,
    pub version: String,
}

/// GPU vendor, spelled as in `host_info.json` and `/api/instance/info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuVendor {
    Nvidia,
    Amd,
    Intel,
    Tenstorrent,
    None,
}

/// How a shim runs its tasks: in Docker containers, or as host processes when the host has
/// no Docker. Written into `host_info.json` so the server knows which the host offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShimRuntime {
    Docker,
    Process,
}

/// `GET /api/instance/info`: the vendor and driver of the host's first GPU; `{}` without GPUs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfoResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_vendor: Option<GpuVendor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_driver_version: Option<String>,
}

/// `GET /api/instance/health`: DCGM health, `null` where DCGM is not available.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceHealthResponse {
    pub dcgm: Option<DcgmHealth>,
}

/// The result of a DCGM health check of every GPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DcgmHealth {
    pub overall_health: i32,
    pub incidents: Vec<DcgmIncident>,
}

/// One problem DCGM found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DcgmIncident {
    pub system: i32,
    pub health: i32,
    pub error_message: String,
    pub error_code: i32,
    pub entity_group_id: i32,
    pub entity_id: i32,
}

/// `GET /api/components`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentsResponse {
    pub components: Vec<ComponentInfo>,
}

/// An agent binary the shim manages on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentInfo {
    pub name: ComponentName,
    /// `""` unless installed.
    pub version: String,
    pub status: ComponentStatus,
}

/// The binaries the shim manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ComponentName {
    #[serde(rename = "dstack-runner")]
    Runner,
    #[serde(rename = "dstack-shim")]
    Shim,
}

/// Whether a managed binary is usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentStatus {
    NotInstalled,
    Installed,
    Installing,
    Error,
}

/// `POST /api/components/install`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentInstallRequest {
    pub name: ComponentName,
    pub url: String,
}

/// `POST /api/shutdown`: stop the shim (its supervisor restarts it); containers are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShutdownRequest {
    /// Close connections at once instead of finishing the requests in flight.
    #[serde(default)]
    pub force: bool,
}

/// The GPU fields of `host_info.json`: vendor, then name and memory of the first GPU, and
/// the number of GPUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostGpuSummary {
    #[serde(rename = "gpu_vendor")]
    pub vendor: GpuVendor,
    #[serde(rename = "gpu_name")]
    pub name: String,
    #[serde(rename = "gpu_memory")]
    pub memory_mib: u64,
    #[serde(rename = "gpu_count")]
    pub count: usize,
}

/// `<shim-home>/host_info.json`, which the server reads over SSH to describe an SSH-fleet host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    #[serde(flatten)]
    pub gpus: HostGpuSummary,
    /// Every non-loopback interface address in CIDR form, IPv6 included.
    pub addresses: Vec<String>,
    /// Bytes available on the file system of Docker's root directory.
    pub disk_size: u64,
    pub cpus: usize,
    /// Total memory in bytes.
    pub memory: u64,
    /// How the shim runs tasks; absent in files written by dstack's own shim (Docker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<ShimRuntime>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn instance_info_omits_what_is_unknown() {
        assert_eq!(
            serde_json::to_value(InstanceInfoResponse::default()).unwrap(),
            json!({})
        );
        let info = InstanceInfoResponse {
            gpu_vendor: Some(GpuVendor::Nvidia),
            gpu_driver_version: Some("570.86.15".into()),
        };
        assert_eq!(
            serde_json::to_value(info).unwrap(),
            json!({"gpu_vendor": "nvidia", "gpu_driver_version": "570.86.15"})
        );
    }

    #[test]
    fn components_shape() {
        let body = json!({"components": [
            {"name": "dstack-runner", "version": "0.20.1", "status": "installed"},
            {"name": "dstack-shim", "version": "", "status": "not-installed"}
        ]});
        let components: ComponentsResponse = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(
            components.components[1].status,
            ComponentStatus::NotInstalled
        );
        assert_eq!(serde_json::to_value(components).unwrap(), body);
    }

    #[test]
    fn host_info_is_flat() {
        let info = HostInfo {
            gpus: HostGpuSummary {
                vendor: GpuVendor::None,
                name: String::new(),
                memory_mib: 0,
                count: 0,
            },
            addresses: vec!["10.0.0.5/24".into(), "fe80::1/64".into()],
            disk_size: 100,
            cpus: 2,
            memory: 4096,
            runtime: None,
        };
        let body = json!({
            "gpu_vendor": "none", "gpu_name": "", "gpu_memory": 0, "gpu_count": 0,
            "addresses": ["10.0.0.5/24", "fe80::1/64"], "disk_size": 100, "cpus": 2, "memory": 4096
        });
        assert_eq!(serde_json::to_value(&info).unwrap(), body);
        assert_eq!(serde_json::from_value::<HostInfo>(body).unwrap(), info);
    }

    #[test]
    fn host_info_names_the_runtime_when_known() {
        let body = json!({
            "gpu_vendor": "none", "gpu_name": "", "gpu_memory": 0, "gpu_count": 0,
            "addresses": [], "disk_size": 1, "cpus": 1, "memory": 1, "runtime": "process"
        });
        let info: HostInfo = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(info.runtime, Some(ShimRuntime::Process));
        assert_eq!(serde_json::to_value(&info).unwrap(), body);
    }

    #[test]
    fn health_without_dcgm_is_null() {
        assert_eq!(
            serde_json::to_value(InstanceHealthResponse::default()).unwrap(),
            json!({"dcgm": null})
        );
    }
}

//! What the shim reports about its host.
//!
//! - [`HostGpus`] (`gpus`): the GPU vendor and GPUs, found once at startup.
//! - [`collect_host_info`]: CPUs, memory, disk, addresses and GPUs for `host_info.json`.
//! - [`write_host_info`]: writes that file once per shim home.
//! - `proc`, `network`: parsers and probes behind them.

mod gpus;
mod network;
mod proc;

use std::io::Write;
use std::path::Path;

use dstack_agents::shim::{HostInfo, InstanceInfoResponse};

use crate::discovery::{GpuInfo, GpuVendor, summarize_gpus};

pub use gpus::{GpuDiscoveryError, detect_vendor, list_gpus};
pub use proc::{CpuInfo, parse_cpuinfo, parse_mem_total};

/// Name of the file the server reads over SSH.
pub const HOST_INFO_FILE: &str = "host_info.json";

/// A host probe that failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: &'static str,
        source: std::io::Error,
    },
    #[error("{path} has no usable MemTotal line")]
    MemTotal { path: &'static str },
    #[error("cannot measure the disk of {path}: {source}")]
    Disk { path: String, source: nix::Error },
    #[error("cannot list the host's addresses: {0}")]
    Addresses(nix::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The host's GPU vendor and its GPUs.
#[derive(Debug, Clone)]
pub struct HostGpus {
    pub vendor: GpuVendor,
    pub gpus: Vec<GpuInfo>,
}

impl HostGpus {
    /// Detects the vendor and lists its GPUs. A vendor tool that fails leaves the host
    /// without GPUs, with the failure logged: the shim still runs CPU tasks.
    pub async fn discover() -> Self {
        let vendor = detect_vendor(Path::new("/"));
        let gpus = list_gpus(vendor).await.unwrap_or_else(|error| {
            tracing::error!(?vendor, %error, "GPU discovery failed; reporting no GPUs");
            Vec::new()
        });
        Self { vendor, gpus }
    }

    /// `GET /api/instance/info`: vendor and driver of the first GPU, nothing without GPUs.
    pub fn instance_info(&self) -> InstanceInfoResponse {
        self.gpus
            .first()
            .map(|gpu| InstanceInfoResponse {
                gpu_vendor: Some(gpu.vendor),
                gpu_driver_version: Some(gpu.driver_version.clone()),
            })
            .unwrap_or_default()
    }
}

/// Everything `host_info.json` holds. `disk_root` is the directory whose file system holds
/// the containers (Docker's root dir); its available bytes are reported.
pub fn collect_host_info(gpus: &HostGpus, disk_root: &str) -> Result<HostInfo, HostError> {
    let cpuinfo = read("/proc/cpuinfo")?;
    let meminfo = read("/proc/meminfo")?;
    let memory = parse_mem_total(&meminfo).ok_or(HostError::MemTotal {
        path: "/proc/meminfo",
    })?;
    let disk = nix::sys::statvfs::statvfs(disk_root).map_err(|source| HostError::Disk {
        path: disk_root.to_owned(),
        source,
    })?;
    Ok(HostInfo {
        gpus: summarize_gpus(gpus.vendor, &gpus.gpus),
        addresses: network::interface_addresses().map_err(HostError::Addresses)?,
        disk_size: disk.blocks_available() * disk.fragment_size(),
        cpus: parse_cpuinfo(&cpuinfo).count,
        memory,
        runtime: None,
    })
}

/// Writes `<home>/host_info.json` unless it exists: the server reads the first one written,
/// and a shim restart must not change what it already recorded.
pub fn write_host_info(home: &Path, info: &HostInfo) -> Result<(), HostError> {
    let path = home.join(HOST_INFO_FILE);
    let write_error = |source| HostError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut file = match std::fs::File::create_new(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(error) => return Err(write_error(error)),
    };
    let json = serde_json::to_vec(info).map_err(|error| write_error(error.into()))?;
    file.write_all(&json).map_err(write_error)?;
    file.sync_all().map_err(write_error)
}

fn read(path: &'static str) -> Result<String, HostError> {
    std::fs::read_to_string(path).map_err(|source| HostError::Read { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_gpus() -> HostGpus {
        HostGpus {
            vendor: GpuVendor::None,
            gpus: Vec::new(),
        }
    }

    #[test]
    fn this_host_has_cpus_memory_disk_and_addresses() {
        let info = collect_host_info(&no_gpus(), "/").unwrap();
        assert!(info.cpus >= 1);
        assert!(info.memory > 64 << 20, "{}", info.memory);
        assert!(info.disk_size > 0);
        assert!(info.addresses.iter().all(|address| address.contains('/')));
        assert!(
            !info
                .addresses
                .iter()
                .any(|address| address.starts_with("127."))
        );
    }

    #[test]
    fn host_info_is_written_once() {
        let home = tempfile::tempdir().unwrap();
        let mut info = collect_host_info(&no_gpus(), "/").unwrap();
        write_host_info(home.path(), &info).unwrap();
        info.cpus += 1;
        write_host_info(home.path(), &info).unwrap();
        let written: HostInfo =
            serde_json::from_slice(&std::fs::read(home.path().join(HOST_INFO_FILE)).unwrap())
                .unwrap();
        assert_eq!(written.cpus, info.cpus - 1);
    }

    #[test]
    fn instance_info_takes_the_first_gpu() {
        assert_eq!(no_gpus().instance_info(), InstanceInfoResponse::default());
        let gpus = HostGpus {
            vendor: GpuVendor::Nvidia,
            gpus: vec![GpuInfo {
                vendor: GpuVendor::Nvidia,
                name: "NVIDIA H100".into(),
                vram_mib: 81559,
                id: "GPU-a".into(),
                driver_version: "570.86.15".into(),
            }],
        };
        assert_eq!(
            gpus.instance_info(),
            InstanceInfoResponse {
                gpu_vendor: Some(GpuVendor::Nvidia),
                gpu_driver_version: Some("570.86.15".into()),
            }
        );
    }
}

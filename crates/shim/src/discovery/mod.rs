//! Host GPU discovery: typed GPU records built from the output of vendor tools.
//!
//! Everything here is pure parsing: the caller runs the tool and hands its stdout in.
//!
//! - [`nvidia`]: `nvidia-smi --query-gpu` CSV output.
//! - [`amd`]: `amd-smi static --json` output.
//! - [`GpuInfo`]: one GPU as the shim reports and locks it, whatever the vendor.
//! - [`summarize_gpus`]: the GPU fields of `host_info.json` ([`HostGpuSummary`]).

pub mod amd;
pub mod nvidia;

pub use dstack_agents::shim::{GpuVendor, HostGpuSummary};

/// Texts vendor tools print in place of a driver version they cannot read.
const DRIVER_VERSION_PLACEHOLDERS: [&str; 5] = [
    "N/A",
    "[N/A]",
    "Unknown",
    "[Not Supported]",
    "[Not Available]",
];

/// Trims a driver version and turns the placeholders vendor tools print into `""`, so an
/// unknown version is always reported the same way.
pub fn normalize_driver_version(raw: &str) -> String {
    let trimmed = raw.trim();
    if DRIVER_VERSION_PLACEHOLDERS.contains(&trimmed) {
        String::new()
    } else {
        trimmed.to_owned()
    }
}

/// One GPU of the host, as the shim reports it and as its GPU lock identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuInfo {
    pub vendor: GpuVendor,
    /// The name as the vendor tool prints it, e.g. `NVIDIA H100 80GB HBM3`; the server
    /// normalises names, not the shim.
    pub name: String,
    pub vram_mib: u64,
    /// The lock id: the `GPU-<uuid>` for NVIDIA, the render node path for AMD.
    pub id: String,
    /// `""` when the tool could not tell.
    pub driver_version: String,
}

/// The GPU fields of `host_info.json` for a host whose vendor was detected as `vendor`:
/// name and memory of the first GPU, and the number of GPUs.
pub fn summarize_gpus(vendor: GpuVendor, gpus: &[GpuInfo]) -> HostGpuSummary {
    let (name, memory_mib) = gpus
        .first()
        .map_or((String::new(), 0), |gpu| (gpu.name.clone(), gpu.vram_mib));
    HostGpuSummary {
        vendor,
        name,
        memory_mib,
        count: gpus.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_version_placeholders_become_empty() {
        for placeholder in DRIVER_VERSION_PLACEHOLDERS {
            assert_eq!(normalize_driver_version(placeholder), "", "{placeholder}");
        }
        assert_eq!(normalize_driver_version(" [N/A]\n"), "");
    }

    #[test]
    fn driver_version_is_trimmed() {
        assert_eq!(normalize_driver_version(" 570.86.15 "), "570.86.15");
    }

    fn gpu(name: &str, vram_mib: u64, id: &str) -> GpuInfo {
        GpuInfo {
            vendor: GpuVendor::Nvidia,
            name: name.to_owned(),
            vram_mib,
            id: id.to_owned(),
            driver_version: "580.159.04".to_owned(),
        }
    }

    #[test]
    fn summary_takes_name_and_memory_of_first_gpu() {
        let gpus = [
            gpu("NVIDIA A100", 81920, "GPU-a"),
            gpu("NVIDIA L4", 23034, "GPU-b"),
        ];
        let summary = summarize_gpus(GpuVendor::Nvidia, &gpus);
        assert_eq!(
            serde_json::to_value(&summary).ok(),
            Some(serde_json::json!({
                "gpu_vendor": "nvidia", "gpu_name": "NVIDIA A100",
                "gpu_memory": 81920, "gpu_count": 2
            }))
        );
    }

    #[test]
    fn summary_of_host_without_gpus_is_empty() {
        let summary = summarize_gpus(GpuVendor::None, &[]);
        assert_eq!(
            summary,
            HostGpuSummary {
                vendor: GpuVendor::None,
                name: String::new(),
                memory_mib: 0,
                count: 0
            }
        );
    }
}

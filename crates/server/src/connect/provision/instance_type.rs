//! What an SSH host offers, from its `host_info.json`: its [`InstanceType`] and how many
//! blocks it is shared in.

use dstack_agents::shim::{GpuVendor as ShimGpuVendor, HostInfo};
use dstack_core::configuration::fleet::Blocks;
use dstack_core::offers::{Disk, Gpu, InstanceType, Resources};
use dstack_core::resources::{CpuArch, GpuVendor};

use super::gpu_names::{gpu_memory_mib, short_gpu_name};

/// The instance type name dstack gives every SSH host.
const INSTANCE_TYPE_NAME: &str = "instance";

const MIB: u64 = 1024 * 1024;

/// The host's resources as an instance type: every GPU is taken to be the first one, the
/// model named as offers name it.
pub fn instance_type(info: &HostInfo, arch: CpuArch) -> InstanceType {
    let gpus = match gpu_vendor(info.gpus.vendor) {
        Some(vendor) if info.gpus.count > 0 => {
            let name = short_gpu_name(vendor, &info.gpus.name);
            let gpu = Gpu {
                memory_mib: gpu_memory_mib(&name, info.gpus.memory_mib),
                name,
                vendor: Some(vendor),
            };
            vec![gpu; info.gpus.count]
        }
        _ => Vec::new(),
    };
    InstanceType {
        name: INSTANCE_TYPE_NAME.to_owned(),
        resources: Resources {
            cpus: u32::try_from(info.cpus).unwrap_or(u32::MAX),
            memory_mib: info.memory / MIB,
            gpus,
            spot: false,
            disk: Disk {
                size_mib: info.disk_size / MIB,
            },
            cpu_arch: Some(arch),
            description: String::new(),
        },
    }
}

fn gpu_vendor(vendor: ShimGpuVendor) -> Option<GpuVendor> {
    match vendor {
        ShimGpuVendor::Nvidia => Some(GpuVendor::Nvidia),
        ShimGpuVendor::Amd => Some(GpuVendor::Amd),
        ShimGpuVendor::Intel => Some(GpuVendor::Intel),
        ShimGpuVendor::Tenstorrent => Some(GpuVendor::Tenstorrent),
        ShimGpuVendor::None => None,
    }
}

/// A host whose CPUs and GPUs cannot be shared out equally in the configured blocks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the host's {cpus} CPUs and {gpus} GPUs cannot be split into {blocks} equal blocks: set \
     `blocks` to a number that divides both, or to `auto`"
)]
pub struct BlocksError {
    /// The blocks asked for.
    pub blocks: u32,
    /// The host's CPUs.
    pub cpus: u32,
    /// The host's GPUs.
    pub gpus: u32,
}

/// How many blocks the host is shared in: `blocks`, or with `auto` one per GPU (at most one
/// per CPU) and one per CPU without GPUs. Each block must get the same whole number of CPUs
/// and of GPUs.
pub fn total_blocks(blocks: Blocks, cpus: u32, gpus: u32) -> Result<u32, BlocksError> {
    let count = match blocks {
        Blocks::Count(count) => count,
        Blocks::Auto(_) if gpus == 0 => cpus,
        Blocks::Auto(_) => cpus.min(gpus),
    };
    if count > 0 && cpus.is_multiple_of(count) && gpus.is_multiple_of(count) {
        Ok(count)
    } else {
        Err(BlocksError {
            blocks: count,
            cpus,
            gpus,
        })
    }
}

#[cfg(test)]
mod tests {
    use dstack_agents::shim::HostGpuSummary;
    use dstack_core::configuration::fleet::AutoBlocks;

    use super::*;

    fn host(vendor: ShimGpuVendor, name: &str, memory_mib: u64, count: usize) -> HostInfo {
        HostInfo {
            gpus: HostGpuSummary {
                vendor,
                name: name.to_owned(),
                memory_mib,
                count,
            },
            addresses: Vec::new(),
            disk_size: 100 * 1024 * MIB,
            cpus: 32,
            memory: 256 * 1024 * MIB,
            runtime: None,
        }
    }

    #[test]
    fn gpus_are_named_like_offers_and_sizes_are_in_mib() {
        let info = host(ShimGpuVendor::Nvidia, "NVIDIA H100 80GB HBM3", 81559, 8);
        let instance = instance_type(&info, CpuArch::X86);
        assert_eq!(instance.name, "instance");
        let resources = &instance.resources;
        assert_eq!(
            (
                resources.cpus,
                resources.memory_mib,
                resources.disk.size_mib
            ),
            (32, 256 * 1024, 100 * 1024)
        );
        assert_eq!(resources.cpu_arch, Some(CpuArch::X86));
        assert_eq!(resources.gpus.len(), 8);
        assert_eq!(
            resources.gpus[0],
            Gpu {
                name: "H100".to_owned(),
                memory_mib: 80 * 1024,
                vendor: Some(GpuVendor::Nvidia)
            }
        );
        let cpu_only = instance_type(&host(ShimGpuVendor::None, "", 0, 0), CpuArch::Arm);
        assert!(cpu_only.resources.gpus.is_empty());
    }

    #[test]
    fn blocks_must_divide_cpus_and_gpus() {
        let auto = Blocks::Auto(AutoBlocks::Value);
        assert_eq!(total_blocks(auto, 32, 8), Ok(8));
        assert_eq!(total_blocks(auto, 4, 0), Ok(4));
        assert_eq!(total_blocks(Blocks::Count(2), 4, 0), Ok(2));
        assert_eq!(total_blocks(Blocks::Count(4), 32, 8), Ok(4));
        let error = total_blocks(Blocks::Count(3), 4, 0).unwrap_err();
        assert_eq!(
            error,
            BlocksError {
                blocks: 3,
                cpus: 4,
                gpus: 0
            }
        );
        assert!(error.to_string().contains("4 CPUs and 0 GPUs"), "{error}");
        assert!(total_blocks(auto, 6, 4).is_err(), "4 blocks of 1.5 CPUs");
    }
}

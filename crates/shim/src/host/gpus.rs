//! Finds the host's GPUs: which vendor's devices exist, then that vendor's tool lists them.

use std::path::Path;

use tokio::process::Command;

use crate::discovery::{GpuInfo, GpuVendor, amd, nvidia};

/// A GPU tool that could not be run or whose output was not understood.
#[derive(Debug, thiserror::Error)]
pub enum GpuDiscoveryError {
    #[error("cannot run {tool}: {source}")]
    Spawn {
        tool: &'static str,
        source: std::io::Error,
    },
    #[error("{tool} failed with {status}: {stderr}")]
    Failed {
        tool: &'static str,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error(transparent)]
    Nvidia(#[from] nvidia::NvidiaSmiError),
    #[error(transparent)]
    Amd(#[from] amd::AmdSmiError),
}

/// The vendor whose device nodes the host has. Unambiguous NVIDIA paths come first, so a
/// host with an AMD iGPU and an NVIDIA card is an NVIDIA host.
pub fn detect_vendor(root: &Path) -> GpuVendor {
    let exists = |path: &str| root.join(path.trim_start_matches('/')).exists();
    if exists("/dev/nvidiactl") || (exists("/dev/dxg") && exists("/usr/lib/wsl/lib/nvidia-smi")) {
        GpuVendor::Nvidia
    } else if exists("/dev/tenstorrent") {
        GpuVendor::Tenstorrent
    } else if exists("/dev/kfd") {
        GpuVendor::Amd
    } else if exists("/dev/accel") {
        GpuVendor::Intel
    } else {
        GpuVendor::None
    }
}

/// The GPUs of a host of `vendor`. Tenstorrent and Intel hosts are detected but their GPUs
/// are not listed yet, so they report none.
pub async fn list_gpus(vendor: GpuVendor) -> Result<Vec<GpuInfo>, GpuDiscoveryError> {
    match vendor {
        GpuVendor::Nvidia => {
            let output = run_tool(
                "nvidia-smi",
                &[
                    "--query-gpu=name,memory.total,uuid,driver_version",
                    "--format=csv,noheader,nounits",
                ],
            )
            .await?;
            Ok(nvidia::parse_host_query(&output)?
                .into_iter()
                .map(GpuInfo::from)
                .collect())
        }
        GpuVendor::Amd => {
            let output = run_tool(
                "amd-smi",
                &["static", "--json", "--asic", "--vram", "--bus", "--driver"],
            )
            .await?;
            Ok(amd::parse_static_json(&output)?
                .into_iter()
                .map(|gpu| {
                    let render_node = render_node_of(&gpu.bus_bdf);
                    gpu.into_gpu_info(render_node)
                })
                .collect())
        }
        GpuVendor::Intel | GpuVendor::Tenstorrent | GpuVendor::None => Ok(Vec::new()),
    }
}

/// `/dev/dri/renderD<N>` of the AMD GPU at a PCI address, or `""` when the link is missing.
fn render_node_of(bdf: &str) -> String {
    let link = Path::new("/dev/dri/by-path").join(format!("pci-{bdf}-render"));
    std::fs::canonicalize(link)
        .map(|path| path.to_string_lossy().into_owned())
        .unwrap_or_default()
}

async fn run_tool(tool: &'static str, args: &[&str]) -> Result<String, GpuDiscoveryError> {
    let output = Command::new(tool)
        .args(args)
        .output()
        .await
        .map_err(|source| GpuDiscoveryError::Spawn { tool, source })?;
    if !output.status.success() {
        return Err(GpuDiscoveryError::Failed {
            tool,
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(paths: &[&str]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for path in paths {
            let path = root.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        root
    }

    #[test]
    fn vendor_detection_prefers_nvidia() {
        let cases: [(&[&str], GpuVendor); 6] = [
            (&["/dev/nvidiactl", "/dev/kfd"], GpuVendor::Nvidia),
            (
                &["/dev/dxg", "/usr/lib/wsl/lib/nvidia-smi"],
                GpuVendor::Nvidia,
            ),
            (&["/dev/dxg"], GpuVendor::None),
            (&["/dev/tenstorrent"], GpuVendor::Tenstorrent),
            (&["/dev/kfd"], GpuVendor::Amd),
            (&["/dev/accel"], GpuVendor::Intel),
        ];
        for (paths, vendor) in cases {
            assert_eq!(detect_vendor(root_with(paths).path()), vendor, "{paths:?}");
        }
        assert_eq!(detect_vendor(root_with(&[]).path()), GpuVendor::None);
    }
}

//! One `GET /api/metrics` sample from the runner's own cgroup (v2, else v1) and from
//! nvidia-smi when the container has NVIDIA GPUs.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use dstack_agents::runner::{GpuMetrics, SystemMetrics};

use super::cgroup::{CgroupSample, CgroupV1Files, CgroupV2Files};
use super::cgroup_location::{find_v1_mount, find_v2_mount, v1_path, v2_path};
use super::gpu::parse_nvidia_smi_metrics;

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("no readable cgroup: v2: {v2}; v1: {v1}")]
    NoCgroup { v2: String, v1: String },
}

/// Samples CPU, memory and GPUs now.
pub fn collect_system_metrics() -> Result<SystemMetrics, CollectError> {
    let mounts = read("/proc/self/mounts").unwrap_or_default();
    let cgroup = read("/proc/self/cgroup").unwrap_or_default();
    let sample = match sample_v2(&mounts, &cgroup) {
        Ok(sample) => sample,
        Err(v2) => sample_v1(&mounts, &cgroup).map_err(|v1| CollectError::NoCgroup { v2, v1 })?,
    };
    let timestamp_micro = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or_default();
    Ok(SystemMetrics {
        timestamp_micro,
        cpu_usage_micro: sample.cpu_usage_micro,
        memory_usage_bytes: sample.memory_usage_bytes,
        memory_working_set_bytes: sample.memory_working_set_bytes,
        gpus: nvidia_gpus(),
    })
}

fn read(path: impl AsRef<Path>) -> Result<String, String> {
    let path = path.as_ref();
    std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))
}

fn cgroup_dir(mount: &str, path: &str) -> PathBuf {
    Path::new(mount).join(path.trim_start_matches('/'))
}

fn sample_v2(mounts: &str, cgroup: &str) -> Result<CgroupSample, String> {
    let mount = find_v2_mount(mounts).map_err(|error| error.to_string())?;
    let path = v2_path(cgroup).ok_or("no 0:: line in /proc/self/cgroup")?;
    let dir = cgroup_dir(&mount, path);
    let file = |name: &str| read(dir.join(name));
    let (cpu_stat, memory_current, memory_stat, memory_max) = (
        file("cpu.stat")?,
        file("memory.current")?,
        file("memory.stat")?,
        file("memory.max")?,
    );
    let files = CgroupV2Files {
        cpu_stat: &cpu_stat,
        memory_current: &memory_current,
        memory_stat: &memory_stat,
        memory_max: &memory_max,
    };
    files.sample().map_err(|error| error.to_string())
}

fn sample_v1(mounts: &str, cgroup: &str) -> Result<CgroupSample, String> {
    let controller_dir = |controller: &str| -> Result<PathBuf, String> {
        let mount = find_v1_mount(mounts, controller).map_err(|error| error.to_string())?;
        let path = v1_path(cgroup, controller)
            .ok_or_else(|| format!("no {controller} line in /proc/self/cgroup"))?;
        Ok(cgroup_dir(&mount, path))
    };
    let cpuacct = controller_dir("cpuacct")?;
    let memory = controller_dir("memory")?;
    let (cpuacct_usage, memory_usage_in_bytes, memory_stat, memory_limit_in_bytes) = (
        read(cpuacct.join("cpuacct.usage"))?,
        read(memory.join("memory.usage_in_bytes"))?,
        read(memory.join("memory.stat"))?,
        read(memory.join("memory.limit_in_bytes"))?,
    );
    let files = CgroupV1Files {
        cpuacct_usage: &cpuacct_usage,
        memory_usage_in_bytes: &memory_usage_in_bytes,
        memory_stat: &memory_stat,
        memory_limit_in_bytes: &memory_limit_in_bytes,
    };
    files.sample().map_err(|error| error.to_string())
}

/// GPU figures are best effort: without NVIDIA devices, or when nvidia-smi fails, the
/// sample has none.
fn nvidia_gpus() -> Vec<GpuMetrics> {
    if !Path::new("/dev/nvidiactl").exists() {
        return Vec::new();
    }
    let output = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=memory.used,utilization.gpu",
            "--format=csv,noheader,nounits",
        ])
        .output();
    let parsed = match output {
        Ok(output) if output.status.success() => {
            parse_nvidia_smi_metrics(&String::from_utf8_lossy(&output.stdout))
                .map_err(|error| error.to_string())
        }
        Ok(output) => Err(format!("nvidia-smi exited with {}", output.status)),
        Err(error) => Err(format!("cannot run nvidia-smi: {error}")),
    };
    match parsed {
        Ok(gpus) => gpus
            .into_iter()
            .map(|gpu| GpuMetrics {
                gpu_memory_usage_bytes: gpu.gpu_memory_usage_bytes,
                gpu_util_percent: gpu.gpu_util_percent,
            })
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "no GPU metrics");
            Vec::new()
        }
    }
}

//! The local backend, the embedded default: the server's own host, cut into slices.
//!
//! An offer is a slice sized to a job's requirements (whole CPUs and memory at the low end of
//! their ranges), at price 0, bounded by what the host has left once the live local
//! instances have taken theirs. Provisioning a slice starts a `dstack-shim` of its own on a
//! free loopback port; Docker enforces the slice's CPU and memory through the task request,
//! and jobs publish their runner ports on loopback (bridge networking), so slices never
//! collide. Terminating the slice stops its shim.
//!
//! Disk is not reserved: every slice reports the size of the file system that holds the
//! server's directory, which they share. GPUs are not offered yet.
//!
//! On the wire a slice is an instance of the `remote` backend in region `local`: the 0.22
//! clients know no `local` backend type and would refuse the whole response.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dstack_agents::shim::ShimRuntime;
use dstack_core::memory::Memory;
use dstack_core::offers::{
    Disk, InstanceOfferWithAvailability, InstanceType, Requirements, Resources, offer_satisfies,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The region local slices report; it also tells a local instance from others.
pub const LOCAL_REGION: &str = "local";

/// How long a stopped shim gets to exit before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The host's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCapacity {
    /// CPUs.
    pub cpus: u32,
    /// Memory, MiB.
    pub memory_mib: u64,
    /// The size of the file system with the server's directory, MiB.
    pub disk_mib: u64,
}

impl HostCapacity {
    /// Reads the host: CPUs available to this process, `MemTotal`, and the size of the file
    /// system that holds `dir`.
    pub fn detect(dir: &Path) -> Self {
        let cpus = std::thread::available_parallelism()
            .map_or(1, |count| u32::try_from(count.get()).unwrap_or(u32::MAX));
        let memory_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| mem_total_kib(&text))
            .map_or(0, |kib| kib / 1024);
        let disk_mib = existing_ancestor(dir)
            .and_then(|dir| nix::sys::statvfs::statvfs(dir).ok())
            .map_or(0, |stat| {
                stat.blocks() * stat.fragment_size() / (1024 * 1024)
            });
        Self {
            cpus,
            memory_mib,
            disk_mib,
        }
    }
}

fn mem_total_kib(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn existing_ancestor(dir: &Path) -> Option<&Path> {
    dir.ancestors().find(|dir| dir.exists())
}

/// What the live local slices hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    /// CPUs.
    pub cpus: u32,
    /// Memory, MiB.
    pub memory_mib: u64,
}

impl Held {
    /// What the slices of these offers (JSON, as instances store them) hold.
    pub fn of_offers(offers: &[String]) -> Self {
        let mut held = Self::default();
        for offer in offers {
            if let Ok(offer) = serde_json::from_str::<InstanceOfferWithAvailability>(offer) {
                let resources = &offer.instance.resources;
                held.cpus = held.cpus.saturating_add(resources.cpus);
                held.memory_mib = held.memory_mib.saturating_add(resources.memory_mib);
            }
        }
        held
    }
}

/// Why no slice is offered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoSlice {
    /// The host could never run the job.
    #[error("the local backend cannot run this job: {0}")]
    Never(String),
    /// The host is too busy now; the job fits once slices are freed.
    #[error("the local host is busy: {0}")]
    NotNow(String),
}

/// How a local slice's shim is reached and stopped; `backend_data` of its provisioning data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalShim {
    /// The shim's HTTP port on loopback.
    pub shim_port: u16,
    /// The shim's process id.
    pub pid: i32,
    /// Whether its jobs run in containers or as host processes.
    pub runtime: ShimRuntime,
}

/// Why a slice could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The shim binary is missing.
    #[error(
        "the local backend needs dstack-shim, which is not at {0} (build it, or set \
         DSTACK_SERVER_SHIM_BINARY)"
    )]
    NoShim(PathBuf),
    /// The runner binary is missing.
    #[error(
        "the local backend needs a dstack-runner built for containers, which is not at {0} \
         (build it statically, or set DSTACK_SERVER_RUNNER_BINARY)"
    )]
    NoRunner(PathBuf),
    /// Starting the process failed.
    #[error("cannot start the local shim {binary}: {source}")]
    Spawn {
        /// The binary.
        binary: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The local backend of this server.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    /// Where each slice's shim keeps its home, `<dir>/<instance id>`.
    dir: PathBuf,
    shim_binary: PathBuf,
    runner_binary: PathBuf,
    host: HostCapacity,
    runtime: ShimRuntime,
    enabled: bool,
}

impl LocalBackend {
    /// The backend for a server whose state is in `server_dir`. Jobs run in Docker when its
    /// daemon's socket accepts a connection, else as host processes.
    pub fn new(server_dir: &Path, shim_binary: PathBuf, runner_binary: PathBuf) -> Self {
        let dir = server_dir.join("local");
        let host = HostCapacity::detect(server_dir);
        let runtime = if docker_answers() {
            ShimRuntime::Docker
        } else {
            ShimRuntime::Process
        };
        Self {
            dir,
            shim_binary,
            runner_binary,
            host,
            runtime,
            enabled: true,
        }
    }

    /// The same backend offering nothing (`DSTACK_SERVER_LOCAL_BACKEND_DISABLED`); its agent
    /// binaries still serve SSH hosts.
    pub fn disabled(self) -> Self {
        Self {
            enabled: false,
            ..self
        }
    }

    /// The slice for `requirements`, if the host could ever run the job.
    pub fn slice(
        &self,
        requirements: &Requirements,
    ) -> Result<InstanceOfferWithAvailability, NoSlice> {
        if !self.enabled {
            return Err(NoSlice::Never(
                "the local backend is disabled on this server".to_owned(),
            ));
        }
        let spec = &requirements.resources;
        if spec
            .gpu
            .as_ref()
            .is_some_and(|gpu| gpu.count.min.unwrap_or(0) > 0)
        {
            return Err(NoSlice::Never("it has no GPUs to offer".to_owned()));
        }
        let cpus = spec.cpu.count.min.unwrap_or(1).max(1);
        let memory_mib = spec
            .memory
            .min
            .map_or(1024, |memory| memory_mib(memory).max(1));
        let offer = slice_offer(cpus, memory_mib, self.host.disk_mib);
        if let Err(mismatch) = offer_satisfies(requirements, &offer) {
            return Err(NoSlice::Never(mismatch.to_string()));
        }
        if cpus > self.host.cpus || memory_mib > self.host.memory_mib {
            return Err(NoSlice::Never(format!(
                "it needs {cpus} CPUs and {} of memory; the host has {} CPUs and {}",
                mib_text(memory_mib),
                self.host.cpus,
                mib_text(self.host.memory_mib)
            )));
        }
        Ok(offer)
    }

    /// Whether `slice` fits beside the live slices, which hold `held`.
    pub fn fits_now(
        &self,
        slice: &InstanceOfferWithAvailability,
        held: Held,
    ) -> Result<(), NoSlice> {
        let resources = &slice.instance.resources;
        let free_cpus = self.host.cpus.saturating_sub(held.cpus);
        let free_memory = self.host.memory_mib.saturating_sub(held.memory_mib);
        if resources.cpus > free_cpus || resources.memory_mib > free_memory {
            return Err(NoSlice::NotNow(format!(
                "the job needs {} CPUs and {} of memory; {free_cpus} CPUs and {} are free",
                resources.cpus,
                mib_text(resources.memory_mib),
                mib_text(free_memory)
            )));
        }
        Ok(())
    }

    /// The shim binary it starts.
    pub fn shim_binary(&self) -> &Path {
        &self.shim_binary
    }

    /// The runner binary its shims put into jobs.
    pub fn runner_binary(&self) -> &Path {
        &self.runner_binary
    }

    /// Starts the shim of slice `instance_id`. It runs in its own process group, so it
    /// outlives a server that is stopped or restarted, and keeps running its jobs.
    pub fn launch(&self, instance_id: Uuid) -> Result<LocalShim, LaunchError> {
        if !self.shim_binary.is_file() {
            return Err(LaunchError::NoShim(self.shim_binary.clone()));
        }
        if !self.runner_binary.is_file() {
            return Err(LaunchError::NoRunner(self.runner_binary.clone()));
        }
        let spawn_error = |source| LaunchError::Spawn {
            binary: self.shim_binary.clone(),
            source,
        };
        let home = self.dir.join(instance_id.to_string());
        std::fs::create_dir_all(&home).map_err(spawn_error)?;
        let shim_port = free_loopback_port().map_err(spawn_error)?;
        let output = std::fs::File::create(home.join("shim.stdout")).map_err(spawn_error)?;
        let errors = output.try_clone().map_err(spawn_error)?;
        let mut child = tokio::process::Command::new(&self.shim_binary)
            .arg("--shim-home")
            .arg(&home)
            .arg("--shim-http-port")
            .arg(shim_port.to_string())
            .arg("--runner-binary-path")
            .arg(&self.runner_binary)
            .arg("--runtime")
            .arg(match self.runtime {
                ShimRuntime::Docker => "docker",
                ShimRuntime::Process => "process",
            })
            .stdin(std::process::Stdio::null())
            .stdout(output)
            .stderr(errors)
            .process_group(0)
            .spawn()
            .map_err(spawn_error)?;
        let pid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .unwrap_or_default();
        // Reaps the shim when it exits while this server runs.
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        Ok(LocalShim {
            shim_port,
            pid,
            runtime: self.runtime,
        })
    }

    /// Stops the shim of slice `instance_id` and waits for it to exit (killing it after
    /// [`STOP_TIMEOUT`]). A shim that is gone already, or a pid that now belongs to another
    /// program, is left alone.
    pub async fn terminate(&self, instance_id: Uuid, shim: LocalShim) {
        let pid = Pid::from_raw(shim.pid);
        let ours = || {
            std::fs::read(format!("/proc/{}/cmdline", shim.pid)).is_ok_and(|cmdline| {
                String::from_utf8_lossy(&cmdline).contains(&instance_id.to_string())
            })
        };
        if shim.pid <= 0 || !ours() {
            return;
        }
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        let mut ticks = tokio::time::interval(Duration::from_millis(50));
        while ours() && !is_zombie(shim.pid) {
            if Instant::now() >= deadline {
                let _ = kill(pid, Signal::SIGKILL);
                break;
            }
            ticks.tick().await;
        }
    }
}

/// Whether Docker's socket (`DOCKER_HOST` when it names one) accepts a connection.
fn docker_answers() -> bool {
    let socket = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|host| host.strip_prefix("unix://").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"));
    std::os::unix::net::UnixStream::connect(socket).is_ok()
}

/// An exited child not yet reaped still has its `/proc` entry.
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after_name = stat.rsplit_once(')')?.1;
            after_name
                .split_whitespace()
                .next()
                .map(|state| state == "Z")
        })
        .unwrap_or(false)
}

/// A slice of `cpus` and `memory_mib` with the shared disk.
fn slice_offer(cpus: u32, memory_mib: u64, disk_mib: u64) -> InstanceOfferWithAvailability {
    let instance = InstanceType {
        name: format!("local-{cpus}cpu-{}", mib_text(memory_mib).replace(' ', "")),
        resources: Resources {
            cpus,
            memory_mib,
            gpus: Vec::new(),
            spot: false,
            disk: Disk { size_mib: disk_mib },
            cpu_arch: None,
            description: String::new(),
        },
    };
    InstanceOfferWithAvailability::remote(instance, LOCAL_REGION, 1)
}

fn memory_mib(memory: Memory) -> u64 {
    // Memory is in GB (GiB as dstack counts); whole MiB, rounded up.
    (memory.gb() * 1024.0).ceil() as u64
}

fn mib_text(mib: u64) -> String {
    if mib.is_multiple_of(1024) {
        format!("{} GB", mib / 1024)
    } else {
        format!("{:.1} GB", mib as f64 / 1024.0)
    }
}

fn free_loopback_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

#[cfg(test)]
mod tests {
    use dstack_core::resources::ResourcesSpec;

    use super::*;

    fn backend(cpus: u32, memory_gb: u64) -> LocalBackend {
        LocalBackend {
            dir: PathBuf::from("/nonexistent"),
            shim_binary: PathBuf::from("/nonexistent/dstack-shim"),
            runner_binary: PathBuf::from("/nonexistent/dstack-runner"),
            host: HostCapacity {
                cpus,
                memory_mib: memory_gb * 1024,
                disk_mib: 500 * 1024,
            },
            runtime: ShimRuntime::Docker,
            enabled: true,
        }
    }

    fn requirements(resources: &str) -> Requirements {
        let resources: ResourcesSpec = serde_json::from_str(resources).unwrap();
        Requirements {
            resources,
            max_price: None,
            spot: None,
            reservation: None,
            multinode: None,
            backend_options: None,
        }
    }

    #[test]
    fn a_slice_takes_the_low_end_of_each_range() {
        let offer = backend(8, 32)
            .slice(&requirements(r#"{"cpu": "2..", "memory": "4GB..8GB"}"#))
            .unwrap();
        assert_eq!(offer.instance.resources.cpus, 2);
        assert_eq!(offer.instance.resources.memory_mib, 4096);
        assert_eq!(offer.instance.resources.disk.size_mib, 500 * 1024);
        assert_eq!(offer.backend, dstack_core::backend::BackendType::Remote);
        assert_eq!(offer.region, LOCAL_REGION);
        assert_eq!(offer.price, 0.0);
    }

    #[test]
    fn a_busy_host_is_busy_now_and_a_small_one_never_fits() {
        let backend = backend(4, 16);
        let slice = backend
            .slice(&requirements(r#"{"cpu": "2..", "memory": "8GB.."}"#))
            .unwrap();
        let busy = Held::of_offers(&[serde_json::to_string(&slice).unwrap()]);
        assert_eq!(
            busy,
            Held {
                cpus: 2,
                memory_mib: 8192
            }
        );
        assert!(backend.fits_now(&slice, busy).is_ok());
        let held = Held {
            cpus: 3,
            ..Held::default()
        };
        assert!(matches!(
            backend.fits_now(&slice, held),
            Err(NoSlice::NotNow(_))
        ));
        let too_big = requirements(r#"{"cpu": "8..", "memory": "8GB.."}"#);
        let error = backend.slice(&too_big).unwrap_err();
        assert!(matches!(error, NoSlice::Never(_)), "{error}");
        assert!(error.to_string().contains("the host has 4 CPUs"), "{error}");
    }

    #[test]
    fn gpus_and_spot_are_never_offered() {
        let backend = backend(4, 16);
        let gpu = requirements(r#"{"cpu": "1..", "memory": "1GB..", "gpu": 1}"#);
        assert!(matches!(backend.slice(&gpu), Err(NoSlice::Never(_))));
        let mut spot = requirements(r#"{"cpu": "1..", "memory": "1GB.."}"#);
        spot.spot = Some(true);
        assert!(matches!(backend.slice(&spot), Err(NoSlice::Never(_))));
    }

    #[test]
    fn the_host_is_measured() {
        let host = HostCapacity::detect(Path::new("/tmp/does/not/exist"));
        assert!(host.cpus >= 1);
        assert!(host.memory_mib > 0);
        assert!(host.disk_mib > 0);
    }

    #[test]
    fn meminfo_total_is_read_in_kib() {
        assert_eq!(
            mem_total_kib("MemTotal:       24567890 kB\nMemFree: 1 kB\n"),
            Some(24_567_890)
        );
    }
}

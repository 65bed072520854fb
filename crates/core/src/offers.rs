//! The offer side: instance types and offers as on the wire, the requirements they are matched
//! against, and the matching and ordering rules.

mod matching;
mod nvidia_models;

pub use matching::{Mismatch, OutOfRange, offer_satisfies, resources_satisfy};
pub use nvidia_models::nvidia_compute_capability;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::backend::BackendType;
use crate::memory::Memory;
use crate::resources::{CpuArch, GpuVendor, ResourcesSpec};

/// What a job asks for (`Requirements`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requirements {
    pub resources: ResourcesSpec,
    #[serde(default)]
    pub max_price: Option<f64>,
    /// `None` means either (spot policy `auto`).
    #[serde(default)]
    pub spot: Option<bool>,
    #[serde(default)]
    pub reservation: Option<String>,
    #[serde(default)]
    pub multinode: Option<bool>,
    /// Backend-specific options (`VastAIProfileOptions`), passed through as they come.
    #[serde(default)]
    pub backend_options: Option<Vec<serde_json::Value>>,
}

/// An instance type offered by a backend (`InstanceType`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceType {
    pub name: String,
    pub resources: Resources,
}

/// Concrete resources of an instance (`Resources`); sizes in MiB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub cpus: u32,
    pub memory_mib: u64,
    pub gpus: Vec<Gpu>,
    pub spot: bool,
    #[serde(default)]
    pub disk: Disk,
    #[serde(default)]
    pub cpu_arch: Option<CpuArch>,
    #[serde(default)]
    pub description: String,
}

/// One accelerator of an instance (`Gpu`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gpu {
    pub name: String,
    pub memory_mib: u64,
    #[serde(default)]
    pub vendor: Option<GpuVendor>,
}

/// The instance's disk (`Disk`); 100 GB when a backend does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    pub size_mib: u64,
}

impl Default for Disk {
    fn default() -> Self {
        Disk { size_mib: 102_400 }
    }
}

/// Whether an offer can be used now (`InstanceAvailability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceAvailability {
    Unknown,
    Available,
    NotAvailable,
    NoQuota,
    NoBalance,
    Idle,
    Busy,
}

/// What the instance runs for the job (`InstanceRuntime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceRuntime {
    #[default]
    Shim,
    Runner,
}

/// An offer (`InstanceOfferWithAvailability`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceOfferWithAvailability {
    pub backend: BackendType,
    pub instance: InstanceType,
    pub region: String,
    pub price: f64,
    #[serde(default)]
    pub backend_data: serde_json::Map<String, serde_json::Value>,
    pub availability: InstanceAvailability,
    #[serde(default)]
    pub availability_zones: Option<Vec<String>>,
    #[serde(default)]
    pub instance_runtime: InstanceRuntime,
    #[serde(default = "one")]
    pub blocks: u32,
    #[serde(default = "one")]
    pub total_blocks: u32,
}

fn one() -> u32 {
    1
}

/// Profile-level allow lists (`backends`, `regions`, `instance_types`); `None` allows all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferFilter {
    pub backends: Option<Vec<BackendType>>,
    pub regions: Option<Vec<String>>,
    pub instance_types: Option<Vec<String>>,
}

impl InstanceOfferWithAvailability {
    /// An available offer of a machine the server already reaches (an SSH host, a slice of
    /// its own host): the `remote` backend, price 0, one block of `total_blocks`.
    pub fn remote(instance: InstanceType, region: &str, total_blocks: u32) -> Self {
        Self {
            backend: BackendType::Remote,
            instance,
            region: region.to_owned(),
            price: 0.0,
            backend_data: serde_json::Map::new(),
            availability: InstanceAvailability::Available,
            availability_zones: None,
            instance_runtime: InstanceRuntime::Shim,
            blocks: 1,
            total_blocks,
        }
    }
}

impl InstanceAvailability {
    /// Offers that cannot be provisioned now; dstack sorts them last and the scheduler drops
    /// them.
    pub fn is_unavailable(self) -> bool {
        matches!(
            self,
            InstanceAvailability::NotAvailable | InstanceAvailability::NoQuota
        )
    }
}

/// Orders offers as dstack prefers them: usable before unavailable, then cheapest first.
/// The sort is stable, so equal offers keep the backends' order.
pub fn sort_offers(offers: &mut [InstanceOfferWithAvailability]) {
    offers.sort_by(|a, b| {
        a.availability
            .is_unavailable()
            .cmp(&b.availability.is_unavailable())
            .then(a.price.total_cmp(&b.price))
    });
}

/// `cpu=24 mem=251GB disk=100GB gpu=H100:80GB:1`; the `gpu=` part only when there are GPUs.
impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cpu={} mem={} disk={}",
            self.cpus,
            Memory::from_mib(self.memory_mib),
            Memory::from_mib(self.disk.size_mib)
        )?;
        if let Some(gpu) = self.gpus.first() {
            write!(
                f,
                " gpu={}:{}:{}",
                gpu.name,
                Memory::from_mib(gpu.memory_mib),
                self.gpus.len()
            )?;
        }
        Ok(())
    }
}

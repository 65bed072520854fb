//! Whether an offer or an instance satisfies a job's requirements, and why not.

use std::fmt;

use super::nvidia_models::nvidia_compute_capability;
use super::{Gpu, InstanceOfferWithAvailability, OfferFilter, Resources};
use crate::backend::BackendType;
use crate::memory::Memory;
use crate::offers::Requirements;
use crate::range::{Range, RangeBound};
use crate::resources::{ComputeCapability, CpuArch, GpuSpec, GpuVendor, ResourcesSpec};

/// A value outside a wanted range; prints `24GB is below 40GB` or `16 is above 8`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutOfRange<T> {
    pub value: T,
    pub wanted: Range<T>,
}

impl<T: RangeBound> fmt::Display for OutOfRange<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.wanted.min, self.wanted.max) {
            (Some(min), _) if self.value < min => write!(f, "{} is below {min}", self.value),
            (_, Some(max)) => write!(f, "{} is above {max}", self.value),
            _ => write!(f, "{} is outside {}", self.value, self.wanted),
        }
    }
}

fn check_range<T: RangeBound>(
    value: T,
    wanted: &Range<T>,
    mismatch: impl FnOnce(OutOfRange<T>) -> Mismatch,
) -> Result<(), Mismatch> {
    if wanted.contains(value) {
        Ok(())
    } else {
        Err(mismatch(OutOfRange {
            value,
            wanted: *wanted,
        }))
    }
}

/// The first reason an offer does not fit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Mismatch {
    #[error("price {price} is above max_price {max_price}")]
    Price { price: f64, max_price: f64 },
    #[error("the offer is {}, the job wants {}", spot_word(*.offered), spot_word(!*.offered))]
    Spot { offered: bool },
    #[error("cpu architecture {offered} is not {wanted}")]
    CpuArch { offered: CpuArch, wanted: CpuArch },
    #[error("cpu count {0}")]
    CpuCount(OutOfRange<u32>),
    #[error("memory {0}")]
    Memory(OutOfRange<Memory>),
    #[error("disk {0}")]
    Disk(OutOfRange<Memory>),
    #[error("gpu count {0}")]
    GpuCount(OutOfRange<u32>),
    #[error("the offer has no gpu, the job wants gpu {wanted}")]
    NoGpu { wanted: String },
    #[error("gpu vendor {offered} is not {wanted}")]
    GpuVendor {
        offered: GpuVendor,
        wanted: GpuVendor,
    },
    #[error("gpu {offered} is not one of {}", .wanted.join(", "))]
    GpuName {
        offered: String,
        wanted: Vec<String>,
    },
    #[error("gpu memory {0}")]
    GpuMemory(OutOfRange<Memory>),
    #[error("total gpu memory {0}")]
    GpuTotalMemory(OutOfRange<Memory>),
    #[error("compute capability of gpu {gpu} is unknown, the job wants {wanted} or higher")]
    UnknownComputeCapability {
        gpu: String,
        wanted: ComputeCapability,
    },
    #[error("compute capability {offered} of gpu {gpu} is below {wanted}")]
    ComputeCapability {
        gpu: String,
        offered: ComputeCapability,
        wanted: ComputeCapability,
    },
    #[error("backend {0} is not in the allowed backends")]
    Backend(BackendType),
    #[error("region {0} is not in the allowed regions")]
    Region(String),
    #[error("instance type {0} is not in the allowed instance types")]
    InstanceType(String),
}

fn spot_word(spot: bool) -> &'static str {
    if spot { "spot" } else { "on-demand" }
}

/// Checks price, spot policy and resources of a backend offer against a job's requirements.
pub fn offer_satisfies(
    requirements: &Requirements,
    offer: &InstanceOfferWithAvailability,
) -> Result<(), Mismatch> {
    if let Some(max_price) = requirements.max_price
        && offer.price > max_price
    {
        return Err(Mismatch::Price {
            price: offer.price,
            max_price,
        });
    }
    let resources = &offer.instance.resources;
    if let Some(spot) = requirements.spot
        && resources.spot != spot
    {
        return Err(Mismatch::Spot {
            offered: resources.spot,
        });
    }
    resources_satisfy(&requirements.resources, resources)
}

/// Checks concrete resources (of an offer or an existing instance) against a resources spec.
/// Memory on the spec side is in GB, on the offer side in MiB.
pub fn resources_satisfy(spec: &ResourcesSpec, resources: &Resources) -> Result<(), Mismatch> {
    if let Some(wanted) = spec.cpu.arch {
        // Backends that do not report an architecture sell x86 machines.
        let offered = resources.cpu_arch.unwrap_or(CpuArch::X86);
        if offered != wanted {
            return Err(Mismatch::CpuArch { offered, wanted });
        }
    }
    check_range(resources.cpus, &spec.cpu.count, Mismatch::CpuCount)?;
    check_range(
        Memory::from_mib(resources.memory_mib),
        &spec.memory,
        Mismatch::Memory,
    )?;
    if let Some(disk) = &spec.disk {
        check_range(
            Memory::from_mib(resources.disk.size_mib),
            &disk.size,
            Mismatch::Disk,
        )?;
    }
    match &spec.gpu {
        Some(gpu) => gpus_satisfy(gpu, &resources.gpus),
        None => Ok(()),
    }
}

fn gpus_satisfy(spec: &GpuSpec, gpus: &[Gpu]) -> Result<(), Mismatch> {
    let count = u32::try_from(gpus.len()).unwrap_or(u32::MAX);
    check_range(count, &spec.count, Mismatch::GpuCount)?;
    let wants_model =
        spec.name.is_some() || spec.memory.is_some() || spec.compute_capability.is_some();
    if gpus.is_empty() && wants_model {
        return Err(Mismatch::NoGpu {
            wanted: spec.to_string(),
        });
    }
    for gpu in gpus {
        gpu_satisfies(spec, gpu)?;
    }
    if let Some(wanted) = &spec.total_memory {
        let total_mib = gpus.iter().map(|g| g.memory_mib).sum();
        check_range(
            Memory::from_mib(total_mib),
            wanted,
            Mismatch::GpuTotalMemory,
        )?;
    }
    Ok(())
}

fn gpu_satisfies(spec: &GpuSpec, gpu: &Gpu) -> Result<(), Mismatch> {
    // Catalog entries without a vendor are NVIDIA GPUs.
    let vendor = gpu.vendor.unwrap_or(GpuVendor::Nvidia);
    if let Some(wanted) = spec.vendor
        && vendor != wanted
    {
        return Err(Mismatch::GpuVendor {
            offered: vendor,
            wanted,
        });
    }
    if let Some(names) = &spec.name
        && !names.iter().any(|n| n.eq_ignore_ascii_case(&gpu.name))
    {
        return Err(Mismatch::GpuName {
            offered: gpu.name.clone(),
            wanted: names.clone(),
        });
    }
    if let Some(wanted) = &spec.memory {
        check_range(
            Memory::from_mib(gpu.memory_mib),
            wanted,
            Mismatch::GpuMemory,
        )?;
    }
    if let Some(wanted) = spec.compute_capability {
        let offered = nvidia_compute_capability(&gpu.name)
            .filter(|_| vendor == GpuVendor::Nvidia)
            .ok_or_else(|| Mismatch::UnknownComputeCapability {
                gpu: gpu.name.clone(),
                wanted,
            })?;
        if offered < wanted {
            return Err(Mismatch::ComputeCapability {
                gpu: gpu.name.clone(),
                offered,
                wanted,
            });
        }
    }
    Ok(())
}

impl OfferFilter {
    /// Checks the profile's allow lists: backend, region (any case) and instance type name.
    pub fn allows(&self, offer: &InstanceOfferWithAvailability) -> Result<(), Mismatch> {
        if let Some(backends) = &self.backends
            && !backends.contains(&offer.backend)
        {
            return Err(Mismatch::Backend(offer.backend));
        }
        if let Some(regions) = &self.regions
            && !regions
                .iter()
                .any(|r| r.eq_ignore_ascii_case(&offer.region))
        {
            return Err(Mismatch::Region(offer.region.clone()));
        }
        if let Some(types) = &self.instance_types
            && !types.contains(&offer.instance.name)
        {
            return Err(Mismatch::InstanceType(offer.instance.name.clone()));
        }
        Ok(())
    }
}

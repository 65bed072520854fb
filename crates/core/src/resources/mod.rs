//! `resources:` of runs and fleets (`ResourcesSpec`) and its parts.

pub mod compute_capability;
pub mod cpu;
pub mod defaults;
pub mod disk;
pub mod gpu;

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use compute_capability::{ComputeCapability, ComputeCapabilityError};
pub use cpu::{CpuArch, CpuSpec, CpuSpecError};
pub use defaults::{ImageSource, ResourcesError, known_model_vendor};
pub use disk::DiskSpec;
pub use gpu::{GpuSpec, GpuSpecError, GpuSpecPart, GpuVendor};

use crate::memory::Memory;
use crate::range::Range;

/// `resources:`; omitted fields take dstack's defaults (cpu `2..`, memory `8GB..`, gpu `0..`,
/// disk `100GB..`). An explicit `gpu: null` or `disk: null` stays null.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcesSpec {
    #[serde(default)]
    pub cpu: CpuSpec,
    #[serde(default = "ResourcesSpec::default_memory")]
    pub memory: Range<Memory>,
    #[serde(default)]
    pub shm_size: Option<Memory>,
    #[serde(default = "ResourcesSpec::default_gpu")]
    pub gpu: Option<GpuSpec>,
    #[serde(default = "ResourcesSpec::default_disk")]
    pub disk: Option<DiskSpec>,
}

impl ResourcesSpec {
    fn default_memory() -> Range<Memory> {
        Range::at_least(Memory::from_mib(8 * 1024))
    }

    fn default_gpu() -> Option<GpuSpec> {
        Some(GpuSpec::with_count(Range::at_least(0)))
    }

    fn default_disk() -> Option<DiskSpec> {
        Some(DiskSpec {
            size: Range::at_least(Memory::from_mib(100 * 1024)),
        })
    }

    /// What `dstack offer` and fleets without `resources` ask for: cpu `1..`, memory `0GB..`,
    /// gpu `0..`, any disk.
    pub fn unconstrained() -> Self {
        ResourcesSpec {
            cpu: CpuSpec {
                arch: None,
                count: Range::at_least(1),
            },
            memory: Range::at_least(Memory::ZERO),
            shm_size: None,
            gpu: Self::default_gpu(),
            disk: None,
        }
    }
}

impl Default for ResourcesSpec {
    fn default() -> Self {
        ResourcesSpec {
            cpu: CpuSpec::default(),
            memory: Self::default_memory(),
            shm_size: None,
            gpu: Self::default_gpu(),
            disk: Self::default_disk(),
        }
    }
}

/// The one-line form of the plan table: `cpu=x86:2.. mem=8GB.. disk=100GB.. gpu=nvidia:0..`.
impl fmt::Display for ResourcesSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpu={} mem={}", self.cpu, self.memory)?;
        if let Some(disk) = &self.disk {
            write!(f, " disk={disk}")?;
        }
        if let Some(gpu) = &self.gpu {
            write!(f, " gpu={gpu}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEFAULT_WIRE: &str = r#"{"cpu":{"arch":null,"count":{"min":2,"max":null}},"memory":{"min":8.0,"max":null},"shm_size":null,"gpu":{"vendor":null,"name":null,"count":{"min":0,"max":null},"memory":null,"total_memory":null,"compute_capability":null},"disk":{"size":{"min":100.0,"max":null}}}"#;

    #[test]
    fn empty_object_takes_dstack_defaults() {
        let spec = serde_json::from_value::<ResourcesSpec>(json!({})).ok();
        assert_eq!(spec.as_ref(), Some(&ResourcesSpec::default()));
        let wire = spec.and_then(|s| serde_json::to_string(&s).ok());
        assert_eq!(wire.as_deref(), Some(DEFAULT_WIRE));
    }

    #[test]
    fn explicit_nulls_stay_null() {
        let spec = serde_json::from_value::<ResourcesSpec>(json!({"gpu": null, "disk": null}));
        assert_eq!(spec.ok().map(|s| (s.gpu, s.disk)), Some((None, None)));
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_value::<ResourcesSpec>(json!({"ram": "8GB"})).is_err());
    }

    #[test]
    fn human_readable_line() {
        let mut spec = ResourcesSpec::default();
        spec.cpu.arch = Some(CpuArch::X86);
        spec.gpu = Some(GpuSpec {
            vendor: Some(GpuVendor::Nvidia),
            ..GpuSpec::with_count(Range::at_least(0))
        });
        assert_eq!(
            spec.to_string(),
            "cpu=x86:2.. mem=8GB.. disk=100GB.. gpu=nvidia:0.."
        );
        spec.gpu = "24GB".parse().ok().map(|g| GpuSpec {
            vendor: Some(GpuVendor::Nvidia),
            ..g
        });
        assert_eq!(
            spec.to_string(),
            "cpu=x86:2.. mem=8GB.. disk=100GB.. gpu=nvidia:24GB:1.."
        );
        let unconstrained = ResourcesSpec::unconstrained();
        assert_eq!(unconstrained.to_string(), "cpu=1.. mem=0GB.. gpu=0..");
    }
}

//! What the server fills in or refuses in each `resources` block before scheduling.

use super::{GpuSpec, GpuVendor, ResourcesSpec};
use crate::offers::nvidia_compute_capability;
use crate::range::Range;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourcesError {
    #[error("`image` must be set: the default image does not support {vendor} accelerators")]
    ImageRequired { vendor: GpuVendor },
}

/// Accelerator models of vendors other than NVIDIA, by the names backends give them.
const OTHER_VENDOR_MODELS: &[(&str, GpuVendor)] = &[
    ("MI100", GpuVendor::Amd),
    ("MI210", GpuVendor::Amd),
    ("MI250", GpuVendor::Amd),
    ("MI250X", GpuVendor::Amd),
    ("MI300A", GpuVendor::Amd),
    ("MI300X", GpuVendor::Amd),
    ("MI308X", GpuVendor::Amd),
    ("MI325X", GpuVendor::Amd),
    ("MI355X", GpuVendor::Amd),
    ("Gaudi", GpuVendor::Intel),
    ("Gaudi2", GpuVendor::Intel),
    ("Gaudi3", GpuVendor::Intel),
    ("n150", GpuVendor::Tenstorrent),
    ("n300", GpuVendor::Tenstorrent),
    ("p100a", GpuVendor::Tenstorrent),
    ("p150a", GpuVendor::Tenstorrent),
    ("p150b", GpuVendor::Tenstorrent),
];

/// The vendor of a known accelerator model; TPUs are named like `v5litepod-8` or `v3-8`.
pub fn known_model_vendor(name: &str) -> Option<GpuVendor> {
    if nvidia_compute_capability(name).is_some() {
        return Some(GpuVendor::Nvidia);
    }
    if let Some(version) = name.strip_prefix('v')
        && version.starts_with(|c: char| c.is_ascii_digit())
        && version.contains('-')
    {
        return Some(GpuVendor::Google);
    }
    OTHER_VENDOR_MODELS
        .iter()
        .find(|(model, _)| model.eq_ignore_ascii_case(name))
        .map(|(_, vendor)| *vendor)
}

/// The single vendor of all `names`, if every name is a known model of that vendor.
fn single_vendor(names: &[String]) -> Option<GpuVendor> {
    let mut vendors = names.iter().map(|n| known_model_vendor(n));
    let first = vendors.next()??;
    vendors.all(|v| v == Some(first)).then_some(first)
}

impl ResourcesSpec {
    /// Fills in what the server does for a run's resources block: a null `gpu` becomes `0..`,
    /// and an unset vendor is inferred when GPUs may be wanted — from the names when they all
    /// belong to one vendor, otherwise NVIDIA unless the run brings its own image
    /// (`image` or `docker: true`).
    pub fn apply_server_defaults(&mut self, custom_image: bool) {
        let gpu = self
            .gpu
            .get_or_insert_with(|| GpuSpec::with_count(Range::at_least(0)));
        if gpu.vendor.is_some() || gpu.count.max == Some(0) {
            return;
        }
        gpu.vendor = match &gpu.name {
            Some(names) => single_vendor(names),
            None if custom_image => None,
            None => Some(GpuVendor::Nvidia),
        };
    }

    /// The default image runs on NVIDIA GPUs and TPUs only; other accelerators need `image`.
    pub fn check_default_image(&self) -> Result<(), ResourcesError> {
        match self.gpu.as_ref().and_then(|g| g.vendor) {
            Some(vendor) if !matches!(vendor, GpuVendor::Nvidia | GpuVendor::Google) => {
                Err(ResourcesError::ImageRequired { vendor })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources_with_gpu(gpu: &str) -> ResourcesSpec {
        ResourcesSpec {
            gpu: gpu.parse().ok(),
            ..ResourcesSpec::default()
        }
    }

    fn defaulted_vendor(mut spec: ResourcesSpec, custom_image: bool) -> Option<GpuVendor> {
        spec.apply_server_defaults(custom_image);
        spec.gpu.and_then(|g| g.vendor)
    }

    #[test]
    fn vendor_inference() {
        let cases = [
            ("24GB", false, Some(GpuVendor::Nvidia)),
            ("24GB", true, None),
            ("MI300X:8", false, Some(GpuVendor::Amd)),
            ("mi300x,MI325X", true, Some(GpuVendor::Amd)),
            ("A100,MI300X", false, None),
            ("v5litepod-8", false, Some(GpuVendor::Google)),
            ("Gaudi2", false, Some(GpuVendor::Intel)),
            ("UnknownGPU", false, None),
            ("0", false, None),
            ("amd:2", false, Some(GpuVendor::Amd)),
        ];
        for (gpu, custom_image, vendor) in cases {
            assert_eq!(
                defaulted_vendor(resources_with_gpu(gpu), custom_image),
                vendor,
                "{gpu}"
            );
        }
    }

    #[test]
    fn null_gpu_becomes_zero_or_more() {
        let mut spec = ResourcesSpec {
            gpu: None,
            ..ResourcesSpec::default()
        };
        spec.apply_server_defaults(true);
        assert_eq!(spec.gpu, Some(GpuSpec::with_count(Range::at_least(0))));
    }

    #[test]
    fn default_image_supports_nvidia_and_tpu_only() {
        assert_eq!(resources_with_gpu("A100").check_default_image(), Ok(()));
        assert_eq!(resources_with_gpu("tpu:v3-8").check_default_image(), Ok(()));
        assert_eq!(
            resources_with_gpu("amd:MI300X").check_default_image(),
            Err(ResourcesError::ImageRequired {
                vendor: GpuVendor::Amd
            })
        );
    }
}

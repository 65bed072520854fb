//! What the server fills in or refuses in each `resources` block before scheduling.

use super::{CpuArch, GpuSpec, GpuVendor, ResourcesSpec};
use crate::offers::nvidia_compute_capability;
use crate::range::Range;

/// Which image a run's container uses; the defaults and checks depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSource {
    /// Neither `image` nor `docker: true`: dstack's default (x86, NVIDIA/TPU) image.
    Default,
    /// `docker: true`: dstack's Docker-in-Docker image, also x86 only.
    Docker,
    /// The run's own `image`.
    Custom,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourcesError {
    #[error("`image` must be set: the default image does not support {vendor} accelerators")]
    ImageRequiredForVendor { vendor: GpuVendor },
    #[error("`image` must be set when an ARM cpu is requested: the default image is x86 only")]
    ImageRequiredForArm,
    #[error("`docker: true` cannot run on an ARM cpu: its image is x86 only")]
    DockerOnArm,
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
    pub fn apply_server_defaults(&mut self, image: ImageSource) {
        let gpu = self
            .gpu
            .get_or_insert_with(|| GpuSpec::with_count(Range::at_least(0)));
        if gpu.vendor.is_some() || gpu.count.max == Some(0) {
            return;
        }
        gpu.vendor = match &gpu.name {
            Some(names) => single_vendor(names),
            None if image != ImageSource::Default => None,
            None => Some(GpuVendor::Nvidia),
        };
    }

    /// dstack's own images run on x86 with NVIDIA GPUs or TPUs; anything else needs `image`.
    pub fn check_image(&self, image: ImageSource) -> Result<(), ResourcesError> {
        if image == ImageSource::Custom {
            return Ok(());
        }
        if self.cpu.arch == Some(CpuArch::Arm) {
            return Err(match image {
                ImageSource::Docker => ResourcesError::DockerOnArm,
                _ => ResourcesError::ImageRequiredForArm,
            });
        }
        match self.gpu.as_ref().and_then(|g| g.vendor) {
            Some(vendor) if !matches!(vendor, GpuVendor::Nvidia | GpuVendor::Google) => {
                Err(ResourcesError::ImageRequiredForVendor { vendor })
            }
            _ => Ok(()),
        }
    }

    /// The cpu architecture a job's requirements carry: the one asked for, else x86 with
    /// dstack's own images. For a custom image it is the image's, which only the server can
    /// find out, so `None` here.
    pub fn requirements_cpu_arch(&self, image: ImageSource) -> Option<CpuArch> {
        match (self.cpu.arch, image) {
            (Some(arch), _) => Some(arch),
            (None, ImageSource::Custom) => None,
            (None, _) => Some(CpuArch::X86),
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

    fn defaulted_vendor(mut spec: ResourcesSpec, image: ImageSource) -> Option<GpuVendor> {
        spec.apply_server_defaults(image);
        spec.gpu.and_then(|g| g.vendor)
    }

    #[test]
    fn vendor_inference() {
        use ImageSource::{Custom, Default, Docker};
        let cases = [
            ("24GB", Default, Some(GpuVendor::Nvidia)),
            ("24GB", Custom, None),
            ("24GB", Docker, None),
            ("MI300X:8", Default, Some(GpuVendor::Amd)),
            ("mi300x,MI325X", Custom, Some(GpuVendor::Amd)),
            ("A100,MI300X", Default, None),
            ("v5litepod-8", Default, Some(GpuVendor::Google)),
            ("Gaudi2", Default, Some(GpuVendor::Intel)),
            ("UnknownGPU", Default, None),
            ("0", Default, None),
            ("amd:2", Default, Some(GpuVendor::Amd)),
        ];
        for (gpu, image, vendor) in cases {
            assert_eq!(
                defaulted_vendor(resources_with_gpu(gpu), image),
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
        spec.apply_server_defaults(ImageSource::Custom);
        assert_eq!(spec.gpu, Some(GpuSpec::with_count(Range::at_least(0))));
    }

    #[test]
    fn own_images_support_nvidia_and_tpu_only() {
        let check = |gpu, image| resources_with_gpu(gpu).check_image(image);
        assert_eq!(check("A100", ImageSource::Default), Ok(()));
        assert_eq!(check("tpu:v3-8", ImageSource::Default), Ok(()));
        assert_eq!(
            check("amd:MI300X", ImageSource::Docker),
            Err(ResourcesError::ImageRequiredForVendor {
                vendor: GpuVendor::Amd
            })
        );
        assert_eq!(check("amd:MI300X", ImageSource::Custom), Ok(()));
    }

    #[test]
    fn arm_needs_a_custom_image() {
        let arm = ResourcesSpec {
            cpu: "arm".parse().unwrap_or_default(),
            ..ResourcesSpec::default()
        };
        assert_eq!(
            arm.check_image(ImageSource::Default),
            Err(ResourcesError::ImageRequiredForArm)
        );
        assert_eq!(
            arm.check_image(ImageSource::Docker),
            Err(ResourcesError::DockerOnArm)
        );
        assert_eq!(arm.check_image(ImageSource::Custom), Ok(()));
        assert_eq!(
            arm.requirements_cpu_arch(ImageSource::Custom),
            Some(CpuArch::Arm)
        );
    }

    #[test]
    fn requirements_default_to_x86_with_own_images() {
        let spec = ResourcesSpec::default();
        assert_eq!(
            spec.requirements_cpu_arch(ImageSource::Default),
            Some(CpuArch::X86)
        );
        assert_eq!(
            spec.requirements_cpu_arch(ImageSource::Docker),
            Some(CpuArch::X86)
        );
        assert_eq!(spec.requirements_cpu_arch(ImageSource::Custom), None);
    }
}

//! Compute capabilities of NVIDIA GPUs, by the names backends give them. Offers do not carry
//! the capability, so a `compute_capability` requirement is checked against this table.

use crate::resources::ComputeCapability;

const fn cc(major: u32, minor: u32) -> ComputeCapability {
    ComputeCapability { major, minor }
}

/// Public NVIDIA data for the GPUs dstack backends offer; names are compared case-insensitively.
const KNOWN: &[(&str, ComputeCapability)] = &[
    ("K80", cc(3, 7)),
    ("M60", cc(5, 2)),
    ("P4", cc(6, 1)),
    ("P40", cc(6, 1)),
    ("P100", cc(6, 0)),
    ("V100", cc(7, 0)),
    ("T4", cc(7, 5)),
    ("RTX6000", cc(7, 5)),
    ("A10", cc(8, 6)),
    ("A10G", cc(8, 6)),
    ("A16", cc(8, 6)),
    ("A40", cc(8, 6)),
    ("A4000", cc(8, 6)),
    ("A5000", cc(8, 6)),
    ("A6000", cc(8, 6)),
    ("RTX3090", cc(8, 6)),
    ("A100", cc(8, 0)),
    ("A30", cc(8, 0)),
    ("L4", cc(8, 9)),
    ("L40", cc(8, 9)),
    ("L40S", cc(8, 9)),
    ("RTX4090", cc(8, 9)),
    ("RTX6000Ada", cc(8, 9)),
    ("H100", cc(9, 0)),
    ("H100NVL", cc(9, 0)),
    ("H200", cc(9, 0)),
    ("GH200", cc(9, 0)),
    ("B200", cc(10, 0)),
    ("GB200", cc(10, 0)),
    ("RTX5090", cc(12, 0)),
];

/// The compute capability of an NVIDIA GPU model, if known.
pub fn nvidia_compute_capability(name: &str) -> Option<ComputeCapability> {
    KNOWN
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(_, cc)| *cc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_case_insensitively() {
        assert_eq!(nvidia_compute_capability("a100"), Some(cc(8, 0)));
        assert_eq!(nvidia_compute_capability("T4"), Some(cc(7, 5)));
        assert_eq!(nvidia_compute_capability("MI300X"), None);
    }
}

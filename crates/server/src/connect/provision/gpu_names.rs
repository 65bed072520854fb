//! Short GPU model names, as dstack's offers and `resources.gpu` use them (`H100`, `A6000`,
//! `MI300X`, `Gaudi2`), from the long names vendor tools print into `host_info.json`
//! (`NVIDIA H100 80GB HBM3`, `AMD Instinct MI300X`, `HL-225`); and the memory size a model is
//! sold with, which vendor tools report a little short.

use dstack_core::resources::GpuVendor;

/// The short name of a GPU of `vendor` that the vendor's tool calls `name`.
pub fn short_gpu_name(vendor: GpuVendor, name: &str) -> String {
    match vendor {
        GpuVendor::Nvidia => nvidia_short_name(name),
        GpuVendor::Amd => amd_short_name(name),
        GpuVendor::Intel => intel_short_name(name),
        GpuVendor::Google | GpuVendor::Tenstorrent => name.to_owned(),
    }
}

/// Brand words `nvidia-smi` puts before the model.
const NVIDIA_BRANDS: [&str; 4] = ["NVIDIA ", "Tesla ", "Quadro ", "GeForce "];

/// Suffixes that belong to the model and lose the space before them (`RTX 4090 Ti` is
/// `RTX4090Ti`); `Ada Generation` shortens to `Ada`.
const NVIDIA_JOINED: [(&str, &str); 4] = [
    (" Ti", "Ti"),
    (" NVL", "NVL"),
    (" Ada Generation", "Ada"),
    ("RTX ", "RTX"),
];

/// Model families whose names are a letter and a number (`A100`, `H200`, `L40S`, `T4`, `V100`).
const NVIDIA_FAMILIES: &str = "AHLPTV";

fn nvidia_short_name(name: &str) -> String {
    let name = NVIDIA_BRANDS
        .iter()
        .fold(name.to_owned(), |name, brand| name.replace(brand, ""));
    if name.contains("GH200") {
        return "GH200".to_owned();
    }
    // The Ampere workstation cards: `RTX A6000` is the `A6000`.
    if name.contains("RTX A") {
        let name = name.replace("RTX A", "A");
        return find_model(&name, "A", |c| c.is_ascii_digit())
            .unwrap_or_else(|| name.replace(' ', ""));
    }
    let name = NVIDIA_JOINED
        .iter()
        .fold(name, |name, (from, to)| name.replace(from, to));
    find_model(&name, NVIDIA_FAMILIES, |c| c.is_alphanumeric() || c == '_')
        .unwrap_or_else(|| name.replace(' ', ""))
}

/// The first place where one of the `families` letters is followed by a digit, with the
/// characters after the letter that `continues` accepts (`H100` in `H100 80GB HBM3`, `A100`
/// in `A100-SXM4-80GB`).
fn find_model(name: &str, families: &str, continues: fn(char) -> bool) -> Option<String> {
    let chars: Vec<char> = name.chars().collect();
    (0..chars.len().saturating_sub(1))
        .find(|&at| families.contains(chars[at]) && chars[at + 1].is_ascii_digit())
        .map(|start| {
            let model = chars[start + 1..].iter().take_while(|c| continues(**c));
            std::iter::once(chars[start])
                .chain(model.copied())
                .collect()
        })
}

fn amd_short_name(name: &str) -> String {
    let mut rest = name;
    for prefix in ["AMD ", "Instinct "] {
        if rest.len() >= prefix.len() && rest[..prefix.len()].eq_ignore_ascii_case(prefix) {
            rest = &rest[prefix.len()..];
        }
    }
    let model = rest.split_whitespace().next().unwrap_or_default();
    if !is_instinct_model(model) || !rest.starts_with(model) {
        return name.to_owned();
    }
    // `amd-smi` names one MI300X variant `MI300X-O`.
    if model == "MI300X-O" {
        return "MI300X".to_owned();
    }
    model.to_owned()
}

/// `MI`, one to three digits, an optional letter, then optionally `-` and a word
/// (`MI300X`, `MI250`, `MI300X-O`); case-insensitive.
fn is_instinct_model(model: &str) -> bool {
    let Some(rest) = model
        .get(..2)
        .filter(|mi| mi.eq_ignore_ascii_case("MI"))
        .map(|_| &model[2..])
    else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if !(1..=3).contains(&digits) {
        return false;
    }
    let rest = &rest[digits..];
    let rest = match rest.chars().next() {
        Some(letter) if letter.is_ascii_alphabetic() => &rest[1..],
        _ => rest,
    };
    match rest.strip_prefix('-') {
        None => rest.is_empty(),
        Some(word) => {
            !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
    }
}

/// `hl-smi` prints the board's part number; these are the Gaudi generations they belong to.
const INTEL_GAUDI_MODELS: [(&str, &str); 4] = [
    ("HL-205", "Gaudi"),
    ("HL-225", "Gaudi2"),
    ("HL-325", "Gaudi3"),
    ("HL-338", "Gaudi3"),
];

fn intel_short_name(name: &str) -> String {
    INTEL_GAUDI_MODELS
        .iter()
        .find(|(part, _)| name.starts_with(part))
        .map_or_else(|| name.to_owned(), |(_, model)| (*model).to_owned())
}

/// Memory sizes (GiB) the models are sold with, from the vendors' data sheets.
const KNOWN_MEMORY_GIB: &[(&str, &[u64])] = &[
    ("T4", &[16]),
    ("V100", &[16, 32]),
    ("P100", &[12, 16]),
    ("A10", &[24]),
    ("A10G", &[24]),
    ("A16", &[16]),
    ("A30", &[24]),
    ("A40", &[48]),
    ("A100", &[40, 80]),
    ("A4000", &[16]),
    ("A5000", &[24]),
    ("A6000", &[48]),
    ("L4", &[24]),
    ("L40", &[48]),
    ("L40S", &[48]),
    ("H100", &[80]),
    ("H100NVL", &[94]),
    ("H200", &[141]),
    ("GH200", &[96, 144]),
    ("B200", &[180]),
    ("RTX3090", &[24]),
    ("RTX4090", &[24]),
    ("RTX5090", &[32]),
    ("RTX6000Ada", &[48]),
    ("MI100", &[32]),
    ("MI210", &[64]),
    ("MI250", &[128]),
    ("MI250X", &[128]),
    ("MI300X", &[192]),
    ("MI325X", &[256]),
    ("Gaudi", &[32]),
    ("Gaudi2", &[96]),
    ("Gaudi3", &[128]),
];

/// How far (as a fraction of the known size) a reported size may be from a known one and
/// still be taken for it.
const MEMORY_TOLERANCE: f64 = 0.07;

/// The memory of a GPU `short_name` that reports `reported_mib`, in whole GiB (as MiB): the
/// size the model is sold with when the report is close to one, else the report rounded.
/// `nvidia-smi` shows an 80 GB H100 as 81559 MiB, for example.
pub fn gpu_memory_mib(short_name: &str, reported_mib: u64) -> u64 {
    let reported_gib = reported_mib as f64 / 1024.0;
    let known = KNOWN_MEMORY_GIB
        .iter()
        .find(|(name, _)| *name == short_name)
        .and_then(|(_, sizes)| {
            sizes.iter().copied().min_by(|a, b| {
                (*a as f64 - reported_gib)
                    .abs()
                    .total_cmp(&(*b as f64 - reported_gib).abs())
            })
        })
        .filter(|&size| (size as f64 - reported_gib).abs() / (size as f64) < MEMORY_TOLERANCE);
    known.unwrap_or_else(|| reported_gib.round() as u64) * 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvidia_names_lose_the_brand_and_the_memory_and_form_factor() {
        for (long, short) in [
            ("NVIDIA H100 80GB HBM3", "H100"),
            ("NVIDIA H100 NVL", "H100NVL"),
            ("NVIDIA A100-SXM4-80GB", "A100"),
            ("NVIDIA A100 80GB PCIe", "A100"),
            ("Tesla T4", "T4"),
            ("Tesla V100-SXM2-16GB", "V100"),
            ("NVIDIA L40S", "L40S"),
            ("NVIDIA L4", "L4"),
            ("NVIDIA A10G", "A10G"),
            ("NVIDIA GeForce RTX 4090", "RTX4090"),
            ("NVIDIA GeForce RTX 3080 Ti", "RTX3080Ti"),
            ("NVIDIA RTX 6000 Ada Generation", "RTX6000Ada"),
            ("NVIDIA RTX A6000", "A6000"),
            ("Quadro RTX A4000", "A4000"),
            ("NVIDIA GH200 480GB", "GH200"),
            ("Quadro RTX 8000", "RTX8000"),
        ] {
            assert_eq!(short_gpu_name(GpuVendor::Nvidia, long), short, "{long}");
        }
    }

    #[test]
    fn amd_names_keep_the_instinct_model() {
        for (long, short) in [
            ("AMD Instinct MI300X", "MI300X"),
            ("Instinct MI210", "MI210"),
            ("MI300X-O", "MI300X"),
            ("AMD Instinct MI250X/MI250", "AMD Instinct MI250X/MI250"),
            ("AMD Radeon PRO W7900", "AMD Radeon PRO W7900"),
        ] {
            assert_eq!(short_gpu_name(GpuVendor::Amd, long), short, "{long}");
        }
    }

    #[test]
    fn intel_part_numbers_become_gaudi_generations() {
        assert_eq!(short_gpu_name(GpuVendor::Intel, "HL-225"), "Gaudi2");
        assert_eq!(short_gpu_name(GpuVendor::Intel, "HL-338 PCIe"), "Gaudi3");
        assert_eq!(short_gpu_name(GpuVendor::Intel, "Other"), "Other");
    }

    #[test]
    fn memory_snaps_to_the_size_sold_when_close() {
        assert_eq!(gpu_memory_mib("H100", 81559), 80 * 1024);
        assert_eq!(gpu_memory_mib("A100", 40960), 40 * 1024);
        assert_eq!(gpu_memory_mib("A100", 81920), 80 * 1024);
        assert_eq!(gpu_memory_mib("L4", 23034), 24 * 1024);
        // Unknown model, or too far from the known size: rounded to whole GiB.
        assert_eq!(gpu_memory_mib("X1", 23034), 22 * 1024);
        assert_eq!(gpu_memory_mib("H100", 65536), 64 * 1024);
    }
}

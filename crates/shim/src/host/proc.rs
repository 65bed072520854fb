//! Parsers for the kernel's `/proc/cpuinfo` and `/proc/meminfo`.

/// The CPUs as `/proc/cpuinfo` lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuInfo {
    /// Logical CPUs: one `processor` entry each.
    pub count: usize,
    /// `model name` of the first CPU; `""` on architectures that do not print one.
    pub model: String,
}

/// Reads `/proc/cpuinfo` text.
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut count = 0;
    let mut model = String::new();
    for (key, value) in text.lines().filter_map(|line| line.split_once(':')) {
        match key.trim() {
            "processor" => count += 1,
            "model name" if model.is_empty() => value.trim().clone_into(&mut model),
            _ => {}
        }
    }
    CpuInfo { count, model }
}

/// `MemTotal` of `/proc/meminfo` text, in bytes; `None` when the line is missing or malformed.
pub fn parse_mem_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
    let mut words = line.trim_start_matches("MemTotal:").split_whitespace();
    let amount: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => amount.checked_mul(1024),
        None => Some(amount),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPUINFO: &str = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n";

    #[test]
    fn cpuinfo_counts_processors_and_takes_the_model() {
        assert_eq!(
            parse_cpuinfo(CPUINFO),
            CpuInfo {
                count: 2,
                model: "Intel(R) Xeon(R) Platinum 8480+".into()
            }
        );
    }

    #[test]
    fn cpuinfo_without_model_names_still_counts() {
        let arm = "processor\t: 0\nBogoMIPS\t: 50.00\n\nprocessor\t: 1\nBogoMIPS\t: 50.00\n";
        assert_eq!(
            parse_cpuinfo(arm),
            CpuInfo {
                count: 2,
                model: String::new()
            }
        );
    }

    #[test]
    fn mem_total_is_read_in_bytes() {
        let meminfo = "MemTotal:       16318412 kB\nMemFree:         1000 kB\n";
        assert_eq!(parse_mem_total(meminfo), Some(16_318_412 * 1024));
        assert_eq!(parse_mem_total("MemFree: 1 kB\n"), None);
        assert_eq!(parse_mem_total("MemTotal: lots kB\n"), None);
    }
}

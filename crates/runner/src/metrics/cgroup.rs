//! cgroup file contents into a CPU and memory sample.
//!
//! cgroup v2 files: `cpu.stat` (`usage_usec`), `memory.current`, `memory.stat`
//! (`inactive_file`) and `memory.max` (`max` when unlimited). cgroup v1 files:
//! `cpuacct.usage` (nanoseconds), `memory.usage_in_bytes`, `memory.stat`
//! (`total_inactive_file`, which counts the whole subtree like v2's figures do) and
//! `memory.limit_in_bytes`.
//!
//! The working set is usage minus inactive file cache: the memory the cgroup could not give
//! back without swapping, which is what an OOM kill is decided on.

/// CPU and memory use of one cgroup at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupSample {
    /// CPU time used since the cgroup was created, in microseconds.
    pub cpu_usage_micro: u64,
    pub memory_usage_bytes: u64,
    pub memory_working_set_bytes: u64,
    /// `None` when the cgroup has no memory limit.
    pub memory_limit_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CgroupError {
    #[error("{file} has no {key} line")]
    MissingKey {
        file: &'static str,
        key: &'static str,
    },
    #[error("{file} holds no number: {value:?}")]
    InvalidNumber { file: &'static str, value: String },
}

/// The contents of the cgroup v2 files a sample is made from.
#[derive(Debug, Clone, Copy)]
pub struct CgroupV2Files<'a> {
    pub cpu_stat: &'a str,
    pub memory_current: &'a str,
    pub memory_stat: &'a str,
    pub memory_max: &'a str,
}

/// The contents of the cgroup v1 files a sample is made from.
#[derive(Debug, Clone, Copy)]
pub struct CgroupV1Files<'a> {
    pub cpuacct_usage: &'a str,
    pub memory_usage_in_bytes: &'a str,
    pub memory_stat: &'a str,
    pub memory_limit_in_bytes: &'a str,
}

/// cgroup v1 reports "no limit" as the largest page-aligned signed 64-bit value, whose
/// exact figure depends on the page size; no real limit comes near 2^62 bytes.
const V1_UNLIMITED_FROM: u64 = 1 << 62;

impl CgroupV2Files<'_> {
    pub fn sample(&self) -> Result<CgroupSample, CgroupError> {
        let usage = single_number("memory.current", self.memory_current)?;
        let inactive_file = keyed_number("memory.stat", self.memory_stat, "inactive_file")?;
        let limit = match self.memory_max.trim() {
            "max" => None,
            _ => Some(single_number("memory.max", self.memory_max)?),
        };
        Ok(CgroupSample {
            cpu_usage_micro: keyed_number("cpu.stat", self.cpu_stat, "usage_usec")?,
            memory_usage_bytes: usage,
            memory_working_set_bytes: usage.saturating_sub(inactive_file),
            memory_limit_bytes: limit,
        })
    }
}

impl CgroupV1Files<'_> {
    pub fn sample(&self) -> Result<CgroupSample, CgroupError> {
        let usage = single_number("memory.usage_in_bytes", self.memory_usage_in_bytes)?;
        let inactive_file = keyed_number("memory.stat", self.memory_stat, "total_inactive_file")?;
        let limit = single_number("memory.limit_in_bytes", self.memory_limit_in_bytes)?;
        Ok(CgroupSample {
            cpu_usage_micro: single_number("cpuacct.usage", self.cpuacct_usage)? / 1000,
            memory_usage_bytes: usage,
            memory_working_set_bytes: usage.saturating_sub(inactive_file),
            memory_limit_bytes: Some(limit).filter(|limit| *limit < V1_UNLIMITED_FROM),
        })
    }
}

/// A file that holds one number, such as `memory.current`.
fn single_number(file: &'static str, contents: &str) -> Result<u64, CgroupError> {
    let value = contents.trim();
    value.parse().map_err(|_| CgroupError::InvalidNumber {
        file,
        value: value.to_owned(),
    })
}

/// The value of `key` in a flat keyed file of `key value` lines, such as `memory.stat`.
fn keyed_number(file: &'static str, contents: &str, key: &'static str) -> Result<u64, CgroupError> {
    let value = contents
        .lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(key)).then(|| words.next().unwrap_or_default())
        })
        .ok_or(CgroupError::MissingKey { file, key })?;
    single_number(file, value)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const V2_MEMORY_STAT: &str =
        "anon 1000\nfile 9000\nactive_file 500\ninactive_file 4096\nslab 12\n";

    fn v2(memory_max: &str) -> CgroupV2Files<'_> {
        CgroupV2Files {
            cpu_stat: "usage_usec 124934836\nuser_usec 96398636\nsystem_usec 28536199\n",
            memory_current: "16384\n",
            memory_stat: V2_MEMORY_STAT,
            memory_max,
        }
    }

    #[test]
    fn v2_sample_subtracts_inactive_file() {
        assert_eq!(
            v2("max\n").sample(),
            Ok(CgroupSample {
                cpu_usage_micro: 124934836,
                memory_usage_bytes: 16384,
                memory_working_set_bytes: 16384 - 4096,
                memory_limit_bytes: None,
            })
        );
    }

    #[test]
    fn v2_numeric_memory_max_is_the_limit() {
        assert_eq!(
            v2("1073741824\n")
                .sample()
                .map(|sample| sample.memory_limit_bytes),
            Ok(Some(1 << 30))
        );
    }

    #[test]
    fn working_set_never_goes_below_zero() {
        let files = CgroupV2Files {
            memory_current: "100",
            ..v2("max")
        };
        assert_eq!(
            files.sample().map(|sample| sample.memory_working_set_bytes),
            Ok(0)
        );
    }

    #[test]
    fn missing_keys_and_bad_numbers_are_errors() {
        let no_usage = CgroupV2Files {
            cpu_stat: "user_usec 1\n",
            ..v2("max")
        };
        assert_eq!(
            no_usage.sample(),
            Err(CgroupError::MissingKey {
                file: "cpu.stat",
                key: "usage_usec"
            })
        );
        let bad_current = CgroupV2Files {
            memory_current: "",
            ..v2("max")
        };
        assert_eq!(
            bad_current.sample(),
            Err(CgroupError::InvalidNumber {
                file: "memory.current",
                value: String::new()
            })
        );
        let bad_max = v2("unlimited");
        assert!(matches!(
            bad_max.sample(),
            Err(CgroupError::InvalidNumber {
                file: "memory.max",
                ..
            })
        ));
        let key_without_value = CgroupV2Files {
            memory_stat: "inactive_file\n",
            ..v2("max")
        };
        assert!(matches!(
            key_without_value.sample(),
            Err(CgroupError::InvalidNumber {
                file: "memory.stat",
                ..
            })
        ));
    }

    #[test]
    fn key_must_match_a_whole_word() {
        // `total_inactive_file` must not be read as `inactive_file`.
        assert_eq!(
            keyed_number(
                "memory.stat",
                "total_inactive_file 7\ninactive_file 3\n",
                "inactive_file"
            ),
            Ok(3)
        );
    }

    #[test]
    fn v1_sample_converts_nanoseconds_and_reads_a_limit() {
        let files = CgroupV1Files {
            cpuacct_usage: "2500000\n",
            memory_usage_in_bytes: "8192\n",
            memory_stat: "inactive_file 1\ntotal_inactive_file 2048\n",
            memory_limit_in_bytes: "4096000\n",
        };
        assert_eq!(
            files.sample(),
            Ok(CgroupSample {
                cpu_usage_micro: 2500,
                memory_usage_bytes: 8192,
                memory_working_set_bytes: 8192 - 2048,
                memory_limit_bytes: Some(4096000),
            })
        );
    }

    proptest! {
        #[test]
        fn never_panics(a in any::<String>(), b in any::<String>(), c in any::<String>(), d in any::<String>()) {
            let _ = CgroupV2Files { cpu_stat: &a, memory_current: &b, memory_stat: &c, memory_max: &d }.sample();
            let _ = CgroupV1Files { cpuacct_usage: &a, memory_usage_in_bytes: &b, memory_stat: &c, memory_limit_in_bytes: &d }.sample();
        }

        #[test]
        fn never_panics_on_keyed_lines(stat in "((usage_usec|inactive_file|total_inactive_file)( [0-9a-z]{0,22})?\n){0,4}") {
            let _ = CgroupV2Files { cpu_stat: &stat, memory_current: "1", memory_stat: &stat, memory_max: "max" }.sample();
            let _ = CgroupV1Files { cpuacct_usage: "1", memory_usage_in_bytes: "1", memory_stat: &stat, memory_limit_in_bytes: "1" }.sample();
        }
    }
}

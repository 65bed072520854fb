//! Parser for the runner's GPU metrics query,
//! `nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader,nounits`.
//!
//! One line per GPU, memory in MiB and utilisation in percent. nvidia-smi prints `[N/A]` for
//! a value it cannot read (utilisation under MIG, for example); that is an error, as any
//! unreadable line is, and the caller reports no GPU metrics for that sample.

/// One GPU's entry in the metrics response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuMetrics {
    pub gpu_memory_usage_bytes: u64,
    pub gpu_util_percent: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GpuMetricsError {
    #[error("nvidia-smi output lists no gpus")]
    NoGpus,
    #[error("nvidia-smi line {line}: expected 2 fields, found {found}")]
    FieldCount { line: usize, found: usize },
    #[error("nvidia-smi line {line}: {field} is not a number: {value:?}")]
    InvalidValue {
        line: usize,
        field: &'static str,
        value: String,
    },
}

const MIB: u64 = 1024 * 1024;

/// Parses the metrics query's output, one [`GpuMetrics`] per GPU in nvidia-smi's order.
pub fn parse_nvidia_smi_metrics(output: &str) -> Result<Vec<GpuMetrics>, GpuMetricsError> {
    let gpus = output
        .lines()
        .enumerate()
        .filter(|(_, text)| !text.trim().is_empty())
        .map(|(index, text)| parse_line(index + 1, text))
        .collect::<Result<Vec<_>, _>>()?;
    if gpus.is_empty() {
        return Err(GpuMetricsError::NoGpus);
    }
    Ok(gpus)
}

fn parse_line(line: usize, text: &str) -> Result<GpuMetrics, GpuMetricsError> {
    let fields: Vec<&str> = text.split(',').map(str::trim).collect();
    let [memory_used, utilization] = fields.as_slice() else {
        return Err(GpuMetricsError::FieldCount {
            line,
            found: fields.len(),
        });
    };
    let invalid = |field, value: &str| GpuMetricsError::InvalidValue {
        line,
        field,
        value: value.to_owned(),
    };
    let memory_used_mib: u64 = memory_used
        .parse()
        .map_err(|_| invalid("memory.used", memory_used))?;
    Ok(GpuMetrics {
        gpu_memory_usage_bytes: memory_used_mib
            .checked_mul(MIB)
            .ok_or_else(|| invalid("memory.used", memory_used))?,
        gpu_util_percent: utilization
            .parse()
            .map_err(|_| invalid("utilization.gpu", utilization))?,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn several_gpus_with_extra_whitespace() {
        assert_eq!(
            parse_nvidia_smi_metrics("2048, 37\n  0 ,0  \r\n\n"),
            Ok(vec![
                GpuMetrics {
                    gpu_memory_usage_bytes: 2048 * MIB,
                    gpu_util_percent: 37
                },
                GpuMetrics {
                    gpu_memory_usage_bytes: 0,
                    gpu_util_percent: 0
                },
            ])
        );
    }

    #[test]
    fn not_available_utilization_is_an_error() {
        assert_eq!(
            parse_nvidia_smi_metrics("55, [N/A]\n"),
            Err(GpuMetricsError::InvalidValue {
                line: 1,
                field: "utilization.gpu",
                value: "[N/A]".to_owned()
            })
        );
    }

    #[test]
    fn bad_lines_are_errors() {
        assert_eq!(parse_nvidia_smi_metrics(""), Err(GpuMetricsError::NoGpus));
        assert_eq!(
            parse_nvidia_smi_metrics("1, 2\n3\n"),
            Err(GpuMetricsError::FieldCount { line: 2, found: 1 })
        );
        assert!(matches!(
            parse_nvidia_smi_metrics("18446744073709551615, 1"),
            Err(GpuMetricsError::InvalidValue {
                field: "memory.used",
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn never_panics(output in any::<String>()) {
            let _ = parse_nvidia_smi_metrics(&output);
        }

        #[test]
        fn never_panics_on_number_pairs(output in "([0-9]{0,21}, ?[0-9\\[\\]N/A]{0,11}\n){0,4}") {
            let _ = parse_nvidia_smi_metrics(&output);
        }
    }
}

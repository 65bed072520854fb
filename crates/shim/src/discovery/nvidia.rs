//! Parser for `nvidia-smi --query-gpu` CSV output.
//!
//! Two forms are read:
//!
//! - [`parse_host_query`]: the query the shim runs at startup,
//!   `--query-gpu=name,memory.total,uuid,driver_version --format=csv,noheader,nounits`.
//!   Its columns are fixed and carry no units.
//! - [`parse_query_with_header`]: any `--query-gpu=... --format=csv` output that starts with
//!   its header line, with or without units. Columns are found by name, so `index`,
//!   `compute_cap` and `pci.bus_id` are read when the query asked for them.
//!
//! nvidia-smi prints `[N/A]` (or another bracketed text) for a value it cannot read. A
//! required value that is missing is an error; an optional one becomes `None`.

use std::str::FromStr;

use super::{GpuInfo, GpuVendor, normalize_driver_version};

/// One NVIDIA GPU as `nvidia-smi --query-gpu` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NvidiaGpu {
    /// `index`, when queried.
    pub index: Option<u32>,
    pub name: String,
    pub memory_total_mib: u64,
    /// `GPU-<uuid>`, the id the shim locks and passes to Docker.
    pub uuid: String,
    /// `""` when nvidia-smi could not tell.
    pub driver_version: String,
    /// `compute_cap`, when queried and known.
    pub compute_capability: Option<ComputeCapability>,
    /// `pci.bus_id`, when queried and known, e.g. `00000000:00:06.0`.
    pub pci_bus_id: Option<String>,
}

impl From<NvidiaGpu> for GpuInfo {
    fn from(gpu: NvidiaGpu) -> Self {
        GpuInfo {
            vendor: GpuVendor::Nvidia,
            name: gpu.name,
            vram_mib: gpu.memory_total_mib,
            id: gpu.uuid,
            driver_version: gpu.driver_version,
        }
    }
}

/// CUDA compute capability, printed by nvidia-smi as `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ComputeCapability {
    pub major: u32,
    pub minor: u32,
}

impl FromStr for ComputeCapability {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (major, minor) = text.split_once('.').ok_or(())?;
        Ok(Self {
            major: major.parse().map_err(|_| ())?,
            minor: minor.parse().map_err(|_| ())?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NvidiaSmiError {
    #[error("nvidia-smi output lists no gpus")]
    NoGpus,
    #[error("nvidia-smi header has no {0} column")]
    MissingColumn(&'static str),
    #[error("nvidia-smi line {line}: expected {expected} fields, found {found}")]
    FieldCount {
        line: usize,
        expected: usize,
        found: usize,
    },
    #[error("nvidia-smi line {line}: {field} has no value")]
    MissingValue { line: usize, field: &'static str },
    #[error("nvidia-smi line {line}: {field} is not valid: {value:?}")]
    InvalidValue {
        line: usize,
        field: &'static str,
        value: String,
    },
}

/// Parses the output of the shim's host-discovery query
/// (`name,memory.total,uuid,driver_version`, `noheader,nounits`).
pub fn parse_host_query(output: &str) -> Result<Vec<NvidiaGpu>, NvidiaSmiError> {
    parse_rows(numbered_lines(output), &Columns::HOST_QUERY)
}

/// Parses `--format=csv` output that starts with its header line; columns are matched by
/// field name and units after values (`81559 MiB`) are ignored.
pub fn parse_query_with_header(output: &str) -> Result<Vec<NvidiaGpu>, NvidiaSmiError> {
    let mut lines = numbered_lines(output);
    let (_, header) = lines.next().ok_or(NvidiaSmiError::NoGpus)?;
    parse_rows(lines, &Columns::from_header(header)?)
}

const NAME: &str = "name";
const MEMORY_TOTAL: &str = "memory.total";
const UUID: &str = "uuid";
const DRIVER_VERSION: &str = "driver_version";
const INDEX: &str = "index";
const COMPUTE_CAP: &str = "compute_cap";
const PCI_BUS_ID: &str = "pci.bus_id";

/// Where each field sits in a row, and how many fields a row has.
struct Columns {
    width: usize,
    name: usize,
    memory_total: usize,
    uuid: usize,
    driver_version: usize,
    index: Option<usize>,
    compute_cap: Option<usize>,
    pci_bus_id: Option<usize>,
}

impl Columns {
    const HOST_QUERY: Columns = Columns {
        width: 4,
        name: 0,
        memory_total: 1,
        uuid: 2,
        driver_version: 3,
        index: None,
        compute_cap: None,
        pci_bus_id: None,
    };

    fn from_header(header: &str) -> Result<Self, NvidiaSmiError> {
        // A header field reads `memory.total [MiB]` when units are on.
        let fields: Vec<&str> = split_fields(header)
            .map(|field| field.split(" [").next().unwrap_or(field))
            .collect();
        let find = |wanted: &str| fields.iter().position(|field| *field == wanted);
        let require =
            |wanted: &'static str| find(wanted).ok_or(NvidiaSmiError::MissingColumn(wanted));
        Ok(Self {
            width: fields.len(),
            name: require(NAME)?,
            memory_total: require(MEMORY_TOTAL)?,
            uuid: require(UUID)?,
            driver_version: require(DRIVER_VERSION)?,
            index: find(INDEX),
            compute_cap: find(COMPUTE_CAP),
            pci_bus_id: find(PCI_BUS_ID),
        })
    }
}

/// Non-blank lines with their 1-based line numbers, for error messages.
fn numbered_lines(output: &str) -> impl Iterator<Item = (usize, &str)> {
    output
        .lines()
        .enumerate()
        .map(|(number, line)| (number + 1, line))
        .filter(|(_, line)| !line.trim().is_empty())
}

fn split_fields(line: &str) -> impl Iterator<Item = &str> {
    line.split(',').map(str::trim)
}

fn parse_rows<'a>(
    lines: impl Iterator<Item = (usize, &'a str)>,
    columns: &Columns,
) -> Result<Vec<NvidiaGpu>, NvidiaSmiError> {
    let gpus = lines
        .map(|(line, text)| parse_row(line, text, columns))
        .collect::<Result<Vec<_>, _>>()?;
    if gpus.is_empty() {
        return Err(NvidiaSmiError::NoGpus);
    }
    Ok(gpus)
}

fn parse_row(line: usize, text: &str, columns: &Columns) -> Result<NvidiaGpu, NvidiaSmiError> {
    let fields: Vec<&str> = split_fields(text).collect();
    if fields.len() != columns.width {
        return Err(NvidiaSmiError::FieldCount {
            line,
            expected: columns.width,
            found: fields.len(),
        });
    }
    let row = Row { line, fields };
    Ok(NvidiaGpu {
        index: row.optional_number(columns.index, INDEX)?,
        name: row.required_text(columns.name, NAME)?,
        memory_total_mib: row.required_number(columns.memory_total, MEMORY_TOTAL)?,
        uuid: row.required_text(columns.uuid, UUID)?,
        driver_version: normalize_driver_version(row.get(columns.driver_version)),
        compute_capability: row.optional_number(columns.compute_cap, COMPUTE_CAP)?,
        pci_bus_id: columns
            .pci_bus_id
            .map(|column| row.get(column))
            .filter(|value| is_known(value))
            .map(str::to_owned),
    })
}

/// The fields of one data line, with its line number for errors.
struct Row<'a> {
    line: usize,
    fields: Vec<&'a str>,
}

impl Row<'_> {
    fn get(&self, column: usize) -> &str {
        self.fields.get(column).copied().unwrap_or_default()
    }

    fn known(&self, column: usize, field: &'static str) -> Result<&str, NvidiaSmiError> {
        let value = self.get(column);
        if is_known(value) {
            Ok(value)
        } else {
            Err(NvidiaSmiError::MissingValue {
                line: self.line,
                field,
            })
        }
    }

    fn required_text(&self, column: usize, field: &'static str) -> Result<String, NvidiaSmiError> {
        self.known(column, field).map(str::to_owned)
    }

    fn required_number<T: FromStr>(
        &self,
        column: usize,
        field: &'static str,
    ) -> Result<T, NvidiaSmiError> {
        let value = self.known(column, field)?;
        // With units on, a number reads `81559 MiB`.
        let number = value.split_whitespace().next().unwrap_or(value);
        number.parse().map_err(|_| NvidiaSmiError::InvalidValue {
            line: self.line,
            field,
            value: value.to_owned(),
        })
    }

    fn optional_number<T: FromStr>(
        &self,
        column: Option<usize>,
        field: &'static str,
    ) -> Result<Option<T>, NvidiaSmiError> {
        match column {
            Some(column) if is_known(self.get(column)) => {
                self.required_number(column, field).map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// False for an empty value and for nvidia-smi's placeholders such as `[N/A]` or
/// `[Not Supported]`.
fn is_known(value: &str) -> bool {
    !(value.is_empty() || value == "N/A" || (value.starts_with('[') && value.ends_with(']')))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn h100(uuid: &str) -> NvidiaGpu {
        NvidiaGpu {
            index: None,
            name: "NVIDIA H100 80GB HBM3".to_owned(),
            memory_total_mib: 81559,
            uuid: uuid.to_owned(),
            driver_version: "580.159.04".to_owned(),
            compute_capability: None,
            pci_bus_id: None,
        }
    }

    #[test]
    fn host_query_with_several_gpus_keeps_their_order() {
        let output = "NVIDIA H100 80GB HBM3, 81559, GPU-aaaa, 580.159.04\n\
                      NVIDIA H100 80GB HBM3, 81559, GPU-bbbb, 580.159.04\n";
        assert_eq!(
            parse_host_query(output),
            Ok(vec![h100("GPU-aaaa"), h100("GPU-bbbb")])
        );
    }

    #[test]
    fn host_query_tolerates_extra_whitespace_and_blank_lines() {
        let output = "\n  NVIDIA H100 80GB HBM3 ,81559 ,  GPU-aaaa,580.159.04  \r\n\n";
        assert_eq!(parse_host_query(output), Ok(vec![h100("GPU-aaaa")]));
    }

    #[test]
    fn host_query_driver_placeholder_becomes_empty() {
        let gpus = parse_host_query("NVIDIA H100 80GB HBM3, 81559, GPU-aaaa, [N/A]\n");
        assert_eq!(
            gpus.map(|gpus| gpus[0].driver_version.clone()),
            Ok(String::new())
        );
    }

    #[test]
    fn host_query_unknown_memory_is_an_error() {
        assert_eq!(
            parse_host_query("NVIDIA H100 80GB HBM3, [N/A], GPU-aaaa, 580.159.04"),
            Err(NvidiaSmiError::MissingValue {
                line: 1,
                field: MEMORY_TOTAL
            })
        );
    }

    #[test]
    fn host_query_non_numeric_memory_is_an_error() {
        assert_eq!(
            parse_host_query("NVIDIA H100 80GB HBM3, lots, GPU-aaaa, 580.159.04"),
            Err(NvidiaSmiError::InvalidValue {
                line: 1,
                field: MEMORY_TOTAL,
                value: "lots".to_owned()
            })
        );
    }

    #[test]
    fn host_query_missing_field_is_an_error() {
        assert_eq!(
            parse_host_query("NVIDIA H100 80GB HBM3, 81559, GPU-aaaa\n"),
            Err(NvidiaSmiError::FieldCount {
                line: 1,
                expected: 4,
                found: 3
            })
        );
    }

    #[test]
    fn host_query_missing_uuid_is_an_error() {
        assert_eq!(
            parse_host_query("NVIDIA H100 80GB HBM3, 81559, , 580.159.04"),
            Err(NvidiaSmiError::MissingValue {
                line: 1,
                field: UUID
            })
        );
    }

    #[test]
    fn empty_output_lists_no_gpus() {
        assert_eq!(parse_host_query(""), Err(NvidiaSmiError::NoGpus));
        assert_eq!(parse_host_query(" \n\n"), Err(NvidiaSmiError::NoGpus));
        assert_eq!(parse_query_with_header(""), Err(NvidiaSmiError::NoGpus));
        assert_eq!(
            parse_query_with_header("name, memory.total [MiB], uuid, driver_version\n"),
            Err(NvidiaSmiError::NoGpus)
        );
    }

    #[test]
    fn driver_failure_message_is_an_error_not_a_gpu() {
        let output = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. \
                      Make sure that the latest NVIDIA driver is installed and running.\n";
        assert!(matches!(
            parse_host_query(output),
            Err(NvidiaSmiError::FieldCount {
                line: 1,
                expected: 4,
                ..
            })
        ));
    }

    #[test]
    fn header_form_finds_columns_in_any_order() {
        let output = "uuid, driver_version, name, memory.total [MiB], pci.bus_id, compute_cap, index\n\
                      GPU-bbbb, 535.104.05, NVIDIA L4, 23034 MiB, 00000000:00:04.0, 8.9, 1\n";
        assert_eq!(
            parse_query_with_header(output),
            Ok(vec![NvidiaGpu {
                index: Some(1),
                name: "NVIDIA L4".to_owned(),
                memory_total_mib: 23034,
                uuid: "GPU-bbbb".to_owned(),
                driver_version: "535.104.05".to_owned(),
                compute_capability: Some(ComputeCapability { major: 8, minor: 9 }),
                pci_bus_id: Some("00000000:00:04.0".to_owned()),
            }])
        );
    }

    #[test]
    fn header_form_without_units_is_read_too() {
        let output = "name, memory.total, uuid, driver_version\nNVIDIA H100 80GB HBM3, 81559, GPU-aaaa, 580.159.04\n";
        assert_eq!(parse_query_with_header(output), Ok(vec![h100("GPU-aaaa")]));
    }

    #[test]
    fn header_form_unknown_optional_values_become_none() {
        let output = "index, name, memory.total [MiB], uuid, driver_version, compute_cap, pci.bus_id\n\
                      [N/A], NVIDIA H100 80GB HBM3, 81559 MiB, GPU-aaaa, 580.159.04, [N/A], [N/A]\n";
        assert_eq!(parse_query_with_header(output), Ok(vec![h100("GPU-aaaa")]));
    }

    #[test]
    fn header_form_requires_the_discovery_columns() {
        assert_eq!(
            parse_query_with_header("name, uuid, driver_version\nNVIDIA L4, GPU-b, 535.104.05\n"),
            Err(NvidiaSmiError::MissingColumn(MEMORY_TOTAL))
        );
    }

    #[test]
    fn header_form_rejects_a_bad_compute_capability() {
        let output = "name, memory.total, uuid, driver_version, compute_cap\nNVIDIA L4, 23034, GPU-b, 535.104.05, nine\n";
        assert_eq!(
            parse_query_with_header(output),
            Err(NvidiaSmiError::InvalidValue {
                line: 2,
                field: COMPUTE_CAP,
                value: "nine".to_owned()
            })
        );
    }

    #[test]
    fn gpu_info_uses_uuid_as_id() {
        let info = GpuInfo::from(h100("GPU-aaaa"));
        assert_eq!(
            (info.vendor, info.id.as_str(), info.vram_mib),
            (GpuVendor::Nvidia, "GPU-aaaa", 81559)
        );
    }

    proptest! {
        #[test]
        fn parsers_never_panic(output in any::<String>()) {
            let _ = parse_host_query(&output);
            let _ = parse_query_with_header(&output);
        }

        #[test]
        fn parsers_never_panic_on_csv_like_input(
            output in "([ -~]{0,12}(, ){0,1}){0,12}(\n[ -~,\\[\\]]{0,40}){0,4}"
        ) {
            let _ = parse_host_query(&output);
            let _ = parse_query_with_header(&output);
        }
    }
}

//! Parser for `amd-smi static --json --asic --vram --bus --driver` output.
//!
//! ROCm 6 prints a flat array of GPUs; ROCm 7 wraps it as `{"gpu_data": [...]}`. Per GPU the
//! shim reads `asic.market_name`, `vram.size.value` (MiB), `bus.bdf` and the driver version.
//! The driver section's keys differ between amd-smi releases (`version`, `driver_version`,
//! upper case in some), so they are matched case-insensitively, `version` first; a
//! placeholder such as `N/A` counts as absent and a driver section of another shape is
//! ignored.

use serde_json::{Map, Value};

use super::{GpuInfo, GpuVendor, normalize_driver_version};

/// One AMD GPU as `amd-smi static` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmdGpu {
    pub name: String,
    pub vram_mib: u64,
    /// PCI address such as `0000:05:00.0`; it leads to the render node that identifies the GPU.
    pub bus_bdf: String,
    /// `""` when amd-smi could not tell.
    pub driver_version: String,
}

impl AmdGpu {
    /// The GPU as the shim reports it, once its bus address has been resolved to its render
    /// node (`/dev/dri/renderD<N>`, through `/dev/dri/by-path/pci-<bdf>-render`).
    pub fn into_gpu_info(self, render_node: String) -> GpuInfo {
        GpuInfo {
            vendor: GpuVendor::Amd,
            name: self.name,
            vram_mib: self.vram_mib,
            id: render_node,
            driver_version: self.driver_version,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AmdSmiError {
    #[error("amd-smi output is not json: {0}")]
    InvalidJson(#[from] serde_json::Error),
    #[error("amd-smi output is neither a gpu list nor an object with gpu_data")]
    UnexpectedShape,
    #[error("amd-smi output lists no gpus")]
    NoGpus,
    #[error("amd-smi gpu #{position}: {field} is missing or malformed")]
    InvalidField {
        position: usize,
        field: &'static str,
    },
}

/// Parses `amd-smi static --json` output in its ROCm 6 or ROCm 7 shape.
pub fn parse_static_json(output: &str) -> Result<Vec<AmdGpu>, AmdSmiError> {
    let document: Value = serde_json::from_str(output)?;
    let entries = match &document {
        Value::Array(entries) => entries,
        Value::Object(object) => object
            .get("gpu_data")
            .and_then(Value::as_array)
            .ok_or(AmdSmiError::UnexpectedShape)?,
        _ => return Err(AmdSmiError::UnexpectedShape),
    };
    if entries.is_empty() {
        return Err(AmdSmiError::NoGpus);
    }
    entries
        .iter()
        .enumerate()
        .map(|(position, entry)| parse_gpu(position, entry))
        .collect()
}

fn parse_gpu(position: usize, entry: &Value) -> Result<AmdGpu, AmdSmiError> {
    let invalid = |field| AmdSmiError::InvalidField { position, field };
    let text = |pointer: &str, field| {
        entry
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .ok_or(invalid(field))
    };
    Ok(AmdGpu {
        name: text("/asic/market_name", "asic.market_name")?,
        vram_mib: entry
            .pointer("/vram/size/value")
            .and_then(Value::as_u64)
            .ok_or(invalid("vram.size.value"))?,
        bus_bdf: text("/bus/bdf", "bus.bdf")?,
        driver_version: entry
            .get("driver")
            .and_then(Value::as_object)
            .map(driver_version)
            .unwrap_or_default(),
    })
}

fn driver_version(driver: &Map<String, Value>) -> String {
    ["version", "driver_version"]
        .into_iter()
        .filter_map(|wanted| {
            driver
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(wanted))
                .and_then(|(_, value)| value.as_str())
        })
        .map(normalize_driver_version)
        .find(|version| !version.is_empty())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// One GPU entry in the shape amd-smi prints, with `driver` as given.
    fn entry(driver: &str) -> String {
        format!(
            r#"{{"gpu": 0, "asic": {{"market_name": "AMD Instinct MI300X"}},
                "vram": {{"size": {{"value": 196592, "unit": "MB"}}}},
                "bus": {{"bdf": "0000:05:00.0"}}, "driver": {driver}}}"#
        )
    }

    fn driver_of(output: &str) -> String {
        match parse_static_json(output) {
            Ok(gpus) => gpus
                .first()
                .map(|gpu| gpu.driver_version.clone())
                .unwrap_or_default(),
            Err(error) => format!("error: {error}"),
        }
    }

    #[test]
    fn flat_array_of_rocm_6() {
        let output = format!("[{}]", entry(r#"{"name": "amdgpu", "version": "6.10.5"}"#));
        let gpus = parse_static_json(&output).ok();
        assert_eq!(
            gpus,
            Some(vec![AmdGpu {
                name: "AMD Instinct MI300X".to_owned(),
                vram_mib: 196592,
                bus_bdf: "0000:05:00.0".to_owned(),
                driver_version: "6.10.5".to_owned(),
            }])
        );
    }

    #[test]
    fn wrapped_gpu_data_of_rocm_7_with_upper_case_keys() {
        let output = format!(
            r#"{{"gpu_data": [{}, {}]}}"#,
            entry(r#"{"NAME": "amdgpu", "VERSION": "6.12.12"}"#),
            entry(r#"{"NAME": "amdgpu", "VERSION": "6.12.12"}"#)
        );
        let gpus = parse_static_json(&output);
        assert_eq!(gpus.as_ref().map(Vec::len).ok(), Some(2));
        assert_eq!(driver_of(&output), "6.12.12");
    }

    #[test]
    fn driver_version_key_variants() {
        let cases = [
            (
                r#"{"driver_name": "amdgpu", "driver_version": "6.8.5"}"#,
                "6.8.5",
            ),
            (
                r#"{"version": "6.10.5", "driver_version": "6.8.5"}"#,
                "6.10.5",
            ),
            (r#"{"version": "N/A", "driver_version": "6.8.5"}"#, "6.8.5"),
            (r#"{"name": "N/A", "version": "N/A"}"#, ""),
            (r#""amdgpu 6.8.5""#, ""),
            ("null", ""),
        ];
        for (driver, expected) in cases {
            assert_eq!(
                driver_of(&format!("[{}]", entry(driver))),
                expected,
                "{driver}"
            );
        }
    }

    #[test]
    fn missing_driver_section_gives_empty_version() {
        let output = r#"[{"asic": {"market_name": "AMD Instinct MI300X"},
            "vram": {"size": {"value": 196592}}, "bus": {"bdf": "0000:05:00.0"}}]"#;
        assert_eq!(driver_of(output), "");
    }

    #[test]
    fn missing_name_is_an_error() {
        let output = r#"[{"asic": {}, "vram": {"size": {"value": 196592}}, "bus": {"bdf": "0000:05:00.0"}}]"#;
        assert!(matches!(
            parse_static_json(output),
            Err(AmdSmiError::InvalidField {
                position: 0,
                field: "asic.market_name"
            })
        ));
    }

    #[test]
    fn non_numeric_vram_is_an_error() {
        let output = format!(
            r#"[{}, {{"asic": {{"market_name": "x"}}, "vram": {{"size": {{"value": "N/A"}}}}, "bus": {{"bdf": "b"}}}}]"#,
            entry("{}")
        );
        assert!(matches!(
            parse_static_json(&output),
            Err(AmdSmiError::InvalidField {
                position: 1,
                field: "vram.size.value"
            })
        ));
    }

    #[test]
    fn malformed_outputs_are_typed_errors() {
        assert!(matches!(
            parse_static_json(""),
            Err(AmdSmiError::InvalidJson(_))
        ));
        assert!(matches!(parse_static_json("[]"), Err(AmdSmiError::NoGpus)));
        assert!(matches!(
            parse_static_json(r#"{"gpu_data": []}"#),
            Err(AmdSmiError::NoGpus)
        ));
        assert!(matches!(
            parse_static_json(r#"{"gpus": []}"#),
            Err(AmdSmiError::UnexpectedShape)
        ));
        assert!(matches!(
            parse_static_json("42"),
            Err(AmdSmiError::UnexpectedShape)
        ));
    }

    #[test]
    fn gpu_info_uses_render_node_as_id() {
        let gpu = AmdGpu {
            name: "AMD Instinct MI300X".to_owned(),
            vram_mib: 196592,
            bus_bdf: "0000:05:00.0".to_owned(),
            driver_version: String::new(),
        };
        let info = gpu.into_gpu_info("/dev/dri/renderD128".to_owned());
        assert_eq!(
            (info.vendor, info.id.as_str()),
            (GpuVendor::Amd, "/dev/dri/renderD128")
        );
    }

    proptest! {
        #[test]
        fn parser_never_panics(output in any::<String>()) {
            let _ = parse_static_json(&output);
        }

        #[test]
        fn parser_never_panics_on_json_values(value in json_value()) {
            let _ = parse_static_json(&value.to_string());
            let _ = parse_static_json(&serde_json::json!({"gpu_data": [value]}).to_string());
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-zA-Z_/.0-9 ]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            let key = prop_oneof![
                Just("asic".to_owned()),
                Just("market_name".to_owned()),
                Just("vram".to_owned()),
                Just("size".to_owned()),
                Just("value".to_owned()),
                Just("bus".to_owned()),
                Just("bdf".to_owned()),
                Just("driver".to_owned()),
                Just("VERSION".to_owned()),
                Just("driver_version".to_owned()),
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::vec((key, inner), 0..4)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }
}

//! The NVIDIA parsers on nvidia-smi output recorded on real hosts (see fixtures/nvidia-smi/README.md).

use dstack_shim::discovery::nvidia::{
    ComputeCapability, NvidiaGpu, parse_host_query, parse_query_with_header,
};

const H100_UUID: &str = "GPU-971c3c4b-f925-dd7f-7c07-d07e81f34986";
/// The exporter captures mask every UUID with this placeholder.
const MASKED_UUID: &str = "GPU-00000000-0000-0000-0000-000000000000";

#[test]
fn h100_host_query() {
    let output = include_str!("fixtures/nvidia-smi/h100-80gb-hbm3/query-host.csv");
    assert_eq!(
        parse_host_query(output),
        Ok(vec![NvidiaGpu {
            index: None,
            name: "NVIDIA H100 80GB HBM3".to_owned(),
            memory_total_mib: 81559,
            uuid: H100_UUID.to_owned(),
            driver_version: "580.159.04".to_owned(),
            compute_capability: None,
            pci_bus_id: None,
        }])
    );
}

#[test]
fn h100_full_query_with_header_and_units() {
    let output = include_str!("fixtures/nvidia-smi/h100-80gb-hbm3/query-full.csv");
    assert_eq!(
        parse_query_with_header(output),
        Ok(vec![NvidiaGpu {
            index: Some(0),
            name: "NVIDIA H100 80GB HBM3".to_owned(),
            memory_total_mib: 81559,
            uuid: H100_UUID.to_owned(),
            driver_version: "580.159.04".to_owned(),
            compute_capability: Some(ComputeCapability { major: 9, minor: 0 }),
            pci_bus_id: Some("00000000:00:06.0".to_owned()),
        }])
    );
}

#[test]
fn h100_host_query_and_full_query_agree() {
    let host = parse_host_query(include_str!(
        "fixtures/nvidia-smi/h100-80gb-hbm3/query-host.csv"
    ));
    let full = parse_query_with_header(include_str!(
        "fixtures/nvidia-smi/h100-80gb-hbm3/query-full.csv"
    ));
    let key = |gpus: Vec<NvidiaGpu>| {
        gpus.into_iter()
            .map(|gpu| (gpu.name, gpu.memory_total_mib, gpu.uuid, gpu.driver_version))
            .collect::<Vec<_>>()
    };
    assert_eq!(host.map(key), full.map(key));
}

/// One exporter capture and the GPU it shows.
struct Capture {
    output: &'static str,
    name: &'static str,
    memory_total_mib: u64,
    driver_version: &'static str,
    compute_capability: ComputeCapability,
    pci_bus_id: &'static str,
}

const fn compute(major: u32, minor: u32) -> ComputeCapability {
    ComputeCapability { major, minor }
}

const EXPORTER_CAPTURES: [Capture; 5] = [
    Capture {
        output: include_str!("fixtures/nvidia-smi/exporter-captures/l40s.csv"),
        name: "NVIDIA L40S",
        memory_total_mib: 46068,
        driver_version: "595.80",
        compute_capability: compute(8, 9),
        pci_bus_id: "00000000:01:00.0",
    },
    Capture {
        output: include_str!("fixtures/nvidia-smi/exporter-captures/h200.csv"),
        name: "NVIDIA H200",
        memory_total_mib: 143771,
        driver_version: "590.48.01",
        compute_capability: compute(9, 0),
        pci_bus_id: "00000000:83:00.0",
    },
    Capture {
        output: include_str!("fixtures/nvidia-smi/exporter-captures/h200-mig.csv"),
        name: "NVIDIA H200",
        memory_total_mib: 143771,
        driver_version: "590.48.01",
        compute_capability: compute(9, 0),
        pci_bus_id: "00000000:83:00.0",
    },
    Capture {
        output: include_str!("fixtures/nvidia-smi/exporter-captures/h100-80gb-hbm3-590.csv"),
        name: "NVIDIA H100 80GB HBM3",
        memory_total_mib: 81559,
        driver_version: "590.48.01",
        compute_capability: compute(9, 0),
        pci_bus_id: "00000000:00:09.0",
    },
    Capture {
        output: include_str!("fixtures/nvidia-smi/exporter-captures/rtx-4080-super.csv"),
        name: "NVIDIA GeForce RTX 4080 SUPER",
        memory_total_mib: 16376,
        driver_version: "595.71.05",
        compute_capability: compute(8, 9),
        pci_bus_id: "00000000:01:00.0",
    },
];

#[test]
fn full_exporter_captures_of_other_models() {
    for capture in EXPORTER_CAPTURES {
        assert_eq!(
            parse_query_with_header(capture.output),
            Ok(vec![NvidiaGpu {
                index: Some(0),
                name: capture.name.to_owned(),
                memory_total_mib: capture.memory_total_mib,
                uuid: MASKED_UUID.to_owned(),
                driver_version: capture.driver_version.to_owned(),
                compute_capability: Some(capture.compute_capability),
                pci_bus_id: Some(capture.pci_bus_id.to_owned()),
            }]),
            "{}",
            capture.name
        );
    }
}

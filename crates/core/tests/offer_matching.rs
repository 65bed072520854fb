//! Offer matching and ordering against hand-built offers.

use dstack_core::backend::BackendType;
use dstack_core::offers::{
    Disk, Gpu, InstanceAvailability, InstanceOfferWithAvailability, InstanceRuntime, InstanceType,
    Mismatch, OfferFilter, Requirements, Resources, offer_satisfies, sort_offers,
};
use dstack_core::resources::{GpuVendor, ResourcesSpec};
use serde_json::json;

fn gpu(name: &str, memory_gb: u64, vendor: Option<GpuVendor>) -> Gpu {
    Gpu {
        name: name.into(),
        memory_mib: memory_gb * 1024,
        vendor,
    }
}

fn offer(price: f64, cpus: u32, memory_gb: u64, gpus: Vec<Gpu>) -> InstanceOfferWithAvailability {
    InstanceOfferWithAvailability {
        backend: BackendType::Aws,
        instance: InstanceType {
            name: "inst".into(),
            resources: Resources {
                cpus,
                memory_mib: memory_gb * 1024,
                gpus,
                spot: false,
                disk: Disk::default(),
                cpu_arch: None,
                description: String::new(),
            },
        },
        region: "us-east-1".into(),
        price,
        backend_data: Default::default(),
        availability: InstanceAvailability::Available,
        availability_zones: None,
        instance_runtime: InstanceRuntime::Shim,
        blocks: 1,
        total_blocks: 1,
    }
}

/// Requirements from the `resources:` YAML-like JSON, everything else unset.
fn requirements(resources: serde_json::Value) -> Requirements {
    let resources = serde_json::from_value::<ResourcesSpec>(resources);
    Requirements {
        resources: resources.unwrap_or_else(|e| panic!("bad test resources: {e}")),
        max_price: None,
        spot: None,
        reservation: None,
        multinode: None,
        backend_options: None,
    }
}

fn reason(req: &Requirements, offer: &InstanceOfferWithAvailability) -> Option<String> {
    offer_satisfies(req, offer).err().map(|m| m.to_string())
}

fn a100s(count: usize, memory_gb: u64) -> Vec<Gpu> {
    vec![gpu("A100", memory_gb, Some(GpuVendor::Nvidia)); count]
}

#[test]
fn default_resources_match_a_plain_machine() {
    let req = requirements(json!({}));
    assert_eq!(reason(&req, &offer(0.1, 2, 8, vec![])), None);
    assert_eq!(
        reason(&req, &offer(0.1, 1, 8, vec![])).as_deref(),
        Some("cpu count 1 is below 2")
    );
    assert_eq!(
        reason(&req, &offer(0.1, 2, 4, vec![])).as_deref(),
        Some("memory 4GB is below 8GB")
    );
}

#[test]
fn memory_units_convert_from_mib() {
    let req = requirements(json!({"memory": "7.5GB..7.5GB"}));
    let mut half = offer(0.1, 2, 0, vec![]);
    half.instance.resources.memory_mib = 7680;
    assert_eq!(reason(&req, &half), None);
    half.instance.resources.memory_mib = 7681;
    assert!(reason(&req, &half).is_some_and(|r| r.contains("is above 7.5GB")));
}

#[test]
fn disk_is_checked_only_when_asked() {
    let mut small_disk = offer(0.1, 2, 8, vec![]);
    small_disk.instance.resources.disk = Disk {
        size_mib: 50 * 1024,
    };
    assert_eq!(
        reason(&requirements(json!({})), &small_disk).as_deref(),
        Some("disk 50GB is below 100GB")
    );
    assert_eq!(
        reason(&requirements(json!({"disk": null})), &small_disk),
        None
    );
}

#[test]
fn gpu_count_ranges() {
    let req = requirements(json!({"gpu": "A100:2..4"}));
    assert_eq!(reason(&req, &offer(1.0, 8, 64, a100s(2, 80))), None);
    assert_eq!(reason(&req, &offer(1.0, 8, 64, a100s(4, 80))), None);
    assert_eq!(
        reason(&req, &offer(1.0, 8, 64, a100s(1, 80))).as_deref(),
        Some("gpu count 1 is below 2")
    );
    assert_eq!(
        reason(&req, &offer(1.0, 8, 64, a100s(8, 80))).as_deref(),
        Some("gpu count 8 is above 4")
    );
    assert_eq!(
        reason(&req, &offer(1.0, 8, 64, vec![])).as_deref(),
        Some("gpu count 0 is below 2")
    );
}

#[test]
fn zero_gpus_allowed_by_default_but_not_by_a_model() {
    let cpu_only = offer(0.1, 2, 8, vec![]);
    assert_eq!(
        reason(&requirements(json!({"gpu": "0.."})), &cpu_only),
        None
    );
    let wants_a100 = requirements(json!({"gpu": {"name": "A100", "count": "0.."}}));
    assert!(reason(&wants_a100, &cpu_only).is_some_and(|r| r.starts_with("the offer has no gpu")));
}

#[test]
fn gpu_names_compare_case_insensitively() {
    let req = requirements(json!({"gpu": "a100,h100"}));
    assert_eq!(reason(&req, &offer(1.0, 8, 64, a100s(1, 40))), None);
    let l4 = offer(1.0, 8, 64, vec![gpu("L4", 24, None)]);
    assert_eq!(
        reason(&req, &l4).as_deref(),
        Some("gpu L4 is not one of a100, h100")
    );
}

#[test]
fn gpu_memory_per_gpu_and_total() {
    let req = requirements(json!({"gpu": "40GB.."}));
    assert_eq!(reason(&req, &offer(1.0, 8, 64, a100s(1, 80))), None);
    let a10 = offer(1.0, 8, 64, vec![gpu("A10G", 24, None)]);
    assert_eq!(
        reason(&req, &a10).as_deref(),
        Some("gpu memory 24GB is below 40GB")
    );

    let total = requirements(json!({"gpu": {"count": "1..", "total_memory": "100GB.."}}));
    assert_eq!(reason(&total, &offer(1.0, 8, 64, a100s(2, 80))), None);
    assert_eq!(
        reason(&total, &offer(1.0, 8, 64, a100s(1, 80))).as_deref(),
        Some("total gpu memory 80GB is below 100GB")
    );
}

#[test]
fn gpu_vendor_defaults_to_nvidia_on_the_offer() {
    let amd = requirements(json!({"gpu": "amd:1"}));
    let unnamed_vendor = offer(1.0, 8, 64, vec![gpu("A100", 80, None)]);
    assert_eq!(
        reason(&amd, &unnamed_vendor).as_deref(),
        Some("gpu vendor nvidia is not amd")
    );
    let mi300 = offer(1.0, 8, 64, vec![gpu("MI300X", 192, Some(GpuVendor::Amd))]);
    assert_eq!(reason(&amd, &mi300), None);
    // A vendor alone does not exclude machines without GPUs when 0 GPUs are allowed.
    let nvidia_any = requirements(json!({"gpu": {"vendor": "nvidia", "count": "0.."}}));
    assert_eq!(reason(&nvidia_any, &offer(0.1, 2, 8, vec![])), None);
}

#[test]
fn compute_capability_uses_the_known_models() {
    let req = requirements(json!({"gpu": {"compute_capability": "8.0"}}));
    assert_eq!(reason(&req, &offer(1.0, 8, 64, a100s(1, 40))), None);
    let t4 = offer(1.0, 8, 64, vec![gpu("T4", 16, None)]);
    assert_eq!(
        reason(&req, &t4).as_deref(),
        Some("compute capability 7.5 of gpu T4 is below 8.0")
    );
    let unknown = offer(1.0, 8, 64, vec![gpu("X1", 16, None)]);
    assert!(reason(&req, &unknown).is_some_and(|r| r.contains("unknown")));
}

#[test]
fn cpu_arch_treats_unknown_as_x86() {
    let arm = requirements(json!({"cpu": "arm:2.."}));
    let mut machine = offer(0.1, 4, 8, vec![]);
    assert_eq!(
        reason(&arm, &machine).as_deref(),
        Some("cpu architecture x86 is not arm")
    );
    machine.instance.resources.cpu_arch = Some(dstack_core::resources::CpuArch::Arm);
    assert_eq!(reason(&arm, &machine), None);
    assert!(reason(&requirements(json!({"cpu": "x86:2.."})), &machine).is_some());
}

#[test]
fn spot_and_price() {
    let mut req = requirements(json!({}));
    let mut spot = offer(0.5, 2, 8, vec![]);
    spot.instance.resources.spot = true;
    assert_eq!(reason(&req, &spot), None);
    req.spot = Some(false);
    assert_eq!(
        reason(&req, &spot).as_deref(),
        Some("the offer is spot, the job wants on-demand")
    );
    req.spot = Some(true);
    assert_eq!(reason(&req, &spot), None);
    req.max_price = Some(0.4);
    assert_eq!(
        reason(&req, &spot).as_deref(),
        Some("price 0.5 is above max_price 0.4")
    );
    req.max_price = Some(0.5);
    assert_eq!(reason(&req, &spot), None);
    assert!(matches!(
        offer_satisfies(&req, &offer(0.1, 2, 8, vec![])),
        Err(Mismatch::Spot { offered: false })
    ));
}

#[test]
fn ordering_is_cheapest_first_and_unavailable_last() {
    let mut offers = vec![
        offer(3.0, 2, 8, vec![]),
        offer(0.5, 2, 8, vec![]),
        offer(2.0, 2, 8, vec![]),
        offer(1.0, 2, 8, vec![]),
    ];
    offers[1].availability = InstanceAvailability::NotAvailable;
    offers[2].availability = InstanceAvailability::Idle;
    sort_offers(&mut offers);
    let prices: Vec<f64> = offers.iter().map(|o| o.price).collect();
    assert_eq!(prices, [1.0, 2.0, 3.0, 0.5]);
}

#[test]
fn profile_filter() {
    let machine = offer(0.1, 2, 8, vec![]);
    assert_eq!(OfferFilter::default().allows(&machine), Ok(()));
    let filter = OfferFilter {
        backends: Some(vec![BackendType::Aws]),
        regions: Some(vec!["US-EAST-1".into()]),
        instance_types: Some(vec!["inst".into()]),
    };
    assert_eq!(filter.allows(&machine), Ok(()));
    let gcp_only = OfferFilter {
        backends: Some(vec![BackendType::Gcp]),
        ..OfferFilter::default()
    };
    assert_eq!(
        gcp_only.allows(&machine),
        Err(Mismatch::Backend(BackendType::Aws))
    );
    let other_region = OfferFilter {
        regions: Some(vec!["eu-west-1".into()]),
        ..OfferFilter::default()
    };
    assert_eq!(
        other_region.allows(&machine),
        Err(Mismatch::Region("us-east-1".into()))
    );
    let other_type = OfferFilter {
        instance_types: Some(vec!["p4d".into()]),
        ..OfferFilter::default()
    };
    assert!(other_type.allows(&machine).is_err());
}

#[test]
fn resources_line_of_an_offer() {
    let mut h100 = offer(1.0, 24, 251, vec![gpu("H100", 80, None)]);
    assert_eq!(
        h100.instance.resources.to_string(),
        "cpu=24 mem=251GB disk=100GB gpu=H100:80GB:1"
    );
    h100.instance.resources.gpus.clear();
    assert_eq!(
        h100.instance.resources.to_string(),
        "cpu=24 mem=251GB disk=100GB"
    );
}

#[test]
fn offer_wire_form_round_trips() {
    let wire = json!({
        "backend": "aws",
        "instance": {"name": "g5.xlarge", "resources": {
            "cpus": 4, "memory_mib": 16384,
            "gpus": [{"name": "A10G", "memory_mib": 24576, "vendor": "nvidia"}],
            "spot": false, "disk": {"size_mib": 102400}, "cpu_arch": "x86", "description": ""}},
        "region": "us-east-1", "price": 1.006, "backend_data": {},
        "availability": "no_quota", "availability_zones": ["us-east-1a"],
        "instance_runtime": "shim", "blocks": 1, "total_blocks": 1
    });
    let offer = serde_json::from_value::<InstanceOfferWithAvailability>(wire.clone());
    assert_eq!(
        offer.ok().and_then(|o| serde_json::to_value(o).ok()),
        Some(wire)
    );
}

#[test]
fn offer_defaults_fill_omitted_fields() {
    let minimal = json!({
        "backend": "remote",
        "instance": {"name": "ssh", "resources": {"cpus": 2, "memory_mib": 8, "gpus": [], "spot": false}},
        "region": "remote", "price": 0.0, "availability": "idle"
    });
    let offer = serde_json::from_value::<InstanceOfferWithAvailability>(minimal);
    let offer = offer.unwrap_or_else(|e| panic!("minimal offer: {e}"));
    assert_eq!(offer.instance.resources.disk, Disk { size_mib: 102_400 });
    assert_eq!((offer.blocks, offer.total_blocks), (1, 1));
    assert_eq!(offer.instance_runtime, InstanceRuntime::Shim);
}

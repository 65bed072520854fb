//! Offers from fleet instances, as the scheduler will write them: matched against
//! requirements, cheapest first, partly busy instances offered by blocks, and `gpus/list`
//! grouping them.

use dstack_core::offers::Requirements;
use dstack_server::backends::local::LocalBackend;
use dstack_server::db::Database;
use dstack_server::db::instances::{self as instance_rows, NewInstance};
use dstack_server::services::offers::{Source, offers_from};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fleets::{apply, cloud_spec};
use crate::support::{ADMIN_TOKEN, TestServer, open_db};

fn gpu(name: &str, memory_gb: u64) -> Value {
    json!({"name": name, "memory_mib": memory_gb * 1024, "vendor": "nvidia"})
}

/// An offer as a backend reports it.
fn offer(backend: &str, cpus: u32, memory_gb: u64, gpus: Vec<Value>, price: f64) -> Value {
    json!({
        "backend": backend, "region": "eu-west-1", "price": price, "availability": "available",
        "instance": {"name": format!("{cpus}x{memory_gb}"), "resources": {
            "cpus": cpus, "memory_mib": memory_gb * 1024, "gpus": gpus, "spot": false,
            "disk": {"size_mib": 204_800}, "cpu_arch": null, "description": ""}},
    })
}

/// One instance row of the fleet, as the scheduler will write it after provisioning.
struct Stored {
    num: u32,
    status: &'static str,
    offer: Value,
    total_blocks: u32,
    busy_blocks: u32,
}

async fn store(db: &Database, project_id: &str, fleet: &Value, instance: Stored) {
    let fleet_id = Uuid::parse_str(fleet["id"].as_str().expect("id")).expect("uuid");
    let offer = &instance.offer;
    let row = NewInstance {
        id: Uuid::new_v4(),
        project_id: project_id.to_owned(),
        fleet_id,
        instance_num: instance.num,
        name: format!("{}-{}", fleet["name"].as_str().expect("name"), instance.num),
        status: Some(instance.status.parse().expect("status")),
        backend: offer["backend"].as_str().map(str::to_owned),
        region: offer["region"].as_str().map(str::to_owned),
        price: offer["price"].as_f64(),
        offer: Some(offer.to_string()),
        total_blocks: Some(instance.total_blocks),
        busy_blocks: instance.busy_blocks,
        now_micros: chrono::Utc::now().timestamp_micros(),
        ..NewInstance::default()
    };
    instance_rows::insert(db.pool(), &row)
        .await
        .expect("insert instance");
}

/// A fleet with four instances: an idle A100 box, an idle CPU box, an H100 box cut in four
/// blocks with three busy, and one still pending.
async fn fleet_with_instances(server: &TestServer) -> (Database, Uuid) {
    let fleet = apply(
        server,
        "main",
        ADMIN_TOKEN,
        cloud_spec(Some("pool"), json!({"min": 0, "max": 8})),
    )
    .await;
    let project = server
        .ok("/api/projects/main/get", ADMIN_TOKEN, json!({}))
        .await;
    let project_id = project["project_id"]
        .as_str()
        .expect("project id")
        .to_owned();
    let db = open_db(server).await;
    let instances = [
        Stored {
            num: 0,
            status: "idle",
            offer: offer("aws", 8, 32, vec![gpu("A100", 80)], 2.0),
            total_blocks: 1,
            busy_blocks: 0,
        },
        Stored {
            num: 1,
            status: "idle",
            offer: offer("aws", 4, 16, vec![], 0.5),
            total_blocks: 1,
            busy_blocks: 0,
        },
        Stored {
            num: 2,
            status: "busy",
            offer: offer("gcp", 32, 256, vec![gpu("H100", 80); 4], 10.0),
            total_blocks: 4,
            busy_blocks: 3,
        },
        Stored {
            num: 3,
            status: "pending",
            offer: offer("aws", 64, 512, vec![gpu("H100", 80); 8], 1.0),
            total_blocks: 1,
            busy_blocks: 0,
        },
    ];
    for instance in instances {
        store(&db, &project_id, &fleet, instance).await;
    }
    (db, Uuid::parse_str(&project_id).expect("uuid"))
}

fn requirements(resources: Value) -> Requirements {
    serde_json::from_value(json!({"resources": resources, "spot": false})).expect("requirements")
}

/// The offers of the project's fleet instances alone (the local backend offers a slice of
/// this host beside them; the runs and gpus tests see it).
async fn fleet_offers(
    db: &Database,
    project: Uuid,
    requirements: &Requirements,
    max: Option<usize>,
) -> (
    Vec<dstack_core::offers::InstanceOfferWithAvailability>,
    usize,
) {
    let local = LocalBackend::new(
        std::path::Path::new("/tmp"),
        "dstack-shim".into(),
        "dstack-runner".into(),
    );
    let sources = &[Source::FleetInstances];
    offers_from(db, &local, project, requirements, sources, max)
        .await
        .expect("offers")
}

/// `(instance name, availability, blocks)` of each offer, in order.
async fn offered(db: &Database, project: Uuid, resources: Value) -> Vec<(String, String, u32)> {
    let (offers, total) = fleet_offers(db, project, &requirements(resources), None).await;
    assert_eq!(total, offers.len());
    offers
        .iter()
        .map(|o| {
            let value = serde_json::to_value(o).expect("json");
            (
                value["instance"]["name"].as_str().expect("name").to_owned(),
                value["availability"]
                    .as_str()
                    .expect("availability")
                    .to_owned(),
                o.blocks,
            )
        })
        .collect()
}

fn expect(items: &[(&str, &str, u32)]) -> Vec<(String, String, u32)> {
    items
        .iter()
        .map(|(n, a, b)| ((*n).to_owned(), (*a).to_owned(), *b))
        .collect()
}

async fn fleet_instances_are_offered_by_what_they_have(server: &TestServer) {
    let (db, project) = fleet_with_instances(server).await;
    let any_gpu = json!({"gpu": {"count": {"min": 1, "max": null}}});
    assert_eq!(
        offered(&db, project, any_gpu).await,
        expect(&[("8x32", "idle", 1), ("32x256", "idle", 1)]),
        "cheapest first; one free block of the H100 box; pending instances are not offered"
    );
    let h100 = json!({"gpu": {"name": ["H100"], "count": {"min": 1, "max": null}}});
    assert_eq!(
        offered(&db, project, h100).await,
        expect(&[("32x256", "idle", 1)])
    );
    let two_blocks = json!({"cpu": {"count": {"min": 16, "max": null}}});
    assert_eq!(
        offered(&db, project, two_blocks).await,
        expect(&[("32x256", "busy", 2)]),
        "16 cpus take two of its blocks, and only one is free"
    );
    let no_gpu = json!({"gpu": {"count": {"min": 0, "max": 0}}});
    assert_eq!(
        offered(&db, project, no_gpu).await,
        expect(&[("4x16", "idle", 1)])
    );
    let huge = json!({"memory": {"min": 1000.0, "max": null}});
    assert_eq!(offered(&db, project, huge).await, expect(&[]));
    let (limited, total) = fleet_offers(&db, project, &requirements(json!({})), Some(1)).await;
    assert_eq!((limited.len(), total), (1, 3));
    db.close().await;
}

fn gpus_request(group_by: Value) -> Value {
    json!({
        "run_spec": {
            "run_name": null, "repo_id": null, "repo_data": null, "configuration_path": null,
            "configuration": {"type": "task", "commands": [":"], "image": "scratch", "user": "root",
                              "resources": {"gpu": {"count": {"min": 1, "max": null}}}},
            "profile": {"name": "default", "default": false}, "ssh_key_pub": null,
        },
        "group_by": group_by, "full_offers": false, "unallocated_resources": false,
    })
}

async fn gpus_list_groups_the_offers(server: &TestServer) {
    let (db, _) = fleet_with_instances(server).await;
    let path = "/api/project/main/gpus/list";
    let plain = server.ok(path, ADMIN_TOKEN, gpus_request(json!([]))).await;
    assert_eq!(
        plain,
        json!({"gpus": [
            {"name": "A100", "memory_mib": 81920, "vendor": "nvidia", "availability": ["idle"],
             "spot": ["on-demand"], "count": {"min": 1, "max": 1}, "price": {"min": 2.0, "max": 2.0},
             "backends": ["aws"]},
            {"name": "H100", "memory_mib": 81920, "vendor": "nvidia", "availability": ["idle"],
             "spot": ["on-demand"], "count": {"min": 1, "max": 1}, "price": {"min": 10.0, "max": 10.0},
             "backends": ["gcp"]},
        ]}),
        "null fields are left out"
    );
    let by_region = server
        .ok(
            path,
            ADMIN_TOKEN,
            gpus_request(json!(["backend", "region"])),
        )
        .await;
    assert_eq!(by_region["gpus"][1]["backend"], "gcp");
    assert_eq!(by_region["gpus"][1]["region"], "eu-west-1");
    let refused = server
        .post(path, ADMIN_TOKEN, gpus_request(json!(["region"])))
        .await;
    crate::support::business_error("error", &refused);
    db.close().await;
}

/// The GPU names and prices of a plan's first job's offers, as `gpus/list` groups them.
fn plan_gpus(plan: &Value) -> Vec<(String, String)> {
    let offers = plan["job_plans"][0]["offers"].as_array().expect("offers");
    let mut found: Vec<(String, String)> = offers
        .iter()
        .filter_map(|offer| {
            let gpus = offer["instance"]["resources"]["gpus"].as_array()?;
            let name = gpus.first()?["name"].as_str()?.to_owned();
            Some((name, offer["price"].to_string()))
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

fn listed_gpus(list: &Value) -> Vec<(String, String)> {
    let groups = list["gpus"].as_array().expect("gpus");
    let mut found: Vec<(String, String)> = groups
        .iter()
        .flat_map(|group| {
            let name = group["name"].as_str().expect("name").to_owned();
            let prices = [&group["price"]["min"], &group["price"]["max"]];
            prices.map(|price| (name.clone(), price.to_string()))
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

async fn gpus_list_offers_what_the_run_plan_offers(server: &TestServer) {
    let (db, _) = fleet_with_instances(server).await;
    let resources = [
        json!({"gpu": {"count": {"min": 1, "max": null}}}),
        json!({"gpu": {"name": ["H100"], "count": {"min": 1, "max": null}}}),
        json!({"gpu": {"count": {"min": 1, "max": null}}, "memory": {"min": 64.0, "max": null}}),
    ];
    for resources in resources {
        let mut request = gpus_request(json!([]));
        request["run_spec"]["configuration"]["resources"] = resources.clone();
        let listed = server
            .ok("/api/project/main/gpus/list", ADMIN_TOKEN, request.clone())
            .await;
        let plan = server
            .ok(
                "/api/project/main/runs/get_plan",
                ADMIN_TOKEN,
                json!({"run_spec": request["run_spec"]}),
            )
            .await;
        let offered = plan_gpus(&plan);
        assert!(
            !offered.is_empty(),
            "{resources}: the fleet has GPUs for each"
        );
        assert_eq!(listed_gpus(&listed), offered, "{resources}");
    }
    db.close().await;
}

crate::engine_tests!(
    fleet_instances_are_offered_by_what_they_have,
    gpus_list_groups_the_offers,
    gpus_list_offers_what_the_run_plan_offers,
);

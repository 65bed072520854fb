//! `dstack offer`: the offers (or GPU groups) matching resource and profile flags.

use std::process::ExitCode;

use clap::Args;
use dstack_core::api::gpus::{GpuGroupBy, ListGpusRequest};
use dstack_core::api::runs::{GetRunPlanRequest, RunSpec};
use dstack_core::configuration::AnyRunConfiguration;
use dstack_core::configuration::task::TaskConfiguration;
use serde::Serialize;
use serde_json::{Value, json};

use super::offers_table::offers_table;
use super::{ProjectArg, block_on};
use crate::output::{format_price, grey, print_json, print_table, secondary, table, yellow};

#[derive(Debug, Args)]
pub struct OfferArgs {
    #[command(flatten)]
    project: ProjectArg,
    /// GPU requirements, e.g. `A100:80GB:2` or `24GB..`.
    #[arg(long, value_name = "SPEC")]
    gpu: Option<String>,
    /// CPU requirements, e.g. `4..` or `arm:8`.
    #[arg(long, value_name = "SPEC")]
    cpu: Option<String>,
    /// Memory, e.g. `64GB..`.
    #[arg(long, value_name = "RANGE")]
    memory: Option<String>,
    /// Disk, e.g. `100GB..`.
    #[arg(long, value_name = "RANGE")]
    disk: Option<String>,
    /// Only these backends.
    #[arg(short = 'b', long = "backend", value_name = "NAME")]
    backends: Vec<String>,
    /// Only these regions.
    #[arg(short = 'r', long = "region", value_name = "NAME")]
    regions: Vec<String>,
    /// The highest price per hour.
    #[arg(long)]
    max_price: Option<f64>,
    /// Group by `gpu`, then `backend`, `region`, `count` (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    group_by: Vec<String>,
    /// How many offers to show.
    #[arg(long, default_value_t = 50)]
    max_offers: u32,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct OffersJson<'a> {
    project: &'a str,
    user: &'a str,
    requirements: &'a Value,
    offers: &'a [dstack_core::offers::InstanceOfferWithAvailability],
    total_offers: u64,
}

pub fn run(args: OfferArgs) -> anyhow::Result<ExitCode> {
    let group_by = group_by(&args.group_by)?;
    let client = args.project.client()?;
    let run_spec = offer_run_spec(&args)?;
    if let Some(group_by) = group_by {
        let request = ListGpusRequest {
            run_spec,
            group_by: Some(group_by.clone()),
            full_offers: false,
            unallocated_resources: false,
            reverse: false,
        };
        let groups = block_on(client.list_gpus(&request))??;
        if args.json {
            print_json(&json!({
                "project": client.project(),
                "group_by": args.group_by,
                "gpus": groups.gpus,
            }));
            return Ok(ExitCode::SUCCESS);
        }
        if groups.gpus.is_empty() {
            println!("{}", yellow(NO_OFFERS));
            return Ok(ExitCode::SUCCESS);
        }
        let by_backend = group_by.contains(&GpuGroupBy::Backend);
        let mut rows = table([
            "#",
            "GPU",
            "SPOT",
            "$/GPU",
            if by_backend { "BACKEND" } else { "BACKENDS" },
        ]);
        for (index, group) in groups.gpus.iter().enumerate() {
            let spot = group
                .spot
                .iter()
                .map(|kind| {
                    serde_json::to_value(kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join(", ");
            let count = match group.count.max {
                Some(max) if Some(max) != group.count.min => {
                    format!("{}..{max}", group.count.min.unwrap_or(0))
                }
                _ => group.count.min.unwrap_or(0).to_string(),
            };
            let backends = match (&group.backend, &group.backends) {
                (Some(backend), _) => backend.to_string(),
                (None, Some(backends)) => backends
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                (None, None) => String::new(),
            };
            rows.add_row([
                (index + 1).to_string(),
                format!("{}:{}GB:{count}", group.name, group.memory_mib / 1024),
                spot,
                format!(
                    "{}..{}",
                    price_bound(group.price.min),
                    price_bound(group.price.max)
                ),
                backends,
            ]);
        }
        print_table(&rows);
        return Ok(ExitCode::SUCCESS);
    }
    let request = GetRunPlanRequest {
        run_spec,
        max_offers: Some(args.max_offers),
        full_offers: false,
        unallocated_resources: false,
        for_offers_only: true,
        reverse_offers: false,
    };
    let plan = block_on(client.get_run_plan(&request))??;
    let job_plan = plan
        .job_plans
        .first()
        .ok_or_else(|| anyhow::anyhow!("the server returned a plan without jobs"))?;
    let requirements = serde_json::to_value(&job_plan.job_spec.requirements)?;
    if args.json {
        print_json(&OffersJson {
            project: &plan.project_name,
            user: &plan.user,
            requirements: &requirements,
            offers: &job_plan.offers,
            total_offers: job_plan.total_offers,
        });
        return Ok(ExitCode::SUCCESS);
    }
    let resources = job_plan.job_spec.requirements.resources.to_string();
    let spot = match job_plan.job_spec.requirements.spot {
        Some(true) => "spot",
        Some(false) => "on-demand",
        None => "auto",
    };
    let max_price = args
        .max_price
        .map_or_else(|| "off".to_owned(), format_price);
    let mut header = table([]);
    for (key, value) in [
        ("Project", plan.project_name.clone()),
        ("Resources", resources),
        ("Spot policy", spot.to_owned()),
        ("Max price", max_price),
    ] {
        header.add_row([crate::output::bold(key), comfy_table::Cell::new(value)]);
    }
    print_table(&header);
    println!();
    if job_plan.offers.is_empty() {
        println!("{}", yellow(NO_OFFERS));
        return Ok(ExitCode::SUCCESS);
    }
    let (rows, footer) = offers_table(
        &job_plan.offers,
        job_plan.total_offers,
        job_plan.max_price,
        false,
    );
    print_table(&rows);
    if let Some(footer) = footer {
        println!("{}", grey(footer).content());
    }
    println!(
        "{}",
        secondary(
            "Hint: Existing fleets are ignored, and all available offers are shown. To filter by fleet, pass --fleet NAME."
        )
    );
    Ok(ExitCode::SUCCESS)
}

fn price_bound(price: Option<f64>) -> String {
    price.map_or_else(String::new, |price| {
        format_price(price).trim_start_matches('$').to_owned()
    })
}

const NO_OFFERS: &str = "No matching instance offers available. Possible reasons: https://dstack.ai/docs/guides/troubleshooting/#no-offers";

/// Checks `--group-by`: `gpu` is required, `region` needs `backend`; returns the keys sent
/// besides `gpu`.
fn group_by(values: &[String]) -> anyhow::Result<Option<Vec<GpuGroupBy>>> {
    if values.is_empty() {
        return Ok(None);
    }
    let mut keys = Vec::new();
    for value in values {
        match value.as_str() {
            "gpu" => {}
            "backend" => keys.push(GpuGroupBy::Backend),
            "region" => keys.push(GpuGroupBy::Region),
            "count" => keys.push(GpuGroupBy::Count),
            other => anyhow::bail!(
                "Invalid group-by value: '{other}'. Valid choices are: gpu, backend, region, count"
            ),
        }
    }
    if !values.iter().any(|value| value == "gpu") {
        let other = &values[0];
        anyhow::bail!("Cannot group by '{other}' without also grouping by 'gpu'");
    }
    if keys.contains(&GpuGroupBy::Region) && !keys.contains(&GpuGroupBy::Backend) {
        anyhow::bail!("Cannot group by 'region' without also grouping by 'backend'");
    }
    Ok(Some(keys))
}

/// The placeholder task dstack plans for offers: `commands: [":"]` on `scratch` as root, with
/// unconstrained resources unless flags say otherwise.
fn offer_run_spec(args: &OfferArgs) -> anyhow::Result<RunSpec> {
    let mut resources = serde_json::Map::new();
    resources.insert("cpu".into(), json!(args.cpu.as_deref().unwrap_or("1..")));
    resources.insert(
        "memory".into(),
        json!(args.memory.as_deref().unwrap_or("0GB..")),
    );
    resources.insert("gpu".into(), json!(args.gpu.as_deref().unwrap_or("0..")));
    // No disk constraint unless asked: `null`, not the configuration default.
    resources.insert("disk".into(), json!(args.disk));
    let mut configuration = json!({
        "type": "task",
        "image": "scratch",
        "user": "root",
        "commands": [":"],
        "resources": resources,
    });
    if !args.backends.is_empty() {
        configuration["backends"] = json!(args.backends);
    }
    if !args.regions.is_empty() {
        configuration["regions"] = json!(args.regions);
    }
    if let Some(max_price) = args.max_price {
        configuration["max_price"] = json!(max_price);
    }
    // The flags go through the configuration's own types and rules, as a file's fields would;
    // straight from JSON, as the YAML parser's code would double what `offer` maps into memory.
    let task: TaskConfiguration =
        serde_path_to_error::deserialize(configuration).map_err(|error| {
            anyhow::anyhow!("{}: {}", flag_of(&error.path().to_string()), error.inner())
        })?;
    task.check().map_err(|violation| {
        anyhow::anyhow!(
            "{}: {}",
            flag_of(&violation.path.to_string()),
            violation.message
        )
    })?;
    Ok(RunSpec {
        run_name: None,
        repo_id: None,
        repo_data: None,
        repo_code_hash: None,
        repo_dir: None,
        file_archives: Vec::new(),
        working_dir: None,
        configuration_path: None,
        configuration: AnyRunConfiguration::Task(task),
        profile: Some(serde_json::from_value(json!({"name": "default"}))?),
        ssh_key_pub: None,
    })
}

/// The flag that set the placeholder configuration's field at `path`.
fn flag_of(path: &str) -> &str {
    match path.split(['.', '[']).collect::<Vec<_>>().as_slice() {
        ["resources", "gpu", ..] => "--gpu",
        ["resources", "cpu", ..] => "--cpu",
        ["resources", "memory", ..] => "--memory",
        ["resources", "disk", ..] => "--disk",
        ["backends", ..] => "--backend",
        ["regions", ..] => "--region",
        ["max_price", ..] => "--max-price",
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    const FIXTURES: &str = include_str!("../../../core/tests/fixtures/api-traffic-0.22.5.jsonl");

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: OfferArgs,
    }

    /// The placeholder run spec, as sent, equals the one dstack 0.22.5 sent for `dstack offer`
    /// and `dstack offer --group-by gpu` with no flags.
    #[test]
    fn the_offer_run_spec_is_dstacks() {
        let args = Wrapper::parse_from(["offer"]).args;
        let mut sent =
            serde_json::to_value(offer_run_spec(&args).expect("run spec")).expect("json");
        crate::api::excludes::run_spec(&mut sent);
        let mut checked = 0;
        for line in FIXTURES.lines() {
            let exchange: Value = serde_json::from_str(line).expect("exchange");
            let path = exchange["path"].as_str().unwrap_or_default();
            let body = exchange["req_body"].as_str().unwrap_or_default();
            let offers_plan =
                path.ends_with("/runs/get_plan") && body.contains("\"for_offers_only\":true");
            if !(offers_plan || path.ends_with("/gpus/list")) {
                continue;
            }
            let recorded: Value = serde_json::from_str(body).expect("request body");
            assert_eq!(sent, recorded["run_spec"], "{path}");
            checked += 1;
        }
        assert_eq!(checked, 2);
    }
}

//! `dstack fleet`: list fleets and their instances, show one as JSON, delete one or some of
//! its instances.

use std::process::ExitCode;

use chrono::Utc;
use clap::{Args, Subcommand};
use comfy_table::Table;
use dstack_core::api::fleets::Fleet;
use dstack_core::api::instances::Instance;
use dstack_core::configuration::fleet::FleetConfiguration;

use super::{ProjectArg, block_on, exiting};
use crate::api::ApiError;
use crate::output::{
    Answer, confirm, format_price, grey, pretty_date, print_json, print_json_pretty, print_table,
    table,
};

#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(flatten)]
    project: ProjectArg,
    #[command(flatten)]
    list: ListArgs,
    #[command(subcommand)]
    action: Option<FleetAction>,
}

#[derive(Debug, Args, Clone, Copy)]
struct ListArgs {
    /// Show more columns.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Print the fleets as JSON, for scripts.
    #[arg(long)]
    json: bool,
}

/// `dstack fleet --json`.
#[derive(serde::Serialize)]
struct FleetsJson<'a> {
    project: &'a str,
    fleets: &'a [Fleet],
}

#[derive(Debug, Subcommand)]
enum FleetAction {
    /// List the fleets.
    List(ListArgs),
    /// Print a fleet as JSON.
    Get {
        /// The fleet name.
        #[arg(required_unless_present = "id")]
        name: Option<String>,
        /// The fleet id instead of its name.
        #[arg(long)]
        id: Option<uuid::Uuid>,
        /// Print JSON (the only format).
        #[arg(long, required = true)]
        json: bool,
    },
    /// Delete a fleet, or some of its instances.
    Delete {
        /// The fleet name.
        name: String,
        /// Delete only these instances.
        #[arg(short = 'i', long = "instance", value_name = "N")]
        instances: Vec<u32>,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

pub fn run(args: FleetArgs) -> anyhow::Result<ExitCode> {
    let client = args.project.client()?;
    match args.action.unwrap_or(FleetAction::List(args.list)) {
        FleetAction::List(list) => {
            let fleets = block_on(client.list_fleets())??;
            if list.json {
                print_json(&FleetsJson {
                    project: client.project(),
                    fleets: &fleets,
                });
            } else {
                print_table(&fleets_table(&fleets, list.verbose));
            }
        }
        FleetAction::Get { name, id, json: _ } => {
            let fleet = match (id, name) {
                (Some(id), _) => block_on(client.get_fleet_by_id(id))?,
                (None, Some(name)) => block_on(client.get_fleet(&name))?,
                (None, None) => unreachable!("clap requires a name or --id"),
            };
            print_json_pretty(&fleet.map_err(|error| not_found(error, "Fleet"))?);
        }
        FleetAction::Delete {
            name,
            instances,
            yes,
        } => {
            if name.contains('/') {
                anyhow::bail!(
                    "The <project>/<fleet> format is not supported: delete imported fleets in their own project"
                );
            }
            match block_on(client.get_fleet(&name))? {
                Err(ApiError::NotFound(_)) => anyhow::bail!("Fleet {name} does not exist"),
                other => other?,
            };
            let question = if instances.is_empty() {
                format!("Delete the fleet {name}?")
            } else {
                format!("Delete the fleet {name} instances {instances:?}?")
            };
            if confirm(&question, yes)? == Answer::No {
                return Ok(exiting());
            }
            if instances.is_empty() {
                block_on(client.delete_fleets(std::slice::from_ref(&name)))??;
                println!("Fleet {name} deleted");
            } else {
                block_on(client.delete_fleet_instances(&name, &instances))??;
                println!("Fleet {name} instances deleted");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `Resource not found` reads better as `<Kind> not found`.
fn not_found(error: ApiError, kind: &str) -> anyhow::Error {
    match error {
        ApiError::NotFound(_) => anyhow::anyhow!("{kind} not found"),
        other => other.into(),
    }
}

/// The fleets newest first, each followed by its instances.
pub fn fleets_table(fleets: &[Fleet], verbose: bool) -> Table {
    let headers: &[&'static str] = if verbose {
        &[
            "NAME",
            "NODES",
            "RESOURCES",
            "DRIVER",
            "SPOT",
            "BACKEND",
            "PRICE",
            "STATUS",
            "CREATED",
            "ERROR",
        ]
    } else {
        &[
            "NAME", "NODES", "GPU", "SPOT", "BACKEND", "PRICE", "STATUS", "CREATED",
        ]
    };
    let now = Utc::now();
    let mut rows = table(headers.iter().copied());
    let mut fleets: Vec<&Fleet> = fleets.iter().collect();
    fleets.sort_by_key(|fleet| std::cmp::Reverse(fleet.created_at));
    for fleet in fleets {
        let configuration = &fleet.spec.configuration;
        let mut cells = vec![fleet.name.clone(), nodes(configuration)];
        let resources = configuration
            .resources
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| "-".to_owned());
        if verbose {
            cells.extend([resources, String::new()]);
        } else {
            let gpu = configuration
                .resources
                .as_ref()
                .and_then(|resources| resources.gpu.as_ref())
                .map(|gpu| gpu.to_string())
                .unwrap_or_else(|| "-".to_owned());
            cells.push(gpu);
        }
        let spot = configuration
            .spot_policy
            .map(|policy| {
                serde_json::to_value(policy)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            })
            .unwrap_or_else(|| "-".to_owned());
        let backend = if configuration.ssh_config.is_some() {
            "ssh".to_owned()
        } else {
            match &configuration.backends {
                Some(backends) => backends
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                None => "*".to_owned(),
            }
        };
        let price = configuration
            .max_price
            .map(|max| format!("$0..{}", format_price(max).trim_start_matches('$')))
            .unwrap_or_default();
        cells.extend([
            spot,
            backend,
            price,
            fleet.status.to_string(),
            pretty_date(fleet.created_at, now),
        ]);
        if verbose {
            cells.push(fleet.status_message.clone().unwrap_or_default());
        }
        rows.add_row(cells);
        for instance in &fleet.instances {
            rows.add_row(instance_cells(instance, verbose, now).into_iter().map(grey));
        }
    }
    rows
}

fn nodes(configuration: &FleetConfiguration) -> String {
    if let Some(ssh) = &configuration.ssh_config {
        return ssh.hosts.len().to_string();
    }
    match &configuration.nodes {
        Some(nodes) => match nodes.max {
            Some(max) if max == nodes.min => max.to_string(),
            Some(max) => format!("{}..{max}", nodes.min),
            None => format!("{}..", nodes.min),
        },
        None => "-".to_owned(),
    }
}

fn instance_cells(instance: &Instance, verbose: bool, now: chrono::DateTime<Utc>) -> Vec<String> {
    let resources = instance.instance_type.as_ref().map(|it| &it.resources);
    let mut cells = vec![
        format!("   instance={}", instance.instance_num),
        String::new(),
    ];
    if verbose {
        cells.push(resources.map(ToString::to_string).unwrap_or_default());
        cells.push(
            instance
                .gpu_driver
                .as_ref()
                .map(|driver| driver.version.clone())
                .unwrap_or_default(),
        );
    } else {
        let gpu = resources
            .and_then(|r| {
                r.gpus
                    .first()
                    .map(|gpu| format!("{}:{}GB:{}", gpu.name, gpu.memory_mib / 1024, r.gpus.len()))
            })
            .unwrap_or_else(|| "-".to_owned());
        cells.push(gpu);
    }
    let spot = match resources {
        Some(r) if r.spot => "spot",
        Some(_) => "on-demand",
        None => "",
    };
    let backend = match (&instance.backend, &instance.region) {
        (Some(backend), Some(region)) => {
            let backend = if backend.to_string() == "remote" {
                "ssh".to_owned()
            } else {
                backend.to_string()
            };
            let place = if verbose {
                instance.availability_zone.as_ref().unwrap_or(region)
            } else {
                region
            };
            format!("{backend} ({place})")
        }
        (Some(backend), None) => backend.to_string(),
        _ => String::new(),
    };
    let mut status = instance.status.to_string();
    if instance.unreachable {
        status.push_str(" (unreachable)");
    }
    cells.extend([
        spot.to_owned(),
        backend,
        instance.price.map(format_price).unwrap_or_default(),
        status,
        pretty_date(instance.created, now),
    ]);
    if verbose {
        cells.push(
            instance
                .termination_reason_message
                .clone()
                .unwrap_or_default(),
        );
    }
    cells
}

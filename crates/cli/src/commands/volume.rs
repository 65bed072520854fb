//! `dstack volume`: list volumes, show one as JSON, delete one.

use std::process::ExitCode;

use chrono::Utc;
use clap::{Args, Subcommand};
use dstack_core::api::volumes::Volume;
use serde_json::json;

use super::{ProjectArg, block_on, exiting};
use crate::api::ApiError;
use crate::output::{
    Answer, confirm, pretty_date, print_json, print_json_pretty, print_table, table,
};

#[derive(Debug, Args)]
pub struct VolumeArgs {
    #[command(flatten)]
    project: ProjectArg,
    #[command(flatten)]
    list: ListArgs,
    #[command(subcommand)]
    action: Option<VolumeAction>,
}

#[derive(Debug, Args, Clone, Copy)]
struct ListArgs {
    /// Show more columns.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum VolumeAction {
    /// List the volumes.
    List(ListArgs),
    /// Print a volume as JSON.
    Get {
        /// The volume name.
        name: String,
        /// Print JSON (the only format).
        #[arg(long, required = true)]
        json: bool,
    },
    /// Delete a volume.
    Delete {
        /// The volume name.
        name: String,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

pub fn run(args: VolumeArgs) -> anyhow::Result<ExitCode> {
    let client = args.project.client()?;
    match args.action.unwrap_or(VolumeAction::List(args.list)) {
        VolumeAction::List(list) => {
            let volumes = block_on(client.list_volumes())??;
            if list.json {
                print_json(&json!({"project": client.project(), "volumes": volumes}));
            } else {
                print_table(&volumes_table(&volumes, list.verbose));
            }
        }
        VolumeAction::Get { name, json: _ } => match block_on(client.get_volume(&name))? {
            Err(ApiError::NotFound(_)) => anyhow::bail!("Volume {name} does not exist"),
            volume => print_json_pretty(&volume?),
        },
        VolumeAction::Delete { name, yes } => {
            if let Err(ApiError::NotFound(_)) = block_on(client.get_volume(&name))? {
                anyhow::bail!("Volume {name} does not exist");
            }
            if confirm(&format!("Delete the volume {name}?"), yes)? == Answer::No {
                return Ok(exiting());
            }
            block_on(client.delete_volumes(std::slice::from_ref(&name)))??;
            println!("Volume {name} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn volumes_table(volumes: &[Volume], verbose: bool) -> comfy_table::Table {
    let headers: &[&'static str] = if verbose {
        &[
            "NAME", "BACKEND", "REGION", "STATUS", "ATTACHED", "CREATED", "ERROR",
        ]
    } else {
        &["NAME", "BACKEND", "STATUS", "CREATED"]
    };
    let now = Utc::now();
    let mut rows = table(headers.iter().copied());
    for volume in volumes {
        let configuration = serde_json::to_value(&volume.configuration).unwrap_or_default();
        let backend = configuration["backend"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let region = configuration["region"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let created = pretty_date(volume.created_at, now);
        let mut cells = vec![volume.name.clone()];
        if verbose {
            let attached = volume
                .attachments
                .as_deref()
                .unwrap_or_default()
                .iter()
                .filter_map(|attachment| {
                    serde_json::to_value(attachment).ok().and_then(|value| {
                        value["instance"]["fleet_name"].as_str().map(str::to_owned)
                    })
                })
                .collect::<Vec<_>>();
            let attached = if attached.is_empty() {
                "-".to_owned()
            } else {
                attached.join(", ")
            };
            cells.extend([
                backend,
                region,
                volume.status.to_string(),
                attached,
                created,
                volume.status_message.clone().unwrap_or_default(),
            ]);
        } else {
            cells.extend([
                format!("{backend} ({region})"),
                volume.status.to_string(),
                created,
            ]);
        }
        rows.add_row(cells);
    }
    rows
}

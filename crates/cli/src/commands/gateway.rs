//! `dstack gateway`: list gateways, show one as JSON, delete one, make one the default.

use std::process::ExitCode;

use chrono::Utc;
use clap::{Args, Subcommand};
use dstack_core::api::gateways::Gateway;
use serde_json::json;

use super::{ProjectArg, block_on, exiting};
use crate::api::ApiError;
use crate::output::{
    Answer, confirm, pretty_date, print_json, print_json_pretty, print_table, secondary, table,
};

#[derive(Debug, Args)]
pub struct GatewayArgs {
    #[command(flatten)]
    project: ProjectArg,
    #[command(flatten)]
    list: ListArgs,
    #[command(subcommand)]
    action: Option<GatewayAction>,
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
enum GatewayAction {
    /// List the gateways.
    List(ListArgs),
    /// Print a gateway as JSON.
    Get {
        /// The gateway name.
        name: String,
        /// Print JSON (the only format).
        #[arg(long, required = true)]
        json: bool,
    },
    /// Delete a gateway.
    Delete {
        /// The gateway name.
        name: String,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// Change a gateway.
    Update {
        /// The gateway name.
        name: String,
        /// Make it the project's default gateway.
        #[arg(long)]
        set_default: bool,
    },
}

pub fn run(args: GatewayArgs) -> anyhow::Result<ExitCode> {
    let client = args.project.client()?;
    match args.action.unwrap_or(GatewayAction::List(args.list)) {
        GatewayAction::List(list) => {
            let gateways = block_on(client.list_gateways())??;
            if list.json {
                print_json(&json!({"project": client.project(), "gateways": gateways}));
            } else {
                print_table(&gateways_table(&gateways, list.verbose));
            }
        }
        GatewayAction::Get { name, json: _ } => {
            print_json_pretty(&existing(block_on(client.get_gateway(&name))?, &name)?);
        }
        GatewayAction::Delete { name, yes } => {
            let gateway = existing(block_on(client.get_gateway(&name))?, &name)?;
            print_table(&gateways_table(std::slice::from_ref(&gateway), false));
            if confirm("Do you want to delete the gateway?", yes)? == Answer::No {
                return Ok(exiting());
            }
            block_on(client.delete_gateways(std::slice::from_ref(&name)))??;
            println!("Gateway deleted");
        }
        GatewayAction::Update { name, set_default } => {
            if set_default {
                block_on(client.set_default_gateway(&name))??;
            }
            println!("{}", secondary("OK"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn existing(result: Result<Gateway, ApiError>, name: &str) -> anyhow::Result<Gateway> {
    match result {
        Err(ApiError::NotFound(_)) => anyhow::bail!("Gateway {name} does not exist"),
        other => Ok(other?),
    }
}

fn gateways_table(gateways: &[Gateway], verbose: bool) -> comfy_table::Table {
    let mut headers = vec!["NAME", "BACKEND", "HOSTNAME", "DOMAIN", "DEFAULT", "STATUS"];
    if verbose {
        headers.extend(["CREATED", "ERROR"]);
    }
    let now = Utc::now();
    let mut rows = table(headers);
    for gateway in gateways {
        let backend = match (&gateway.backend, &gateway.region) {
            (Some(backend), Some(region)) => format!("{backend} ({region})"),
            (Some(backend), None) => backend.to_string(),
            _ => String::new(),
        };
        let mut cells = vec![
            gateway.name.clone(),
            backend,
            gateway.hostname.clone().unwrap_or_default(),
            gateway.wildcard_domain.clone().unwrap_or_default(),
            if gateway.default { "✓" } else { "" }.to_owned(),
            gateway.status.to_string(),
        ];
        if verbose {
            cells.push(pretty_date(gateway.created_at, now));
            cells.push(gateway.status_message.clone().unwrap_or_default());
        }
        rows.add_row(cells);
    }
    rows
}

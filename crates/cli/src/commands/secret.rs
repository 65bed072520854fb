//! `dstack secret`: list, get, set and delete project secrets.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use dstack_core::api::secrets::Secret;
use serde::Serialize;

use super::{ProjectArg, block_on, exiting};
use crate::output::{
    Answer, confirm, print_json, print_json_pretty, print_table, secondary, table,
};

#[derive(Debug, Args)]
pub struct SecretArgs {
    #[command(flatten)]
    project: ProjectArg,
    #[command(flatten)]
    list: ListArgs,
    #[command(subcommand)]
    action: Option<SecretAction>,
}

#[derive(Debug, Args, Clone, Copy)]
struct ListArgs {
    /// Print `{"project": P, "secrets": [...]}` on one line; values are `null`.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum SecretAction {
    /// List the secrets (values hidden).
    List(ListArgs),
    /// Show a secret with its value.
    Get {
        /// The secret name.
        name: String,
        /// Print the secret as JSON, value included.
        #[arg(long)]
        json: bool,
    },
    /// Create or update a secret.
    Set {
        /// The secret name.
        name: String,
        /// The value.
        value: String,
    },
    /// Delete a secret.
    Delete {
        /// The secret name.
        name: String,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

/// `secret list --json`.
#[derive(Serialize)]
struct SecretsJson<'a> {
    project: &'a str,
    secrets: &'a [Secret],
}

pub fn run(args: SecretArgs) -> anyhow::Result<ExitCode> {
    let client = args.project.client()?;
    match args.action.unwrap_or(SecretAction::List(args.list)) {
        SecretAction::List(list) => {
            let mut secrets = block_on(client.list_secrets())??;
            // A listing never shows values, whatever the server sent.
            for secret in &mut secrets {
                secret.value = None;
            }
            if list.json {
                print_json(&SecretsJson {
                    project: client.project(),
                    secrets: &secrets,
                });
            } else {
                let mut rows = table(["NAME", "VALUE"]);
                for secret in secrets {
                    rows.add_row([secret.name, "******".to_owned()]);
                }
                print_table(&rows);
            }
        }
        SecretAction::Get { name, json } => {
            let secret = block_on(client.get_secret(&name))??;
            if json {
                print_json_pretty(&secret);
            } else {
                let mut rows = table(["NAME", "VALUE"]);
                rows.add_row([secret.name, secret.value.unwrap_or_default()]);
                print_table(&rows);
            }
        }
        SecretAction::Set { name, value } => {
            block_on(client.set_secret(&name, &value))??;
            println!("{}", secondary("OK"));
        }
        SecretAction::Delete { name, yes } => {
            if confirm(&format!("Delete the secret {name}?"), yes)? == Answer::No {
                return Ok(exiting());
            }
            block_on(client.delete_secrets(&[name]))??;
            println!("{}", secondary("OK"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

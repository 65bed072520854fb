//! `dstack secret`: list, get, set and delete project secrets.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{ProjectArg, block_on, exiting};
use crate::output::{Answer, confirm, print_table, secondary, table};

#[derive(Debug, Args)]
pub struct SecretArgs {
    #[command(flatten)]
    project: ProjectArg,
    #[command(subcommand)]
    action: Option<SecretAction>,
}

#[derive(Debug, Subcommand)]
enum SecretAction {
    /// List the secrets (values hidden).
    List,
    /// Show a secret with its value.
    Get {
        /// The secret name.
        name: String,
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

pub fn run(args: SecretArgs) -> anyhow::Result<ExitCode> {
    let client = args.project.client()?;
    match args.action.unwrap_or(SecretAction::List) {
        SecretAction::List => {
            let secrets = block_on(client.list_secrets())??;
            let mut rows = table(["NAME", "VALUE"]);
            for secret in secrets {
                rows.add_row([secret.name, "******".to_owned()]);
            }
            print_table(&rows);
        }
        SecretAction::Get { name } => {
            let secret = block_on(client.get_secret(&name))??;
            let mut rows = table(["NAME", "VALUE"]);
            rows.add_row([secret.name, secret.value.unwrap_or_default()]);
            print_table(&rows);
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

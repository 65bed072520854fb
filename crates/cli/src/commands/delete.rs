//! `dstack delete -f FILE`: deletes the run, fleet, volume or gateway a configuration names.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use dstack_core::configuration::{AnyConfiguration, parse_configuration};

use super::{ProjectArg, block_on, exiting};
use crate::api::{ApiError, ProjectClient};
use crate::output::{Answer, confirm};

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    project: ProjectArg,
    /// The configuration file.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: PathBuf,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    yes: bool,
}

/// How often a deleted fleet is checked until it is gone.
const GONE_POLL: Duration = Duration::from_secs(1);

pub fn run(args: DeleteArgs) -> anyhow::Result<ExitCode> {
    let file_name = args.file.display().to_string();
    let yaml = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read configuration file {file_name}"))?;
    let configuration = parse_configuration(&file_name, &yaml)?;
    let kind = match &configuration {
        AnyConfiguration::Fleet(_) => "fleet",
        AnyConfiguration::Volume(_) => "volume",
        AnyConfiguration::Gateway(_) => "gateway",
        _ => "run",
    };
    let Some(name) = configuration.name().map(str::to_owned) else {
        anyhow::bail!("Configuration specifies no {kind} to delete");
    };
    let client = args.project.client()?;
    let title = format!("{}{}", kind[..1].to_uppercase(), &kind[1..]);
    match block_on(exists(&client, kind, &name))? {
        Err(ApiError::NotFound(_)) => anyhow::bail!("{title} {name} does not exist"),
        other => other?,
    }
    if confirm(&format!("Delete the {kind} {name}?"), args.yes)? == Answer::No {
        return Ok(exiting());
    }
    block_on(delete(&client, kind, &name))??;
    println!("{title} {name} deleted");
    Ok(ExitCode::SUCCESS)
}

async fn exists(client: &ProjectClient, kind: &str, name: &str) -> Result<(), ApiError> {
    match kind {
        "fleet" => client.get_fleet(name).await.map(drop),
        "volume" => client.get_volume(name).await.map(drop),
        "gateway" => client.get_gateway(name).await.map(drop),
        _ => client.get_run(name).await.map(drop),
    }
}

async fn delete(client: &ProjectClient, kind: &str, name: &str) -> Result<(), ApiError> {
    let names = [name.to_owned()];
    match kind {
        "fleet" => {
            client.delete_fleets(&names).await?;
            // dstack waits until the fleet is gone, so a following apply can re-create it.
            loop {
                match client.get_fleet(name).await {
                    Err(ApiError::NotFound(_)) => return Ok(()),
                    Err(error) => return Err(error),
                    Ok(_) => tokio::time::sleep(GONE_POLL).await,
                }
            }
        }
        "volume" => client.delete_volumes(&names).await,
        "gateway" => client.delete_gateways(&names).await,
        _ => client.delete_runs(&names).await,
    }
}

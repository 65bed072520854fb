//! Applying a volume configuration: volumes are always (re-)created, never updated in place;
//! then the wait until the volume is active or failed.

use std::process::ExitCode;
use std::time::Duration;

use dstack_core::api::volumes::CreateVolumeRequest;
use dstack_core::configuration::volume::VolumeConfiguration;
use dstack_core::status::VolumeStatus;

use super::{ApplyArgs, plan_table};
use crate::api::{ApiError, ProjectClient};
use crate::commands::{block_on, exiting};
use crate::output::{Answer, confirm, print_table};

/// How often the volume is polled while it is deleted or provisioned.
const POLL: Duration = Duration::from_secs(1);

pub fn apply(
    client: &ProjectClient,
    args: &ApplyArgs,
    file_name: &str,
    configuration: VolumeConfiguration,
) -> anyhow::Result<ExitCode> {
    let mut value = serde_json::to_value(&configuration)?;
    if let Some(name) = &args.name {
        value["name"] = serde_json::Value::from(name.as_str());
    }
    let configuration: VolumeConfiguration = serde_json::from_value(value.clone())?;
    let name = value["name"].as_str().map(str::to_owned);
    let text = |key: &str| value[key].as_str().unwrap_or("-").to_owned();
    let volume_type = if value["volume_id"].is_string() {
        "external"
    } else {
        "managed"
    };
    let size = match &value["size"] {
        serde_json::Value::Number(size) => {
            let size = size.as_f64().unwrap_or_default();
            if size.fract() == 0.0 {
                format!("{size:.0}GB")
            } else {
                format!("{size}GB")
            }
        }
        _ => "-".to_owned(),
    };
    print_table(&plan_table(&[
        ("Project", client.project().to_owned()),
        ("Configuration", file_name.to_owned()),
        ("Type", "volume".to_owned()),
        ("Volume type", volume_type.to_owned()),
        ("Backend", text("backend")),
        ("Region", text("region")),
        ("Size", size),
    ]));
    println!();
    let existing = match &name {
        Some(name) => match block_on(client.get_volume(name))? {
            Ok(_) => true,
            Err(ApiError::NotFound(_)) => false,
            Err(error) => return Err(error.into()),
        },
        None => false,
    };
    let question = if existing {
        "Re-create the volume?"
    } else {
        "Create the volume?"
    };
    if confirm(question, args.yes)? == Answer::No {
        return Ok(exiting());
    }
    block_on(async {
        if let (true, Some(name)) = (existing, &name) {
            client.delete_volumes(std::slice::from_ref(name)).await?;
            while client.get_volume(name).await.is_ok() {
                tokio::time::sleep(POLL).await;
            }
        }
        let volume = client
            .create_volume(&CreateVolumeRequest { configuration })
            .await?;
        if args.detach {
            println!("Volume configuration submitted. Exiting...");
            return Ok(ExitCode::SUCCESS);
        }
        loop {
            let volume = client.get_volume(&volume.name).await?;
            match volume.status {
                VolumeStatus::Active => {
                    println!("Volume {} is active", volume.name);
                    return Ok(ExitCode::SUCCESS);
                }
                VolumeStatus::Failed => anyhow::bail!(
                    "Provisioning failed. Error: {}",
                    volume.status_message.unwrap_or_default()
                ),
                _ => tokio::time::sleep(POLL).await,
            }
        }
    })?
}

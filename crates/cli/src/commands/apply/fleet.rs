//! Applying a fleet configuration (api.md §4.7): plan, confirmation, re-creation when needed,
//! submission, then the wait until no instance is still starting.

use std::process::ExitCode;
use std::time::Duration;

use dstack_core::api::common::ApplyAction;
use dstack_core::api::fleets::{
    ApplyFleetPlanInput, ApplyFleetPlanRequest, FleetSpec, GetFleetPlanRequest,
};
use dstack_core::configuration::fleet::FleetConfiguration;
use dstack_core::status::InstanceStatus;
use serde_json::json;

use super::{ApplyArgs, plan_table};
use crate::api::{ApiError, ProjectClient};
use crate::commands::fleet::fleets_table;
use crate::commands::{block_on, exiting};
use crate::output::{Answer, confirm, print_table, red};

/// How often the fleet is polled while it is deleted or provisioned.
const POLL: Duration = Duration::from_secs(1);

pub fn apply(
    client: &ProjectClient,
    args: &ApplyArgs,
    file_name: &str,
    configuration: FleetConfiguration,
) -> anyhow::Result<ExitCode> {
    let mut configuration = configuration;
    if let Some(name) = &args.name {
        configuration.name = Some(name.clone());
    }
    if let Some(ssh) = &mut configuration.ssh_config {
        super::ssh_keys::load(ssh)?;
    }
    let spec = FleetSpec {
        configuration,
        configuration_path: Some(file_name.to_owned()),
        profile: serde_json::from_value(json!({"name": "default"}))?,
        autocreated: false,
    };
    let plan = block_on(client.get_fleet_plan(&GetFleetPlanRequest { spec: spec.clone() }))??;
    let effective = plan.effective_spec.as_ref().unwrap_or(&plan.spec);
    let fleet_type = if effective.configuration.ssh_config.is_some() {
        "ssh"
    } else {
        "cloud"
    };
    let nodes = match (
        &effective.configuration.ssh_config,
        &effective.configuration.nodes,
    ) {
        (Some(ssh), _) => ssh.hosts.len().to_string(),
        (None, Some(nodes)) => format!(
            "min={} target={} max={}",
            nodes.min,
            nodes.target.unwrap_or(nodes.min),
            nodes
                .max
                .map_or_else(|| "-".to_owned(), |max| max.to_string())
        ),
        (None, None) => "-".to_owned(),
    };
    let rows = [
        ("Project", plan.project_name.clone()),
        ("User", plan.user.clone()),
        ("Configuration", file_name.to_owned()),
        ("Type", "fleet".to_owned()),
        ("Fleet type", fleet_type.to_owned()),
        ("Nodes", nodes),
    ];
    print_table(&plan_table(&rows));
    println!();
    let name = effective
        .configuration
        .name
        .clone()
        .unwrap_or_else(|| "(generated)".to_owned());
    let recreate = match (&plan.current_resource, plan.action) {
        (None, _) => {
            println!("Fleet {name} does not exist yet.");
            false
        }
        (Some(_), Some(ApplyAction::Update)) => {
            println!("Found fleet {name}. Detected changes that can be updated in-place.");
            false
        }
        (Some(_), _) => {
            println!("Found fleet {name}.");
            true
        }
    };
    let question = match (recreate, plan.action) {
        (true, _) => "Re-create the fleet?",
        (false, Some(ApplyAction::Update)) if plan.current_resource.is_some() => {
            "Update the fleet in-place?"
        }
        _ => "Create the fleet?",
    };
    if confirm(question, args.yes)? == Answer::No {
        return Ok(exiting());
    }
    block_on(async {
        if recreate {
            client.delete_fleets(std::slice::from_ref(&name)).await?;
            wait_deleted(client, &name).await?;
        }
        let request = ApplyFleetPlanRequest {
            plan: ApplyFleetPlanInput {
                spec,
                current_resource: if recreate {
                    None
                } else {
                    plan.current_resource.clone()
                },
            },
            force: args.force,
        };
        let fleet = client.apply_fleet_plan(&request).await?;
        if args.detach {
            println!("Fleet configuration submitted. Exiting...");
            return Ok(ExitCode::SUCCESS);
        }
        let fleet = loop {
            let fleet = client.get_fleet(&fleet.name).await?;
            let starting = fleet.instances.iter().any(|instance| {
                matches!(
                    instance.status,
                    InstanceStatus::Pending
                        | InstanceStatus::Provisioning
                        | InstanceStatus::Terminating
                )
            });
            if !starting {
                break fleet;
            }
            tokio::time::sleep(POLL).await;
        };
        print_table(&fleets_table(std::slice::from_ref(&fleet), false));
        if fleet
            .instances
            .iter()
            .any(|instance| instance.status == InstanceStatus::Terminated)
        {
            println!(
                "{}",
                red("Some instances failed. Check the table above for errors.")
            );
            return Ok(ExitCode::FAILURE);
        }
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    })?
}

async fn wait_deleted(client: &ProjectClient, name: &str) -> Result<(), ApiError> {
    loop {
        match client.get_fleet(name).await {
            Err(ApiError::NotFound(_)) => return Ok(()),
            Err(error) => return Err(error),
            Ok(_) => tokio::time::sleep(POLL).await,
        }
    }
}

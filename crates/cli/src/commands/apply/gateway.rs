//! Applying a gateway configuration: plan, confirmation, submission, then the wait until the
//! gateway is running or failed.

use std::process::ExitCode;
use std::time::Duration;

use dstack_core::api::common::ApplyAction;
use dstack_core::api::gateways::{
    ApplyGatewayPlanInput, ApplyGatewayPlanRequest, GatewaySpec, GetGatewayPlanRequest,
};
use dstack_core::configuration::gateway::GatewayConfiguration;
use dstack_core::status::GatewayStatus;

use super::{ApplyArgs, plan_table};
use crate::api::ProjectClient;
use crate::commands::{block_on, exiting};
use crate::output::{Answer, confirm, print_table};

/// How often the gateway is polled while it is provisioned.
const POLL: Duration = Duration::from_secs(2);

pub fn apply(
    client: &ProjectClient,
    args: &ApplyArgs,
    file_name: &str,
    configuration: GatewayConfiguration,
) -> anyhow::Result<ExitCode> {
    let mut value = serde_json::to_value(&configuration)?;
    if let Some(name) = &args.name {
        value["name"] = serde_json::Value::from(name.as_str());
    }
    let spec = GatewaySpec {
        configuration: serde_json::from_value(value)?,
        configuration_path: Some(file_name.to_owned()),
    };
    let plan = block_on(client.get_gateway_plan(&GetGatewayPlanRequest { spec: spec.clone() }))??;
    let effective = serde_json::to_value(&plan.effective_spec.configuration)?;
    let text = |key: &str| effective[key].as_str().unwrap_or("-").to_owned();
    print_table(&plan_table(&[
        ("Project", plan.project_name.clone()),
        ("User", plan.user.clone()),
        ("Configuration", file_name.to_owned()),
        ("Type", "gateway".to_owned()),
        ("Backend", text("backend")),
        ("Region", text("region")),
        ("Domain", text("domain")),
    ]));
    println!();
    let question = match (&plan.current_resource, plan.action) {
        (None, _) => "Create the gateway?",
        (Some(_), ApplyAction::Update) => "Update the gateway?",
        (Some(_), ApplyAction::Create) => "Re-create the gateway?",
    };
    if confirm(question, args.yes)? == Answer::No {
        return Ok(exiting());
    }
    block_on(async {
        let request = ApplyGatewayPlanRequest {
            plan: ApplyGatewayPlanInput {
                spec,
                current_resource: plan.current_resource.clone(),
            },
            force: args.force,
        };
        let gateway = client.apply_gateway_plan(&request).await?;
        if args.detach {
            println!("Gateway configuration submitted. Exiting...");
            return Ok(ExitCode::SUCCESS);
        }
        loop {
            let gateway = client.get_gateway(&gateway.name).await?;
            match gateway.status {
                GatewayStatus::Running => {
                    println!("Gateway {} is running", gateway.name);
                    return Ok(ExitCode::SUCCESS);
                }
                GatewayStatus::Failed => anyhow::bail!(
                    "Provisioning failed. Error: {}",
                    gateway.status_message.unwrap_or_default()
                ),
                _ => tokio::time::sleep(POLL).await,
            }
        }
    })?
}

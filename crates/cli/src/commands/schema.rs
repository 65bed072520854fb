//! `dstack schema`: the JSON Schema of `.dstack.yml` files.

use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    let schema = dstack_core::configuration::configuration_json_schema();
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(ExitCode::SUCCESS)
}

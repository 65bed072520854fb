//! `dstack login`: SSO login. This CLI has no browser flow yet, so it checks what the server
//! offers and says what to do instead.

use std::process::ExitCode;

use clap::Args;
use dstack_core::api::server::AuthProvider;

use super::block_on;
use crate::api::ApiClient;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server URL.
    #[arg(long)]
    url: String,
    /// The SSO provider.
    #[arg(short = 'p', long)]
    provider: Option<String>,
}

pub fn run(args: &LoginArgs) -> anyhow::Result<ExitCode> {
    let url = if args.url.contains("://") {
        args.url.clone()
    } else {
        format!("http://{}", args.url)
    };
    let api = ApiClient::new(&url, "")?;
    let providers: Vec<AuthProvider> = block_on(api.post_empty("/api/auth/list_providers"))??;
    let enabled: Vec<&AuthProvider> = providers.iter().filter(|p| p.enabled).collect();
    if enabled.is_empty() {
        anyhow::bail!(
            "No SSO providers configured on the server. Use `dstack project add --name NAME --url {url} --token TOKEN` with your token"
        );
    }
    let names: Vec<&str> = enabled.iter().map(|p| p.name.as_str()).collect();
    anyhow::bail!(
        "SSO login ({}) is not supported by this CLI yet. Use `dstack project add --name NAME --url {url} --token TOKEN` with the token from the server's UI",
        args.provider.as_deref().unwrap_or(&names.join(", "))
    )
}

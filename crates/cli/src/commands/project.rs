//! `dstack project`: the projects of `~/.dstack/config.yml`. Only `add` (and `list -v`) call
//! the server.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use dstack_server::client_config::{ClientConfig, ProjectConfig};
use serde::Serialize;

use super::{block_on, exiting};
use crate::api::{ApiClient, ProjectClient};
use crate::context::client_config_path;
use crate::output::{Answer, bold, confirm, print_json, print_table, secondary, table};

#[derive(Debug, Args)]
pub struct ProjectArgs {
    #[command(subcommand)]
    action: Option<ProjectAction>,
}

#[derive(Debug, Subcommand)]
enum ProjectAction {
    /// Add or update a project after checking it on the server.
    Add(AddArgs),
    /// Remove a project from the configuration.
    Delete(DeleteArgs),
    /// List the configured projects.
    List(ListArgs),
    /// Make a project the default.
    SetDefault(SetDefaultArgs),
}

#[derive(Debug, Args)]
struct AddArgs {
    /// The project name.
    #[arg(long)]
    name: String,
    /// The server URL.
    #[arg(long)]
    url: String,
    /// The user's token.
    #[arg(long)]
    token: String,
    /// Make it the default without asking.
    #[arg(short = 'y', long, conflicts_with = "no")]
    yes: bool,
    /// Leave the default as it is without asking.
    #[arg(short = 'n', long)]
    no: bool,
}

#[derive(Debug, Args)]
struct DeleteArgs {
    /// The project name.
    #[arg(long)]
    name: String,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    yes: bool,
}

#[derive(Debug, Args, Default)]
struct ListArgs {
    /// Show the user of each project's token (asks each server).
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Print `{"projects": [{"name", "url", "default"}]}` on one line (with `-v`, also
    /// `"user"`, `null` for an invalid token); tokens are never printed.
    #[arg(long)]
    json: bool,
}

/// One project as `project list` shows it: the config entry without its token.
#[derive(Serialize)]
struct ProjectRow<'a> {
    name: &'a str,
    url: &'a str,
    default: bool,
    /// With `-v`: the token's user, `None` when the server refuses the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<Option<String>>,
}

/// `project list --json`.
#[derive(Serialize)]
struct ProjectsJson<'a> {
    projects: &'a [ProjectRow<'a>],
}

#[derive(Debug, Args)]
struct SetDefaultArgs {
    /// The project name.
    name: String,
}

pub fn run(args: ProjectArgs) -> anyhow::Result<ExitCode> {
    match args
        .action
        .unwrap_or(ProjectAction::List(ListArgs::default()))
    {
        ProjectAction::Add(args) => add(&args),
        ProjectAction::Delete(args) => delete(&args),
        ProjectAction::List(args) => list(&args),
        ProjectAction::SetDefault(args) => set_default(&args),
    }
}

fn add(args: &AddArgs) -> anyhow::Result<ExitCode> {
    let client = ProjectClient::new(ApiClient::new(&args.url, &args.token)?, &args.name);
    block_on(client.get_project())??;
    let path = client_config_path();
    let mut config = ClientConfig::load(&path);
    let make_default = match config.default_project() {
        None => true,
        Some(current) if current.name == args.name => true,
        Some(_) if args.yes => true,
        Some(_) if args.no => false,
        Some(_) => {
            let question = format!("Set '{}' as your default project?", args.name);
            confirm(&question, false)? == Answer::Yes
        }
    };
    config.configure_project(&args.name, &args.url, &args.token, make_default);
    config.save(&path)?;
    println!("Configuration updated at {}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn delete(args: &DeleteArgs) -> anyhow::Result<ExitCode> {
    let path = client_config_path();
    let mut config = ClientConfig::load(&path);
    if !config.projects.iter().any(|entry| entry.name == args.name) {
        anyhow::bail!("Project {} is not configured", args.name);
    }
    let question = format!("Are you sure you want to delete project '{}'?", args.name);
    if confirm(&question, args.yes)? == Answer::No {
        return Ok(exiting());
    }
    config.projects.retain(|entry| entry.name != args.name);
    config.save(&path)?;
    println!("{}", secondary("OK"));
    Ok(ExitCode::SUCCESS)
}

fn list(args: &ListArgs) -> anyhow::Result<ExitCode> {
    let config = ClientConfig::load(&client_config_path());
    let projects = config
        .projects
        .iter()
        .map(|entry| {
            let user = if args.verbose {
                Some(user_of(entry)?)
            } else {
                None
            };
            Ok(ProjectRow {
                name: &entry.name,
                url: &entry.url,
                default: entry.default,
                user,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.json {
        print_json(&ProjectsJson {
            projects: &projects,
        });
        return Ok(ExitCode::SUCCESS);
    }
    let headers: &[&'static str] = if args.verbose {
        &["PROJECT", "URL", "USER", "DEFAULT"]
    } else {
        &["PROJECT", "URL", "DEFAULT"]
    };
    let mut rows = table(headers.iter().copied());
    for project in &projects {
        let mut cells = vec![project.name.to_owned(), project.url.to_owned()];
        if let Some(user) = &project.user {
            cells.push(user.as_deref().unwrap_or("(invalid token)").to_owned());
        }
        cells.push(if project.default { "✓" } else { "" }.to_owned());
        if project.default {
            rows.add_row(cells.into_iter().map(bold));
        } else {
            rows.add_row(cells);
        }
    }
    print_table(&rows);
    Ok(ExitCode::SUCCESS)
}

/// The user of a project's token as its server names it; `None` when the server refuses it.
fn user_of(entry: &ProjectConfig) -> anyhow::Result<Option<String>> {
    let client = ProjectClient::new(ApiClient::new(&entry.url, &entry.token)?, &entry.name);
    Ok(block_on(client.get_my_user())?
        .ok()
        .map(|user| user.username))
}

fn set_default(args: &SetDefaultArgs) -> anyhow::Result<ExitCode> {
    let path = client_config_path();
    let mut config = ClientConfig::load(&path);
    let Some(entry) = config
        .projects
        .iter()
        .find(|entry| entry.name == args.name)
        .cloned()
    else {
        anyhow::bail!("Project {} is not configured", args.name);
    };
    config.configure_project(&entry.name, &entry.url, &entry.token, true);
    config.save(&path)?;
    println!("{}", secondary("OK"));
    Ok(ExitCode::SUCCESS)
}

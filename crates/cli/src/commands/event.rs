//! `dstack event`: the project's audit log, newest 100 or since a time, and with `-w` new
//! events as they are recorded.

use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use dstack_core::api::common::Limit;
use dstack_core::api::events::{Event, ListEventsRequest};
use serde::Serialize;

use super::{ProjectArg, block_on};
use crate::output::print_json;

#[derive(Debug, Args)]
pub struct EventArgs {
    #[command(flatten)]
    project: ProjectArg,
    #[command(flatten)]
    list: ListArgs,
    #[command(subcommand)]
    action: Option<EventAction>,
}

#[derive(Debug, Args, Clone, Copy)]
struct ListArgs {
    /// Keep printing new events.
    #[arg(short = 'w', long)]
    watch: bool,
    /// Print JSON: `{"project": P, "events": [...]}` on one line, oldest first; with `-w`,
    /// one event object per line instead (JSON lines), as events arrive.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum EventAction {
    /// List events.
    List(ListArgs),
}

/// How often `-w` asks for new events.
const WATCH_INTERVAL: Duration = Duration::from_secs(2);

pub fn run(args: EventArgs) -> anyhow::Result<ExitCode> {
    let client = args.project.client()?;
    let EventAction::List(list) = args.action.unwrap_or(EventAction::List(args.list));
    block_on(async {
        let project = client.get_project().await?;
        let mut request = ListEventsRequest {
            within_projects: Some(vec![project.project_id.as_uuid()]),
            limit: Limit(100),
            ..ListEventsRequest::default()
        };
        let mut events = client.list_events(&request).await?;
        events.reverse();
        if list.json && !list.watch {
            print_json(&EventsJson {
                project: client.project(),
                events: &events,
            });
            return Ok(ExitCode::SUCCESS);
        }
        let format = if list.json {
            Format::JsonLines
        } else {
            Format::Lines
        };
        let mut last = print_events(client.project(), &events, format);
        if !list.watch {
            return Ok(ExitCode::SUCCESS);
        }
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                () = tokio::time::sleep(WATCH_INTERVAL) => {}
            }
            request.ascending = true;
            request.prev_recorded_at = last.map(|(time, _)| time);
            request.prev_id = last.map(|(_, id)| id);
            let newer = client.list_events(&request).await?;
            if let Some(newest) = print_events(client.project(), &newer, format) {
                last = Some(newest);
            }
        }
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    })?
}

/// `event --json` without `-w`.
#[derive(Serialize)]
struct EventsJson<'a> {
    project: &'a str,
    events: &'a [Event],
}

/// How `-w` prints each event.
#[derive(Debug, Clone, Copy)]
enum Format {
    /// dstack's one line of text.
    Lines,
    /// The Event model as one line of JSON.
    JsonLines,
}

/// Prints the events oldest first, naming targets of other projects `project/name`; returns the position of the last one.
fn print_events(
    project: &str,
    events: &[Event],
    format: Format,
) -> Option<(DateTime<Utc>, uuid::Uuid)> {
    for event in events {
        if let Format::JsonLines = format {
            print_json(event);
            continue;
        }
        let time = event
            .recorded_at
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S");
        let actor = event
            .actor_user
            .as_deref()
            .map(|user| format!(" [👤{user}]"))
            .unwrap_or_default();
        let targets = event
            .targets
            .iter()
            .map(|target| match &target.project_name {
                Some(other) if other != project => {
                    format!("{} {other}/{}", target.target_type, target.name)
                }
                _ => format!("{} {}", target.target_type, target.name),
            })
            .collect::<Vec<_>>()
            .join(", ");
        println!("[{time}]{actor} [{targets}] {}", event.message);
    }
    events.last().map(|event| (event.recorded_at, event.id))
}

//! `dstack event`: the project's audit log, the newest 100 or all since a time, filtered by
//! target, and with `-w` new events as they are recorded.

mod filters;
mod window;

use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use dstack_core::api::common::Limit;
use dstack_core::api::events::{Event, ListEventsRequest};
use serde::Serialize;

use self::filters::FilterArgs;
use self::window::Window;
use super::since::parse_since;
use super::{ProjectArg, block_on};
use crate::api::{ApiError, ProjectClient};
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

#[derive(Debug, Args, Clone)]
struct ListArgs {
    /// Keep printing new events: polls every 2 s, looking 20 s back for events committed
    /// late, and prints each event once.
    #[arg(short = 'w', long)]
    watch: bool,
    /// Only events since this: a duration ago (`10s`, `30m`, `1h`, `2d`) or an RFC 3339 time
    /// (`2023-09-24T15:30:00Z`). Without it, the newest 100 events.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    #[command(flatten)]
    filters: FilterArgs,
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

/// The events of one page, the most the server returns.
const PAGE: u32 = 100;

/// Whether a page is full, so more may follow.
fn is_full(page: &[Event]) -> bool {
    page.len() >= PAGE as usize
}

pub fn run(args: EventArgs) -> anyhow::Result<ExitCode> {
    let client = args.project.client()?;
    let EventAction::List(list) = args.action.unwrap_or(EventAction::List(args.list));
    let since = list
        .since
        .as_deref()
        .map(|given| parse_since(given, Utc::now()))
        .transpose()?;
    block_on(async {
        let request = list.filters.to_request(&client).await?;
        if list.watch {
            let format = if list.json {
                Format::JsonLines
            } else {
                Format::Lines
            };
            return watch(&client, &request, since, format).await;
        }
        let events = match since {
            Some(since) => list_after(&client, &request, Some(since)).await?,
            None => list_newest(&client, &request).await?,
        };
        if list.json {
            print_json(&EventsJson {
                project: client.project(),
                events: &events,
            });
        } else {
            for event in &events {
                print_event(client.project(), event, Format::Lines);
            }
        }
        Ok(ExitCode::SUCCESS)
    })?
}

/// Prints events as they are recorded until Ctrl-C.
async fn watch(
    client: &ProjectClient,
    request: &ListEventsRequest,
    since: Option<DateTime<Utc>>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let mut window = Window::new(since);
    let mut events = match since {
        Some(since) => list_after(client, request, Some(since)).await?,
        None => list_newest(client, request).await?,
    };
    if let (None, Some(oldest)) = (since, events.first())
        && is_full(&events)
    {
        window.raise_floor(oldest.recorded_at);
    }
    loop {
        for event in &events {
            if window.admit(event) {
                print_event(client.project(), event, format);
            }
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            () = tokio::time::sleep(WATCH_INTERVAL) => {}
        }
        events = list_after(client, request, window.next_start()).await?;
    }
}

/// The newest page of events, oldest first.
async fn list_newest(
    client: &ProjectClient,
    request: &ListEventsRequest,
) -> Result<Vec<Event>, ApiError> {
    let request = ListEventsRequest {
        limit: Limit(PAGE),
        ascending: false,
        ..request.clone()
    };
    let mut events = client.list_events(&request).await?;
    events.reverse();
    Ok(events)
}

/// Every event recorded after `start` (from the first when `None`), oldest first, page by
/// page.
async fn list_after(
    client: &ProjectClient,
    request: &ListEventsRequest,
    start: Option<DateTime<Utc>>,
) -> Result<Vec<Event>, ApiError> {
    let mut request = ListEventsRequest {
        limit: Limit(PAGE),
        ascending: true,
        prev_recorded_at: start,
        prev_id: None,
        ..request.clone()
    };
    let mut events = Vec::new();
    loop {
        let page = client.list_events(&request).await?;
        let full = is_full(&page);
        if let Some(last) = page.last() {
            request.prev_recorded_at = Some(last.recorded_at);
            request.prev_id = Some(last.id);
        }
        events.extend(page);
        if !full {
            return Ok(events);
        }
    }
}

/// `event --json` without `-w`.
#[derive(Serialize)]
struct EventsJson<'a> {
    project: &'a str,
    events: &'a [Event],
}

/// How each event is printed.
#[derive(Debug, Clone, Copy)]
enum Format {
    /// dstack's one line of text.
    Lines,
    /// The Event model as one line of JSON.
    JsonLines,
}

/// Prints one event; in text, targets of other projects read `project/name`.
fn print_event(project: &str, event: &Event, format: Format) {
    if let Format::JsonLines = format {
        print_json(event);
        return;
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
            Some(other) if other != project && target.target_type != "project" => {
                format!("{} {other}/{}", target.target_type, target.name)
            }
            _ => format!("{} {}", target.target_type, target.name),
        })
        .collect::<Vec<_>>()
        .join(", ");
    println!("[{time}]{actor} [{targets}] {}", event.message);
}

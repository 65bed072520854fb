//! `GET /logs_ws?start_time=<RFC 3339>`: the job's output as a WebSocket stream, one binary
//! message per recorded chunk, closed once the job has ended and everything was sent. The
//! CLI follows a run's logs with it.
//!
//! The stream wakes on each new chunk rather than polling.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, NaiveDateTime};
use serde::Deserialize;

use crate::agent::Agent;

#[derive(Debug, Deserialize)]
pub struct LogsWsQuery {
    start_time: Option<String>,
}

pub async fn logs_ws(
    State(agent): State<Arc<Agent>>,
    Query(query): Query<LogsWsQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let start = query.start_time.as_deref().map(parse_start_time);
    upgrade.on_upgrade(move |socket| stream_output(agent, socket, start))
}

/// Milliseconds since the epoch. The CLI sends Python's `isoformat()`, which has no offset
/// for a naive time; that is taken as UTC.
fn parse_start_time(text: &str) -> Option<i64> {
    // An unencoded `+00:00` offset arrives as ` 00:00` after query decoding.
    let text = &text.replace(' ', "+");
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.timestamp_millis())
        .or_else(|_| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .map(|time| time.and_utc().timestamp_millis())
        })
        .ok()
}

async fn stream_output(agent: Arc<Agent>, mut socket: WebSocket, start: Option<Option<i64>>) {
    let mut since = match start {
        None => 0,
        Some(Some(start_ms)) => start_ms - 1,
        Some(None) => {
            let _ = socket
                .send(close(
                    close_code::UNSUPPORTED,
                    "failed to parse start_time value",
                ))
                .await;
            return;
        }
    };
    let mut changed = agent.watch_output();
    loop {
        changed.borrow_and_update();
        let (events, ended) = agent.raw_output_newer_than(since);
        for event in events {
            since = event.timestamp;
            if socket
                .send(Message::Binary(event.message.into()))
                .await
                .is_err()
            {
                return;
            }
        }
        if ended {
            let _ = socket.send(close(close_code::NORMAL, "")).await;
            return;
        }
        if changed.changed().await.is_err() {
            return;
        }
    }
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_with_or_without_offset() {
        assert_eq!(parse_start_time("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_start_time("1970-01-01T01:00:01.5+01:00"), Some(1500));
        assert_eq!(parse_start_time("1970-01-01T01:00:01.5 01:00"), Some(1500));
        assert_eq!(parse_start_time("1970-01-01T00:00:02.250000"), Some(2250));
        assert_eq!(parse_start_time("yesterday"), None);
    }
}

//! Job logs (api.md §2.12): pages of a submission's lines, base64 on the wire, continued with
//! an opaque `next_token` that is `null` when nothing more is there right now.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use dstack_core::api::logs::{JobSubmissionLogs, LogEvent, LogEventSource, PollLogsRequest};

use super::ServiceError;
use super::projects::ProjectAccess;
use crate::db::logs::{self as log_rows, LogProducer, LogQuery, LogRow};
use crate::db::{Database, DbError, from_micros, jobs, runs, to_micros};

/// The largest page.
pub const MAX_LIMIT: u32 = 1000;

fn invalid_token() -> ServiceError {
    ServiceError::Invalid("Invalid next_token".to_owned())
}

/// The token of the line a page ended with: `<timestamp>_<seq>`.
fn token(row: &LogRow) -> String {
    format!("{}_{}", row.timestamp, row.seq)
}

fn parse_token(token: &str) -> Result<(i64, i64), ServiceError> {
    let (timestamp, seq) = token.split_once('_').ok_or_else(invalid_token)?;
    Ok((
        timestamp.parse().map_err(|_| invalid_token())?,
        seq.parse().map_err(|_| invalid_token())?,
    ))
}

fn event(row: &LogRow) -> Result<LogEvent, DbError> {
    Ok(LogEvent {
        timestamp: from_micros("job_logs.timestamp", row.timestamp)?,
        log_source: match row.log_source.as_str() {
            "stderr" => LogEventSource::Stderr,
            _ => LogEventSource::Stdout,
        },
        message: STANDARD.encode(&row.message),
    })
}

/// `logs/poll` (`limit` already bounded by the API): a page of the submission's job output, or of the runner's logs with
/// `diagnose`. An unknown run or submission has no lines.
pub async fn poll(
    db: &Database,
    access: &ProjectAccess,
    request: &PollLogsRequest,
) -> Result<JobSubmissionLogs, ServiceError> {
    let empty = JobSubmissionLogs {
        logs: Vec::new(),
        external_url: None,
        next_token: None,
    };
    let job_id = request.job_submission_id.to_string();
    let Some(job) = jobs::find(db.pool(), &job_id).await? else {
        return Ok(empty);
    };
    let run = runs::find_by_id(db.pool(), access.project.id, &job.run_id.to_string()).await?;
    if run.is_none_or(|run| run.run_name != request.run_name) || request.limit.0 == 0 {
        return Ok(empty);
    }
    let query = LogQuery {
        job_id: &job_id,
        producer: if request.diagnose {
            LogProducer::Runner
        } else {
            LogProducer::Job
        },
        start_time: request.start_time.map(to_micros),
        end_time: request.end_time.map(to_micros),
        descending: request.descending,
        after: request.next_token.as_deref().map(parse_token).transpose()?,
        limit: i64::from(request.limit.0),
    };
    let rows = log_rows::poll(db.pool(), &query).await?;
    let full_page = rows.len() == usize::try_from(request.limit.0).unwrap_or(usize::MAX);
    let next_token = rows.last().filter(|_| full_page).map(token);
    let logs = rows.iter().map(event).collect::<Result<_, _>>()?;
    Ok(JobSubmissionLogs {
        logs,
        external_url: None,
        next_token,
    })
}

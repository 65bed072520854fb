//! The `job_logs` table: log lines of job submissions, from the job (`job`) or the runner
//! itself (`runner`), read in pages ordered by `(timestamp, seq)`.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::DbError;

/// Who wrote a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogProducer {
    /// The job's own output.
    Job,
    /// The runner's diagnostics.
    Runner,
}

impl LogProducer {
    fn as_str(self) -> &'static str {
        match self {
            Self::Job => "job",
            Self::Runner => "runner",
        }
    }
}

/// One stored line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRow {
    /// The order of lines with the same timestamp.
    pub seq: i64,
    /// Microseconds.
    pub timestamp: i64,
    /// `stdout` or `stderr`.
    pub log_source: String,
    /// The raw bytes.
    pub message: Vec<u8>,
}

fn from_row(row: &AnyRow) -> Result<LogRow, DbError> {
    Ok(LogRow {
        seq: row.try_get("seq")?,
        timestamp: row.try_get("timestamp")?,
        log_source: row.try_get("log_source")?,
        message: row.try_get("message")?,
    })
}

/// Appends a line.
pub async fn insert<'e>(
    db: impl Executor<'e, Database = Any>,
    job_id: &str,
    producer: LogProducer,
    log_source: &str,
    timestamp: i64,
    message: &[u8],
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO job_logs (job_id, producer, log_source, timestamp, message) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(job_id)
    .bind(producer.as_str())
    .bind(log_source)
    .bind(timestamp)
    .bind(message.to_vec())
    .execute(db)
    .await?;
    Ok(())
}

/// Which lines a poll reads.
#[derive(Debug, Clone)]
pub struct LogQuery<'a> {
    /// The job submission.
    pub job_id: &'a str,
    /// Whose lines.
    pub producer: LogProducer,
    /// Only lines after this time (exclusive).
    pub start_time: Option<i64>,
    /// Only lines before this time: exclusive ascending, inclusive descending.
    pub end_time: Option<i64>,
    /// Newest first.
    pub descending: bool,
    /// Only lines past this `(timestamp, seq)` in the reading order.
    pub after: Option<(i64, i64)>,
    /// At most this many lines.
    pub limit: i64,
}

/// One page of lines.
pub async fn poll<'e>(
    db: impl Executor<'e, Database = Any>,
    query: &LogQuery<'_>,
) -> Result<Vec<LogRow>, DbError> {
    let (end, past, order) = if query.descending {
        ("<=", "<", "DESC")
    } else {
        ("<", ">", "ASC")
    };
    let sql = format!(
        "SELECT seq, timestamp, log_source, message FROM job_logs \
         WHERE job_id = $1 AND producer = $2 AND ($3 IS NULL OR timestamp > $3) \
         AND ($4 IS NULL OR timestamp {end} $4) \
         AND ($5 IS NULL OR timestamp {past} $5 OR (timestamp = $5 AND seq {past} $6)) \
         ORDER BY timestamp {order}, seq {order} LIMIT $7"
    );
    let rows = sqlx::query(&sql)
        .bind(query.job_id)
        .bind(query.producer.as_str())
        .bind(query.start_time)
        .bind(query.end_time)
        .bind(query.after.map(|(timestamp, _)| timestamp))
        .bind(query.after.map(|(_, seq)| seq))
        .bind(query.limit)
        .fetch_all(db)
        .await?;
    rows.iter().map(from_row).collect()
}

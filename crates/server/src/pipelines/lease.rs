//! Leases on rows: a pipeline claims rows by writing a fresh `lock_token` and a
//! `lock_expires_at`, works on them outside any transaction, and writes its result only
//! if the token is still the one it wrote. A crashed or slow worker's lease simply expires;
//! its late write then changes nothing.
//!
//! Every reconciled table has the columns `id`, `lock_token`, `lock_expires_at` and
//! `last_processed_at` (times in microseconds, as everywhere in the schema).

use std::time::Duration;

use chrono::Utc;
use sqlx::{Any, Executor, Row};
use uuid::Uuid;

use crate::db::{Database, DbError, Engine, to_micros};

/// A reconciled table and which of its rows a pipeline takes.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// The table name.
    pub name: &'static str,
    /// The SQL condition for rows this pipeline processes; it may use `$1`, the current time
    /// in microseconds (e.g. `status = 'running' AND last_processed_at <= $1 - 1000000`).
    pub eligible: &'static str,
    /// The SQL order in which eligible rows are taken, e.g. `last_processed_at ASC`.
    pub order: &'static str,
}

/// A row held under a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Claimed {
    /// The row id.
    pub id: Uuid,
    /// The token written with the lease; every guarded write names it.
    pub token: Uuid,
}

/// Claims up to `limit` eligible, unleased rows of `table` for `lease`. Rows leased by
/// another worker are skipped (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite runs the
/// statement alone, as its single writer).
pub async fn claim(
    db: &Database,
    table: &Table,
    lease: Duration,
    limit: usize,
) -> Result<Vec<Claimed>, DbError> {
    let now = Utc::now();
    let token = Uuid::new_v4();
    let expires = to_micros(now) + micros(lease);
    let skip_locked = match db.engine() {
        Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    };
    let sql = format!(
        "UPDATE {name} SET lock_token = $2, lock_expires_at = $3 WHERE id IN (\
         SELECT id FROM {name} WHERE ({eligible}) \
         AND (lock_expires_at IS NULL OR lock_expires_at < $1) \
         ORDER BY {order} LIMIT $4{skip_locked}) RETURNING id",
        name = table.name,
        eligible = table.eligible,
        order = table.order,
    );
    let rows = sqlx::query(&sql)
        .bind(to_micros(now))
        .bind(token.to_string())
        .bind(expires)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let id = Uuid::parse_str(&id).map_err(|_| DbError::Corrupt {
                column: "id",
                value: id.clone(),
            })?;
            Ok(Claimed { id, token })
        })
        .collect()
}

/// Extends a lease to `lease` from now; whether it was still held.
pub async fn extend(
    db: &Database,
    table: &Table,
    claimed: Claimed,
    lease: Duration,
) -> Result<bool, DbError> {
    let expires = to_micros(Utc::now()) + micros(lease);
    let sql = format!(
        "UPDATE {} SET lock_expires_at = $1 WHERE id = $2 AND lock_token = $3",
        table.name
    );
    let done = sqlx::query(&sql)
        .bind(expires)
        .bind(claimed.id.to_string())
        .bind(claimed.token.to_string())
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a lease and stamps `last_processed_at`; whether the lease was still held.
///
/// Run it as the **first** statement of the transaction that writes the pipeline's result,
/// and roll back when it returns `false`: the row belongs to someone else by now. Being the
/// first write, it also takes SQLite's write lock before anything is read.
pub async fn finish<'c>(
    executor: impl Executor<'c, Database = Any>,
    table: &Table,
    claimed: Claimed,
) -> Result<bool, DbError> {
    finish_later(executor, table, claimed, Duration::ZERO).await
}

/// [`finish`], stamping `last_processed_at` `delay` in the future: a row whose eligibility
/// waits on it since its last pass (every pipeline's does) is then left alone that much
/// longer, which backs off a row whose agent does not answer.
pub async fn finish_later<'c>(
    executor: impl Executor<'c, Database = Any>,
    table: &Table,
    claimed: Claimed,
    delay: Duration,
) -> Result<bool, DbError> {
    let sql = format!(
        "UPDATE {} SET lock_token = NULL, lock_expires_at = NULL, last_processed_at = $1 \
         WHERE id = $2 AND lock_token = $3",
        table.name
    );
    let done = sqlx::query(&sql)
        .bind(to_micros(Utc::now()) + micros(delay))
        .bind(claimed.id.to_string())
        .bind(claimed.token.to_string())
        .execute(executor)
        .await?;
    Ok(done.rows_affected() == 1)
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

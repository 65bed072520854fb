//! The database: one pool over SQLite or PostgreSQL, migrations, typed queries per table.
//!
//! - [`Database`]: the pool and which engine it talks to.
//! - [`DbError`]: driver errors turned into what callers act on (a taken name, a schema from
//!   a newer server).
//! - [`users`], [`projects`], [`members`], [`secrets`], [`events`],
//!   [`public_keys`], [`backends`]: named queries, one module
//!   per table.
//! - [`users`], [`projects`], [`members`], [`secrets`], [`fleets`], [`instances`],
//!   [`volumes`], [`gateways`]: named queries, one module per table.
//!
//! Why sqlx's `Any` driver rather than an enum over two pools: every query is written once and
//! runs on both engines. That holds because the schema keeps to types both engines and `Any`
//! share: ids are UUID text, times are `BIGINT` microseconds since the Unix epoch in UTC (they
//! sort, compare and round-trip exactly, with no time zone to lose), and flags are 0/1
//! integers (`Any` decodes SQLite booleans as integers). Placeholders are `$N`, which both
//! drivers bind by number. Migrations differ only in column type names, one folder per engine.
//!
//! One exception to one pool: on SQLite, `runs/list`'s page runs in place on a connection of
//! [`sqlite_reads`] (the same SQL, bound by name), since sqlx's per-row hand-off between
//! threads was half the cost of a page. Rows decode through [`ColumnsAt`] from either driver.

pub mod backends;
pub mod events;
pub mod files;
pub mod fleets;
pub mod gateways;
pub mod instances;
pub mod jobs;
pub mod logs;
pub mod members;
pub mod metrics;
pub mod projects;
pub mod public_keys;
pub mod repos;
pub mod runs;
pub mod scheduling;
pub mod secrets;
pub mod sqlite_reads;
pub mod users;
pub mod volumes;

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use dstack_core::api::common::Uuid4;
use rusqlite::types::FromSql;
use sqlite_reads::SqliteReads;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{Any, AnyPool, ConnectOptions, Row};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Errors of the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A unique index refused the row: the name is taken.
    #[error("a unique index refused the row")]
    UniqueViolation,
    /// The database was migrated by a newer server.
    #[error(
        "the database schema has migration {version}, which this server does not know: \
         it was created by a newer server; run that server or point DSTACK_DATABASE_URL \
         at another database"
    )]
    SchemaTooNew {
        /// The unknown migration.
        version: i64,
    },
    /// A migration failed.
    #[error("database migration failed")]
    Migrate(#[source] MigrateError),
    /// The server directory could not be created.
    #[error("cannot create the database directory {path}")]
    CreateDir {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A stored value does not decode as the schema promises.
    #[error("corrupt value in column {column}: {value:?}")]
    Corrupt {
        /// The column.
        column: &'static str,
        /// The stored value.
        value: String,
    },
    /// Any other driver error.
    #[error("database error")]
    Driver(#[source] sqlx::Error),
    /// An error of a read in place ([`sqlite_reads`]).
    #[error("database error")]
    SqliteRead(#[from] rusqlite::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(error: sqlx::Error) -> Self {
        let unique = error
            .as_database_error()
            .is_some_and(|db| db.is_unique_violation());
        if unique {
            Self::UniqueViolation
        } else {
            Self::Driver(error)
        }
    }
}

/// A value both drivers decode from a column.
pub trait Column: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + FromSql {}

impl<T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + FromSql> Column for T {}

/// A result row whose columns are read by position, from either driver, so a table's rows
/// decode the same way wherever they were read.
pub trait ColumnsAt {
    /// The value of column `index`.
    fn at<T: Column>(&self, index: usize) -> Result<T, DbError>;
}

impl ColumnsAt for AnyRow {
    fn at<T: Column>(&self, index: usize) -> Result<T, DbError> {
        Ok(self.try_get(index)?)
    }
}

impl ColumnsAt for rusqlite::Row<'_> {
    fn at<T: Column>(&self, index: usize) -> Result<T, DbError> {
        Ok(self.get(index)?)
    }
}

/// The number of comma-separated items in an SQL column list.
pub(crate) const fn count_columns(list: &str) -> usize {
    let bytes = list.as_bytes();
    let (mut count, mut at) = (1, 0);
    while at < bytes.len() {
        if bytes[at] == b',' {
            count += 1;
        }
        at += 1;
    }
    count
}

/// Which engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The default: a file under the server directory.
    Sqlite,
    /// When `DSTACK_DATABASE_URL` names one.
    Postgres,
}

/// The connection pool, shared by every request.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    engine: Engine,
    sqlite_reads: Option<Arc<SqliteReads>>,
}

impl Database {
    /// Opens `url` (PostgreSQL), or the SQLite file under `server_dir` when `url` is `None`,
    /// and applies the migrations this server knows.
    pub async fn open(url: Option<&str>, server_dir: &Path) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let (url, engine, sqlite_file) = match url {
            // dstack's own form names its Python driver; sqlx needs the plain scheme.
            Some(url) => (
                url.replacen("postgresql+asyncpg://", "postgresql://", 1),
                engine_of(url),
                None,
            ),
            None => {
                let file = sqlite_file(server_dir)?;
                let url = format!("sqlite://{}?mode=rwc", file.display());
                (url, Engine::Sqlite, Some(file))
            }
        };
        let options = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        let cores = std::thread::available_parallelism().map_or(2, |cores| cores.get());
        let pool = AnyPoolOptions::new()
            .max_connections(match engine {
                // SQLite: one writer at a time and readers beside it, two per core; each
                // connection keeps its own page cache, statement cache and worker thread, so
                // more than the cores can use only hold memory (on two cores, 8 connections
                // held 3.5 MiB more than 4 with 10,000 runs).
                Engine::Sqlite => cores.saturating_mul(2).clamp(4, 16) as u32,
                Engine::Postgres => 20,
            })
            .connect_with(options)
            .await?;
        if engine == Engine::Sqlite {
            // WAL lets readers run beside the writer; the mode is stored in the file. sqlx
            // already sets a 5 s busy timeout, so concurrent writers wait instead of failing.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        let database = Self {
            pool,
            engine,
            sqlite_reads: sqlite_file
                .map(|file| Arc::new(SqliteReads::new(file, cores.clamp(2, 16)))),
        };
        database.migrate().await?;
        Ok(database)
    }

    async fn migrate(&self) -> Result<(), DbError> {
        let migrator = match self.engine {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await.map_err(|error| match error {
            MigrateError::VersionMissing(version) => DbError::SchemaTooNew { version },
            other => DbError::Migrate(other),
        })
    }

    /// The pool, for queries and transactions.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Reads in place of the SQLite file, when that is the engine.
    pub fn sqlite_reads(&self) -> Option<&SqliteReads> {
        self.sqlite_reads.as_deref()
    }

    /// Which engine the pool talks to.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn engine_of(url: &str) -> Engine {
    if url.starts_with("sqlite:") {
        Engine::Sqlite
    } else {
        Engine::Postgres
    }
}

fn sqlite_file(server_dir: &Path) -> Result<PathBuf, DbError> {
    let dir = server_dir.join("data");
    std::fs::create_dir_all(&dir).map_err(|source| DbError::CreateDir {
        path: dir.display().to_string(),
        source,
    })?;
    Ok(dir.join("sqlite.db"))
}

/// A time as stored: microseconds since the Unix epoch.
pub fn to_micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

/// A stored time back as a `DateTime`.
pub fn from_micros(column: &'static str, micros: i64) -> Result<DateTime<Utc>, DbError> {
    DateTime::from_timestamp_micros(micros).ok_or(DbError::Corrupt {
        column,
        value: micros.to_string(),
    })
}

/// A stored JSON document (a column holding a wire model) back as its type.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    column: &'static str,
    text: &str,
) -> Result<T, DbError> {
    serde_json::from_str(text).map_err(|_| DbError::Corrupt {
        column,
        value: text.chars().take(200).collect(),
    })
}

/// A stored UUID text back as a version-4 id.
pub fn parse_id(column: &'static str, text: &str) -> Result<Uuid4, DbError> {
    uuid::Uuid::parse_str(text)
        .ok()
        .and_then(|id| Uuid4::try_from(id).ok())
        .ok_or_else(|| DbError::Corrupt {
            column,
            value: text.to_owned(),
        })
}

/// Keyset pagination over `(created_at, id)` (api.md §1.8), in stored form.
#[derive(Debug, Clone)]
pub struct CreatedAtCursor {
    /// Microseconds of the last item's `created_at`, if a page came before.
    pub prev_created_at: Option<i64>,
    /// The last item's id.
    pub prev_id: Option<String>,
    /// The page size.
    pub limit: i64,
    /// Oldest first.
    pub ascending: bool,
}

impl<const LIMIT: u32> From<&dstack_core::api::common::CreatedAtPage<LIMIT>> for CreatedAtCursor {
    fn from(page: &dstack_core::api::common::CreatedAtPage<LIMIT>) -> Self {
        Self {
            prev_created_at: page.prev_created_at.map(to_micros),
            prev_id: page.prev_id.map(|id| id.to_string()),
            limit: i64::from(page.limit.0),
            ascending: page.ascending,
        }
    }
}

/// Which rows of a project-owned table (fleets, volumes) a global `*/list` covers; rows of
/// deleted projects never.
#[derive(Debug, Clone, Default)]
pub struct ProjectScope {
    /// Only projects this user is a member of; `None` for every project.
    pub member_id: Option<String>,
    /// Only this project.
    pub project_name: Option<String>,
    /// Leave out deleted rows.
    pub only_active: bool,
}

/// One page of a project-owned table in `scope`. `select` is the table's `SELECT ... FROM`,
/// joined with `projects p`; `alias` is the table's alias in it.
pub async fn list_scoped_page<'e, T>(
    db: impl sqlx::Executor<'e, Database = sqlx::Any>,
    select: &str,
    alias: &str,
    scope: &ProjectScope,
    cursor: &CreatedAtCursor,
    from_row: fn(&sqlx::any::AnyRow) -> Result<T, DbError>,
) -> Result<Vec<T>, DbError> {
    let sql = format!(
        "{select} WHERE p.deleted = 0 AND ($1 IS NULL OR EXISTS \
         (SELECT 1 FROM members m WHERE m.project_id = {alias}.project_id AND m.user_id = $1)) \
         AND ($2 IS NULL OR p.name = $2) AND ($3 = 0 OR {alias}.deleted = 0){}",
        cursor.sql(alias, 4)
    );
    let rows = sqlx::query(&sql)
        .bind(&scope.member_id)
        .bind(&scope.project_name)
        .bind(i64::from(scope.only_active))
        .bind(cursor.prev_created_at)
        .bind(&cursor.prev_id)
        .bind(cursor.limit)
        .fetch_all(db)
        .await?;
    rows.iter().map(from_row).collect()
}

impl CreatedAtCursor {
    /// The page's filter and order for a table aliased `alias`, with the cursor bound as
    /// `$first` and `$first + 1`, and the limit as `$first + 2`.
    pub fn sql(&self, alias: &str, first: usize) -> String {
        self.sql_on(alias, "created_at", first)
    }

    /// The same over another time column of the table, e.g. runs' `submitted_at`.
    pub fn sql_on(&self, alias: &str, column: &str, first: usize) -> String {
        let (at, id, limit) = (first, first + 1, first + 2);
        let (after, id_after) = if self.ascending {
            (">", "<")
        } else {
            ("<", ">")
        };
        format!(
            " AND (${at} IS NULL OR {alias}.{column} {after} ${at} OR \
             ({alias}.{column} = ${at} AND ${id} IS NOT NULL AND {alias}.id {id_after} ${id})) \
             ORDER BY {} LIMIT ${limit}",
            self.order_on(alias, column)
        )
    }

    /// How two items, by their time and id, compare in the page's order ([`Self::order_on`]).
    pub fn order(&self, a: (i64, &Uuid4), b: (i64, &Uuid4)) -> Ordering {
        let by_time = a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1));
        if self.ascending {
            by_time
        } else {
            by_time.reverse()
        }
    }

    /// The page's order over `column` then id, without `ORDER BY`.
    fn order_on(&self, alias: &str, column: &str) -> String {
        let (order, id_order) = if self.ascending {
            ("ASC", "DESC")
        } else {
            ("DESC", "ASC")
        };
        format!("{alias}.{column} {order}, {alias}.id {id_order}")
    }
}

/// A case-insensitive substring pattern for `LIKE ... ESCAPE '\'`.
pub fn like_pattern(substring: &str) -> String {
    let mut pattern = String::from("%");
    for c in substring.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(ascending: bool) -> CreatedAtCursor {
        CreatedAtCursor {
            prev_created_at: None,
            prev_id: None,
            limit: 100,
            ascending,
        }
    }

    #[test]
    fn the_page_order_matches_the_sql_order() {
        let low = parse_id("id", "00000000-0000-4000-8000-000000000001").expect("uuid");
        let high = parse_id("id", "f0000000-0000-4000-8000-000000000001").expect("uuid");
        // Newest first, and among equal times the smaller id first (`DESC, id ASC`).
        let newest_first = cursor(false);
        assert_eq!(newest_first.order((5, &low), (4, &low)), Ordering::Less);
        assert_eq!(newest_first.order((5, &low), (5, &high)), Ordering::Less);
        // Oldest first, and among equal times the larger id first (`ASC, id DESC`).
        let oldest_first = cursor(true);
        assert_eq!(oldest_first.order((4, &low), (5, &low)), Ordering::Less);
        assert_eq!(oldest_first.order((5, &high), (5, &low)), Ordering::Less);
        assert_eq!(oldest_first.order((5, &high), (5, &high)), Ordering::Equal);
    }
}

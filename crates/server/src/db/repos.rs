//! The `repos`, `repo_creds` and `codes` tables: a project's repos by the client's repo id,
//! each user's clone creds (stored encrypted), and uploaded code blobs by hash.

use dstack_core::api::common::Uuid4;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::DbError;

/// A repo as stored.
#[derive(Debug, Clone)]
pub struct RepoRow {
    /// The row id.
    pub id: String,
    /// The client's repo id.
    pub name: String,
    /// The `RepoInfo`, JSON.
    pub info: String,
}

fn from_row(row: &AnyRow) -> Result<RepoRow, DbError> {
    Ok(RepoRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        info: row.try_get("info")?,
    })
}

/// Inserts the repo or replaces its info; returns its row id.
pub async fn upsert<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
    name: &str,
    info: &str,
    now: i64,
) -> Result<String, DbError> {
    let id = sqlx::query_scalar(
        "INSERT INTO repos (id, project_id, name, info, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (project_id, name) DO UPDATE SET info = excluded.info RETURNING id",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(project_id.to_string())
    .bind(name)
    .bind(info)
    .bind(now)
    .fetch_one(db)
    .await?;
    Ok(id)
}

/// The project's repo with this repo id.
pub async fn find<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
    name: &str,
) -> Result<Option<RepoRow>, DbError> {
    let row = sqlx::query("SELECT id, name, info FROM repos WHERE project_id = $1 AND name = $2")
        .bind(project_id.to_string())
        .bind(name)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The project's repos, oldest first.
pub async fn list<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
) -> Result<Vec<RepoRow>, DbError> {
    let rows = sqlx::query(
        "SELECT id, name, info FROM repos WHERE project_id = $1 ORDER BY created_at, name",
    )
    .bind(project_id.to_string())
    .fetch_all(db)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Deletes a repo with its creds and code; the rows hanging off it go first, so no foreign
/// key is left dangling whatever the engine enforces.
pub async fn delete(db: &mut sqlx::AnyConnection, id: &str) -> Result<(), DbError> {
    for sql in [
        "DELETE FROM repo_creds WHERE repo_id = $1",
        "DELETE FROM codes WHERE repo_id = $1",
        "DELETE FROM repos WHERE id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *db).await?;
    }
    Ok(())
}

/// Stores the user's encrypted creds for the repo, replacing earlier ones.
pub async fn set_creds<'e>(
    db: impl Executor<'e, Database = Any>,
    repo_id: &str,
    user_id: Uuid4,
    creds: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO repo_creds (repo_id, user_id, creds) VALUES ($1, $2, $3) \
         ON CONFLICT (repo_id, user_id) DO UPDATE SET creds = excluded.creds",
    )
    .bind(repo_id)
    .bind(user_id.to_string())
    .bind(creds)
    .execute(db)
    .await?;
    Ok(())
}

/// Forgets the user's creds for the repo.
pub async fn delete_creds<'e>(
    db: impl Executor<'e, Database = Any>,
    repo_id: &str,
    user_id: Uuid4,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM repo_creds WHERE repo_id = $1 AND user_id = $2")
        .bind(repo_id)
        .bind(user_id.to_string())
        .execute(db)
        .await?;
    Ok(())
}

/// The user's encrypted creds for the repo.
pub async fn find_creds<'e>(
    db: impl Executor<'e, Database = Any>,
    repo_id: &str,
    user_id: Uuid4,
) -> Result<Option<String>, DbError> {
    let creds =
        sqlx::query_scalar("SELECT creds FROM repo_creds WHERE repo_id = $1 AND user_id = $2")
            .bind(repo_id)
            .bind(user_id.to_string())
            .fetch_optional(db)
            .await?;
    Ok(creds)
}

/// Stores a code blob unless the repo already has one with this hash.
pub async fn insert_code<'e>(
    db: impl Executor<'e, Database = Any>,
    repo_id: &str,
    blob_hash: &str,
    blob: &[u8],
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO codes (id, repo_id, blob_hash, blob) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (repo_id, blob_hash) DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(repo_id)
    .bind(blob_hash)
    .bind(blob.to_vec())
    .execute(db)
    .await?;
    Ok(())
}

/// The code blob of the repo with this hash.
pub async fn find_code<'e>(
    db: impl Executor<'e, Database = Any>,
    repo_id: &str,
    blob_hash: &str,
) -> Result<Option<Vec<u8>>, DbError> {
    let blob = sqlx::query_scalar("SELECT blob FROM codes WHERE repo_id = $1 AND blob_hash = $2")
        .bind(repo_id)
        .bind(blob_hash)
        .fetch_optional(db)
        .await?;
    Ok(blob)
}

//! The `file_archives` table: tar archives a user uploaded for `files:`, by hash.

use dstack_core::api::common::Uuid4;
use sqlx::{Any, Executor};

use super::DbError;

/// Stores the archive unless the user already has one with this hash; returns the id of the
/// stored one either way.
pub async fn insert_or_get<'e, E>(
    db: E,
    user_id: Uuid4,
    blob_hash: &str,
    blob: &[u8],
) -> Result<String, DbError>
where
    E: Executor<'e, Database = Any>,
{
    // The no-op update makes RETURNING answer for an existing row too, on both engines.
    let id = sqlx::query_scalar(
        "INSERT INTO file_archives (id, user_id, blob_hash, blob) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, blob_hash) DO UPDATE SET blob_hash = excluded.blob_hash \
         RETURNING id",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(user_id.to_string())
    .bind(blob_hash)
    .bind(blob.to_vec())
    .fetch_one(db)
    .await?;
    Ok(id)
}

/// The id of the user's archive with this hash.
pub async fn find<'e>(
    db: impl Executor<'e, Database = Any>,
    user_id: Uuid4,
    blob_hash: &str,
) -> Result<Option<String>, DbError> {
    let id =
        sqlx::query_scalar("SELECT id FROM file_archives WHERE user_id = $1 AND blob_hash = $2")
            .bind(user_id.to_string())
            .bind(blob_hash)
            .fetch_optional(db)
            .await?;
    Ok(id)
}

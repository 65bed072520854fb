//! The `user_public_keys` table: SSH public keys users register, one row per key and user.

use dstack_core::api::common::Uuid4;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::DbError;

/// A registered key as stored.
#[derive(Debug, Clone)]
pub struct PublicKeyRow {
    /// The id.
    pub id: String,
    /// Its owner.
    pub user_id: Uuid4,
    /// When it was added, in microseconds.
    pub added_at: i64,
    /// Its name.
    pub name: String,
    /// The algorithm, e.g. `ssh-ed25519`.
    pub key_type: String,
    /// `SHA256:<base64>`, unique per user.
    pub fingerprint: String,
    /// The OpenSSH line as given.
    pub key: String,
}

fn from_row(row: &AnyRow) -> Result<PublicKeyRow, DbError> {
    let user_id: String = row.try_get("user_id")?;
    Ok(PublicKeyRow {
        id: row.try_get("id")?,
        user_id: super::parse_id("user_public_keys.user_id", &user_id)?,
        added_at: row.try_get("added_at")?,
        name: row.try_get("name")?,
        key_type: row.try_get("key_type")?,
        fingerprint: row.try_get("fingerprint")?,
        key: row.try_get("key")?,
    })
}

/// Inserts a key; one the user already has is [`DbError::UniqueViolation`].
pub async fn insert<'e>(
    db: impl Executor<'e, Database = Any>,
    key: &PublicKeyRow,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO user_public_keys (id, user_id, added_at, name, key_type, fingerprint, key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.id)
    .bind(key.user_id.to_string())
    .bind(key.added_at)
    .bind(&key.name)
    .bind(&key.key_type)
    .bind(&key.fingerprint)
    .bind(&key.key)
    .execute(db)
    .await?;
    Ok(())
}

/// The user's keys, newest first.
pub async fn list<'e>(
    db: impl Executor<'e, Database = Any>,
    user_id: Uuid4,
) -> Result<Vec<PublicKeyRow>, DbError> {
    let rows = sqlx::query(
        "SELECT id, user_id, added_at, name, key_type, fingerprint, key FROM user_public_keys \
         WHERE user_id = $1 ORDER BY added_at DESC, id",
    )
    .bind(user_id.to_string())
    .fetch_all(db)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Deletes the user's key with this id; its fingerprint, or `None` when the user has no such
/// key.
pub async fn delete<'e>(
    db: impl Executor<'e, Database = Any>,
    user_id: Uuid4,
    id: &str,
) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar(
        "DELETE FROM user_public_keys WHERE user_id = $1 AND id = $2 RETURNING fingerprint",
    )
    .bind(user_id.to_string())
    .bind(id)
    .fetch_optional(db)
    .await?)
}

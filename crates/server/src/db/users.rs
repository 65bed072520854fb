//! The `users` table. Deleting a user only marks the row, which frees the name.

use chrono::{DateTime, Utc};
use dstack_core::api::common::Uuid4;
use dstack_core::api::users::GlobalRole;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::{CreatedAtCursor, DbError, from_micros, like_pattern, parse_id, to_micros};

/// A live user as stored.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// The id.
    pub id: Uuid4,
    /// The unique name.
    pub name: String,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// The server-wide role.
    pub global_role: GlobalRole,
    /// The e-mail address.
    pub email: Option<String>,
    /// Whether the user may log in.
    pub active: bool,
    /// The OpenSSH public key line.
    pub ssh_public_key: Option<String>,
    /// The matching private key.
    pub ssh_private_key: Option<String>,
}

/// A user to insert; the token is given only as its hash.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// The row itself.
    pub user: &'a UserRow,
    /// sha256 hex of the token.
    pub token_hash: &'a str,
}

const COLUMNS: &str = "u.id, u.name, u.created_at, u.global_role, u.email, u.active, \
                       u.ssh_public_key, u.ssh_private_key";

/// The stored name of a role.
pub fn role_name(role: GlobalRole) -> &'static str {
    match role {
        GlobalRole::Admin => "admin",
        GlobalRole::User => "user",
    }
}

fn parse_role(text: &str) -> Result<GlobalRole, DbError> {
    match text {
        "admin" => Ok(GlobalRole::Admin),
        "user" => Ok(GlobalRole::User),
        other => Err(DbError::Corrupt {
            column: "users.global_role",
            value: other.to_owned(),
        }),
    }
}

/// Decodes the columns of [`COLUMNS`], which may sit at any offset of a joined row.
pub(super) fn from_row(row: &AnyRow, prefix: &str) -> Result<UserRow, DbError> {
    let column = |name: &str| format!("{prefix}{name}");
    let id: String = row.try_get(column("id").as_str())?;
    let role: String = row.try_get(column("global_role").as_str())?;
    let active: i64 = row.try_get(column("active").as_str())?;
    Ok(UserRow {
        id: parse_id("users.id", &id)?,
        name: row.try_get(column("name").as_str())?,
        created_at: from_micros(
            "users.created_at",
            row.try_get(column("created_at").as_str())?,
        )?,
        global_role: parse_role(&role)?,
        email: row.try_get(column("email").as_str())?,
        active: active != 0,
        ssh_public_key: row.try_get(column("ssh_public_key").as_str())?,
        ssh_private_key: row.try_get(column("ssh_private_key").as_str())?,
    })
}

/// Inserts a user; a taken name is [`DbError::UniqueViolation`].
pub async fn insert<'e>(
    db: impl Executor<'e, Database = Any>,
    new: NewUser<'_>,
) -> Result<(), DbError> {
    let user = new.user;
    sqlx::query(
        "INSERT INTO users (id, name, created_at, global_role, email, active, deleted, \
         token_hash, ssh_public_key, ssh_private_key) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9)",
    )
    .bind(user.id.to_string())
    .bind(&user.name)
    .bind(to_micros(user.created_at))
    .bind(role_name(user.global_role))
    .bind(&user.email)
    .bind(i64::from(user.active))
    .bind(new.token_hash)
    .bind(&user.ssh_public_key)
    .bind(&user.ssh_private_key)
    .execute(db)
    .await?;
    Ok(())
}

/// The live, active user whose token hashes to `token_hash`.
pub async fn find_by_token_hash<'e>(
    db: impl Executor<'e, Database = Any>,
    token_hash: &str,
) -> Result<Option<UserRow>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM users u WHERE u.token_hash = $1 AND u.deleted = 0 AND u.active = 1"
    );
    let row = sqlx::query(&sql)
        .bind(token_hash)
        .fetch_optional(db)
        .await?;
    row.map(|row| from_row(&row, "")).transpose()
}

/// The live user with this name, in any case.
pub async fn find_by_name<'e>(
    db: impl Executor<'e, Database = Any>,
    name: &str,
) -> Result<Option<UserRow>, DbError> {
    let sql =
        format!("SELECT {COLUMNS} FROM users u WHERE lower(u.name) = lower($1) AND u.deleted = 0");
    let row = sqlx::query(&sql).bind(name).fetch_optional(db).await?;
    row.map(|row| from_row(&row, "")).transpose()
}

/// The live user with this name, or failing that this e-mail address.
pub async fn find_by_name_or_email<'e>(
    db: impl Executor<'e, Database = Any>,
    name: &str,
) -> Result<Option<UserRow>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM users u WHERE u.deleted = 0 \
         AND (lower(u.name) = lower($1) OR lower(u.email) = lower($1)) \
         ORDER BY CASE WHEN lower(u.name) = lower($1) THEN 0 ELSE 1 END LIMIT 1"
    );
    let row = sqlx::query(&sql).bind(name).fetch_optional(db).await?;
    row.map(|row| from_row(&row, "")).transpose()
}

/// Which users a listing covers.
#[derive(Debug, Clone)]
pub struct UserFilter {
    /// Only this user (for non-admins), or everyone.
    pub only_id: Option<String>,
    /// A case-insensitive substring of the name.
    pub name_contains: Option<String>,
}

const FILTER: &str = "u.deleted = 0 AND ($1 IS NULL OR u.id = $1) \
                      AND ($2 IS NULL OR lower(u.name) LIKE $2 ESCAPE '\\')";

/// One page of live users.
pub async fn list_page<'e>(
    db: impl Executor<'e, Database = Any>,
    filter: &UserFilter,
    cursor: &CreatedAtCursor,
) -> Result<Vec<UserRow>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM users u WHERE {FILTER}{}",
        cursor.sql("u", 3)
    );
    let rows = sqlx::query(&sql)
        .bind(&filter.only_id)
        .bind(filter.name_contains.as_deref().map(like_pattern))
        .bind(cursor.prev_created_at)
        .bind(&cursor.prev_id)
        .bind(cursor.limit)
        .fetch_all(db)
        .await?;
    rows.iter().map(|row| from_row(row, "")).collect()
}

/// How many live users match, over all pages.
pub async fn count<'e>(
    db: impl Executor<'e, Database = Any>,
    filter: &UserFilter,
) -> Result<i64, DbError> {
    let sql = format!("SELECT COUNT(*) FROM users u WHERE {FILTER}");
    let count = sqlx::query_scalar(&sql)
        .bind(&filter.only_id)
        .bind(filter.name_contains.as_deref().map(like_pattern))
        .fetch_one(db)
        .await?;
    Ok(count)
}

/// Sets the fields `users/update` changes; false when no live user has this id.
pub async fn update_profile<'e>(
    db: impl Executor<'e, Database = Any>,
    user: &UserRow,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE users SET global_role = $2, email = $3, active = $4 WHERE id = $1 AND deleted = 0",
    )
    .bind(user.id.to_string())
    .bind(role_name(user.global_role))
    .bind(&user.email)
    .bind(i64::from(user.active))
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the SSH keypair of a live user; false when there is none with this id.
pub async fn set_ssh_keys<'e>(
    db: impl Executor<'e, Database = Any>,
    user: &UserRow,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE users SET ssh_public_key = $2, ssh_private_key = $3 WHERE id = $1 AND deleted = 0",
    )
    .bind(user.id.to_string())
    .bind(&user.ssh_public_key)
    .bind(&user.ssh_private_key)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the token hash of a live user; false when there is none with this id.
pub async fn set_token_hash<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid4,
    token_hash: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query("UPDATE users SET token_hash = $2 WHERE id = $1 AND deleted = 0")
        .bind(id.to_string())
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the live user with this name (in any case) deleted; returns their id, or `None` when
/// there is no such user.
pub async fn mark_deleted_by_name<'e>(
    db: impl Executor<'e, Database = Any>,
    name: &str,
) -> Result<Option<Uuid4>, DbError> {
    let id: Option<String> = sqlx::query_scalar(
        "UPDATE users SET deleted = 1, active = 0 \
         WHERE lower(name) = lower($1) AND deleted = 0 RETURNING id",
    )
    .bind(name)
    .fetch_optional(db)
    .await?;
    id.map(|id| parse_id("users.id", &id)).transpose()
}

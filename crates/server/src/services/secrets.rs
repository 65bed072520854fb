//! Project secrets: only those who may manage secrets (a project or global admin, and
//! project managers when `allow_managers_manage_secrets` is on) see or change them; values
//! are encrypted with the server's keys before they reach the database.

use chrono::Utc;
use dstack_core::api::projects::ProjectRole;
use dstack_core::api::secrets::Secret;
use sqlx::AnyPool;

use super::encryption::Encryption;
use super::events::{self, EventTarget, TargetType};
use super::projects::ProjectAccess;
use super::users::Caller;
use super::{ServiceError, is_valid_name};
use crate::db::secrets::{self as secret_rows, SecretRow};
use crate::db::to_micros;
use crate::server_config::DefaultPermissions;

/// The longest secret name.
const MAX_NAME_LEN: usize = 200;

/// Whether the caller may manage the project's secrets: project and global admins always,
/// managers when the server's `allow_managers_manage_secrets` is on.
fn check_can_manage(
    access: &ProjectAccess,
    permissions: &DefaultPermissions,
) -> Result<(), ServiceError> {
    let manager_allowed =
        permissions.allow_managers_manage_secrets && access.role == Some(ProjectRole::Manager);
    if access.is_admin() || manager_allowed {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

fn check_name(name: &str) -> Result<(), ServiceError> {
    if is_valid_name(name, MAX_NAME_LEN) {
        Ok(())
    } else {
        Err(ServiceError::Invalid(format!(
            "Secret name should match regex '^[A-Za-z0-9-_]{{1,{MAX_NAME_LEN}}}$'"
        )))
    }
}

fn not_found() -> ServiceError {
    ServiceError::NotFound("Secret not found".to_owned())
}

fn decrypted(encryption: &Encryption, row: SecretRow) -> Result<Secret, ServiceError> {
    let value =
        encryption
            .decrypt(&row.stored_value)
            .map_err(|source| ServiceError::Undecryptable {
                name: row.name.clone(),
                source,
            })?;
    Ok(Secret {
        id: row.id,
        name: row.name,
        value: Some(value),
    })
}

/// The project's secrets, names only.
pub async fn list(
    pool: &AnyPool,
    access: &ProjectAccess,
    permissions: &DefaultPermissions,
) -> Result<Vec<Secret>, ServiceError> {
    check_can_manage(access, permissions)?;
    let rows = secret_rows::list(pool, access.project.id).await?;
    Ok(rows
        .into_iter()
        .map(|row| Secret {
            id: row.id,
            name: row.name,
            value: None,
        })
        .collect())
}

/// One secret with its value.
pub async fn get(
    pool: &AnyPool,
    encryption: &Encryption,
    access: &ProjectAccess,
    permissions: &DefaultPermissions,
    name: &str,
) -> Result<Secret, ServiceError> {
    check_can_manage(access, permissions)?;
    let row = secret_rows::find(pool, access.project.id, name)
        .await?
        .ok_or_else(not_found)?;
    decrypted(encryption, row)
}

/// The event target of a secret.
fn target(access: &ProjectAccess, id: uuid::Uuid, name: &str) -> EventTarget {
    EventTarget::in_project(TargetType::Secret, access.project.id, id, name)
}

/// Creates the secret or replaces its value.
pub async fn create_or_update(
    pool: &AnyPool,
    encryption: &Encryption,
    caller: &Caller,
    access: &ProjectAccess,
    permissions: &DefaultPermissions,
    name: &str,
    value: &str,
) -> Result<Secret, ServiceError> {
    check_can_manage(access, permissions)?;
    check_name(name)?;
    let stored = encryption
        .encrypt(value)
        .map_err(|error| ServiceError::Invalid(format!("cannot encrypt secret {name}: {error}")))?;
    let existed = secret_rows::find(pool, access.project.id, name)
        .await?
        .is_some();
    let mut tx = pool.begin().await?;
    let id = secret_rows::upsert(
        &mut *tx,
        access.project.id,
        name,
        &stored,
        to_micros(Utc::now()),
    )
    .await?;
    let message = if existed {
        "Secret updated"
    } else {
        "Secret created"
    };
    let targets = [target(access, id, name)];
    events::record(&mut tx, Some(caller.user.id), message, &targets).await?;
    tx.commit().await?;
    Ok(Secret {
        id,
        name: name.to_owned(),
        value: Some(value.to_owned()),
    })
}

/// Deletes the named secrets, all or none: any missing name refuses the whole call.
pub async fn delete(
    pool: &AnyPool,
    caller: &Caller,
    access: &ProjectAccess,
    permissions: &DefaultPermissions,
    names: &[String],
) -> Result<(), ServiceError> {
    check_can_manage(access, permissions)?;
    let mut found = Vec::with_capacity(names.len());
    for name in names {
        found.push(secret_rows::find(pool, access.project.id, name).await?);
    }
    let mut tx = pool.begin().await?;
    let mut missing = Vec::new();
    for (name, row) in names.iter().zip(found) {
        let deleted = secret_rows::delete(&mut *tx, access.project.id, name).await?;
        match row {
            Some(row) if deleted => {
                let targets = [target(access, row.id, &row.name)];
                events::record(&mut tx, Some(caller.user.id), "Secret deleted", &targets).await?;
            }
            _ => missing.push(name.as_str()),
        }
    }
    if !missing.is_empty() {
        // Dropping the transaction rolls the deletes back.
        return Err(ServiceError::NotFound(format!(
            "Secrets not found: {}",
            missing.join(", ")
        )));
    }
    tx.commit().await?;
    Ok(())
}

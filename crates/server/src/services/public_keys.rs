//! Users' own SSH public keys (`users/public_keys/*`): parsed and fingerprinted as OpenSSH
//! does, one row per key and user.

use chrono::Utc;
use dstack_core::api::users::{AddPublicKeyRequest, PublicKeyInfo};
use sqlx::AnyPool;
use ssh_key::{Algorithm, HashAlg, PublicKey};
use uuid::Uuid;

use super::ServiceError;
use super::events::{self, EventTarget};
use super::users::Caller;
use crate::db::public_keys::{self as key_rows, PublicKeyRow};
use crate::db::{DbError, from_micros, to_micros};

/// Whether dstack accepts keys of this algorithm: RSA, ECDSA, Ed25519 and their security-key
/// forms, not DSA.
fn is_supported(algorithm: &Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::Rsa { .. }
            | Algorithm::Ecdsa { .. }
            | Algorithm::Ed25519
            | Algorithm::SkEcdsaSha2NistP256
            | Algorithm::SkEd25519
    )
}

/// Parses one OpenSSH public key line.
fn parse(line: &str) -> Result<PublicKey, ServiceError> {
    let key = PublicKey::from_openssh(line.trim()).map_err(|_| {
        ServiceError::Invalid(
            "Invalid public key: expected one OpenSSH public key line \
             (`<type> <base64 key> [comment]`)"
                .to_owned(),
        )
    })?;
    if !is_supported(&key.algorithm()) {
        return Err(ServiceError::Invalid(format!(
            "Unsupported key type: {}",
            key.algorithm().as_str()
        )));
    }
    Ok(key)
}

fn to_info(row: &PublicKeyRow) -> Result<PublicKeyInfo, ServiceError> {
    let id = Uuid::parse_str(&row.id).map_err(|_| DbError::Corrupt {
        column: "user_public_keys.id",
        value: row.id.clone(),
    })?;
    Ok(PublicKeyInfo {
        id,
        added_at: from_micros("user_public_keys.added_at", row.added_at)?,
        name: row.name.clone(),
        key_type: row.key_type.clone(),
        fingerprint: row.fingerprint.clone(),
    })
}

/// The caller's keys, newest first.
pub async fn list(pool: &AnyPool, caller: &Caller) -> Result<Vec<PublicKeyInfo>, ServiceError> {
    let rows = key_rows::list(pool, caller.user.id).await?;
    rows.iter().map(to_info).collect()
}

/// Registers a key for the caller, named `name`, else by its comment, else by its
/// fingerprint; a key the caller already has is `AlreadyExists`.
pub async fn add(
    pool: &AnyPool,
    caller: &Caller,
    request: &AddPublicKeyRequest,
) -> Result<PublicKeyInfo, ServiceError> {
    let key = parse(&request.key)?;
    let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
    let name = [request.name.as_deref(), Some(key.comment())]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|name| !name.is_empty())
        .unwrap_or(&fingerprint)
        .to_owned();
    let row = PublicKeyRow {
        id: Uuid::new_v4().to_string(),
        user_id: caller.user.id,
        added_at: to_micros(Utc::now()),
        name,
        key_type: key.algorithm().as_str().to_owned(),
        fingerprint,
        key: request.key.trim().to_owned(),
    };
    let mut tx = pool.begin().await?;
    key_rows::insert(&mut *tx, &row)
        .await
        .map_err(|error| match error {
            DbError::UniqueViolation => {
                ServiceError::AlreadyExists("This public key is already added".to_owned())
            }
            other => other.into(),
        })?;
    let message = format!("Public key added ({})", row.fingerprint);
    let target = [EventTarget::user(&caller.user)];
    events::record(&mut tx, Some(caller.user.id), &message, &target).await?;
    tx.commit().await?;
    to_info(&row)
}

/// Removes those of the caller's keys that have these ids; other ids are ignored.
pub async fn delete(pool: &AnyPool, caller: &Caller, ids: &[Uuid]) -> Result<(), ServiceError> {
    let mut tx = pool.begin().await?;
    for id in ids {
        if let Some(fingerprint) =
            key_rows::delete(&mut *tx, caller.user.id, &id.to_string()).await?
        {
            let message = format!("Public key deleted ({fingerprint})");
            let target = [EventTarget::user(&caller.user)];
            events::record(&mut tx, Some(caller.user.id), &message, &target).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

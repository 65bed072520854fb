//! Business rules per resource; the only code that writes rows.
//!
//! - [`ServiceError`]: what a rule refused, in domain terms; `api::error` maps it to HTTP.
//! - [`users`], [`public_keys`], [`projects`], [`secrets`], [`backends`]: one module per
//!   resource.
//! - [`users`], [`projects`], [`secrets`], [`fleets`], [`instances`], [`gpus`],
//!   [`volumes`], [`gateways`]: one module per resource.
//! - [`offers`]: offers for a job's requirements, from every source.
//! - [`encryption`]: the keys that encrypt values at rest.
//! - [`events`]: the audit log every service records its changes in.
//! - [`metrics`]: the gauges of `GET /metrics`.
//! - [`names`]: generated `adjective-noun-N` names, retried until unique.
//! - [`bootstrap`]: the admin user and the `main` project of a first start.

pub mod backends;
pub mod bootstrap;
pub mod encryption;
pub mod events;
pub mod files;
pub mod fleets;
pub mod gateways;
pub mod gpus;
pub mod instances;
pub mod logs;
pub mod metrics;
pub mod names;
pub mod offers;
pub mod projects;
pub mod prometheus;
pub mod public_keys;
pub mod repos;
pub mod runs;
pub mod secrets;
pub mod users;
pub mod volumes;

use sha2::{Digest, Sha256};

use crate::db::DbError;

/// Why a service refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The named resource does not exist (or the caller may not know that it does).
    #[error("{0}")]
    NotFound(String),
    /// The name is taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// The repo a request names is not initialised in the project.
    #[error("{0}")]
    RepoNotFound(String),
    /// The request breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The caller's role does not allow this.
    #[error("access denied")]
    Forbidden,
    /// A stored secret could not be decrypted with the configured keys.
    #[error("cannot decrypt secret {name}: {source}")]
    Undecryptable {
        /// The secret.
        name: String,
        /// Why.
        #[source]
        source: encryption::EncryptionError,
    },
    /// A new SSH keypair could not be made.
    #[error("ssh key generation failed")]
    SshKey(#[source] ssh_key::Error),
    /// The database failed.
    #[error(transparent)]
    Db(DbError),
}

impl From<DbError> for ServiceError {
    fn from(error: DbError) -> Self {
        match error {
            // Reaching here means a rule did not expect a conflict: still the caller's name.
            DbError::UniqueViolation => Self::AlreadyExists("Resource exists".to_owned()),
            other => Self::Db(other),
        }
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(error: sqlx::Error) -> Self {
        DbError::from(error).into()
    }
}

/// A fresh API token: a UUID4 string, as dstack makes them.
pub fn new_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The stored form of a token: sha256, hex.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether `name` fits `^[a-zA-Z0-9-_]{1,max}$`, dstack's rule for user and project names.
pub fn is_valid_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The largest page of `users/list` and `projects/list`.
const MAX_LIST_LIMIT: u32 = 2000;

/// Checks the filters shared by `users/list` and `projects/list`: a name pattern of name
/// characters (`^[a-zA-Z0-9-_]*$`) and a page of at most 2000 items.
pub fn check_list_filters(name_pattern: Option<&str>, limit: u32) -> Result<(), ServiceError> {
    if let Some(pattern) = name_pattern
        && !pattern.is_empty()
        && !is_valid_name(pattern, usize::MAX)
    {
        return Err(ServiceError::Invalid(
            "name_pattern should match regex '^[a-zA-Z0-9-_]*$'".to_owned(),
        ));
    }
    check_page_limit(limit, MAX_LIST_LIMIT)
}

/// Refuses a page larger than `max`, as dstack's request models do.
pub fn check_page_limit(limit: u32, max: u32) -> Result<(), ServiceError> {
    if limit > max {
        Err(ServiceError::Invalid(format!(
            "limit should be at most {max}"
        )))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_hash_to_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn names_follow_the_dstack_pattern() {
        assert!(is_valid_name("main_2-x", 50));
        assert!(!is_valid_name("", 50));
        assert!(!is_valid_name("a b", 50));
        assert!(!is_valid_name("ü", 50));
        assert!(!is_valid_name(&"a".repeat(51), 50));
    }
}

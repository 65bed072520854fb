//! Project backends (`/api/project/{p}/backends/*` and `config.yml`): configurations are
//! checked against the backend types this server implements, then stored per project with
//! their `creds` encrypted.
//!
//! [`IMPLEMENTED`] lists those types. It is empty until the first backend (`local`) lands, so
//! every create or update is refused with a message naming the type; reading and deleting
//! stored backends works for whatever a later server version stored.

use std::str::FromStr;

use chrono::Utc;
use dstack_core::api::backends::{BackendConfig, BackendInfo, BackendYaml};
use dstack_core::backend::BackendType;
use serde_json::Value;
use sqlx::AnyPool;

use super::ServiceError;
use super::encryption::Encryption;
use crate::db::backends::{self as backend_rows, BackendRow};
use crate::db::projects::ProjectRow;
use crate::db::{DbError, to_micros};

/// The backend types this server can create, in `list_types` order.
pub const IMPLEMENTED: &[BackendType] = &[];

/// The key of a configuration that holds its credentials.
const CREDS: &str = "creds";

/// The type a configuration names, if this server implements it.
fn implemented_type(config: &BackendConfig) -> Result<BackendType, ServiceError> {
    let Some(Value::String(name)) = config.get("type") else {
        return Err(ServiceError::Invalid(
            "A backend configuration needs a `type`".to_owned(),
        ));
    };
    let known = BackendType::from_str(name)
        .map_err(|_| ServiceError::Invalid(format!("Unknown backend type: {name}")))?;
    if !IMPLEMENTED.contains(&known) {
        return Err(ServiceError::Invalid(format!(
            "Backend type {name} is not supported by this server; supported types: {}",
            supported_list()
        )));
    }
    Ok(known)
}

fn supported_list() -> String {
    if IMPLEMENTED.is_empty() {
        return "none yet".to_owned();
    }
    IMPLEMENTED
        .iter()
        .map(|backend| backend.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn not_found(name: &str) -> ServiceError {
    ServiceError::NotFound(format!("Backend {name} not found"))
}

/// The row for `config`: the credentials split off and encrypted.
fn to_row(
    encryption: &Encryption,
    project: &ProjectRow,
    backend_type: BackendType,
    mut config: BackendConfig,
) -> Result<BackendRow, ServiceError> {
    let creds = config.remove(CREDS).unwrap_or(Value::Null);
    let stored_creds = encryption.encrypt(&creds.to_string()).map_err(|error| {
        ServiceError::Invalid(format!("cannot encrypt the backend credentials: {error}"))
    })?;
    Ok(BackendRow {
        project_id: project.id,
        backend_type: backend_type.as_str().to_owned(),
        config: Value::Object(config).to_string(),
        stored_creds,
    })
}

fn corrupt(column: &'static str, value: &str) -> ServiceError {
    DbError::Corrupt {
        column,
        value: value.to_owned(),
    }
    .into()
}

/// The stored configuration with its credentials decrypted.
fn with_creds(encryption: &Encryption, row: &BackendRow) -> Result<BackendConfig, ServiceError> {
    let Ok(Value::Object(mut config)) = serde_json::from_str(&row.config) else {
        return Err(corrupt("backends.config", &row.config));
    };
    let creds =
        encryption
            .decrypt(&row.stored_creds)
            .map_err(|source| ServiceError::Undecryptable {
                name: format!("backend {} credentials", row.backend_type),
                source,
            })?;
    let creds: Value =
        serde_json::from_str(&creds).map_err(|_| corrupt("backends.creds", &row.backend_type))?;
    if !creds.is_null() {
        config.insert(CREDS.to_owned(), creds);
    }
    Ok(config)
}

/// `create`: adds a backend of a type the project does not have yet.
pub async fn create(
    pool: &AnyPool,
    encryption: &Encryption,
    project: &ProjectRow,
    config: BackendConfig,
) -> Result<BackendConfig, ServiceError> {
    let backend_type = implemented_type(&config)?;
    let row = to_row(encryption, project, backend_type, config)?;
    backend_rows::insert(pool, &row, to_micros(Utc::now()))
        .await
        .map_err(|error| match error {
            DbError::UniqueViolation => ServiceError::AlreadyExists(format!(
                "Backend {} already exists",
                backend_type.as_str()
            )),
            other => other.into(),
        })?;
    with_creds(encryption, &row)
}

/// `update`: replaces the configuration of a backend the project has.
pub async fn update(
    pool: &AnyPool,
    encryption: &Encryption,
    project: &ProjectRow,
    config: BackendConfig,
) -> Result<BackendConfig, ServiceError> {
    let backend_type = implemented_type(&config)?;
    let row = to_row(encryption, project, backend_type, config)?;
    if !backend_rows::update(pool, &row, to_micros(Utc::now())).await? {
        return Err(not_found(backend_type.as_str()));
    }
    with_creds(encryption, &row)
}

/// Parses the YAML of `create_yaml` and `update_yaml`.
fn parse_yaml(text: &str) -> Result<BackendConfig, ServiceError> {
    match serde_saphyr::from_str::<Value>(text) {
        Ok(Value::Object(config)) => Ok(config),
        Ok(_) => Err(ServiceError::Invalid(
            "The backend configuration must be a YAML mapping".to_owned(),
        )),
        Err(error) => Err(ServiceError::Invalid(format!(
            "Invalid backend configuration YAML: {error}"
        ))),
    }
}

/// `create_yaml`: [`create`] from YAML.
pub async fn create_yaml(
    pool: &AnyPool,
    encryption: &Encryption,
    project: &ProjectRow,
    text: &str,
) -> Result<(), ServiceError> {
    create(pool, encryption, project, parse_yaml(text)?).await?;
    Ok(())
}

/// `update_yaml`: [`update`] from YAML.
pub async fn update_yaml(
    pool: &AnyPool,
    encryption: &Encryption,
    project: &ProjectRow,
    text: &str,
) -> Result<(), ServiceError> {
    update(pool, encryption, project, parse_yaml(text)?).await?;
    Ok(())
}

/// Creates the backend, or updates it when the project has one of its type; for the
/// projects of `config.yml`.
pub async fn apply(
    pool: &AnyPool,
    encryption: &Encryption,
    project: &ProjectRow,
    config: BackendConfig,
) -> Result<(), ServiceError> {
    match create(pool, encryption, project, config.clone()).await {
        Err(ServiceError::AlreadyExists(_)) => {
            update(pool, encryption, project, config).await?;
            Ok(())
        }
        other => other.map(|_| ()),
    }
}

async fn find(
    pool: &AnyPool,
    project: &ProjectRow,
    name: &str,
) -> Result<BackendRow, ServiceError> {
    backend_rows::find(pool, project.id, name)
        .await?
        .ok_or_else(|| not_found(name))
}

/// `config_info`: the stored configuration with credentials.
pub async fn config_info(
    pool: &AnyPool,
    encryption: &Encryption,
    project: &ProjectRow,
    name: &str,
) -> Result<BackendConfig, ServiceError> {
    with_creds(encryption, &find(pool, project, name).await?)
}

/// `get_yaml`: the stored configuration with credentials, as YAML.
pub async fn get_yaml(
    pool: &AnyPool,
    encryption: &Encryption,
    project: &ProjectRow,
    name: &str,
) -> Result<BackendYaml, ServiceError> {
    let config = config_info(pool, encryption, project, name).await?;
    let config_yaml = serde_saphyr::to_string(&config)
        .map_err(|error| ServiceError::Invalid(format!("cannot write YAML: {error}")))?;
    Ok(BackendYaml {
        name: name.to_owned(),
        config_yaml,
    })
}

/// The project's backends as `projects/{p}/get` shows them: configurations without
/// credentials.
pub async fn list_infos(
    pool: &AnyPool,
    project: &ProjectRow,
) -> Result<Vec<BackendInfo>, ServiceError> {
    let rows = backend_rows::list(pool, project.id).await?;
    rows.into_iter()
        .map(|row| match serde_json::from_str(&row.config) {
            Ok(Value::Object(config)) => Ok(BackendInfo {
                name: row.backend_type,
                config,
            }),
            _ => Err(corrupt("backends.config", &row.config)),
        })
        .collect()
}

/// `delete`: removes the named backends, all or none: any the project lacks refuses the call.
pub async fn delete(
    pool: &AnyPool,
    project: &ProjectRow,
    types: &[BackendType],
) -> Result<(), ServiceError> {
    let mut tx = pool.begin().await?;
    for backend in types {
        if !backend_rows::delete(&mut *tx, project.id, backend.as_str()).await? {
            return Err(not_found(backend.as_str()));
        }
    }
    tx.commit().await?;
    Ok(())
}

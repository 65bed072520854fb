//! Repos of a project (api.md §2.6): their identity, each user's clone creds (encrypted at
//! rest with the server's keys) and the code blobs uploaded for runs.

use chrono::Utc;
use dstack_core::api::repos::{RemoteRepoCreds, RepoHead, RepoHeadWithCreds, RepoInfo};

use super::ServiceError;
use super::encryption::Encryption;
use super::projects::ProjectAccess;
use super::users::Caller;
use crate::db::repos::{self as repo_rows, RepoRow};
use crate::db::{Database, parse_json, to_micros};

fn not_found() -> ServiceError {
    ServiceError::NotFound("Resource not found".to_owned())
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, ServiceError> {
    serde_json::to_string(value).map_err(|error| ServiceError::Invalid(error.to_string()))
}

fn head(row: &RepoRow) -> Result<RepoHead, ServiceError> {
    Ok(RepoHead {
        repo_id: row.name.clone(),
        repo_info: parse_json("repos.info", &row.info)?,
    })
}

/// `repos/list`: the project's repos.
pub async fn list(db: &Database, access: &ProjectAccess) -> Result<Vec<RepoHead>, ServiceError> {
    let rows = repo_rows::list(db.pool(), access.project.id).await?;
    rows.iter().map(head).collect()
}

/// `repos/get`: one repo, with the caller's creds when asked for and known.
pub async fn get(
    db: &Database,
    encryption: &Encryption,
    access: &ProjectAccess,
    caller: &Caller,
    repo_id: &str,
    include_creds: bool,
) -> Result<RepoHeadWithCreds, ServiceError> {
    let row = repo_rows::find(db.pool(), access.project.id, repo_id)
        .await?
        .ok_or_else(not_found)?;
    let RepoHead { repo_id, repo_info } = head(&row)?;
    let stored = match (include_creds, &repo_info) {
        (true, RepoInfo::Remote { .. }) => {
            repo_rows::find_creds(db.pool(), &row.id, caller.user.id).await?
        }
        _ => None,
    };
    let repo_creds = match stored {
        Some(stored) => {
            let text =
                encryption
                    .decrypt(&stored)
                    .map_err(|source| ServiceError::Undecryptable {
                        name: format!("creds of repo {repo_id}"),
                        source,
                    })?;
            Some(parse_json::<RemoteRepoCreds>("repo_creds.creds", &text)?)
        }
        None => None,
    };
    Ok(RepoHeadWithCreds {
        repo_id,
        repo_info,
        repo_creds,
    })
}

/// `repos/init`: creates or updates the repo, and sets (or with `None` forgets) the caller's
/// creds for it.
pub async fn init(
    db: &Database,
    encryption: &Encryption,
    access: &ProjectAccess,
    caller: &Caller,
    repo_id: &str,
    info: &RepoInfo,
    creds: Option<&RemoteRepoCreds>,
) -> Result<(), ServiceError> {
    let stored_creds = creds
        .map(|creds| {
            let text = to_json(creds)?;
            encryption
                .encrypt(&text)
                .map_err(|error| ServiceError::Invalid(format!("cannot encrypt creds: {error}")))
        })
        .transpose()?;
    let mut tx = db.pool().begin().await?;
    let id = repo_rows::upsert(
        &mut *tx,
        access.project.id,
        repo_id,
        &to_json(info)?,
        to_micros(Utc::now()),
    )
    .await?;
    match stored_creds {
        Some(stored) => repo_rows::set_creds(&mut *tx, &id, caller.user.id, &stored).await?,
        None => repo_rows::delete_creds(&mut *tx, &id, caller.user.id).await?,
    }
    tx.commit().await?;
    Ok(())
}

/// `repos/delete`: the named repos with their creds and code; unknown ids are ignored.
pub async fn delete(
    db: &Database,
    access: &ProjectAccess,
    repo_ids: &[String],
) -> Result<(), ServiceError> {
    let mut tx = db.pool().begin().await?;
    for repo_id in repo_ids {
        if let Some(row) = repo_rows::find(&mut *tx, access.project.id, repo_id).await? {
            repo_rows::delete(&mut tx, &row.id).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// `repos/upload_code`: stores the blob under its hash, once per repo.
pub async fn upload_code(
    db: &Database,
    access: &ProjectAccess,
    repo_id: &str,
    blob_hash: &str,
    blob: &[u8],
) -> Result<(), ServiceError> {
    let row = repo_rows::find(db.pool(), access.project.id, repo_id)
        .await?
        .ok_or_else(|| ServiceError::RepoNotFound(format!("Repo {repo_id} does not exist")))?;
    repo_rows::insert_code(db.pool(), &row.id, blob_hash, blob).await?;
    Ok(())
}

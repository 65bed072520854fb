//! File archives (api.md §2.7): tars a user uploads for `files:` mappings, kept per user and
//! hash.

use dstack_core::api::files::FileArchive;

use super::ServiceError;
use super::users::Caller;
use crate::db::Database;
use crate::db::files as archive_rows;

fn archive(id: &str, hash: &str) -> Result<FileArchive, ServiceError> {
    let id = uuid::Uuid::parse_str(id).map_err(|_| {
        ServiceError::Db(crate::db::DbError::Corrupt {
            column: "file_archives.id",
            value: id.to_owned(),
        })
    })?;
    Ok(FileArchive {
        id,
        hash: hash.to_owned(),
    })
}

/// `files/upload_archive`: stores the archive; the same hash again answers the stored one.
pub async fn upload_archive(
    db: &Database,
    caller: &Caller,
    hash: &str,
    blob: &[u8],
) -> Result<FileArchive, ServiceError> {
    let id = archive_rows::insert_or_get(db.pool(), caller.user.id, hash, blob).await?;
    archive(&id, hash)
}

/// `files/get_archive_by_hash`: the caller's archive with this hash.
pub async fn get_archive_by_hash(
    db: &Database,
    caller: &Caller,
    hash: &str,
) -> Result<FileArchive, ServiceError> {
    let id = archive_rows::find(db.pool(), caller.user.id, hash)
        .await?
        .ok_or_else(|| ServiceError::NotFound("Resource not found".to_owned()))?;
    archive(&id, hash)
}

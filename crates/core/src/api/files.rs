//! File archives uploaded for `files:` mappings: `/api/files/*`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An uploaded tar archive; `upload_archive` and `get_archive_by_hash` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileArchive {
    /// The archive id.
    pub id: Uuid,
    /// The sha256 hex of the archive.
    pub hash: String,
}

/// `POST /api/files/get_archive_by_hash` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetArchiveByHashRequest {
    /// The sha256 hex of the archive.
    pub hash: String,
}

/// Where an uploaded archive is unpacked in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileArchiveMapping {
    /// The archive id.
    pub id: Uuid,
    /// The target path.
    pub path: String,
}

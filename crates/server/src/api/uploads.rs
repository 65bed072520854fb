//! Uploads: `repos/upload_code` and `files/upload_archive` take a multipart `file` whose file
//! name is the sha256 of its bytes, and are refused by `Content-Length` over the server's
//! upload limit (`DSTACK_SERVER_CODE_UPLOAD_LIMIT`) before the body is read.

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

use super::error::ServerError;
use crate::services::ServiceError;

/// Refuses a request whose `Content-Length` is over `limit` bytes (0: no limit).
pub async fn check_upload_size(
    State(limit): State<u64>,
    request: Request,
    next: Next,
) -> Result<Response, ServerError> {
    let length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if let Some(length) = length
        && limit > 0
        && length > limit
    {
        return Err(ServiceError::Invalid(format!(
            "The upload is {length} bytes, over this server's limit of {limit} bytes. Leave \
             large files out of the repo or the files (e.g. with .gitignore), or raise the \
             limit with DSTACK_SERVER_CODE_UPLOAD_LIMIT."
        ))
        .into());
    }
    Ok(next.run(request).await)
}

/// The uploaded file: its declared hash (the file name) and its bytes.
#[derive(Debug)]
pub struct UploadedFile {
    /// The sha256 hex the client named the file with.
    pub hash: String,
    /// The content.
    pub bytes: Vec<u8>,
}

fn invalid(msg: String) -> ServerError {
    ServerError::InvalidBody {
        kind: "value_error",
        loc: vec!["body".to_owned(), "file".to_owned()],
        msg,
    }
}

impl<S: Send + Sync> FromRequest<S> for UploadedFile {
    type Rejection = ServerError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let multipart_body = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("multipart/form-data"));
        if !multipart_body {
            // Read what was sent before answering: hyper drops a connection whose request
            // body is left unread, and the client would see a broken pipe, not the error.
            super::body::discard(request).await;
            return Err(invalid(
                "expected a multipart/form-data body with a `file` field".to_owned(),
            ));
        }
        let mut multipart = Multipart::from_request(request, state)
            .await
            .map_err(|rejection| invalid(rejection.body_text()))?;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|error| invalid(error.body_text()))?
        {
            if field.name() != Some("file") {
                continue;
            }
            let hash = field
                .file_name()
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| invalid("the file needs a name: its sha256".to_owned()))?;
            let bytes = field
                .bytes()
                .await
                .map_err(|error| invalid(error.body_text()))?;
            return Ok(Self {
                hash,
                bytes: bytes.to_vec(),
            });
        }
        Err(ServerError::InvalidBody {
            kind: "missing",
            loc: vec!["body".to_owned(), "file".to_owned()],
            msg: "Field required".to_owned(),
        })
    }
}

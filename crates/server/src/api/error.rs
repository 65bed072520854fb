//! [`ServerError`]: every way a request can fail, and the one table that turns each into
//! dstack's status code and body (api.md §1.4–§1.7).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dstack_core::api::common::{ErrorBody, ErrorCode, ErrorDetail, ErrorItem};
use serde::Serialize;
use serde_json::{Value, json};

use crate::services::ServiceError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// No `Authorization: Bearer` header.
    #[error("not authenticated")]
    NotAuthenticated,
    /// The token matches no active user.
    #[error("invalid token")]
    InvalidToken,
    /// The caller's role does not reach the endpoint's level.
    #[error("access denied")]
    AccessDenied,
    /// The project of a `/api/projects/{p}/...` path does not exist.
    #[error("project not found")]
    ProjectNotFound,
    /// `X-API-VERSION` is not a version.
    #[error("invalid version: {0}")]
    InvalidVersion(String),
    /// The client is newer than this server in major or minor version.
    #[error("the client/CLI version ({client}) is incompatible with the server version ({server})")]
    IncompatibleVersion {
        /// The client's version.
        client: String,
        /// Ours.
        server: &'static str,
    },
    /// The body is not JSON of the expected shape.
    #[error("invalid body at {loc:?}: {msg}")]
    InvalidBody {
        /// FastAPI's error type: `missing`, `json_invalid`, `value_error`.
        kind: &'static str,
        /// The path of the offending field, starting with `body`.
        loc: Vec<String>,
        /// What is wrong.
        msg: String,
    },
    /// The endpoint is switched off on this server (`/metrics` without
    /// `DSTACK_ENABLE_PROMETHEUS_METRICS`).
    #[error("endpoint disabled")]
    Disabled,
    /// No route has this path.
    #[error("no such route")]
    RouteNotFound,
    /// The route exists for another method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A service refused or failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// One item of a 422 body, in FastAPI's shape.
#[derive(Debug, Serialize)]
struct ValidationItem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    loc: &'a [String],
    msg: &'a str,
}

fn single(msg: &str) -> Value {
    to_value(&ErrorBody {
        detail: ErrorDetail::Single(ErrorItem {
            msg: msg.to_owned(),
            code: None,
            fields: None,
        }),
    })
}

fn list(code: Option<ErrorCode>, msg: String) -> Value {
    to_value(&ErrorBody {
        detail: ErrorDetail::List(vec![ErrorItem {
            msg,
            code,
            fields: None,
        }]),
    })
}

fn to_value(body: &impl Serialize) -> Value {
    serde_json::to_value(body).unwrap_or(Value::Null)
}

impl ServerError {
    /// The status and body dstack answers with; one arm per variant.
    pub fn code(&self) -> (StatusCode, Value) {
        match self {
            Self::NotAuthenticated => (
                StatusCode::UNAUTHORIZED,
                json!({"detail": "Not authenticated"}),
            ),
            Self::InvalidToken => (StatusCode::FORBIDDEN, single("Invalid token")),
            Self::AccessDenied => (StatusCode::FORBIDDEN, single("Access denied")),
            Self::ProjectNotFound => (StatusCode::NOT_FOUND, single("Not found")),
            Self::InvalidVersion(text) => (
                StatusCode::BAD_REQUEST,
                list(None, format!("Invalid version: {text}")),
            ),
            Self::IncompatibleVersion { client, server } => (
                StatusCode::BAD_REQUEST,
                list(
                    Some(ErrorCode::Error),
                    format!(
                        "The client/CLI version ({client}) is incompatible with the server \
                         version ({server})."
                    ),
                ),
            ),
            Self::InvalidBody { kind, loc, msg } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"detail": [ValidationItem { kind, loc, msg }]}),
            ),
            Self::Disabled => (StatusCode::NOT_FOUND, single("Not found")),
            Self::RouteNotFound => (StatusCode::NOT_FOUND, json!({"detail": "Not Found"})),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"detail": "Method Not Allowed"}),
            ),
            Self::Service(error) => match error {
                ServiceError::NotFound(msg) => (
                    StatusCode::BAD_REQUEST,
                    list(Some(ErrorCode::ResourceNotExists), msg.clone()),
                ),
                ServiceError::AlreadyExists(msg) => (
                    StatusCode::BAD_REQUEST,
                    list(Some(ErrorCode::ResourceExists), msg.clone()),
                ),
                ServiceError::RepoNotFound(msg) => (
                    StatusCode::BAD_REQUEST,
                    list(Some(ErrorCode::RepoDoesNotExist), msg.clone()),
                ),
                ServiceError::Invalid(msg) => (
                    StatusCode::BAD_REQUEST,
                    list(Some(ErrorCode::Error), msg.clone()),
                ),
                // A key is missing from config.yml: the message says which, and the request
                // itself was valid, so not a bare 500.
                ServiceError::Undecryptable { .. } => (
                    StatusCode::BAD_REQUEST,
                    list(Some(ErrorCode::Error), error.to_string()),
                ),
                // Rules refused: dstack sends this body without the `detail` wrapper.
                ServiceError::Forbidden => (
                    StatusCode::FORBIDDEN,
                    json!({"msg": "Access denied", "code": null}),
                ),
                ServiceError::SshKey(_) | ServiceError::Db(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"detail": "Internal Server Error"}),
                ),
            },
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let (status, body) = self.code();
        if status.is_server_error() {
            // The cause stays in the log; the client gets a generic message.
            tracing::error!(error = ?self, "request failed");
        }
        let mut response = (status, axum::Json(body)).into_response();
        if matches!(self, Self::NotAuthenticated) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

//! [`ApiError`]: how a failed request is answered. dstack's shim answers errors as plain
//! text with the status that names the kind of failure.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::components::InstallError;
use crate::service::ShimError;
use crate::task::TaskStoreError;

/// A request that failed, with the status and message the client sees.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<ShimError> for ApiError {
    fn from(error: ShimError) -> Self {
        let status = match &error {
            ShimError::MissingField(_) | ShimError::Install(InstallError::NoUrl) => {
                StatusCode::BAD_REQUEST
            }
            ShimError::Install(InstallError::InProgress(_)) => StatusCode::CONFLICT,
            ShimError::Store(TaskStoreError::NotFound(_)) => StatusCode::NOT_FOUND,
            ShimError::Store(
                TaskStoreError::AlreadyExists(_) | TaskStoreError::Transition { .. },
            )
            | ShimError::NotTerminated { .. } => StatusCode::CONFLICT,
            ShimError::Docker(_) | ShimError::RemoveDirs { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        Self::new(status, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(message = %self.message, "request failed");
        }
        (self.status, format!("{}\n", self.message)).into_response()
    }
}

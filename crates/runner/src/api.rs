//! The runner's HTTP API (agents.md §3.3): decode each request, call the [`Agent`], encode.
//!
//! Conventions of dstack's runner: a call with nothing to return answers 200 with an empty
//! plain-text body; errors are plain text with their status (409 for a call the state does
//! not allow, 400 for bad input).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use dstack_agents::runner::{Healthcheck, SubmitBody};

use crate::agent::{Agent, AgentError};
use crate::logs_ws::logs_ws;
use crate::metrics::collect::collect_system_metrics;

/// dstack's runner accepts JSON bodies up to 1 MiB; uploads have no limit.
const JSON_BODY_LIMIT: usize = 1024 * 1024;

pub fn router(agent: Arc<Agent>) -> Router {
    Router::new()
        .route("/api/healthcheck", get(healthcheck))
        .route("/api/metrics", get(metrics))
        .route(
            "/api/submit",
            post(submit).layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)),
        )
        .route(
            "/api/upload_archive",
            post(upload_archive).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/upload_code",
            post(upload_code).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/run", post(run))
        .route("/api/pull", get(pull))
        .route("/api/stop", post(stop))
        .route("/logs_ws", get(logs_ws))
        .with_state(agent)
}

/// An error answered as plain text.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl From<AgentError> for ApiError {
    fn from(error: AgentError) -> Self {
        let status = match &error {
            AgentError::NotAllowed(_) | AgentError::NotSubmitted => StatusCode::CONFLICT,
            AgentError::Store { .. } => {
                tracing::error!(%error, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        Self {
            status,
            message: error.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, plain_text(format!("{}\n", self.message))).into_response()
    }
}

fn plain_text(body: String) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body)
}

/// 200 with the empty body dstack's server expects from calls that return nothing.
fn ok_empty() -> Response {
    plain_text("\n".to_owned()).into_response()
}

async fn healthcheck() -> Json<Healthcheck> {
    Json(Healthcheck {
        service: "dstack-runner".to_owned(),
        version: crate::VERSION.to_owned(),
    })
}

async fn metrics() -> Response {
    match tokio::task::spawn_blocking(collect_system_metrics).await {
        Ok(Ok(metrics)) => Json(metrics).into_response(),
        Ok(Err(error)) => {
            tracing::debug!(%error, "no metrics");
            ApiError {
                status: StatusCode::NOT_FOUND,
                message: "Metrics collector is not available".to_owned(),
            }
            .into_response()
        }
        Err(error) => ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("metrics collection failed: {error}"),
        }
        .into_response(),
    }
}

async fn submit(
    State(agent): State<Arc<Agent>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or_default());
    if let Some(content_type) = content_type
        && !content_type.starts_with("application/json")
    {
        return Err(ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: "Content-Type header is not application/json".to_owned(),
        });
    }
    if body.is_empty() {
        return Err(ApiError::bad_request("request body must not be empty"));
    }
    let body: SubmitBody = serde_json::from_slice(&body)
        .map_err(|error| ApiError::bad_request(format!("invalid submit body: {error}")))?;
    agent.submit(body)?;
    Ok(ok_empty())
}

async fn upload_archive(
    State(agent): State<Arc<Agent>>,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let bad_form = |error: axum::extract::multipart::MultipartError| {
        ApiError::bad_request(format!("invalid multipart form: {error}"))
    };
    let field = form
        .next_field()
        .await
        .map_err(bad_form)?
        .ok_or_else(|| ApiError::bad_request("the form has no part"))?;
    if field.name() != Some("archive") {
        return Err(ApiError::bad_request("the form part must be named archive"));
    }
    let id = field
        .file_name()
        .ok_or_else(|| ApiError::bad_request("the archive part has no file name"))?
        .parse::<uuid::Uuid>()
        .map_err(|_| ApiError::bad_request("the archive's file name must be its uuid"))?;
    let archive = field.bytes().await.map_err(bad_form)?;
    if form.next_field().await.map_err(bad_form)?.is_some() {
        return Err(ApiError::bad_request("the form must have exactly one part"));
    }
    agent.store_archive(id, &archive)?;
    Ok(ok_empty())
}

async fn upload_code(State(agent): State<Arc<Agent>>, body: Bytes) -> Result<Response, ApiError> {
    agent.store_code(&body)?;
    Ok(ok_empty())
}

async fn run(State(agent): State<Arc<Agent>>) -> Result<Response, ApiError> {
    Ok(match agent.run()? {
        Some(info) => Json(info).into_response(),
        None => ok_empty(),
    })
}

async fn pull(
    State(agent): State<Arc<Agent>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let since = timestamp_param(query.as_deref().unwrap_or_default())?;
    Ok(Json(agent.pull(since)).into_response())
}

/// `timestamp=<integer>`; absent means from the start.
fn timestamp_param(query: &str) -> Result<i64, ApiError> {
    let value = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("timestamp="));
    match value {
        None | Some("") => Ok(0),
        Some(value) => value.parse().map_err(|_| {
            ApiError::bad_request(format!("timestamp must be an integer, got {value:?}"))
        }),
    }
}

async fn stop(State(agent): State<Arc<Agent>>) -> Response {
    agent.stop();
    ok_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_an_integer_or_absent() {
        assert_eq!(
            timestamp_param("timestamp=1718000000002").ok(),
            Some(1_718_000_000_002)
        );
        assert_eq!(timestamp_param("").ok(), Some(0));
        assert_eq!(timestamp_param("other=1&timestamp=5").ok(), Some(5));
        let error = timestamp_param("timestamp=abc")
            .err()
            .map(|error| error.status);
        assert_eq!(error, Some(StatusCode::BAD_REQUEST));
    }
}

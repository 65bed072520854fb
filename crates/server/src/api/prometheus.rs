//! `GET /metrics` (api.md §2.21): Prometheus text, only when `DSTACK_ENABLE_PROMETHEUS_METRICS`
//! is set, and with the bearer token of `DSTACK_PROMETHEUS_AUTH_TOKEN` when that is set.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::check_service_token;
use super::error::ServerError;
use crate::services::prometheus::{self, Gauge};

/// The content type of Prometheus' text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders gauges in Prometheus' text format.
fn render(gauges: &[Gauge]) -> String {
    let mut text = String::new();
    for gauge in gauges {
        let Gauge { name, help, value } = gauge;
        // Writing to a String cannot fail.
        let _ = write!(
            text,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        );
    }
    text
}

/// `GET /metrics`. As dstack does, the token is checked before whether metrics are on.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    let integrations = &state.integrations;
    if let Some(expected) = &integrations.prometheus_auth_token {
        check_service_token(&headers, &expected.0, ServerError::AccessDenied)?;
    }
    if !integrations.prometheus_metrics {
        return Err(ServerError::Disabled);
    }
    let text = render(&prometheus::gauges(state.db.pool()).await?);
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    Ok(response)
}

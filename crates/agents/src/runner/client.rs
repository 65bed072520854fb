//! [`RunnerClient`]: a typed client of the runner API, one method per protocol step.

use std::time::Duration;

use reqwest::multipart::{Form, Part};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use uuid::Uuid;

use super::info::{Healthcheck, JobInfo, SystemMetrics};
use super::pull::PullResponse;
use super::submit::SubmitBody;

/// dstack's server gives a runner call 9 s, and an upload 60 s.
const CALL_TIMEOUT: Duration = Duration::from_secs(9);
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum RunnerClientError {
    #[error("runner request {path} failed: {source}")]
    Request {
        path: &'static str,
        source: reqwest::Error,
    },
    #[error("runner answered {path} with {status}: {body}")]
    Status {
        path: &'static str,
        status: StatusCode,
        body: String,
    },
    #[error("runner answered {path} with a body that is not the expected json: {source}")]
    Decode {
        path: &'static str,
        source: serde_json::Error,
    },
}

/// A client of one runner, at `base_url` such as `http://127.0.0.1:10999`.
#[derive(Debug, Clone)]
pub struct RunnerClient {
    http: reqwest::Client,
    base_url: String,
}

impl RunnerClient {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::with_http_client(crate::http::plain_client(), base_url)
    }

    /// Uses `http`, for example one that connects through a forwarded socket.
    pub fn with_http_client(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Self { http, base_url }
    }

    pub async fn healthcheck(&self) -> Result<Healthcheck, RunnerClientError> {
        let path = "/api/healthcheck";
        decode(
            path,
            self.send(path, self.request(Method::GET, path)).await?,
        )
        .await
    }

    /// Allowed until the job runs; a second submit replaces the first.
    pub async fn submit_job(&self, body: &SubmitBody) -> Result<(), RunnerClientError> {
        let path = "/api/submit";
        let request = self.request(Method::POST, path).json(body);
        self.send(path, request).await.map(drop)
    }

    /// Uploads the file archive `id` that `job_spec.file_archives` refers to.
    pub async fn upload_archive(
        &self,
        id: Uuid,
        archive: Vec<u8>,
    ) -> Result<(), RunnerClientError> {
        let path = "/api/upload_archive";
        let part = Part::bytes(archive).file_name(id.to_string());
        let request = self
            .request(Method::POST, path)
            .timeout(UPLOAD_TIMEOUT)
            .multipart(Form::new().part("archive", part));
        self.send(path, request).await.map(drop)
    }

    /// Uploads the repo's code: a tar for local and virtual repos, a git diff for remote ones.
    pub async fn upload_code(&self, code: Vec<u8>) -> Result<(), RunnerClientError> {
        let path = "/api/upload_code";
        let request = self
            .request(Method::POST, path)
            .timeout(UPLOAD_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(code);
        self.send(path, request).await.map(drop)
    }

    /// Starts the job. `None` when the runner could not prepare it: the reason is then in
    /// the job states of the next pull.
    pub async fn run_job(&self) -> Result<Option<JobInfo>, RunnerClientError> {
        let path = "/api/run";
        let response = self.send(path, self.request(Method::POST, path)).await?;
        let body = read_body(path, response).await?;
        Ok(serde_json::from_slice(&body).ok())
    }

    /// The job states and logs with a timestamp after `since` (0 for everything).
    pub async fn pull(&self, since: i64) -> Result<PullResponse, RunnerClientError> {
        let path = "/api/pull";
        let request = self.request(Method::GET, &format!("{path}?timestamp={since}"));
        decode(path, self.send(path, request).await?).await
    }

    /// Stops the job: its processes get a stop signal, then SIGKILL after the stop duration.
    pub async fn stop(&self) -> Result<(), RunnerClientError> {
        let path = "/api/stop";
        self.send(path, self.request(Method::POST, path))
            .await
            .map(drop)
    }

    /// `None` when the runner has no metrics collector (no usable cgroup).
    pub async fn metrics(&self) -> Result<Option<SystemMetrics>, RunnerClientError> {
        let path = "/api/metrics";
        let request = self.request(Method::GET, path);
        let response = request
            .send()
            .await
            .map_err(|source| RunnerClientError::Request { path, source })?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        decode(path, check_status(path, response).await?)
            .await
            .map(Some)
    }

    fn request(&self, method: Method, path_and_query: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path_and_query}", self.base_url))
            .timeout(CALL_TIMEOUT)
    }

    async fn send(
        &self,
        path: &'static str,
        request: RequestBuilder,
    ) -> Result<Response, RunnerClientError> {
        let response = request
            .send()
            .await
            .map_err(|source| RunnerClientError::Request { path, source })?;
        check_status(path, response).await
    }
}

async fn check_status(
    path: &'static str,
    response: Response,
) -> Result<Response, RunnerClientError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    Err(RunnerClientError::Status {
        path,
        status,
        body: body.trim().to_owned(),
    })
}

async fn read_body(path: &'static str, response: Response) -> Result<Vec<u8>, RunnerClientError> {
    response
        .bytes()
        .await
        .map(|bytes| bytes.to_vec())
        .map_err(|source| RunnerClientError::Request { path, source })
}

async fn decode<T: serde::de::DeserializeOwned>(
    path: &'static str,
    response: Response,
) -> Result<T, RunnerClientError> {
    let body = read_body(path, response).await?;
    serde_json::from_slice(&body).map_err(|source| RunnerClientError::Decode { path, source })
}

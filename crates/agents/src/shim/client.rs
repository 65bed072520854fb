//! [`ShimClient`]: the server's side of the shim API, one method per protocol step.

use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::instance::{
    ComponentInstallRequest, ComponentsResponse, HealthcheckResponse, InstanceHealthResponse,
    InstanceInfoResponse, ShutdownRequest,
};
use super::tasks::{TaskInfoResponse, TaskListResponse, TaskSubmitRequest, TaskTerminateRequest};

/// A failed call to the shim.
#[derive(Debug, thiserror::Error)]
pub enum ShimClientError {
    #[error("invalid shim address {address:?}: {source}")]
    Address {
        address: String,
        source: url::ParseError,
    },
    #[error("shim address {0:?} cannot carry a path")]
    AddressWithoutPath(String),
    #[error("calling the shim at {url} failed: {source}")]
    Transport { url: Url, source: reqwest::Error },
    /// The shim answered with an error status; its plain-text message is in `body`.
    #[error("the shim answered {url} with {status}: {body}")]
    Status {
        url: Url,
        status: StatusCode,
        body: String,
    },
    #[error("the shim's answer to {url} is not the expected JSON: {source}")]
    Decode { url: Url, source: serde_json::Error },
}

/// A client of one shim, reached at `base_url` (usually a forwarded loopback port).
#[derive(Debug, Clone)]
pub struct ShimClient {
    base_url: Url,
    http: reqwest::Client,
}

impl ShimClient {
    /// A client of the shim at `address`, e.g. `http://127.0.0.1:10998`.
    pub fn new(address: &str) -> Result<Self, ShimClientError> {
        Self::with_http_client(address, crate::http::plain_client())
    }

    /// The same, sharing an existing connection pool and its timeouts.
    pub fn with_http_client(address: &str, http: reqwest::Client) -> Result<Self, ShimClientError> {
        let base_url = Url::parse(address).map_err(|source| ShimClientError::Address {
            address: address.to_owned(),
            source,
        })?;
        if base_url.cannot_be_a_base() {
            return Err(ShimClientError::AddressWithoutPath(address.to_owned()));
        }
        Ok(Self { base_url, http })
    }

    /// `GET /api/healthcheck`: the shim's name and version.
    pub async fn healthcheck(&self) -> Result<HealthcheckResponse, ShimClientError> {
        self.call_json(Method::GET, &["api", "healthcheck"], None::<&()>)
            .await
    }

    /// `GET /api/instance/info`: the GPU vendor and driver version.
    pub async fn instance_info(&self) -> Result<InstanceInfoResponse, ShimClientError> {
        self.call_json(Method::GET, &["api", "instance", "info"], None::<&()>)
            .await
    }

    /// `GET /api/instance/health`: DCGM health where the host has it.
    pub async fn instance_health(&self) -> Result<InstanceHealthResponse, ShimClientError> {
        self.call_json(Method::GET, &["api", "instance", "health"], None::<&()>)
            .await
    }

    /// `GET /api/components`: the agent binaries on the host and their versions.
    pub async fn components(&self) -> Result<ComponentsResponse, ShimClientError> {
        self.call_json(Method::GET, &["api", "components"], None::<&()>)
            .await
    }

    /// `POST /api/components/install`: starts replacing a binary; poll [`Self::components`].
    pub async fn install_component(
        &self,
        request: &ComponentInstallRequest,
    ) -> Result<(), ShimClientError> {
        self.call(
            Method::POST,
            &["api", "components", "install"],
            Some(request),
        )
        .await
        .map(drop)
    }

    /// `POST /api/shutdown`: the shim exits and its supervisor restarts it.
    pub async fn shutdown(&self, force: bool) -> Result<(), ShimClientError> {
        self.call(
            Method::POST,
            &["api", "shutdown"],
            Some(&ShutdownRequest { force }),
        )
        .await
        .map(drop)
    }

    /// `GET /api/tasks`: every task, terminated ones included.
    pub async fn list_tasks(&self) -> Result<TaskListResponse, ShimClientError> {
        self.call_json(Method::GET, &["api", "tasks"], None::<&()>)
            .await
    }

    /// `POST /api/tasks`: submits and starts a task. Follow it with [`Self::get_task`]; the
    /// answer's body differs between shims and is not read.
    pub async fn submit_task(&self, request: &TaskSubmitRequest) -> Result<(), ShimClientError> {
        self.call(Method::POST, &["api", "tasks"], Some(request))
            .await
            .map(drop)
    }

    /// `GET /api/tasks/{id}`.
    pub async fn get_task(&self, id: &str) -> Result<TaskInfoResponse, ShimClientError> {
        self.call_json(Method::GET, &["api", "tasks", id], None::<&()>)
            .await
    }

    /// `POST /api/tasks/{id}/terminate`: stops the container; a reason the task already has
    /// is kept.
    pub async fn terminate_task(
        &self,
        id: &str,
        request: &TaskTerminateRequest,
    ) -> Result<TaskInfoResponse, ShimClientError> {
        self.call_json(
            Method::POST,
            &["api", "tasks", id, "terminate"],
            Some(request),
        )
        .await
    }

    /// `POST /api/tasks/{id}/remove`: removes a terminated task's container and forgets it.
    pub async fn remove_task(&self, id: &str) -> Result<(), ShimClientError> {
        self.call(Method::POST, &["api", "tasks", id, "remove"], None::<&()>)
            .await
            .map(drop)
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base_url.clone();
        // `new` refused addresses that cannot be a base, so the segments are always there.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&impl Serialize>,
    ) -> Result<T, ShimClientError> {
        let (url, bytes) = self.call(method, segments, body).await?;
        serde_json::from_slice(&bytes).map_err(|source| ShimClientError::Decode { url, source })
    }

    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&impl Serialize>,
    ) -> Result<(Url, Vec<u8>), ShimClientError> {
        let url = self.url(segments);
        let mut request = self.http.request(method, url.clone());
        if let Some(body) = body {
            request = request.json(body);
        }
        let transport = |source| ShimClientError::Transport {
            url: url.clone(),
            source,
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(ShimClientError::Status {
                url,
                status,
                body: String::from_utf8_lossy(&bytes).trim().to_owned(),
            });
        }
        Ok((url, bytes.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_joined_and_ids_escaped() {
        let client = ShimClient::new("http://127.0.0.1:10998").unwrap();
        assert_eq!(
            client.url(&["api", "tasks", "a/b c", "terminate"]).as_str(),
            "http://127.0.0.1:10998/api/tasks/a%2Fb%20c/terminate"
        );
        let behind_prefix = ShimClient::new("http://proxy/shim/").unwrap();
        assert_eq!(
            behind_prefix.url(&["api", "healthcheck"]).as_str(),
            "http://proxy/shim/api/healthcheck"
        );
    }

    #[test]
    fn addresses_that_cannot_carry_paths_are_refused() {
        assert!(matches!(
            ShimClient::new("localhost:10998"),
            Err(ShimClientError::AddressWithoutPath(_) | ShimClientError::Address { .. })
        ));
        assert!(matches!(
            ShimClient::new("not a url"),
            Err(ShimClientError::Address { .. })
        ));
    }
}

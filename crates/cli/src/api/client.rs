//! The HTTP transport: one connection pool, dstack's headers, its retries on connection
//! failures, and its error bodies turned into [`ApiError`]s.

use std::time::Duration;

use dstack_core::api::common::{ErrorBody, ErrorCode, ErrorDetail, ErrorItem};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The version the CLI announces in `X-API-VERSION`: the dstack release it speaks.
pub const API_VERSION: &str = "0.22.5";

/// How often a refused connection is tried before giving up, and how far apart (api.md §1.1).
const CONNECT_ATTEMPTS: u32 = 3;
const CONNECT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Why a call failed, in the terms the CLI prints.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server did not answer after dstack's retries.
    #[error("Failed to connect to dstack server {url}")]
    Connect {
        /// The server URL.
        url: String,
    },
    /// The server's TLS certificate was refused: not signed by a trusted CA, expired, or
    /// another host's. Not retried: trying again cannot change the answer.
    #[error(
        "The TLS certificate of {url} is not trusted: {reason}. For a private CA, set SSL_CERT_FILE to its certificate"
    )]
    Untrusted {
        /// The server URL.
        url: String,
        /// Why, in words.
        reason: String,
    },
    /// The HTTP client could not be built, e.g. no trusted certificates could be loaded from
    /// the system or from `SSL_CERT_FILE` / `SSL_CERT_DIR`.
    #[error("cannot set up the HTTP client")]
    Setup(#[source] reqwest::Error),
    /// 400 `resource_not_exists`.
    #[error("{0}")]
    NotFound(String),
    /// 400 `resource_exists`.
    #[error("{0}")]
    Exists(String),
    /// Any other 400 with one message: business errors and version skew.
    #[error("{0}")]
    Server(String),
    /// 401 or 403.
    #[error("Access to {url} is denied. Please check your access token")]
    Denied {
        /// The request URL.
        url: String,
    },
    /// 404 on a project path: the project does not exist.
    #[error("Project {project} does not exist at {server}")]
    ProjectNotFound {
        /// The project name.
        project: String,
        /// The server URL.
        server: String,
    },
    /// 404 elsewhere: the server does not serve this path.
    #[error("Status code 404 when requesting {url}")]
    UrlNotFound {
        /// The request URL.
        url: String,
    },
    /// 422: the server rejected the request body.
    #[error("Server validation error: {0}")]
    Validation(String),
    /// Anything else.
    #[error(
        "Unexpected error: status code {status} when requesting {url}. Check the server logs for backend issues"
    )]
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// The request URL.
        url: String,
    },
    /// A 200 body that does not match the model.
    #[error("cannot read the server's answer to {url}")]
    Decode {
        /// The request URL.
        url: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The request could not be sent or the answer not read, after connecting.
    #[error("request to {url} failed")]
    Transport {
        /// The request URL.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
}

impl ApiError {
    /// Whether the server answered that the resource does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound(_))
    }
}

/// A request body: JSON, none, or a multipart upload of one file named by its hash.
pub enum Body<'a> {
    /// No body and no content type, as dstack sends for some calls.
    None,
    /// A JSON document.
    Json(Vec<u8>),
    /// One file part named `file` whose file name is `name`.
    File {
        /// The multipart file name (dstack puts the content hash there).
        name: String,
        /// The content.
        bytes: &'a [u8],
    },
}

/// How long an idle connection is kept for reuse. Below uvicorn's 5 s keep-alive, so a poll
/// every 5 s never reuses a connection the server is closing at that moment.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(3);

/// A client of one server with one token.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base_url: String,
    token: String,
    api_version: String,
}

impl ApiClient {
    /// A client of `base_url` (trailing slashes dropped) that sends `token`; the version header
    /// is `DSTACK_CLIENT_API_VERSION` when set. HTTPS servers are checked against the system's
    /// trusted certificates, or those of `SSL_CERT_FILE` / `SSL_CERT_DIR` when set.
    pub fn new(base_url: &str, token: &str) -> Result<Self, ApiError> {
        let api_version =
            std::env::var("DSTACK_CLIENT_API_VERSION").unwrap_or_else(|_| API_VERSION.to_owned());
        // Reading the system's trusted certificates costs every run about 4 ms and 0.6 MiB
        // (hundreds of files), so only an https:// server gets them. A plain-HTTP client
        // trusts none, and says so if the server redirects it to https://.
        let builder = if base_url.starts_with("https://") {
            dstack_agents::http::client_builder()
        } else {
            dstack_agents::http::plain_client_builder()
                .redirect(reqwest::redirect::Policy::custom(refuse_https_redirect))
        };
        let http = builder
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build()
            .map_err(ApiError::Setup)?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            api_version,
        })
    }

    /// The server URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// POSTs `body` as JSON to `path` (which starts with `/api/`) and parses the answer.
    pub async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, ApiError> {
        let json = serde_json::to_vec(body).expect("request models always serialize");
        self.call(Method::POST, path, Body::Json(json)).await
    }

    /// POSTs with no body at all.
    pub async fn post_empty<R: DeserializeOwned>(&self, path: &str) -> Result<R, ApiError> {
        self.call(Method::POST, path, Body::None).await
    }

    /// Sends one request, retrying refused connections, and parses a 200 answer as `R`.
    pub async fn call<R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Body<'_>,
    ) -> Result<R, ApiError> {
        let url = format!("{}{path}", self.base_url);
        let mut attempt = 1;
        let response = loop {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(&self.token)
                .header("X-API-VERSION", &self.api_version);
            request = match &body {
                Body::None => request,
                Body::Json(json) => request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(json.clone()),
                Body::File { name, bytes } => {
                    let part =
                        reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.clone());
                    request.multipart(reqwest::multipart::Form::new().part("file", part))
                }
            };
            let sent = request.send().await;
            if let Some(reason) = sent.as_ref().err().and_then(certificate_error) {
                return Err(ApiError::Untrusted {
                    url: self.base_url.clone(),
                    reason: describe(reason),
                });
            }
            match sent {
                Ok(response) => break response,
                Err(error) if error.is_connect() && attempt < CONNECT_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(CONNECT_RETRY_DELAY).await;
                }
                Err(error) if error.is_connect() => {
                    return Err(ApiError::Connect {
                        url: self.base_url.clone(),
                    });
                }
                Err(source) => return Err(ApiError::Transport { url, source }),
            }
        };
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|source| ApiError::Transport {
                url: url.clone(),
                source,
            })?;
        if status == StatusCode::OK {
            return serde_json::from_slice(&bytes)
                .map_err(|source| ApiError::Decode { url, source });
        }
        Err(self.error_for(status, path, url, &bytes))
    }

    fn error_for(&self, status: StatusCode, path: &str, url: String, body: &[u8]) -> ApiError {
        match status {
            StatusCode::BAD_REQUEST => match serde_json::from_slice::<ErrorBody>(body) {
                Ok(ErrorBody {
                    detail: ErrorDetail::List(items),
                }) if items.len() == 1 => business_error(&items[0]),
                _ => ApiError::Unexpected {
                    status: status.as_u16(),
                    url,
                },
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ApiError::Denied { url },
            StatusCode::NOT_FOUND => match project_of(path) {
                Some(project) => ApiError::ProjectNotFound {
                    project: project.to_owned(),
                    server: self.base_url.clone(),
                },
                None => ApiError::UrlNotFound { url },
            },
            StatusCode::UNPROCESSABLE_ENTITY => {
                ApiError::Validation(String::from_utf8_lossy(body).into_owned())
            }
            _ => ApiError::Unexpected {
                status: status.as_u16(),
                url,
            },
        }
    }
}

/// Follows a plain-HTTP server's redirects (at most 10, as reqwest does) except to https://,
/// which that client cannot verify: the user should configure the https:// URL instead.
fn refuse_https_redirect(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    if attempt.url().scheme() == "https" {
        let message = format!(
            "the server redirects to {}: use the https:// URL",
            attempt.url()
        );
        attempt.error(message)
    } else if attempt.previous().len() >= 10 {
        attempt.error("too many redirects")
    } else {
        attempt.follow()
    }
}

/// The certificate problem behind a failed request, when that is what failed. rustls's error
/// sits inside (nested) I/O errors of the TLS handshake, whose `source()` skips the error they
/// wrap, so those are opened with `get_ref`.
fn certificate_error(error: &reqwest::Error) -> Option<&rustls::CertificateError> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(rustls::Error::InvalidCertificate(reason)) = error.downcast_ref() {
            return Some(reason);
        }
        current = match error.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
    }
    None
}

/// A certificate problem in words.
fn describe(reason: &rustls::CertificateError) -> String {
    match reason {
        rustls::CertificateError::UnknownIssuer => {
            "it is not signed by a trusted certificate authority".to_owned()
        }
        rustls::CertificateError::Expired => "it has expired".to_owned(),
        rustls::CertificateError::NotValidForName => "it is for another host name".to_owned(),
        other => other.to_string(),
    }
}

fn business_error(item: &ErrorItem) -> ApiError {
    let msg = item.msg.clone();
    match item.code {
        Some(ErrorCode::ResourceNotExists) => ApiError::NotFound(msg),
        Some(ErrorCode::ResourceExists) => ApiError::Exists(msg),
        _ => ApiError::Server(msg),
    }
}

/// The project a project-scoped path names: a 404 there means the project is missing.
fn project_of(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/api/project/")
        .or_else(|| path.strip_prefix("/api/projects/"))?;
    let (project, _) = rest.split_once('/')?;
    Some(project)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_paths_name_their_project() {
        assert_eq!(project_of("/api/project/main/runs/get"), Some("main"));
        assert_eq!(project_of("/api/projects/p3/get"), Some("p3"));
        assert_eq!(project_of("/api/projects/list"), None);
        assert_eq!(project_of("/api/runs/list"), None);
    }
}

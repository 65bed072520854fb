//! The HTTP client of the agents' plain-HTTP APIs (loopback ports and SSH-forwarded channels).

/// A client builder for the shim's and runner's APIs: it trusts no TLS certificates.
///
/// The workspace's reqwest has TLS, for the CLI's https:// servers, and its default verifier
/// reads the system's trusted certificates whenever a client is built: hundreds of files,
/// and an error (a panic in `reqwest::Client::new`) on a host with none. The agents speak plain
/// HTTP, so their clients need no certificates: building one never reads the disk nor fails.
pub fn plain_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_certs_only(Vec::new())
}

/// A client built by [`plain_client_builder`] with reqwest's defaults.
pub fn plain_client() -> reqwest::Client {
    plain_client_builder()
        .build()
        .expect("a client without certificates needs nothing from the system")
}

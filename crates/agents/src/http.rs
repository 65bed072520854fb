//! The one place the workspace builds HTTP clients: the CLI's (http:// or https://), the
//! agents' plain-HTTP APIs (loopback ports and SSH-forwarded channels), and the tests' and
//! benchmarks' clients.
//!
//! The workspace's reqwest has TLS without a built-in crypto provider (`rustls-no-provider`):
//! rustls uses ring, which russh already brings, instead of aws-lc-rs, whose start-up work
//! and code cost every CLI run memory (docs/performance.md). reqwest panics when it builds a client and no
//! process-wide provider is installed, so every client starts from [`client_builder`], which
//! installs ring's. `clippy.toml` forbids reqwest's own constructors.

use std::sync::Once;

/// A client builder that can speak TLS: ring is installed as the process's crypto provider
/// first, once. Its verifier reads the system's trusted certificates, or those of
/// `SSL_CERT_FILE` / `SSL_CERT_DIR`, when the client is built.
pub fn client_builder() -> reqwest::ClientBuilder {
    static INSTALL_PROVIDER: Once = Once::new();
    INSTALL_PROVIDER.call_once(|| {
        // An error means another provider is already the default: any will do.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    #[allow(clippy::disallowed_methods)] // the one sanctioned constructor
    reqwest::Client::builder()
}

/// A client builder for plain-HTTP servers (the shim's and runner's APIs): it trusts no TLS
/// certificates.
///
/// The default verifier reads the system's trusted certificates whenever a client is built:
/// hundreds of files, and an error on a host with none. A plain-HTTP client needs no
/// certificates, so building one never reads the disk nor fails.
pub fn plain_client_builder() -> reqwest::ClientBuilder {
    client_builder().tls_certs_only(Vec::new())
}

/// A client built by [`plain_client_builder`] with reqwest's defaults.
pub fn plain_client() -> reqwest::Client {
    plain_client_builder()
        .build()
        .expect("a client without certificates needs nothing from the system")
}

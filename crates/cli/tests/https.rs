//! Our `dstack` against an `https://` server: a TLS listener with a self-signed certificate
//! that answers every call with `[]`. Trusted through `SSL_CERT_FILE`, `dstack ps` works over
//! it; untrusted, the error names the certificate problem (and is not retried).

mod support;

use std::sync::{Arc, Mutex};

use support::dstack;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// The request lines the server saw.
type Seen = Arc<Mutex<Vec<String>>>;

/// Starts the server on a free loopback port in its own thread; returns the port.
fn start_server(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>, seen: Seen) -> u16 {
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("the certificate");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    // An untrusting client aborts the handshake; that is not an error here.
                    if let Ok(mut tls) = acceptor.accept(tcp).await {
                        let request = read_request(&mut tls).await;
                        if let Some(line) = request.lines().next() {
                            seen.lock().expect("lock").push(line.to_owned());
                        }
                        let response = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                        content-length: 2\r\nconnection: close\r\n\r\n[]";
                        let _ = tls.write_all(response.as_bytes()).await;
                        let _ = tls.shutdown().await;
                    }
                });
            }
        });
    });
    port
}

/// The head and body of one request (the body by its Content-Length).
async fn read_request<S: AsyncReadExt + Unpin>(stream: &mut S) -> String {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&buffer).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                return text;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&buffer).into_owned(),
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    }
}

#[test]
fn ps_works_over_https_with_a_trusted_certificate_and_names_an_untrusted_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
    let cert_file = home.join("cert.pem");
    std::fs::write(&cert_file, certified.cert.pem()).expect("write cert.pem");
    let no_dir = home.join("no-certs");
    std::fs::create_dir(&no_dir).expect("mkdir");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let seen = Seen::default();
    let port = start_server(certified.cert.der().clone(), key, seen.clone());
    let url = format!("https://localhost:{port}");
    let server = [
        ("DSTACK_SERVER_URL", url.as_str()),
        ("DSTACK_TOKEN", "token"),
        ("DSTACK_PROJECT", "main"),
    ];

    let trusting = [
        ("SSL_CERT_FILE", cert_file.to_str().expect("UTF-8")),
        ("SSL_CERT_DIR", no_dir.to_str().expect("UTF-8")),
    ];
    let envs: Vec<_> = server.iter().chain(&trusting).copied().collect();
    dstack(home, &["ps"], &envs).ok();
    let lines = seen.lock().expect("lock").clone();
    assert!(
        lines
            .first()
            .is_some_and(|line| line == "POST /api/runs/list HTTP/1.1"),
        "{lines:?}"
    );

    // Another self-signed certificate is the only root: the server's is not trusted.
    let other =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
    let other_file = home.join("other.pem");
    std::fs::write(&other_file, other.cert.pem()).expect("write other.pem");
    let untrusting = [
        ("SSL_CERT_FILE", other_file.to_str().expect("UTF-8")),
        ("SSL_CERT_DIR", no_dir.to_str().expect("UTF-8")),
    ];
    let envs: Vec<_> = server.iter().chain(&untrusting).copied().collect();
    let refused = dstack(home, &["ps"], &envs).failed();
    assert!(
        refused.starts_with(&format!("TLS error connecting to dstack server {url}: ")),
        "{refused}"
    );
    assert!(refused.contains("invalid peer certificate"), "{refused}");
}

//! Our CLI over HTTPS. A throwaway CA and server certificate are made with the `openssl` CLI,
//! and a TLS-terminating `socat` (both from `scripts/setup/50-tls-proxy.sh`) is put in front
//! of our server. `dstack ps` trusts the CA when `SSL_CERT_FILE` names it, and otherwise
//! fails on one line saying the certificate is not trusted. With TLS in the workspace's
//! reqwest, a server on a machine without trusted certificates still starts.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{ADMIN_TOKEN, Server, dstack, setup_path};

/// Runs `openssl` with `args` in `dir`, failing the test if it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new(setup_path("DSTACK_TEST_OPENSSL"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Makes the CA `<name>-ca.pem` in `dir`; with `server`, also `<name>-server.pem` and
/// `<name>-server.key` for 127.0.0.1, signed by it.
fn make_ca(dir: &Path, name: &str, server: bool) -> PathBuf {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let ca = format!("{name}-ca.pem");
    let ca_key = format!("{name}-ca.key");
    let subject = format!("/CN=dstack test CA {name}");
    openssl(
        dir,
        &[
            &["req", "-x509", "-days", "1", "-subj", &subject][..],
            &ec,
            &["-keyout", &ca_key, "-out", &ca],
            &["-addext", "basicConstraints=critical,CA:TRUE"],
            &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ]
        .concat(),
    );
    if server {
        let key = format!("{name}-server.key");
        let csr = format!("{name}-server.csr");
        let cert = format!("{name}-server.pem");
        let extensions = dir.join(format!("{name}-server.ext"));
        std::fs::write(
            &extensions,
            "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
        )
        .expect("write the extensions");
        openssl(
            dir,
            &[
                &["req", "-new", "-subj", "/CN=127.0.0.1"][..],
                &ec,
                &["-keyout", &key, "-out", &csr],
            ]
            .concat(),
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-days",
                "1",
                "-in",
                &csr,
                "-CA",
                &ca,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &cert,
                "-extfile",
            ]
            .iter()
            .copied()
            .chain([extensions.to_str().expect("a UTF-8 path")])
            .collect::<Vec<_>>(),
        );
    }
    dir.join(ca)
}

/// A `socat` terminating TLS on a local port and forwarding to a server; killed on drop.
struct TlsProxy {
    child: Child,
    port: u16,
}

impl TlsProxy {
    /// Listens on a free port with `dir`'s `<name>-server.pem` and forwards to `backend`.
    fn start(dir: &Path, name: &str, backend: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let listen = format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,verify=0,cert={name}-server.pem,key={name}-server.key"
        );
        let child = Command::new(setup_path("DSTACK_TEST_SOCAT"))
            .args([&listen, &format!("TCP:{backend}")])
            .current_dir(dir)
            .stdin(Stdio::null())
            .spawn()
            .expect("socat starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "socat never listened on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs our `dstack` against `url` with the admin token; `ca` becomes `SSL_CERT_FILE`, and
/// without it neither `SSL_CERT_FILE` nor `SSL_CERT_DIR` is set (the system store).
fn dstack_at(home: &Path, url: &str, ca: Option<&Path>, args: &[&str]) -> support::Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dstack"));
    command
        .args(args)
        .env("HOME", home)
        .env("DSTACK_SERVER_URL", url)
        .env("DSTACK_TOKEN", ADMIN_TOKEN)
        .env("DSTACK_PROJECT", "main")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .stdin(Stdio::null());
    if let Some(ca) = ca {
        command.env("SSL_CERT_FILE", ca);
    }
    let output = command.output().expect("dstack runs");
    support::Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn ps_over_https_trusts_only_the_configured_ca() {
    let home = tempfile::tempdir().expect("temp home");
    let server = Server::start(home.path());
    let certs = tempfile::tempdir().expect("temp dir for certificates");
    let ca = make_ca(certs.path(), "good", true);
    let other_ca = make_ca(certs.path(), "other", false);
    let backend = server
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let proxy = TlsProxy::start(certs.path(), "good", backend);
    let url = format!("https://127.0.0.1:{}", proxy.port);
    let home = home.path();

    let ps = dstack_at(home, &url, Some(&ca), &["ps"]).ok();
    assert!(
        ps.starts_with(" NAME  BACKEND  GPU  PRICE  STATUS  SUBMITTED"),
        "{ps}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&dstack_at(home, &url, Some(&ca), &["ps", "--json"]).ok())
            .expect("ps --json prints JSON");
    assert_eq!(json["project"], "main");

    for ca in [None, Some(other_ca.as_path())] {
        let refused = dstack_at(home, &url, ca, &["ps"]).failed();
        assert!(
            refused.starts_with(&format!("The TLS certificate of {url} is not trusted: ")),
            "{ca:?}: {refused}"
        );
        assert!(refused.contains("SSL_CERT_FILE"), "{refused}");
    }
}

/// Answers one request on a free port with a 307 redirect to `location`; returns the port.
fn redirect_once(location: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("an address").port();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("a connection");
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|read| read > 0) && line != "\r\n" {
            line.clear();
        }
        let answer = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let _ = reader.get_mut().write_all(answer.as_bytes());
    });
    port
}

#[test]
fn an_http_server_redirecting_to_https_is_named() {
    let home = tempfile::tempdir().expect("temp home");
    let location = "https://127.0.0.1:9/api/project/main/runs/list".to_owned();
    let port = redirect_once(location.clone());
    let url = format!("http://127.0.0.1:{port}");
    let refused = dstack_at(home.path(), &url, None, &["ps"]).failed();
    assert!(
        refused.ends_with(&format!(
            "the server redirects to {location}: use the https:// URL\n"
        )),
        "{refused}"
    );
}

#[test]
fn the_server_starts_without_trusted_certificates() {
    let home = tempfile::tempdir().expect("temp home");
    let empty = tempfile::tempdir().expect("an empty certificate directory");
    let missing = empty.path().join("missing.pem");
    let no_certificates = [
        ("SSL_CERT_FILE", missing.to_str().expect("a UTF-8 path")),
        ("SSL_CERT_DIR", empty.path().to_str().expect("a UTF-8 path")),
    ];
    // The pipelines build the agents' HTTP client at start; the local backend stays off.
    let mut server = Server::start_scheduling_with(
        home.path(),
        &[
            &no_certificates[..],
            &[("DSTACK_SERVER_LOCAL_BACKEND_DISABLED", "1")],
        ]
        .concat(),
    );
    dstack(home.path(), &["ps"], &no_certificates).ok();
    assert!(
        server
            .child
            .try_wait()
            .expect("the server's status")
            .is_none(),
        "the server exited"
    );
}

//! Connecting, commands, uploads, forwards, reconnects and failures of [`SshPool`].

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use dstack_server::connect::{
    ConnectError, KeyError, PoolSettings, SshError, SshKey, SshPool, SshTarget,
};

use crate::host::{Background, ClientKey, TestHost, generate_key};

pub const TIMEOUT: Duration = Duration::from_secs(20);

pub fn pool() -> SshPool {
    SshPool::new(PoolSettings {
        connect_timeout: Duration::from_secs(5),
        ..PoolSettings::default()
    })
}

pub fn target(host: &TestHost, key: &ClientKey) -> SshTarget {
    SshTarget::new(
        &host.address,
        22,
        "root",
        SshKey::parse(&key.private).expect("key"),
    )
}

#[tokio::test]
async fn runs_a_command_with_ed25519_and_rsa_keys() {
    let host = TestHost::start();
    let rsa = generate_key("rsa");
    host.authorize(&rsa);
    let pool = pool();
    for key in [&host.key, &rsa] {
        let output = pool
            .run(
                &target(&host, key),
                "echo out; echo err >&2; exit 3",
                TIMEOUT,
            )
            .await
            .unwrap_or_else(|error| panic!("{error}; sshd: {}", host.sshd_log()));
        assert_eq!(output.status, Some(3));
        assert_eq!(output.stdout_text(), "out");
        assert_eq!(output.stderr_text(), "err");
    }
}

#[tokio::test]
async fn feeds_stdin_and_times_out() {
    let host = TestHost::start();
    let pool = pool();
    let target = target(&host, &host.key);
    let output = pool
        .run_with_input(&target, "tr a-z A-Z", b"hello", TIMEOUT)
        .await
        .expect("tr");
    assert_eq!(output.stdout_text(), "HELLO");
    let started = Instant::now();
    let error = pool
        .run(&target, "sleep 30", Duration::from_millis(500))
        .await
        .expect_err("sleep outlives its timeout");
    assert!(matches!(error, SshError::CommandTimedOut { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn uploads_a_file_with_its_mode() {
    let host = TestHost::start();
    let pool = pool();
    let target = target(&host, &host.key);
    let path = host.dir().join("dstack-tool");
    let contents: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    for mode in [0o750, 0o644] {
        pool.upload(&target, path.to_str().unwrap(), &contents, mode, TIMEOUT)
            .await
            .expect("upload");
        let metadata = std::fs::metadata(&path).expect("uploaded file");
        assert_eq!(metadata.permissions().mode() & 0o7777, mode);
        assert_eq!(std::fs::read(&path).unwrap(), contents);
    }
    let error = pool
        .upload(&target, "/nonexistent-dir/file", b"x", 0o644, TIMEOUT)
        .await
        .expect_err("no such directory");
    let message = error.to_string();
    assert!(matches!(error, SshError::Upload { .. }), "{message}");
    assert!(message.contains("/nonexistent-dir/file"), "{message}");
}

#[tokio::test]
async fn forwards_concurrent_http_over_one_connection() {
    let mut host = TestHost::start();
    let www = host.dir().join("www");
    std::fs::create_dir(&www).unwrap();
    std::fs::write(www.join("index.html"), "hello through ssh").unwrap();
    // Loopback of the namespace only: nothing but the SSH channel can reach it.
    let mut httpd = host.command("busybox");
    httpd
        .args(["httpd", "-f", "-p", "127.0.0.1:8080", "-h"])
        .arg(&www);
    let _httpd = Background::spawn(httpd);
    host.wait_listening(8080);

    let pool = pool();
    let target = target(&host, &host.key);
    let address = pool.forward(&target, 8080).expect("forward");
    assert_eq!(
        pool.forward(&target, 8080).unwrap(),
        address,
        "one listener per port"
    );
    let http = dstack_agents::http::plain_client();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let request = http.get(format!("http://{address}/index.html")).send();
        requests.spawn(async move { request.await?.text().await });
    }
    let bodies = requests.join_all().await;
    assert_eq!(bodies.len(), 50);
    for body in bodies {
        assert_eq!(body.expect("forwarded request"), "hello through ssh");
    }
    assert_eq!(
        host.ssh_connections(),
        1,
        "all requests share one SSH connection"
    );

    // A port nobody listens on: the connection is closed, not hung.
    let closed = pool.forward(&target, 8081).expect("forward");
    let error = http
        .get(format!("http://{closed}/"))
        .timeout(TIMEOUT)
        .send()
        .await
        .expect_err("nothing listens on 8081");
    assert!(!error.is_timeout(), "{error}");
}

#[tokio::test]
async fn reconnects_after_sshd_restarts() {
    let mut host = TestHost::start();
    let pool = pool();
    let target = target(&host, &host.key);
    pool.run(&target, "true", TIMEOUT)
        .await
        .expect("first command");
    host.restart_sshd();
    assert_eq!(host.ssh_connections(), 0);
    let output = pool
        .run(&target, "echo again", TIMEOUT)
        .await
        .expect("after restart");
    assert_eq!(output.stdout_text(), "again");
    assert_eq!(host.ssh_connections(), 1);

    // Forwards reconnect too; sshd's own port serves as the forwarded service here.
    let forward = pool.forward(&target, 22).expect("forward");
    host.restart_sshd();
    assert_eq!(read_banner(forward).await, "SSH-2.0-");
}

/// The first bytes a TCP server at `address` sends.
async fn read_banner(address: std::net::SocketAddr) -> String {
    use tokio::io::AsyncReadExt;
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let mut banner = [0u8; 8];
    tokio::time::timeout(TIMEOUT, stream.read_exact(&mut banner))
        .await
        .expect("banner in time")
        .expect("banner");
    String::from_utf8_lossy(&banner).into_owned()
}

#[tokio::test]
async fn notices_a_silently_dead_connection() {
    let host = TestHost::start();
    let pool = SshPool::new(PoolSettings {
        connect_timeout: Duration::from_secs(1),
        keepalive_interval: Duration::from_millis(200),
        keepalive_max: 2,
        ..PoolSettings::default()
    });
    let target = target(&host, &host.key);
    pool.connect(&target).await.expect("connect");
    host.cut_network();
    let started = Instant::now();
    let error = pool
        .run(&target, "true", Duration::from_secs(60))
        .await
        .expect_err("the host is cut off");
    assert!(
        matches!(
            error,
            SshError::Connect(ConnectError::TimedOut { .. } | ConnectError::Unreachable { .. })
        ),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn times_out_on_a_server_that_never_speaks() {
    // Accepts TCP connections and never answers, as a wedged host or a wrong port might.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let key = SshKey::parse(&generate_key("ed25519").private).unwrap();
    let pool = SshPool::new(PoolSettings {
        connect_timeout: Duration::from_millis(500),
        ..PoolSettings::default()
    });
    let started = Instant::now();
    let error = pool
        .connect(&SshTarget::new("127.0.0.1", port, "root", key))
        .await
        .expect_err("no SSH server there");
    assert!(
        matches!(
            error,
            ConnectError::TimedOut {
                stage: "exchanging keys",
                ..
            }
        ),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(silent);
}

#[test]
fn refuses_encrypted_and_unreadable_keys() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "a passphrase", "-f"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let encrypted = std::fs::read_to_string(&path).unwrap();
    assert!(matches!(
        SshKey::parse(&encrypted),
        Err(KeyError::Encrypted)
    ));
    assert!(matches!(
        SshKey::parse("not a key"),
        Err(KeyError::Unreadable(_))
    ));
}

#[tokio::test]
async fn stopped_sshd_is_unreachable_quickly_and_backs_off() {
    let mut host = TestHost::start();
    host.stop_sshd();
    // A back-off far longer than the test, so the second attempt surely falls within it.
    let pool = SshPool::new(PoolSettings {
        backoff_min: Duration::from_secs(600),
        ..PoolSettings::default()
    });
    let target = target(&host, &host.key);
    let started = Instant::now();
    let error = pool.connect(&target).await.expect_err("sshd is stopped");
    assert!(matches!(error, ConnectError::Unreachable { .. }), "{error}");
    assert!(error.to_string().contains(&host.address), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Within the back-off the last error comes back without a new attempt, even though sshd
    // is up again.
    host.start_sshd();
    let error = pool.connect(&target).await.expect_err("in back-off");
    assert!(matches!(error, ConnectError::Unreachable { .. }), "{error}");
    assert_eq!(host.ssh_connections(), 0);
}

#[tokio::test]
async fn retries_after_the_backoff() {
    let mut host = TestHost::start();
    host.stop_sshd();
    let pool = SshPool::new(PoolSettings {
        backoff_min: Duration::from_millis(200),
        ..PoolSettings::default()
    });
    let target = target(&host, &host.key);
    pool.connect(&target).await.expect_err("sshd is stopped");
    host.start_sshd();
    let deadline = Instant::now() + TIMEOUT;
    let mut ticks = tokio::time::interval(Duration::from_millis(50));
    while let Err(error) = pool.connect(&target).await {
        assert!(Instant::now() < deadline, "still failing: {error}");
        ticks.tick().await;
    }
}

#[tokio::test]
async fn refuses_a_key_that_is_not_authorized() {
    let host = TestHost::start();
    let pool = pool();
    let stranger = generate_key("ed25519");
    let error = pool
        .connect(&target(&host, &stranger))
        .await
        .expect_err("key not authorized");
    match &error {
        ConnectError::AuthRefused { user, key_type, .. } => {
            assert_eq!(user, "root");
            assert_eq!(key_type, "ssh-ed25519");
        }
        other => panic!("expected an auth error, got {other}"),
    }
    assert!(error.to_string().contains("root"), "{error}");
}

#[tokio::test]
async fn refuses_a_changed_host_key_until_the_host_is_removed() {
    let mut host = TestHost::start();
    let pool = pool();
    let target = target(&host, &host.key);
    pool.connect(&target).await.expect("first contact");
    host.new_host_key();
    host.restart_sshd();
    let error = pool
        .run(&target, "true", TIMEOUT)
        .await
        .expect_err("key changed");
    assert!(
        matches!(
            error,
            SshError::Connect(ConnectError::HostKeyChanged { .. })
        ),
        "{error}"
    );
    assert!(error.to_string().contains("SHA256:"), "{error}");
    pool.remove(&target).await;
    pool.connect(&target)
        .await
        .expect("a removed host is trusted anew");
}

#[tokio::test]
async fn reaches_a_host_through_a_jump_host() {
    let jump = TestHost::start();
    let hidden = TestHost::start_behind(&jump);
    let pool = pool();
    let through_jump = target(&hidden, &hidden.key).via(target(&jump, &jump.key));
    let output = pool
        .run(&through_jump, "ip -o -4 addr show", TIMEOUT)
        .await
        .unwrap_or_else(|error| panic!("{error}; jump sshd: {}", jump.sshd_log()));
    assert!(
        output.stdout_text().contains(&hidden.address),
        "{}",
        output.stdout_text()
    );
    assert_eq!(jump.ssh_connections(), 1);
    assert_eq!(hidden.ssh_connections(), 1);
}

#[tokio::test]
async fn closes_idle_connections_and_removed_hosts() {
    let host = TestHost::start();
    let pool = SshPool::new(PoolSettings {
        idle_timeout: Duration::from_millis(200),
        ..PoolSettings::default()
    });
    let target = target(&host, &host.key);
    pool.connect(&target).await.expect("connect");
    wait_for_connections(&host, 0).await;

    let address = pool.forward(&target, 22).expect("forward");
    pool.connect(&target).await.expect("connect again");
    assert_eq!(host.ssh_connections(), 1);
    pool.remove(&target).await;
    wait_for_connections(&host, 0).await;
    // The listener closes once its task is cancelled, which the runtime does shortly after.
    let deadline = Instant::now() + TIMEOUT;
    while tokio::net::TcpStream::connect(address).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the forward of a removed host still listens"
        );
        tokio::task::yield_now().await;
    }
}

async fn wait_for_connections(host: &TestHost, expected: usize) {
    let deadline = Instant::now() + TIMEOUT;
    let mut ticks = tokio::time::interval(Duration::from_millis(50));
    loop {
        ticks.tick().await;
        let count = host.ssh_connections();
        if count == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{count} SSH connections, expected {expected}"
        );
    }
}

//! The real `dstack server` binary: first-start output, the client config it writes, and a
//! clean stop on SIGTERM.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{ADMIN_TOKEN, Server};

fn healthcheck(address: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connect");
    write!(
        stream,
        "GET /healthcheck HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

#[test]
fn first_start_prints_the_token_and_url_and_configures_main() {
    let home = tempfile::tempdir().expect("temp home");
    let mut server = Server::start(home.path());
    let output = server.startup_lines.join("\n");
    assert!(
        output.contains(r" \__,_|___/\__\__,_|"),
        "the logo comes first:\n{output}"
    );
    assert!(
        output.contains("Initialized the default configuration at"),
        "{output}"
    );
    assert!(
        output.contains("Configured the main project in"),
        "{output}"
    );
    assert!(
        output.contains(&format!("The admin token is {ADMIN_TOKEN}")),
        "{output}"
    );
    let last = server.startup_lines.last().expect("a line");
    assert!(
        last.contains("The dstack server 0.22.5 is running at http://127.0.0.1:"),
        "{last}"
    );
    let url = server.url.clone();

    let address = url.trim_start_matches("http://");
    let response = healthcheck(address);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with(r#"{"status":"running"}"#), "{response}");

    let config = std::fs::read_to_string(home.path().join(".dstack/config.yml"))
        .expect("~/.dstack/config.yml");
    assert_eq!(
        config,
        format!("projects:\n- default: true\n  name: main\n  token: {ADMIN_TOKEN}\n  url: {url}\n")
    );
    assert!(home.path().join(".dstack/server/config.yml").exists());
    assert!(home.path().join(".dstack/server/data/sqlite.db").exists());

    let pid = server.child.id().to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

//! The real `dstack server` binary: first-start output, the client config it writes, and a
//! clean stop on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TOKEN: &str = "cli-test-admin-token";

/// Stops the child even when an assertion fails first.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads stdout lines until one contains "is running at", with a deadline.
fn lines_until_running(child: &mut Child) -> Vec<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    loop {
        let line = receiver
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| {
                panic!("no 'is running at' line ({e}); got:\n{}", lines.join("\n"))
            });
        let done = line.contains("is running at");
        lines.push(line);
        if done {
            return lines;
        }
    }
}

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
    let child = Command::new(env!("CARGO_BIN_EXE_dstack"))
        .args(["server", "--port", "0"])
        .env("HOME", home.path())
        .env("DSTACK_SERVER_ADMIN_TOKEN", TOKEN)
        .env_remove("DSTACK_DATABASE_URL")
        .env_remove("DSTACK_SERVER_DIR")
        .env_remove("DSTACK_SERVER_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("dstack server starts");
    let mut server = Server(child);
    let lines = lines_until_running(&mut server.0);
    let output = lines.join("\n");
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
        output.contains(&format!("The admin token is {TOKEN}")),
        "{output}"
    );
    let last = lines.last().expect("a line");
    let url = last
        .split("is running at ")
        .nth(1)
        .expect("a URL")
        .trim()
        .to_owned();
    assert!(
        last.contains("The dstack server 0.22.5 is running at http://127.0.0.1:"),
        "{last}"
    );

    let address = url.trim_start_matches("http://");
    let response = healthcheck(address);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with(r#"{"status":"running"}"#), "{response}");

    let config = std::fs::read_to_string(home.path().join(".dstack/config.yml"))
        .expect("~/.dstack/config.yml");
    assert_eq!(
        config,
        format!("projects:\n- default: true\n  name: main\n  token: {TOKEN}\n  url: {url}\n")
    );
    assert!(home.path().join(".dstack/server/config.yml").exists());
    assert!(home.path().join(".dstack/server/data/sqlite.db").exists());

    let pid = server.0.id().to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.0.try_wait().expect("wait") {
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

//! Starting the real `dstack server` binary of this workspace for the integration tests.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The admin token every test server starts with.
pub const ADMIN_TOKEN: &str = "cli-test-admin-token";

/// A running `dstack server`, stopped even when an assertion fails first.
pub struct Server {
    pub child: Child,
    /// Everything it printed up to and including the "is running at" line.
    pub startup_lines: Vec<String>,
    /// The URL from the "is running at" line.
    pub url: String,
}

impl Server {
    /// Starts `dstack server --port 0` with `home` as HOME and a SQLite database under it,
    /// and waits until it says where it runs.
    pub fn start(home: &Path) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_dstack"))
            .args(["server", "--port", "0"])
            .env("HOME", home)
            .env("DSTACK_SERVER_ADMIN_TOKEN", ADMIN_TOKEN)
            .env_remove("DSTACK_DATABASE_URL")
            .env_remove("DSTACK_SERVER_DIR")
            .env_remove("DSTACK_SERVER_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dstack server starts");
        let mut server = Server {
            child,
            startup_lines: Vec::new(),
            url: String::new(),
        };
        server.startup_lines = lines_until_running(&mut server.child);
        let last = server.startup_lines.last().expect("a line");
        server.url = last
            .split("is running at ")
            .nth(1)
            .expect("a URL")
            .trim()
            .to_owned();
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

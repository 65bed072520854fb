//! Starting servers for the integration tests: the `dstack server` of this workspace, or the
//! reference dstack 0.22.5 server from PyPI; and running our `dstack` binary against them.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod git_remote;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The admin token every test server starts with.
pub const ADMIN_TOKEN: &str = "cli-test-admin-token";

/// A running server, stopped even when an assertion fails first.
pub struct Server {
    pub child: Child,
    /// Everything it printed up to and including the "is running at" line.
    pub startup_lines: Vec<String>,
    /// The URL from the "is running at" line.
    pub url: String,
    /// HOME of a server with the local backend, whose shims are stopped with it.
    shims_of: Option<std::path::PathBuf>,
}

impl Server {
    /// Starts `dstack server --port 0` with `home` as HOME and a SQLite database under it,
    /// and waits until it says where it runs. It serves the API alone: runs stay as the API
    /// leaves them and plans offer only fleets ([`Server::start_scheduling`] runs them).
    pub fn start(home: &Path) -> Self {
        let mut command = Self::ours(home);
        command
            .env("DSTACK_SERVER_BACKGROUND_PROCESSING_DISABLED", "1")
            .env("DSTACK_SERVER_LOCAL_BACKEND_DISABLED", "1");
        Self::spawn(command, home)
    }

    /// Starts our server with its pipelines and the local backend, whose slices run the
    /// workspace's shim (`DSTACK_TEST_SHIM`) and static runner (`DSTACK_TEST_STATIC_RUNNER`).
    pub fn start_scheduling(home: &Path) -> Self {
        Self::start_scheduling_with(home, &[])
    }

    /// [`Server::start_scheduling`] with more variables for the server (and its shims).
    pub fn start_scheduling_with(home: &Path, envs: &[(&str, &str)]) -> Self {
        let mut command = Self::ours(home);
        command.envs(envs.iter().copied());
        // `-y`: a restarted server points `main` in config.yml at its new port.
        command
            .arg("-y")
            .env("DSTACK_SERVER_SHIM_BINARY", setup_path("DSTACK_TEST_SHIM"))
            .env(
                "DSTACK_SERVER_RUNNER_BINARY",
                setup_path("DSTACK_TEST_STATIC_RUNNER"),
            )
            .env_remove("DSTACK_SERVER_BACKGROUND_PROCESSING_DISABLED")
            .env_remove("DSTACK_SERVER_LOCAL_BACKEND_DISABLED");
        let mut server = Self::spawn(command, home);
        server.shims_of = Some(home.to_owned());
        server
    }

    /// Kills the server the way a crash does, leaving its local shims (and their jobs)
    /// running for the next server on the same state.
    pub fn crash(mut self) {
        self.shims_of = None;
    }

    fn ours(home: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dstack"));
        command
            .args(["server", "--port", "0"])
            .current_dir(home)
            .env("DSTACK_SERVER_ADMIN_TOKEN", ADMIN_TOKEN)
            .env_remove("DSTACK_DATABASE_URL")
            .env_remove("DSTACK_SERVER_DIR")
            .stderr(Stdio::inherit());
        command
    }

    /// Starts the reference dstack 0.22.5 server (`DSTACK_TEST_PYTHON_SERVER`, installed by
    /// `scripts/setup/40-dstack-server.sh`) on a free port, with `home` as HOME: it writes
    /// the `main` project with [`ADMIN_TOKEN`] to `home/.dstack/config.yml`.
    pub fn start_reference(home: &Path) -> Self {
        let executable = setup_path("DSTACK_TEST_PYTHON_SERVER");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        // Its log lines go to stderr; one stream keeps them in order.
        let mut command = Command::new("sh");
        command
            .args(["-c", r#"exec "$0" server --port "$1" -y 2>&1"#])
            .arg(executable)
            .arg(port.to_string())
            .env("DSTACK_SERVER_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("COLUMNS", "200")
            .env_remove("DSTACK_DATABASE_URL")
            .env_remove("DSTACK_SERVER_DIR");
        let server = Self::spawn(command, home);
        // It logs the URL during startup, before uvicorn accepts connections.
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the reference server never listened"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn spawn(mut command: Command, home: &Path) -> Self {
        let child = command
            .env("HOME", home)
            .env_remove("DSTACK_SERVER_URL")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let mut server = Server {
            child,
            startup_lines: Vec::new(),
            url: String::new(),
            shims_of: None,
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
        // The local backend's shims outlive their server on purpose; a test's do not.
        if let Some(home) = &self.shims_of {
            let pattern = format!("--shim-home {}/", home.display());
            let _ = Command::new("pkill").args(["-f", "--", &pattern]).status();
        }
    }
}

/// A path the setup scripts export; the test fails, never skips, without it.
pub fn setup_path(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run scripts/test (it sources scripts/setup/)")
    })
}

/// Reads stdout lines until one contains "is running at", with a deadline.
fn lines_until_running(child: &mut Child) -> Vec<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        // Keeps draining after the startup lines, so the server never writes to a closed pipe.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let mut lines = Vec::new();
    loop {
        let line = receiver
            .recv_timeout(Duration::from_secs(120))
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

/// What one run of our `dstack` printed.
pub struct Run {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout, after checking the command succeeded.
    pub fn ok(self) -> String {
        assert!(self.status.success(), "{self}");
        self.stdout
    }

    /// stderr, after checking the command failed with exit 1 and one line, no backtrace.
    pub fn failed(self) -> String {
        assert_eq!(self.status.code(), Some(1), "{self}");
        assert_eq!(self.stderr.lines().count(), 1, "one line on stderr: {self}");
        assert!(!self.stderr.contains("panicked"), "{self}");
        self.stderr
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs our `dstack` with `home` as HOME, no `DSTACK_*` variables unless `envs` sets them,
/// and stdin closed.
pub fn dstack(home: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_dstack"))
        .args(args)
        .env("HOME", home)
        .env_remove("DSTACK_PROJECT")
        .env_remove("DSTACK_SERVER_URL")
        .env_remove("DSTACK_TOKEN")
        .envs(envs.iter().copied())
        .current_dir(home)
        .stdin(Stdio::null())
        .output()
        .expect("dstack runs");
    Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The run named `name` as `dstack ps -a --json` lists it, if any.
pub fn run_json(home: &Path, name: &str) -> Option<serde_json::Value> {
    let listing: serde_json::Value =
        serde_json::from_str(&dstack(home, &["ps", "-a", "--json"], &[]).ok()).expect("json");
    listing["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .find(|run| run["run_spec"]["run_name"] == name)
        .cloned()
}

/// The table row whose first cell is `name`, if any.
pub fn row<'a>(table: &'a str, name: &str) -> Option<&'a str> {
    table
        .lines()
        .find(|line| line.split_whitespace().next() == Some(name))
}

/// Writes `<name>.dstack.yml` in `home`: a task with `fields` (YAML lines, each ending in a
/// newline) and `commands`.
pub fn write_task(home: &Path, name: &str, fields: &str, commands: &[&str]) -> std::path::PathBuf {
    let commands: String = commands
        .iter()
        .map(|command| {
            format!(
                "  - {}\n",
                serde_json::to_string(command).expect("a string")
            )
        })
        .collect();
    let path = home.join(format!("{name}.dstack.yml"));
    let yaml = format!("type: task\nname: {name}\n{fields}commands:\n{commands}");
    std::fs::write(&path, yaml).expect("write the configuration");
    path
}

//! Our `dstack` in a real terminal (tmux) against the reference dstack 0.22.5 server: the
//! apply prompt answered with a key press, and `ps -w` redrawing as runs appear.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Server, dstack, setup_path};

/// A tmux server of its own (`-L`), killed with the test.
struct Tmux {
    tmux: String,
    socket: String,
}

impl Tmux {
    /// Starts a detached 200x50 session `main` running `command` in `home`; the pane stays
    /// open after the command exits, showing its exit status.
    fn start(home: &Path, command: &str) -> Self {
        let tmux = Self {
            tmux: setup_path("DSTACK_TEST_TMUX"),
            socket: format!("dstack-cli-test-{}", std::process::id()),
        };
        let shell = format!("{command}; echo \"exit status $?\"; read _");
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            "200",
            "-y",
            "50",
            "-c",
            &home.display().to_string(),
            "-e",
            &format!("HOME={}", home.display()),
            "-e",
            &format!("PATH={}", std::env::var("PATH").unwrap_or_default()),
            &shell,
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let output = Command::new(&self.tmux)
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux runs");
        assert!(output.status.success(), "tmux {args:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn screen(&self, target: &str) -> String {
        self.run(&["capture-pane", "-p", "-t", target])
    }

    /// Polls the pane until `predicate` holds, with a deadline; returns that screen.
    fn wait_for(&self, target: &str, what: &str, predicate: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let screen = self.screen(target);
            if predicate(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new(&self.tmux)
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn apply_prompts_in_a_terminal_and_ps_watch_redraws() {
    let home = tempfile::tempdir().expect("temp home");
    let _server = Server::start_reference(home.path());
    let home = home.path();
    std::fs::write(
        home.join("task.dstack.yml"),
        "type: task\nname: tty-task\ncommands:\n  - echo hello\n",
    )
    .expect("write the task");
    let binary = env!("CARGO_BIN_EXE_dstack");
    let tmux = Tmux::start(home, &format!("{binary} apply -f task.dstack.yml"));

    let prompt = "Submit the run tty-task? [y/n]:";
    let screen = tmux.wait_for("main", "the prompt", |screen| screen.contains(prompt));
    assert!(screen.contains(" Project        main"), "{screen}");
    tmux.run(&["send-keys", "-t", "main", "y", "Enter"]);
    let screen = tmux.wait_for("main", "the end of the run", |screen| {
        screen.contains("exit status")
    });
    assert!(
        screen.contains("tty-task provisioning completed (failed)"),
        "{screen}"
    );
    assert!(screen.contains("exit status 1"), "{screen}");

    tmux.run(&[
        "new-window",
        "-t",
        "main",
        "-n",
        "watch",
        &format!("{binary} ps -a -w"),
    ]);
    tmux.wait_for("main:watch", "the runs table", |screen| {
        screen.contains("tty-task")
    });
    std::fs::write(
        home.join("second.dstack.yml"),
        "type: task\nname: tty-second\ncommands:\n  - echo hello\n",
    )
    .expect("write the task");
    dstack(home, &["apply", "-f", "second.dstack.yml", "-y", "-d"], &[]).ok();
    let screen = tmux.wait_for("main:watch", "the new run", |screen| {
        screen.contains("tty-second")
    });
    // Redrawn in place: the header appears once.
    assert_eq!(screen.matches("NAME").count(), 1, "{screen}");
}

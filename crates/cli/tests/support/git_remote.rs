//! A private git remote for the repo tests: a bare repository served by a real `sshd` on a
//! loopback port, readable only with a key the test made, and a checkout that tracks it.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The remote, its key, and a checkout of its `main` branch with one pushed commit.
pub struct GitRemote {
    sshd: Child,
    /// The SSH URL of the bare repository.
    pub url: String,
    /// The private key that can read it.
    pub key: PathBuf,
    /// A checkout whose `main` tracks `origin/main`.
    pub checkout: PathBuf,
}

impl GitRemote {
    /// Makes everything under `dir` and starts `sshd`.
    pub fn start(dir: &Path) -> Self {
        let key = dir.join("id_ed25519");
        let host_key = dir.join("host_key");
        for path in [&key, &host_key] {
            run(
                "ssh-keygen",
                dir,
                &["-q", "-t", "ed25519", "-N", "", "-f", path_str(path)],
            );
        }
        std::fs::copy(dir.join("id_ed25519.pub"), dir.join("authorized_keys"))
            .expect("authorized_keys");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
                 PidFile {}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
                 PermitRootLogin prohibit-password\n",
                host_key.display(),
                dir.join("authorized_keys").display(),
                dir.join("sshd.pid").display(),
            ),
        )
        .expect("sshd_config");
        let sshd = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f", path_str(&config)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd never listened");
            std::thread::sleep(Duration::from_millis(20));
        }

        let bare = dir.join("remote.git");
        run(
            "git",
            dir,
            &["init", "-q", "--bare", "-b", "main", path_str(&bare)],
        );
        let checkout = dir.join("work");
        std::fs::create_dir(&checkout).expect("checkout dir");
        git(&checkout, &["init", "-q", "-b", "main"]);
        git(&checkout, &["config", "user.name", "Test User"]);
        git(&checkout, &["config", "user.email", "test@example.com"]);
        std::fs::write(checkout.join("README.md"), "hello\n").expect("README");
        std::fs::write(checkout.join(".gitignore"), "*.log\n").expect(".gitignore");
        git(&checkout, &["add", "."]);
        git(&checkout, &["commit", "-q", "-m", "first"]);
        git(&checkout, &["remote", "add", "origin", path_str(&bare)]);
        git(&checkout, &["push", "-q", "-u", "origin", "main"]);
        let url = format!("ssh://root@127.0.0.1:{port}{}", bare.display());
        git(&checkout, &["remote", "set-url", "origin", &url]);
        Self {
            sshd,
            url,
            key,
            checkout,
        }
    }

    /// `git rev-parse origin/main` in the checkout.
    pub fn pushed_commit(&self) -> String {
        git(&self.checkout, &["rev-parse", "origin/main"])
            .trim()
            .to_owned()
    }
}

impl Drop for GitRemote {
    fn drop(&mut self) {
        let _ = self.sshd.kill();
        let _ = self.sshd.wait();
    }
}

/// Runs git in `dir` and returns its stdout, failing on a non-zero exit.
pub fn git(dir: &Path, args: &[&str]) -> String {
    run("git", dir, args)
}

fn run(program: &str, dir: &Path, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

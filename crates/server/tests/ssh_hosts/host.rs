//! Test hosts: a network namespace with its own sshd, reached from the test process over a
//! veth pair (or only from another test host's namespace, for jump host tests). Each host has
//! unique names and addresses and is torn down on drop. Needs root, `ip`, `ss` and `sshd`
//! (scripts/setup/40-sshd.sh installs them).
//!
//! The namespace shares the file system with the test process: files written on the host
//! land on this machine, and Docker's socket is the same. Only the directories where dstack
//! installs its agents ([`PRIVATE_DIRS`]) are the host's own: sshd runs in a mount namespace
//! with an overlay over each, so two hosts never see each other's shim, its pid file or its
//! state, as two real machines would not.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a test host may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How long processes get to exit on SIGTERM before SIGKILL.
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(10);

static NEXT_HOST: AtomicU32 = AtomicU32::new(0);

/// The directories each host sees its own copy of: the default agent directory and root's
/// home, which holds the shim's working directory. The machine's files show through; what
/// the host writes stays in its own upper directory ([`TestHost::private_path`]).
const PRIVATE_DIRS: [&str; 2] = ["/usr/local/bin", "/root"];

/// Mounts an overlay over each directory named after `--`, then runs the rest of the
/// arguments. Run by `sh -c` in a fresh mount namespace with `$0` the host's directory.
const MOUNT_PRIVATE_DIRS: &str = r#"set -e
while [ "$1" != -- ]; do
  upper="$0/private$1"; work="$0/overlay-work$1"
  mkdir -p "$upper" "$work"
  mount -t overlay overlay -o "lowerdir=$1,upperdir=$upper,workdir=$work" "$1"
  shift
done
shift
exec "$@""#;

/// A private key and its public line, as `ssh-keygen` writes them.
#[derive(Clone)]
pub struct ClientKey {
    /// The OpenSSH private key file's text.
    pub private: String,
    /// The `authorized_keys` line.
    pub public: String,
}

/// Generates a key pair of `kind` (`ed25519` or `rsa`) with `ssh-keygen`.
pub fn generate_key(kind: &str) -> ClientKey {
    let dir = TempDir::new().expect("temporary directory");
    let path = dir.path().join("key");
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", "dstack-test", "-f"])
        .arg(&path));
    ClientKey {
        private: read(&path),
        public: read(&path.with_extension("pub")),
    }
}

/// A network namespace running sshd as root on port 22.
pub struct TestHost {
    /// The namespace's name.
    pub netns: String,
    /// The address sshd listens on, as seen from the peer side.
    pub address: String,
    /// A key in `authorized_keys` for root.
    pub key: ClientKey,
    /// The namespace's end of the veth pair.
    interface: String,
    dir: TempDir,
    sshd: Option<Child>,
}

impl TestHost {
    /// A host that the test process reaches directly.
    pub fn start() -> Self {
        Self::create(None)
    }

    /// A host reached only from `jump`'s namespace.
    pub fn start_behind(jump: &TestHost) -> Self {
        Self::create(Some(&jump.netns))
    }

    fn create(peer_netns: Option<&str>) -> Self {
        let n = NEXT_HOST.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let netns = format!("dstack-test-{pid}-{n}");
        // Interface names have at most 15 bytes.
        let (outer, inner) = (
            format!("dk{}o{n}", pid % 100_000),
            format!("dk{}i{n}", pid % 100_000),
        );
        let subnet = format!("10.{}.{}", 64 + pid % 128, n % 256);
        let address = format!("{subnet}.2");
        run(Command::new("ip").args(["netns", "add", &netns]));
        let dir = TempDir::new().expect("temporary directory");
        let mut host = Self {
            netns,
            address,
            key: generate_key("ed25519"),
            interface: inner.clone(),
            dir,
            sshd: None,
        };
        run(Command::new("ip").args([
            "link", "add", &outer, "type", "veth", "peer", "name", &inner,
        ]));
        run(Command::new("ip").args(["link", "set", &inner, "netns", &host.netns]));
        let outer_side = |args: &[&str]| match peer_netns {
            Some(peer) => run(Command::new("ip")
                .args(["netns", "exec", peer, "ip"])
                .args(args)),
            None => run(Command::new("ip").args(args)),
        };
        if let Some(peer) = peer_netns {
            run(Command::new("ip").args(["link", "set", &outer, "netns", peer]));
        }
        outer_side(&["addr", "add", &format!("{subnet}.1/24"), "dev", &outer]);
        outer_side(&["link", "set", &outer, "up"]);
        host.ip(&[
            "addr",
            "add",
            &format!("{}/24", host.address),
            "dev",
            &inner,
        ]);
        host.ip(&["link", "set", &inner, "up"]);
        host.ip(&["link", "set", "lo", "up"]);
        // Sessions get their own home: `~` is private to the host and root's dotfiles on this
        // machine stay out of the way.
        std::fs::create_dir(host.path("home")).expect("home");
        host.new_host_key();
        std::fs::write(host.path("authorized_keys"), &host.key.public).expect("authorized_keys");
        std::fs::write(host.path("sshd_config"), host.sshd_config()).expect("sshd_config");
        host.start_sshd();
        host
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn sshd_config(&self) -> String {
        let dir = self.dir.path().display();
        format!(
            "Port 22\nListenAddress 0.0.0.0\nHostKey {dir}/host_key\n\
             AuthorizedKeysFile {dir}/authorized_keys {dir}/home/.ssh/authorized_keys\n\
             SetEnv HOME={dir}/home\nPidFile {dir}/sshd.pid\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
             AllowTcpForwarding yes\nLogLevel VERBOSE\n"
        )
    }

    fn ip(&self, args: &[&str]) {
        run(Command::new("ip")
            .args(["netns", "exec", &self.netns, "ip"])
            .args(args));
    }

    /// A command run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.netns, program]);
        command
    }

    /// Adds `key` to root's `authorized_keys`.
    pub fn authorize(&self, key: &ClientKey) {
        let path = self.path("authorized_keys");
        let mut keys = read(&path);
        keys.push_str(&key.public);
        std::fs::write(path, keys).expect("authorized_keys");
    }

    /// Replaces the host key; takes effect at the next sshd start.
    pub fn new_host_key(&self) {
        let path = self.path("host_key");
        std::fs::remove_file(&path).ok();
        std::fs::remove_file(path.with_extension("pub")).ok();
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&path));
    }

    /// Starts sshd, with the host's own view of [`PRIVATE_DIRS`], and waits until it listens.
    /// The overlays live only as long as the processes in sshd's mount namespace (sessions and
    /// what they start); a restarted sshd mounts the same upper directories again.
    pub fn start_sshd(&mut self) {
        assert!(self.sshd.is_none(), "sshd already runs in {}", self.netns);
        let log = std::fs::File::create(self.path("sshd.log")).expect("sshd log");
        let child = self
            .command("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(MOUNT_PRIVATE_DIRS)
            .arg(self.dir.path())
            .args(PRIVATE_DIRS)
            .args(["--", "/usr/sbin/sshd", "-D"])
            .arg("-f")
            .arg(self.path("sshd_config"))
            .arg("-E")
            .arg(self.path("sshd.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sshd");
        self.sshd = Some(child);
        self.wait_listening(22);
    }

    /// Kills sshd and every session it serves, as a crash or reboot of the host would.
    pub fn stop_sshd(&mut self) {
        self.kill_processes(|name| name.starts_with("sshd"));
        if let Some(mut child) = self.sshd.take() {
            child.wait().expect("wait for sshd");
        }
    }

    /// Kills and starts sshd again.
    pub fn restart_sshd(&mut self) {
        self.stop_sshd();
        self.start_sshd();
    }

    /// The processes in the namespace whose name `which` accepts.
    fn pids(&self, which: impl Fn(&str) -> bool) -> Vec<String> {
        let pids = output(Command::new("ip").args(["netns", "pids", &self.netns]));
        pids.split_whitespace()
            .filter(|pid| {
                let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                which(name.trim())
            })
            .map(str::to_owned)
            .collect()
    }

    /// How many processes named `name` run in the namespace.
    pub fn count_processes(&self, name: &str) -> usize {
        self.pids(|comm| comm == name).len()
    }

    fn kill_processes(&self, which: impl Fn(&str) -> bool) {
        signal(&self.pids(which), "-KILL");
    }

    /// Ends everything in the namespace: SIGTERM first, so that shells run their exit traps
    /// and remove their lock files (a SIGKILLed `pyenv rehash` once left one behind that made
    /// every bash on the machine wait a minute).
    fn terminate_all_processes(&self) {
        signal(&self.pids(|_| true), "-TERM");
        let deadline = Instant::now() + TERMINATE_TIMEOUT;
        while !self.pids(|_| true).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill_processes(|_| true);
    }

    /// Waits until something in the namespace listens on TCP `port`.
    pub fn wait_listening(&mut self, port: u16) {
        let deadline = Instant::now() + START_TIMEOUT;
        let filter = format!("sport = :{port}");
        loop {
            if let Some(child) = &mut self.sshd
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "sshd in {} exited with {status}: {}",
                    self.netns,
                    self.sshd_log()
                );
            }
            let listening = output(self.command("ss").args(["-Hltn", &filter]));
            if !listening.trim().is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nothing listens on port {port} in {}",
                self.netns
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Takes the namespace's network link down: packets are dropped without a reset, as when
    /// a host loses power or its network.
    pub fn cut_network(&self) {
        self.ip(&["link", "set", &self.interface, "down"]);
    }

    /// Established TCP connections to sshd.
    pub fn ssh_connections(&self) -> usize {
        output(
            self.command("ss")
                .args(["-Htn", "state", "established", "sport = :22"]),
        )
        .lines()
        .count()
    }

    /// sshd's log, for failure messages.
    pub fn sshd_log(&self) -> String {
        std::fs::read_to_string(self.path("sshd.log")).unwrap_or_default()
    }

    /// Root's home directory in SSH sessions (`HOME`).
    pub fn home(&self) -> PathBuf {
        self.path("home")
    }

    /// A directory private to this host (inside the shared file system).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where the file the host sees at `path`, under one of [`PRIVATE_DIRS`], lies on this
    /// machine once the host has written it.
    pub fn private_path(&self, path: &str) -> PathBuf {
        assert!(
            PRIVATE_DIRS.iter().any(|dir| path.starts_with(dir)),
            "{path} is not private to the host"
        );
        self.path("private").join(path.trim_start_matches('/'))
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        self.terminate_all_processes();
        if let Some(mut child) = self.sshd.take() {
            child.wait().ok();
        }
        // Deleting the namespace deletes its veth end and so the peer end too.
        Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status()
            .ok();
    }
}

/// A process running in a test host's namespace, killed on drop.
pub struct Background(Child);

impl Background {
    /// Starts `command` with its output discarded.
    pub fn spawn(mut command: Command) -> Self {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a background process");
        Self(child)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// Sends `signal` (`-TERM`, `-KILL`) to `pids`; one gone already is fine.
fn signal(pids: &[String], signal: &str) {
    if !pids.is_empty() {
        Command::new("kill")
            .arg(signal)
            .args(pids)
            .stderr(Stdio::null())
            .status()
            .ok();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

fn run(command: &mut Command) {
    let status = command.status().expect("run a command");
    assert!(status.success(), "{command:?} failed with {status}");
}

fn output(command: &mut Command) -> String {
    let output = command.output().expect("run a command");
    assert!(
        output.status.success(),
        "{command:?} failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

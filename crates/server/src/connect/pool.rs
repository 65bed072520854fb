//! [`SshPool`]: one shared SSH connection per host, and the operations over it.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use russh::Channel;
use russh::client::Msg;
use tokio::time::Instant;

use super::error::{ConnectError, SshError};
use super::exec::{self, CommandOutput};
use super::forward::{self, Forward};
use super::host_keys::HostKeyStore;
use super::session::{self, Session, SessionSettings};
use super::target::SshTarget;

/// Timeouts and limits of the pool.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// For TCP connect, key exchange and authentication, each.
    pub connect_timeout: Duration,
    /// A connection unused this long (no caller, no open forwarded connection) is closed.
    pub idle_timeout: Duration,
    /// The wait before the first retry after a failed connection; it doubles on each
    /// failure after.
    pub backoff_min: Duration,
    /// The longest wait between retries.
    pub backoff_max: Duration,
    /// How often an idle connection is probed.
    pub keepalive_interval: Duration,
    /// Unanswered probes after which the connection counts as dead.
    pub keepalive_max: usize,
}

impl Default for PoolSettings {
    /// dstack's values where it has them: a 10 s connect timeout (its deploy), the OpenSSH
    /// `ControlPersist 2m`, `ServerAliveInterval 10` and `ServerAliveCountMax 3`.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(10),
            keepalive_max: 3,
        }
    }
}

/// The server's SSH connections to hosts, keyed by [`SshTarget::id`]. Cheap to clone; every
/// clone shares the connections. Create it inside a Tokio runtime: it starts a task that
/// closes idle connections, which stops when the last clone is dropped.
#[derive(Clone)]
pub struct SshPool {
    inner: Arc<Inner>,
}

struct Inner {
    settings: PoolSettings,
    host_keys: Arc<HostKeyStore>,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

/// One host: its connection state and its forwards.
struct Host {
    target: SshTarget,
    link: tokio::sync::Mutex<Link>,
    last_used: Mutex<Instant>,
    forwards: Mutex<HashMap<u16, Forward>>,
}

/// The connection, or the last failure and when to try again.
#[derive(Default)]
struct Link {
    session: Option<Arc<Session>>,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<ConnectError>,
}

type SessionFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Arc<Session>, ConnectError>> + Send + 'a>>;

/// What kind of channel to open.
#[derive(Clone, Copy)]
enum Opening {
    Exec,
    Tcpip(u16),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl SshPool {
    /// An empty pool; nothing is connected until first used.
    pub fn new(settings: PoolSettings) -> Self {
        let sweep_every = (settings.idle_timeout / 2).max(Duration::from_millis(50));
        let inner = Arc::new(Inner {
            settings,
            host_keys: Arc::default(),
            hosts: Mutex::default(),
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(close_idle_sessions(weak, sweep_every));
        Self { inner }
    }

    /// Connects to `target` now if it is not connected yet: a reachability and login check.
    pub async fn connect(&self, target: &SshTarget) -> Result<(), ConnectError> {
        let host = self.inner.host(target);
        self.inner.session(host).await.map(drop)
    }

    /// Runs `command` on `target` through the user's shell and waits for it to exit, at most
    /// `timeout` (connecting included).
    pub async fn run(
        &self,
        target: &SshTarget,
        command: &str,
        timeout: Duration,
    ) -> Result<CommandOutput, SshError> {
        self.run_with_input(target, command, &[], timeout).await
    }

    /// Like [`Self::run`], writing `stdin` to the command's standard input.
    pub async fn run_with_input(
        &self,
        target: &SshTarget,
        command: &str,
        stdin: &[u8],
        timeout: Duration,
    ) -> Result<CommandOutput, SshError> {
        let host = self.inner.host(target);
        let work = async {
            let (_session, channel) = self.inner.open_channel(&host, Opening::Exec).await?;
            exec::run(channel, command, stdin)
                .await
                .map_err(|source| SshError::Channel {
                    host: target.login(),
                    source,
                })
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| SshError::CommandTimedOut {
                host: target.login(),
                command: command.to_owned(),
                timeout,
            })?
    }

    /// Writes `contents` to `path` on `target` with the permission bits `mode`. The file is
    /// written beside `path` and renamed over it, so a running binary can be replaced.
    ///
    /// Through `exec` of `cat` rather than SFTP: every host with a POSIX shell has it, while
    /// the SFTP subsystem is an sshd option that may be off.
    pub async fn upload(
        &self,
        target: &SshTarget,
        path: &str,
        contents: &[u8],
        mode: u32,
        timeout: Duration,
    ) -> Result<(), SshError> {
        let quoted = shell_quote(path);
        let temporary = shell_quote(&format!("{path}.dstack-upload"));
        let command = format!(
            "umask 077 && cat > {temporary} && chmod {mode:o} {temporary} && mv -f {temporary} {quoted}"
        );
        let output = self
            .run_with_input(target, &command, contents, timeout)
            .await?;
        if output.success() {
            return Ok(());
        }
        Err(SshError::Upload {
            host: target.login(),
            path: path.to_owned(),
            detail: format!("{}: {}", output.describe_exit(), output.stderr_text()),
        })
    }

    /// A loopback address whose TCP connections reach `127.0.0.1:port` on `target`, each over
    /// a new channel of the pooled connection. The listener lives until the host is removed
    /// or the pool dropped; it connects lazily, so this does not check that the host answers.
    pub fn forward(&self, target: &SshTarget, port: u16) -> Result<SocketAddr, SshError> {
        let host = self.inner.host(target);
        let mut forwards = lock(&host.forwards);
        if let Some(forward) = forwards.get(&port) {
            return Ok(forward.address());
        }
        let pool = Arc::downgrade(&self.inner);
        let weak_host = Arc::downgrade(&host);
        let label = format!("{} port {port}", target.login());
        let forward = forward::listen(label.clone(), move || {
            let pool = pool.clone();
            let host = weak_host.clone();
            let label = label.clone();
            async move {
                let (pool, host) = (pool.upgrade()?, host.upgrade()?);
                match pool.open_channel(&host, Opening::Tcpip(port)).await {
                    Ok(opened) => Some(opened),
                    Err(error) => {
                        tracing::warn!(forward = %label, %error, "cannot open a forwarded channel");
                        None
                    }
                }
            }
        })
        .map_err(|source| SshError::ForwardListener {
            host: target.login(),
            port,
            source,
        })?;
        let address = forward.address();
        forwards.insert(port, forward);
        Ok(address)
    }

    /// Closes the connection to `target` and its forwards and forgets its host key, as when
    /// the host leaves its fleet. Connections in flight through a forward finish first.
    pub async fn remove(&self, target: &SshTarget) {
        let removed = lock(&self.inner.hosts).remove(&target.id());
        if let Some(host) = removed {
            self.inner.close_host(&host).await;
        }
    }
}

impl Inner {
    /// The host entry of `target`, made if missing, or made again if the key changed.
    fn host(&self, target: &SshTarget) -> Arc<Host> {
        let mut hosts = lock(&self.hosts);
        let id = target.id();
        if let Some(host) = hosts.get(&id)
            && host.target.key.fingerprint() == target.key.fingerprint()
        {
            return Arc::clone(host);
        }
        let host = Arc::new(Host {
            target: target.clone(),
            link: tokio::sync::Mutex::default(),
            last_used: Mutex::new(Instant::now()),
            forwards: Mutex::default(),
        });
        // A replaced entry (new key) is dropped: its forwards stop, its session closes.
        hosts.insert(id, Arc::clone(&host));
        host
    }

    async fn close_host(&self, host: &Host) {
        lock(&host.forwards).clear();
        self.host_keys.forget(&host.target.host_key_name());
        let session = host.link.lock().await.session.take();
        if let Some(session) = session {
            session.close().await;
        }
    }

    /// The live session of `host`, connecting (and first its jump host) when there is none.
    /// Callers wait for one connection attempt in flight rather than start their own. During
    /// the back-off after a failure, the failure is returned without a new attempt.
    fn session(&self, host: Arc<Host>) -> SessionFuture<'_> {
        Box::pin(async move {
            *lock(&host.last_used) = Instant::now();
            let mut link = host.link.lock().await;
            if let Some(session) = &link.session {
                if !session.is_closed() {
                    return Ok(Arc::clone(session));
                }
                tracing::info!(host = %host.target.login(), "SSH connection lost; reconnecting");
                link.session = None;
            }
            if let (Some(retry_at), Some(error)) = (link.retry_at, &link.last_error)
                && Instant::now() < retry_at
            {
                return Err(error.clone());
            }
            let jump = match &host.target.proxy_jump {
                Some(jump) => Some(self.session(self.host(jump)).await?),
                None => None,
            };
            let settings = SessionSettings {
                connect_timeout: self.settings.connect_timeout,
                keepalive_interval: self.settings.keepalive_interval,
                keepalive_max: self.settings.keepalive_max,
            };
            match session::open(&host.target, jump, Arc::clone(&self.host_keys), &settings).await {
                Ok(session) => {
                    let session = Arc::new(session);
                    *link = Link {
                        session: Some(Arc::clone(&session)),
                        ..Link::default()
                    };
                    Ok(session)
                }
                Err(error) => {
                    link.failures = link.failures.saturating_add(1);
                    let delay = self.backoff(link.failures);
                    tracing::warn!(host = %host.target.login(), %error, retry_in = ?delay, "SSH connection failed");
                    link.retry_at = Some(Instant::now() + delay);
                    link.last_error = Some(error.clone());
                    Err(error)
                }
            }
        })
    }

    /// `backoff_min` doubled per failure after the first, at most `backoff_max`.
    fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        self.settings
            .backoff_min
            .saturating_mul(1 << doublings)
            .min(self.settings.backoff_max)
    }

    /// Opens a channel on the pooled session. A session that died unnoticed (the server
    /// restarted between two uses) is replaced once, as OpenSSH's ControlMaster users retry
    /// once with a new master.
    async fn open_channel(
        &self,
        host: &Arc<Host>,
        opening: Opening,
    ) -> Result<(Arc<Session>, Channel<Msg>), SshError> {
        let mut retried = false;
        loop {
            let session = self.session(Arc::clone(host)).await?;
            let opened = match opening {
                Opening::Exec => session.open_exec().await,
                Opening::Tcpip(port) => session.open_direct_tcpip("127.0.0.1", port).await,
            };
            match opened {
                Ok(channel) => return Ok((session, channel)),
                Err(error) if !retried && (session.is_closed() || is_dead_session(&error)) => {
                    tracing::info!(host = %host.target.login(), %error, "SSH connection found dead; reconnecting");
                    let mut link = host.link.lock().await;
                    if link
                        .session
                        .as_ref()
                        .is_some_and(|current| Arc::ptr_eq(current, &session))
                    {
                        link.session = None;
                    }
                    retried = true;
                }
                Err(source) => {
                    return Err(SshError::Channel {
                        host: host.target.login(),
                        source,
                    });
                }
            }
        }
    }

    /// Closes sessions idle longer than `idle_timeout` that no caller and no forwarded
    /// connection holds.
    async fn close_idle(&self) {
        let hosts: Vec<Arc<Host>> = lock(&self.hosts).values().cloned().collect();
        for host in hosts {
            if lock(&host.last_used).elapsed() < self.settings.idle_timeout {
                continue;
            }
            // A host being connected is in use; look again on the next sweep.
            let Ok(mut link) = host.link.try_lock() else {
                continue;
            };
            let idle = link
                .session
                .as_ref()
                .is_some_and(|session| Arc::strong_count(session) == 1);
            if let Some(session) = link.session.take_if(|_| idle) {
                drop(link);
                tracing::debug!(host = %host.target.login(), "closing an idle SSH connection");
                session.close().await;
            }
        }
    }
}

/// Errors that mean the connection under the channel is gone, not that the channel was
/// refused.
fn is_dead_session(error: &russh::Error) -> bool {
    matches!(
        error,
        russh::Error::SendError
            | russh::Error::Disconnect
            | russh::Error::HUP
            | russh::Error::ConnectionTimeout
            | russh::Error::KeepaliveTimeout
            | russh::Error::IO(_)
    )
}

async fn close_idle_sessions(pool: Weak<Inner>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    // A sweep that ran late needs no catching up: the next one sees the same state.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        pool.close_idle().await;
    }
}

/// `text` as one word for a POSIX shell.
pub(crate) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[tokio::test]
    async fn backoff_doubles_up_to_the_limit() {
        let pool = SshPool::new(PoolSettings {
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(5),
            ..PoolSettings::default()
        });
        let delays: Vec<u64> = (1..=5).map(|n| pool.inner.backoff(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 5, 5]);
    }
}

//! Local forwards: a loopback listener whose every accepted TCP connection is carried to a
//! port on the host over a new `direct-tcpip` channel of the pooled connection.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use russh::Channel;
use russh::client::Msg;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::session::Session;

/// The pause after a failed `accept`.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// A listening forward; dropping it stops accepting (connections in flight finish).
pub(crate) struct Forward {
    address: SocketAddr,
    accept_loop: JoinHandle<()>,
}

impl Forward {
    /// The loopback address to connect to.
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

/// Binds `127.0.0.1:0` and forwards each connection over the channel `open` returns; `open`
/// gives `None` when no channel can be had, and the connection is then closed at once, which
/// an HTTP client sees as a connection error.
pub(crate) fn listen<F, Fut>(label: String, open: F) -> std::io::Result<Forward>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<(Arc<Session>, Channel<Msg>)>> + Send + 'static,
{
    // Bound synchronously so that the pool can register the forward under its lock.
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let listener = TcpListener::from_std(listener)?;
    let open = Arc::new(open);
    let accept_loop = tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(forward = %label, %error, "accepting a forwarded connection failed");
                    // Out of file descriptors, typically: give connections time to close
                    // rather than spin on the same error.
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            };
            let open = Arc::clone(&open);
            let label = label.clone();
            tokio::spawn(async move {
                if let Some((session, channel)) = open().await {
                    carry(stream, session, channel, &label).await;
                }
            });
        }
    });
    Ok(Forward {
        address,
        accept_loop,
    })
}

async fn carry(mut stream: TcpStream, session: Arc<Session>, channel: Channel<Msg>, label: &str) {
    stream.set_nodelay(true).ok();
    let mut remote = channel.into_stream();
    if let Err(error) = tokio::io::copy_bidirectional(&mut stream, &mut remote).await {
        tracing::debug!(forward = %label, %error, "forwarded connection ended with an error");
    }
    // The session stays in use, and so is not closed as idle, until here.
    drop(session);
}

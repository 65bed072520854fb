//! One authenticated SSH connection: TCP or a jump host's `direct-tcpip` channel, the
//! handshake with the host key check, and public key authentication.

use std::sync::Arc;
use std::time::Duration;

use russh::client::{self, AuthResult, Handle, Msg};
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{Channel, ChannelStream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::error::ConnectError;
use super::host_keys::HostKeyStore;
use super::target::SshTarget;

/// An open, authenticated connection. Channels are opened on it concurrently.
pub(crate) struct Session {
    handle: Handle<Client>,
    /// The jump host's session this one runs over, kept so it is not closed as idle.
    _jump: Option<Arc<Session>>,
}

impl Session {
    /// Whether the connection has ended (the server went away or keepalives went unanswered).
    pub(crate) fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    pub(crate) async fn open_exec(&self) -> Result<Channel<Msg>, russh::Error> {
        self.handle.channel_open_session().await
    }

    pub(crate) async fn open_direct_tcpip(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Channel<Msg>, russh::Error> {
        self.handle
            .channel_open_direct_tcpip(host, port.into(), "127.0.0.1", 0)
            .await
    }

    /// Says goodbye to the server; the connection ends once the message is sent.
    pub(crate) async fn close(&self) {
        if let Err(error) = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await
        {
            tracing::debug!(%error, "disconnect of an SSH session that was already gone");
        }
    }
}

/// The russh client callbacks: only the host key check is ours.
struct Client {
    host: String,
    host_keys: Arc<HostKeyStore>,
}

/// The handler's error: the library's, or the host key check's refusal.
#[derive(Debug)]
enum ClientError {
    Ssh(russh::Error),
    HostKey(ConnectError),
}

impl From<russh::Error> for ClientError {
    fn from(error: russh::Error) -> Self {
        Self::Ssh(error)
    }
}

impl client::Handler for Client {
    type Error = ClientError;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data(),
            PublicKeyOrCertificate::Certificate(certificate) => certificate.public_key(),
        };
        self.host_keys
            .check(&self.host, key)
            .map_err(ClientError::HostKey)?;
        Ok(true)
    }
}

/// How sessions are opened.
pub(crate) struct SessionSettings {
    pub(crate) connect_timeout: Duration,
    pub(crate) keepalive_interval: Duration,
    pub(crate) keepalive_max: usize,
}

/// Opens a session to `target`, directly or over `jump` (already connected to the target's
/// jump host).
pub(crate) async fn open(
    target: &SshTarget,
    jump: Option<Arc<Session>>,
    host_keys: Arc<HostKeyStore>,
    settings: &SessionSettings,
) -> Result<Session, ConnectError> {
    let login = target.login();
    let timeout = settings.connect_timeout;
    let timed_out = |stage| ConnectError::TimedOut {
        host: login.clone(),
        stage,
        timeout,
    };
    let config = Arc::new(client::Config {
        keepalive_interval: Some(settings.keepalive_interval),
        keepalive_max: settings.keepalive_max,
        nodelay: true,
        ..Default::default()
    });
    let client = Client {
        host: target.host_key_name(),
        host_keys,
    };
    let handshake = match &jump {
        Some(jump_session) => {
            let channel = tokio::time::timeout(
                timeout,
                jump_session.open_direct_tcpip(&target.hostname, target.port),
            )
            .await
            .map_err(|_| timed_out("opening a channel through the jump host"))?
            .map_err(|error| ConnectError::UnreachableViaJump {
                host: login.clone(),
                jump: target
                    .proxy_jump
                    .as_ref()
                    .map(|j| j.login())
                    .unwrap_or_default(),
                reason: error.to_string(),
            })?;
            let stream: ChannelStream<Msg> = channel.into_stream();
            tokio::time::timeout(timeout, handshake(config, stream, client, &login))
                .await
                .map_err(|_| timed_out("exchanging keys"))??
        }
        None => {
            let address = (target.hostname.as_str(), target.port);
            let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
                .await
                .map_err(|_| timed_out("connecting"))?
                .map_err(|source| ConnectError::Unreachable {
                    host: login.clone(),
                    source: Arc::new(source),
                })?;
            stream.set_nodelay(true).ok();
            tokio::time::timeout(timeout, handshake(config, stream, client, &login))
                .await
                .map_err(|_| timed_out("exchanging keys"))??
        }
    };
    let mut session = Session {
        handle: handshake,
        _jump: jump,
    };
    tokio::time::timeout(timeout, authenticate(&mut session, target))
        .await
        .map_err(|_| timed_out("authenticating"))??;
    Ok(session)
}

async fn handshake<S>(
    config: Arc<client::Config>,
    stream: S,
    client: Client,
    login: &str,
) -> Result<Handle<Client>, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    client::connect_stream(config, stream, client)
        .await
        .map_err(|error| match error {
            ClientError::HostKey(error) => error,
            ClientError::Ssh(source) => ConnectError::Protocol {
                host: login.to_owned(),
                source: Arc::new(source),
            },
        })
}

async fn authenticate(session: &mut Session, target: &SshTarget) -> Result<(), ConnectError> {
    let protocol = |source| ConnectError::Protocol {
        host: target.login(),
        source: Arc::new(source),
    };
    let private = target.key.private();
    // RSA keys sign with the best hash the server offers (rsa-sha2-512/256, else ssh-rsa).
    let hash = if private.algorithm().is_rsa() {
        session
            .handle
            .best_supported_rsa_hash()
            .await
            .map_err(protocol)?
            .flatten()
    } else {
        None
    };
    let result = session
        .handle
        .authenticate_publickey(&target.user, PrivateKeyWithHashAlg::new(private, hash))
        .await
        .map_err(protocol)?;
    match result {
        AuthResult::Success => Ok(()),
        AuthResult::Failure { .. } => Err(ConnectError::AuthRefused {
            host: target.login(),
            user: target.user.clone(),
            key_type: target.key.algorithm(),
        }),
    }
}

//! Where a host is and how to log in: [`SshTarget`] and its [`SshKey`].

use std::fmt;
use std::sync::Arc;

use russh::keys::{HashAlg, PrivateKey};

/// Why a private key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not an OpenSSH or PEM private key we can read.
    #[error("the private key cannot be read: {0}")]
    Unreadable(String),
    /// The key is protected by a passphrase; hosts are reached without one.
    #[error("the private key is encrypted with a passphrase, which is not supported")]
    Encrypted,
}

/// A private key (RSA or Ed25519, OpenSSH or PEM format) for logging in to hosts.
#[derive(Clone)]
pub struct SshKey(Arc<PrivateKey>);

impl SshKey {
    /// Parses the text of a private key file.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        match russh::keys::decode_secret_key(text, None) {
            Ok(key) => Ok(Self(Arc::new(key))),
            Err(russh::keys::Error::KeyIsEncrypted) => Err(KeyError::Encrypted),
            Err(error) => Err(KeyError::Unreadable(error.to_string())),
        }
    }

    /// The key's algorithm as SSH names it, such as `ssh-ed25519` or `ssh-rsa`.
    pub fn algorithm(&self) -> String {
        self.0.algorithm().as_str().to_owned()
    }

    /// The public key's SHA-256 fingerprint, as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        self.0.public_key().fingerprint(HashAlg::Sha256).to_string()
    }

    pub(crate) fn private(&self) -> Arc<PrivateKey> {
        Arc::clone(&self.0)
    }
}

impl fmt::Debug for SshKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SshKey({} {})", self.algorithm(), self.fingerprint())
    }
}

/// One host to reach over SSH, possibly through a jump host.
#[derive(Debug, Clone)]
pub struct SshTarget {
    /// The hostname or IP address, as the jump host resolves it when there is one.
    pub hostname: String,
    /// The SSH port.
    pub port: u16,
    /// The user to log in as.
    pub user: String,
    /// The key to log in with.
    pub key: SshKey,
    /// The jump host to connect through, itself a target.
    pub proxy_jump: Option<Box<SshTarget>>,
}

impl SshTarget {
    /// A host reached directly.
    pub fn new(
        hostname: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        key: SshKey,
    ) -> Self {
        Self {
            hostname: hostname.into(),
            port,
            user: user.into(),
            key,
            proxy_jump: None,
        }
    }

    /// The same host reached through `jump`.
    pub fn via(mut self, jump: SshTarget) -> Self {
        self.proxy_jump = Some(Box::new(jump));
        self
    }

    /// The pool's key for this host: `user@host:port`, then ` via ` and the jump host's.
    pub fn id(&self) -> String {
        match &self.proxy_jump {
            Some(jump) => format!("{} via {}", self.login(), jump.id()),
            None => self.login(),
        }
    }

    /// `user@host:port`, for messages.
    pub fn login(&self) -> String {
        format!("{}@{}", self.user, self.address())
    }

    /// `host:port`, then ` via ` and the jump host's address: the name its host key is
    /// remembered under (two private networks behind different jump hosts may reuse an
    /// address).
    pub fn host_key_name(&self) -> String {
        match &self.proxy_jump {
            Some(jump) => format!("{} via {}", self.address(), jump.host_key_name()),
            None => self.address(),
        }
    }

    fn address(&self) -> String {
        if self.hostname.contains(':') {
            format!("[{}]:{}", self.hostname, self.port)
        } else {
            format!("{}:{}", self.hostname, self.port)
        }
    }
}

//! Trust on first use: the first host key seen for a host is the only one accepted after.

use std::collections::HashMap;
use std::sync::Mutex;

use russh::keys::HashAlg;
use russh::keys::ssh_key::public::KeyData;

use super::error::ConnectError;

/// Host keys seen so far, by [`super::SshTarget::host_key_name`]. Kept in memory: a server
/// restart trusts each host's key again on first contact.
#[derive(Debug, Default)]
pub struct HostKeyStore {
    keys: Mutex<HashMap<String, KeyData>>,
}

impl HostKeyStore {
    /// Accepts `key` for `host` if it is the first key seen for it or the same as that one.
    pub fn check(&self, host: &str, key: &KeyData) -> Result<(), ConnectError> {
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        match keys.get(host) {
            None => {
                tracing::info!(host, fingerprint = %key.fingerprint(HashAlg::Sha256), "host key trusted on first use");
                keys.insert(host.to_owned(), key.clone());
                Ok(())
            }
            Some(known) if known == key => Ok(()),
            Some(known) => Err(ConnectError::HostKeyChanged {
                host: host.to_owned(),
                expected: known.fingerprint(HashAlg::Sha256).to_string(),
                found: key.fingerprint(HashAlg::Sha256).to_string(),
            }),
        }
    }

    /// Forgets the key of `host`, as when the host is removed and may come back reinstalled.
    pub fn forget(&self, host: &str) {
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        keys.remove(host);
    }
}

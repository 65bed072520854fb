//! Values encrypted at rest with the keys of `config.yml` (config-cli.md §17).
//!
//! [`Encryption`] holds the keys in order: the first encrypts, every key of the stored type is
//! tried to decrypt, and an identity key always comes last. A stored value reads
//! `enc:<type>:<key name>:<payload>`: for `aes` the payload is base64 of the 12-byte nonce and
//! the AES-256-GCM ciphertext; for `identity` (name `noname`) it is the plaintext itself.

use std::fmt;
use std::sync::Arc;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::server_config::EncryptionKeyConfig;

const PREFIX: &str = "enc";
const AES: &str = "aes";
const IDENTITY: &str = "identity";
/// The name dstack gives its identity key.
const IDENTITY_NAME: &str = "noname";
const NONCE_LEN: usize = 12;

/// Why a stored value could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum EncryptionError {
    /// The value names a key type this server has no key of.
    #[error(
        "it was encrypted with {kind} key {name}, and no {kind} key in encryption.keys of \
         config.yml decrypts it; add that key"
    )]
    NoMatchingKey {
        /// The stored key type.
        kind: String,
        /// The stored key name.
        name: String,
    },
    /// The value does not have the stored form.
    #[error("the stored value is malformed: {0}")]
    Malformed(&'static str),
    /// AES-GCM refuses plaintexts past its 64 GiB limit.
    #[error("the value is too large to encrypt")]
    TooLarge,
    /// The decrypted bytes are not text.
    #[error("the decrypted value is not UTF-8")]
    NotText,
}

enum Key {
    Aes {
        name: String,
        cipher: Box<Aes256Gcm>,
    },
    Identity,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Aes { name, .. } => write!(f, "Aes({name})"),
            Self::Identity => f.write_str("Identity"),
        }
    }
}

/// The server's keys; cheap to clone.
#[derive(Debug, Clone)]
pub struct Encryption {
    keys: Arc<[Key]>,
}

impl Encryption {
    /// The keys of `config.yml`, in order, with an identity key appended.
    pub fn new(configured: &[EncryptionKeyConfig]) -> Self {
        let keys = configured
            .iter()
            .map(|key| match key {
                EncryptionKeyConfig::Aes { name, secret } => Key::Aes {
                    name: name.0.clone(),
                    cipher: Box::new(Aes256Gcm::new(&secret.0.into())),
                },
                EncryptionKeyConfig::Identity => Key::Identity,
            })
            .chain([Key::Identity])
            .collect();
        Self { keys }
    }

    /// `plaintext` in its stored form, under the first key.
    pub fn encrypt(&self, plaintext: &str) -> Result<String, EncryptionError> {
        match self.keys.first() {
            Some(Key::Aes { name, cipher }) => {
                let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
                let sealed = cipher
                    .encrypt(&nonce, plaintext.as_bytes())
                    .map_err(|_| EncryptionError::TooLarge)?;
                let mut payload = nonce.to_vec();
                payload.extend_from_slice(&sealed);
                Ok(format!("{PREFIX}:{AES}:{name}:{}", BASE64.encode(payload)))
            }
            Some(Key::Identity) | None => {
                Ok(format!("{PREFIX}:{IDENTITY}:{IDENTITY_NAME}:{plaintext}"))
            }
        }
    }

    /// The plaintext of a stored value; a value without the `enc:` form is plaintext as is.
    pub fn decrypt(&self, stored: &str) -> Result<String, EncryptionError> {
        let Some(rest) = stored.strip_prefix("enc:") else {
            return Ok(stored.to_owned());
        };
        let mut parts = rest.splitn(3, ':');
        let (Some(kind), Some(name), Some(payload)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(EncryptionError::Malformed(
                "expected enc:<type>:<name>:<payload>",
            ));
        };
        let no_key = || EncryptionError::NoMatchingKey {
            kind: kind.to_owned(),
            name: name.to_owned(),
        };
        match kind {
            IDENTITY => Ok(payload.to_owned()),
            AES => {
                let sealed = BASE64
                    .decode(payload)
                    .map_err(|_| EncryptionError::Malformed("the payload is not base64"))?;
                if sealed.len() < NONCE_LEN {
                    return Err(EncryptionError::Malformed("the payload has no nonce"));
                }
                let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
                let plain = self
                    .aes_ciphers()
                    .find_map(|cipher| cipher.decrypt(Nonce::from_slice(nonce), ciphertext).ok())
                    .ok_or_else(no_key)?;
                String::from_utf8(plain).map_err(|_| EncryptionError::NotText)
            }
            _ => Err(no_key()),
        }
    }

    fn aes_ciphers(&self) -> impl Iterator<Item = &Aes256Gcm> {
        self.keys.iter().filter_map(|key| match key {
            Key::Aes { cipher, .. } => Some(cipher.as_ref()),
            Key::Identity => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server_config::{AesSecret, KeyName};

    fn aes(name: &str, byte: u8) -> EncryptionKeyConfig {
        EncryptionKeyConfig::Aes {
            name: KeyName(name.to_owned()),
            secret: AesSecret([byte; 32]),
        }
    }

    #[test]
    fn without_keys_values_are_stored_under_identity() {
        let encryption = Encryption::new(&[]);
        let stored = encryption.encrypt("s3cret:x").expect("stored");
        assert_eq!(stored, "enc:identity:noname:s3cret:x");
        assert_eq!(encryption.decrypt(&stored).expect("plain"), "s3cret:x");
        assert_eq!(encryption.decrypt("legacy").expect("plain"), "legacy");
    }

    #[test]
    fn the_first_aes_key_encrypts_and_any_aes_key_decrypts() {
        let old = Encryption::new(&[aes("old", 1)]);
        let stored = old.encrypt("s3cret").expect("sealed");
        assert!(stored.starts_with("enc:aes:old:"), "{stored}");
        assert!(!stored.contains("s3cret"), "{stored}");
        assert_ne!(
            stored,
            old.encrypt("s3cret").expect("sealed"),
            "a fresh nonce each time"
        );
        let rotated = Encryption::new(&[aes("new", 2), aes("old", 1)]);
        assert_eq!(rotated.decrypt(&stored).expect("old key"), "s3cret");
        assert!(
            rotated
                .encrypt("x")
                .expect("sealed")
                .starts_with("enc:aes:new:")
        );
    }

    #[test]
    fn a_missing_or_wrong_key_is_a_clear_error() {
        let stored = Encryption::new(&[aes("key1", 1)])
            .encrypt("s3cret")
            .expect("sealed");
        for keys in [vec![], vec![aes("key1", 9)]] {
            let error = Encryption::new(&keys)
                .decrypt(&stored)
                .expect_err("no key decrypts it");
            assert!(error.to_string().contains("aes key key1"), "{error}");
        }
        let error = Encryption::new(&[])
            .decrypt("enc:aes:key1:%%")
            .expect_err("bad base64");
        assert!(matches!(error, EncryptionError::Malformed(_)), "{error}");
    }
}

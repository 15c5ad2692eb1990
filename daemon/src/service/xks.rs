//! The external key store calls (AWS KMS's XKS proxy API): AES-256-GCM under an Arca key for a
//! KMS that keeps its key material here. A key is exposed to a caller, and for which of encrypt
//! and decrypt, by its key policy (`arca:Encrypt`, `arca:Decrypt` for the caller's principal), so
//! the same policies, grants and audit govern it as on every other face.
//!
//! The ciphertext metadata Arca returns names the key version that encrypted (format byte 1,
//! then the version, big-endian), so a key keeps decrypting what it made before a rotation. The
//! GCM AAD is built as the specification asks: the 2-byte length of the caller's AAD, the AAD,
//! the 1-byte length of the metadata, the metadata.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{Authorized, Call, Keystore};
use crate::crypto::aes::{AesCipher, AesMode};
use crate::crypto::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::keys::{KeySpec, KeyState, KeyUsage};
use crate::policy::Action;
use crate::secure_mem::SecretBuf;

/// The plaintext and AAD sizes the specification requires a proxy to take, and what Arca takes.
const MAX_PLAINTEXT_BYTES: usize = 4300;
const MAX_AAD_BYTES: usize = 8192;
const IV_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
const METADATA_FORMAT: u8 = 1;

/// What GetKeyMetadata reports: which of encrypt and decrypt the caller may do, and whether the
/// key is enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XksKeyMetadata {
    pub encrypt: bool,
    pub decrypt: bool,
    pub enabled: bool,
}

/// Encrypt's output, each part as the specification names it.
#[derive(Debug)]
pub struct XksCiphertext {
    pub ciphertext: Vec<u8>,
    pub tag: Vec<u8>,
    pub iv: Vec<u8>,
    pub metadata: Vec<u8>,
    /// SHA-256 of AAD ‖ metadata ‖ IV ‖ ciphertext ‖ tag, when asked for (checked by a decrypt
    /// before it is returned).
    pub integrity_value: Option<Vec<u8>>,
}

/// Decrypt's input.
#[derive(Debug)]
pub struct XksSealed<'a> {
    pub ciphertext: &'a [u8],
    pub tag: &'a [u8],
    pub iv: &'a [u8],
    pub metadata: &'a [u8],
    pub aad: &'a [u8],
}

/// The outcome of the deep health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XksHealth {
    Active,
    Unavailable,
}

#[derive(Debug)]
pub struct XksService {
    keystore: Arc<Keystore>,
}

impl XksService {
    pub fn new(keystore: Arc<Keystore>) -> Self {
        Self { keystore }
    }

    pub fn metadata(&self, call: &Call, key_ref: &str) -> Result<XksKeyMetadata> {
        let id = self.keystore.resolve(call, key_ref)?;
        let may = |action| self.keystore.authorized_id(call, id, action, &EncryptionContext::new());
        let (encrypt, decrypt) = (may(Action::Encrypt), may(Action::Decrypt));
        let (may_encrypt, may_decrypt) = (encrypt.is_ok(), decrypt.is_ok());
        // Exposed for at least one of the two, or refused as the encrypt check was.
        let key = encrypt.or(decrypt)?;
        aes_256(&key, "GetKeyMetadata")?;
        match key.metadata.state {
            KeyState::Enabled | KeyState::Disabled => {}
            other => {
                return Err(Error::KeyNotEnabled {
                    key: id,
                    state: other.name(),
                    operation: "GetKeyMetadata",
                });
            }
        }
        Ok(XksKeyMetadata {
            encrypt: may_encrypt,
            decrypt: may_decrypt,
            enabled: key.metadata.state == KeyState::Enabled,
        })
    }

    pub fn encrypt(
        &self,
        call: &Call,
        key_ref: &str,
        plaintext: &[u8],
        aad: &[u8],
        integrity_value: bool,
    ) -> Result<XksCiphertext> {
        check_len("plaintext", plaintext.len(), MAX_PLAINTEXT_BYTES)?;
        check_len("additionalAuthenticatedData", aad.len(), MAX_AAD_BYTES)?;
        let key = self.usable(call, key_ref, Action::Encrypt)?;
        let current = key.current(call)?;
        let metadata = [&[METADATA_FORMAT][..], &current.version.to_be_bytes()].concat();
        let iv = SecretBuf::random(IV_BYTES)?.as_slice().to_vec();
        let sealed = gcm(current.material.as_slice(), &iv, &gcm_aad(aad, &metadata), plaintext, true)?;
        let split = sealed.len().saturating_sub(TAG_BYTES);
        let (ciphertext, tag) = sealed.split_at(split);
        let out = XksCiphertext {
            ciphertext: ciphertext.to_vec(),
            tag: tag.to_vec(),
            iv,
            metadata,
            integrity_value: None,
        };
        if !integrity_value {
            return Ok(out);
        }
        // Computed before the check decrypt, so a fault after it cannot go unnoticed.
        let digest = integrity_value_of(aad, &out);
        let reopened = self.open(
            call,
            &key,
            &XksSealed {
                ciphertext: &out.ciphertext,
                tag: &out.tag,
                iv: &out.iv,
                metadata: &out.metadata,
                aad,
            },
        )?;
        if reopened.as_slice() != plaintext {
            return Err(Error::Crypto("the ciphertext did not decrypt back to the plaintext".into()));
        }
        Ok(XksCiphertext { integrity_value: Some(digest), ..out })
    }

    pub fn decrypt(&self, call: &Call, key_ref: &str, sealed: &XksSealed<'_>) -> Result<SecretBuf> {
        check_len("additionalAuthenticatedData", sealed.aad.len(), MAX_AAD_BYTES)?;
        let key = self.usable(call, key_ref, Action::Decrypt)?;
        self.open(call, &key, sealed)
    }

    /// A deep check: the store unsealed and readable, and an AES-256-GCM round trip through the
    /// same code as Encrypt and Decrypt, under a test key made for the check (never a key of a
    /// caller, so no caller's key shows activity nobody asked for).
    pub fn health(&self) -> XksHealth {
        let round_trip = || -> Result<bool> {
            self.keystore.keyring()?;
            let key = SecretBuf::random(32)?;
            let iv = [7u8; IV_BYTES];
            let sealed = gcm(key.as_slice(), &iv, b"health", b"arca xks health check", true)?;
            let opened = gcm(key.as_slice(), &iv, b"health", &sealed, false)?;
            Ok(opened.as_slice() == b"arca xks health check")
        };
        match round_trip() {
            Ok(true) => XksHealth::Active,
            _ => XksHealth::Unavailable,
        }
    }

    fn usable(&self, call: &Call, key_ref: &str, action: Action) -> Result<Authorized> {
        let id = self.keystore.resolve(call, key_ref)?;
        let key = self.keystore.authorized_id(call, id, action, &EncryptionContext::new())?;
        aes_256(&key, action.name())?;
        if key.metadata.state != KeyState::Enabled {
            return Err(Error::KeyNotEnabled {
                key: id,
                state: key.metadata.state.name(),
                operation: action.name(),
            });
        }
        Ok(key)
    }

    fn open(&self, call: &Call, key: &Authorized, sealed: &XksSealed<'_>) -> Result<SecretBuf> {
        let bad = |what: &str| Error::InvalidCiphertext(format!("{what} is not one this key store made"));
        let version = match sealed.metadata {
            [METADATA_FORMAT, a, b, c, d] => u32::from_be_bytes([*a, *b, *c, *d]),
            _ => return Err(bad("the ciphertext metadata")),
        };
        if sealed.iv.len() != IV_BYTES {
            return Err(bad("the initialization vector"));
        }
        if sealed.tag.len() != TAG_BYTES {
            return Err(bad("the authentication tag"));
        }
        let material = &key.version(call, version).ok_or_else(|| bad("the key version"))?.material;
        let input = [sealed.ciphertext, sealed.tag].concat();
        let aad = gcm_aad(sealed.aad, sealed.metadata);
        let opened =
            gcm(material.as_slice(), sealed.iv, &aad, &input, false).map_err(|_| Error::DecryptionFailed)?;
        Ok(SecretBuf::copy_from(&opened)?)
    }
}

/// XKS v1 serves 256-bit AES keys made for encryption only.
fn aes_256(key: &Authorized, operation: &'static str) -> Result<()> {
    if key.metadata.spec != KeySpec::Aes256 || key.metadata.usage != KeyUsage::EncryptDecrypt {
        return Err(Error::WrongKeyUsage {
            key: key.metadata.id,
            operation,
            usage: key.metadata.usage.name(),
        });
    }
    Ok(())
}

fn check_len(field: &str, len: usize, max: usize) -> Result<()> {
    if len > max {
        return Err(Error::Unsupported(format!(
            "{field} of {len} bytes exceeds the {max} bytes this key store takes"
        )));
    }
    Ok(())
}

/// The AAD given to GCM: len(aad) as 2 bytes big-endian ‖ aad ‖ len(metadata) as 1 byte ‖
/// metadata.
fn gcm_aad(aad: &[u8], metadata: &[u8]) -> Vec<u8> {
    let aad_len = u16::try_from(aad.len()).unwrap_or(u16::MAX).to_be_bytes();
    let metadata_len = [u8::try_from(metadata.len()).unwrap_or(u8::MAX)];
    [&aad_len[..], aad, &metadata_len, metadata].concat()
}

fn integrity_value_of(aad: &[u8], out: &XksCiphertext) -> Vec<u8> {
    let mut digest = Sha256::new();
    for part in [aad, &out.metadata, &out.iv, &out.ciphertext, &out.tag] {
        digest.update(part);
    }
    digest.finalize().to_vec()
}

/// One AES-256-GCM operation with a 16-byte tag: encryption returns ciphertext ‖ tag, decryption
/// takes it.
fn gcm(key: &[u8], iv: &[u8], aad: &[u8], input: &[u8], encrypt: bool) -> Result<Vec<u8>> {
    let mode = AesMode::Gcm { iv: iv.to_vec(), aad: aad.to_vec(), tag_len: TAG_BYTES };
    AesCipher::new(key, mode, encrypt).and_then(|cipher| cipher.one_shot(input)).map_err(Error::from_crypto)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aad_carries_both_lengths_as_the_specification_asks() {
        assert_eq!(gcm_aad(b"", b""), vec![0, 0, 0]);
        assert_eq!(gcm_aad(b"ab", &[1, 0, 0, 0, 2]), vec![0, 2, b'a', b'b', 5, 1, 0, 0, 0, 2]);
        // Metadata passed as AAD does not open what was sealed with it as metadata.
        assert_ne!(gcm_aad(&[1, 0, 0, 0, 2], b""), gcm_aad(b"", &[1, 0, 0, 0, 2]));
    }

    /// The specification's Appendix C example: its 86 bytes hash to the CDIV it shows.
    #[test]
    fn the_integrity_value_matches_the_specification_example() {
        let out = XksCiphertext {
            metadata: b"key_version=1".to_vec(),
            iv: hex("1ccae5470f39700254779031"),
            ciphertext: hex("821c642b5b71783367deaf18"),
            tag: hex("bc1c4dda7707d6812447c5955e99b261"),
            integrity_value: None,
        };
        let digest = integrity_value_of(b"project=nile,department=marketing", &out);
        assert_eq!(digest, hex("a8703f2260bd8791ec2d15ea0b23e65a0631eedcf2a13a65cc82db3f47cf5ec7"));
    }

    #[test]
    fn gcm_round_trips_and_refuses_a_changed_aad() {
        let key = [9u8; 32];
        let sealed = gcm(&key, &[1; 12], b"a", b"secret", true).unwrap();
        assert_eq!(sealed.len(), 6 + TAG_BYTES);
        assert_eq!(gcm(&key, &[1; 12], b"a", &sealed, false).unwrap(), b"secret");
        assert!(gcm(&key, &[1; 12], b"b", &sealed, false).is_err());
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }
}

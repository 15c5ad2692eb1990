//! Symmetric keys: creation, description, listing, Encrypt/Decrypt/ReEncrypt, data keys, random.

use super::CryptoService;
use crate::crypto::blob;
use crate::crypto::context::EncryptionContext;
use crate::crypto::random_vec;
use crate::error::{Error, Result};
use crate::keys::{KeyId, KeySpec, KeyUsage};
use crate::policy::Action;
use crate::secure_mem::SecretBuf;
use crate::service::limits::*;
use crate::service::{Authorized, Call};

/// A ciphertext blob and the key version that made it.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub key_id: KeyId,
    pub key_version: u32,
    pub blob: Vec<u8>,
}

/// A decrypted plaintext, still in locked memory, and where it came from.
#[derive(Debug)]
pub struct Opened {
    pub key_id: KeyId,
    pub key_version: u32,
    pub plaintext: SecretBuf,
}

/// The size of a data key: a named spec or a byte count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKeySize {
    Aes128,
    Aes256,
    Bytes(usize),
}

impl DataKeySize {
    fn bytes(self) -> Result<usize> {
        match self {
            Self::Aes128 => Ok(16),
            Self::Aes256 => Ok(32),
            Self::Bytes(n) if (1..=MAX_DATA_KEY_BYTES).contains(&n) => Ok(n),
            Self::Bytes(n) => Err(Error::invalid(format!(
                "number_of_bytes is {n}; a data key has 1 to {MAX_DATA_KEY_BYTES} bytes"
            ))),
        }
    }
}

impl CryptoService {
    pub fn encrypt(
        &self,
        call: &Call,
        key_ref: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Sealed> {
        if plaintext.is_empty() {
            return Err(Error::invalid("plaintext is empty"));
        }
        if plaintext.len() > MAX_PLAINTEXT_BYTES {
            return Err(Error::invalid(format!(
                "plaintext is {} bytes; Encrypt takes at most {MAX_PLAINTEXT_BYTES} (use GenerateDataKey for more)",
                plaintext.len()
            )));
        }
        let key = self.usable_key(call, self.keystore.resolve(call, key_ref)?, Action::Encrypt, context)?;
        seal_with(call, &key, plaintext, context)
    }

    pub fn decrypt(
        &self,
        call: &Call,
        blob: &[u8],
        context: &EncryptionContext,
        key_ref: Option<&str>,
    ) -> Result<Opened> {
        let parsed = blob::parse(blob).map_err(Error::from_crypto)?;
        let blob_key = KeyId::from_bytes(parsed.key_id);
        if let Some(expected) = key_ref.filter(|r| !r.is_empty()) {
            let expected = self.keystore.resolve(call, expected)?;
            if expected != blob_key {
                return Err(Error::IncorrectKey { given: expected, ciphertext_key: blob_key });
            }
        }
        let key = match self.usable_key(call, blob_key, Action::Decrypt, context) {
            Err(Error::KeyNotFound(_)) => {
                return Err(Error::InvalidCiphertext(format!(
                    "the blob names key {blob_key}, which does not exist"
                )));
            }
            other => other?,
        };
        let version = key.version(call, parsed.key_version).ok_or_else(|| {
            Error::InvalidCiphertext(format!(
                "the blob names version {} of key {blob_key}, which does not exist",
                parsed.key_version
            ))
        })?;
        let plaintext = parsed.open(&version.material, context).map_err(Error::from_crypto)?;
        Ok(Opened { key_id: blob_key, key_version: parsed.key_version, plaintext })
    }

    /// Decrypts and encrypts again inside the daemon; the plaintext never leaves locked memory.
    pub fn re_encrypt(
        &self,
        call: &Call,
        blob: &[u8],
        source_context: &EncryptionContext,
        source_key_ref: Option<&str>,
        destination_key_ref: &str,
        destination_context: &EncryptionContext,
    ) -> Result<(Opened, Sealed)> {
        let destination = self.usable_key(
            call,
            self.keystore.resolve(call, destination_key_ref)?,
            Action::ReEncrypt,
            destination_context,
        )?;
        let opened = self.decrypt(call, blob, source_context, source_key_ref)?;
        let sealed = seal_with(call, &destination, opened.plaintext.as_slice(), destination_context)?;
        Ok((opened, sealed))
    }

    /// A new data key in locked memory and its blob under `key_ref`.
    pub fn generate_data_key(
        &self,
        call: &Call,
        key_ref: &str,
        size: DataKeySize,
        context: &EncryptionContext,
    ) -> Result<(Sealed, SecretBuf)> {
        let len = size.bytes()?;
        let key =
            self.usable_key(call, self.keystore.resolve(call, key_ref)?, Action::GenerateDataKey, context)?;
        let data_key = SecretBuf::random(len)?;
        let sealed = seal_with(call, &key, data_key.as_slice(), context)?;
        Ok((sealed, data_key))
    }

    pub fn generate_random(&self, len: usize) -> Result<Vec<u8>> {
        if !(1..=MAX_RANDOM_BYTES).contains(&len) {
            return Err(Error::invalid(format!(
                "number_of_bytes is {len}; it must be 1 to {MAX_RANDOM_BYTES}"
            )));
        }
        random_vec(len).map_err(Error::from_crypto)
    }

    /// An AES_256 key for SYMMETRIC_DEFAULT.
    pub(super) fn usable_key(
        &self,
        call: &Call,
        id: KeyId,
        action: Action,
        context: &EncryptionContext,
    ) -> Result<Authorized> {
        let key = self.keystore.usable_for(call, id, action, KeyUsage::EncryptDecrypt, context)?;
        let operation = action.name();
        if key.metadata.spec != KeySpec::Aes256 {
            return Err(Error::invalid(format!(
                "{operation} with SYMMETRIC_DEFAULT needs an AES_256 key; key {id} is {} \
                 (use encryption_algorithm RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256)",
                key.metadata.spec.name()
            )));
        }
        Ok(key)
    }
}

pub(super) fn seal_with(
    call: &Call,
    key: &Authorized,
    plaintext: &[u8],
    context: &EncryptionContext,
) -> Result<Sealed> {
    let current = key.current(call)?;
    let blob = blob::seal(key.metadata.id.as_bytes(), current.version, &current.material, plaintext, context)
        .map_err(Error::from_crypto)?;
    Ok(Sealed { key_id: key.metadata.id, key_version: current.version, blob })
}

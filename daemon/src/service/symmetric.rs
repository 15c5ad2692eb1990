//! Symmetric keys: creation, description, listing, Encrypt/Decrypt/ReEncrypt, data keys, random.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::limits::*;
use super::{KeyInfo, KmsService};
use crate::crypto::blob;
use crate::crypto::context::EncryptionContext;
use crate::crypto::random_vec;
use crate::error::{Error, Result};
use crate::keys::{Key, KeyId, KeyMetadata, KeyOrigin, KeySpec, KeyState, KeyUsage, KeyVersion};
use crate::secure_mem::SecretBuf;

/// The parameters of CreateKey.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub description: String,
    pub spec: KeySpec,
    pub usage: KeyUsage,
    pub tags: BTreeMap<String, String>,
}

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

/// Parses a key reference as given by a caller.
pub fn parse_key_ref(text: &str) -> Result<KeyId> {
    if text.is_empty() {
        return Err(Error::invalid("key_id is required"));
    }
    text.parse()
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn info(key: &Key) -> KeyInfo {
    KeyInfo { metadata: key.metadata.clone(), current_version: key.current_version() }
}

impl KmsService {
    pub async fn create_key(&self, request: NewKey) -> Result<KeyInfo> {
        if request.spec != KeySpec::Aes256 || request.usage != KeyUsage::EncryptDecrypt {
            return Err(Error::Unsupported(format!(
                "key spec {} with usage {}: this daemon creates AES_256 keys for ENCRYPT_DECRYPT",
                request.spec.name(),
                request.usage.name()
            )));
        }
        if request.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(Error::invalid(format!("description exceeds {MAX_DESCRIPTION_CHARS} characters")));
        }
        if request.tags.len() > MAX_TAGS {
            return Err(Error::invalid(format!(
                "{} tags given, at most {MAX_TAGS} allowed",
                request.tags.len()
            )));
        }
        let keyring = self.keyring()?;
        let key = Key {
            metadata: KeyMetadata {
                id: KeyId::generate(),
                description: request.description,
                spec: request.spec,
                usage: request.usage,
                origin: KeyOrigin::Arca,
                state: KeyState::Enabled,
                created_at: now_unix(),
                tags: request.tags,
            },
            versions: vec![KeyVersion {
                version: 1,
                material: SecretBuf::random(request.spec.material_len())?,
            }],
        };
        let key = keyring.insert(key).await?;
        tracing::info!(key_id = %key.metadata.id, "key created");
        Ok(info(&key))
    }

    pub fn describe_key(&self, key_ref: &str) -> Result<KeyInfo> {
        let id = parse_key_ref(key_ref)?;
        Ok(info(&*self.keyring()?.get(id)?))
    }

    /// One page of key ids; the page token is the last id of the previous page.
    pub fn list_keys(&self, limit: usize, page_token: &str) -> Result<(Vec<KeyId>, Option<String>)> {
        let limit = match limit {
            0 => DEFAULT_LIST_LIMIT,
            n if n <= MAX_LIST_LIMIT => n,
            n => return Err(Error::invalid(format!("limit is {n}; it must be 1 to {MAX_LIST_LIMIT}"))),
        };
        let after = match page_token {
            "" => None,
            token => Some(
                token
                    .parse::<KeyId>()
                    .map_err(|_| Error::invalid("page_token is not a token ListKeys returned"))?,
            ),
        };
        let (ids, more) = self.keyring()?.list(after, limit)?;
        let next = if more { ids.last().map(ToString::to_string) } else { None };
        Ok((ids, next))
    }

    pub fn encrypt(&self, key_ref: &str, plaintext: &[u8], context: &EncryptionContext) -> Result<Sealed> {
        if plaintext.is_empty() {
            return Err(Error::invalid("plaintext is empty"));
        }
        if plaintext.len() > MAX_PLAINTEXT_BYTES {
            return Err(Error::invalid(format!(
                "plaintext is {} bytes; Encrypt takes at most {MAX_PLAINTEXT_BYTES} (use GenerateDataKey for more)",
                plaintext.len()
            )));
        }
        let key = self.usable_key(parse_key_ref(key_ref)?, "Encrypt")?;
        seal_with(&key, plaintext, context)
    }

    pub fn decrypt(&self, blob: &[u8], context: &EncryptionContext, key_ref: Option<&str>) -> Result<Opened> {
        let parsed = blob::parse(blob)?;
        if let Some(expected) = key_ref.filter(|r| !r.is_empty()) {
            let expected = parse_key_ref(expected)?;
            if expected != parsed.key_id {
                return Err(Error::InvalidCiphertext(format!(
                    "the blob was encrypted under key {}, not key {expected}",
                    parsed.key_id
                )));
            }
        }
        let key = match self.usable_key(parsed.key_id, "Decrypt") {
            Err(Error::KeyNotFound(_)) => {
                return Err(Error::InvalidCiphertext(format!(
                    "the blob names key {}, which does not exist",
                    parsed.key_id
                )));
            }
            other => other?,
        };
        let version = key.version(parsed.key_version).ok_or_else(|| {
            Error::InvalidCiphertext(format!(
                "the blob names version {} of key {}, which does not exist",
                parsed.key_version, parsed.key_id
            ))
        })?;
        let plaintext = parsed.open(&version.material, context)?;
        Ok(Opened { key_id: parsed.key_id, key_version: parsed.key_version, plaintext })
    }

    /// Decrypts and encrypts again inside the daemon; the plaintext never leaves locked memory.
    pub fn re_encrypt(
        &self,
        blob: &[u8],
        source_context: &EncryptionContext,
        source_key_ref: Option<&str>,
        destination_key_ref: &str,
        destination_context: &EncryptionContext,
    ) -> Result<(Opened, Sealed)> {
        let destination = self.usable_key(parse_key_ref(destination_key_ref)?, "ReEncrypt")?;
        let opened = self.decrypt(blob, source_context, source_key_ref)?;
        let sealed = seal_with(&destination, opened.plaintext.as_slice(), destination_context)?;
        Ok((opened, sealed))
    }

    /// A new data key in locked memory and its blob under `key_ref`.
    pub fn generate_data_key(
        &self,
        key_ref: &str,
        size: DataKeySize,
        context: &EncryptionContext,
    ) -> Result<(Sealed, SecretBuf)> {
        let len = size.bytes()?;
        let key = self.usable_key(parse_key_ref(key_ref)?, "GenerateDataKey")?;
        let data_key = SecretBuf::random(len)?;
        let sealed = seal_with(&key, data_key.as_slice(), context)?;
        Ok((sealed, data_key))
    }

    pub fn generate_random(&self, len: usize) -> Result<Vec<u8>> {
        if !(1..=MAX_RANDOM_BYTES).contains(&len) {
            return Err(Error::invalid(format!(
                "number_of_bytes is {len}; it must be 1 to {MAX_RANDOM_BYTES}"
            )));
        }
        random_vec(len)
    }

    fn usable_key(&self, id: KeyId, operation: &'static str) -> Result<Arc<Key>> {
        let key = self.keyring()?.get(id)?;
        if key.metadata.usage != KeyUsage::EncryptDecrypt || key.metadata.spec != KeySpec::Aes256 {
            return Err(Error::WrongKeyUsage { key: id, operation, usage: key.metadata.usage.name() });
        }
        Ok(key)
    }
}

fn seal_with(key: &Key, plaintext: &[u8], context: &EncryptionContext) -> Result<Sealed> {
    let current = key.current().ok_or(Error::KeyIntegrity(key.metadata.id))?;
    let blob = blob::seal(key.metadata.id, current.version, &current.material, plaintext, context)?;
    Ok(Sealed { key_id: key.metadata.id, key_version: current.version, blob })
}

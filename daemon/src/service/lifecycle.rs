//! Creating, describing and listing keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::limits::*;
use super::{KeyInfo, KmsService};
use crate::crypto::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::keys::{Key, KeyId, KeyMetadata, KeyOrigin, KeySpec, KeyState, KeyUsage, KeyVersion};

/// The parameters of CreateKey; `usage: None` takes the spec's default.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub description: String,
    pub spec: KeySpec,
    pub usage: Option<KeyUsage>,
    pub tags: BTreeMap<String, String>,
    /// A key policy document; empty for the default (creator and administrators).
    pub policy: String,
    /// `External`: the key waits in PENDING_IMPORT for material from ImportKeyMaterial.
    pub origin: KeyOrigin,
}

pub(super) fn info(key: &Key) -> KeyInfo {
    KeyInfo {
        metadata: key.metadata.clone(),
        current_version: key.current_version(),
        versions: key.versions.iter().map(|v| v.version).collect(),
    }
}

impl KmsService {
    pub async fn create_key(&self, request: NewKey) -> Result<KeyInfo> {
        self.require_administrator("CreateKey")?;
        let spec = request.spec;
        let usage = request
            .usage
            .unwrap_or_else(|| spec.usages().first().copied().unwrap_or(KeyUsage::EncryptDecrypt));
        if !spec.usages().contains(&usage) {
            let allowed: Vec<&str> = spec.usages().iter().map(|u| u.name()).collect();
            return Err(Error::invalid(format!(
                "key usage {} is not valid for {}; valid: {}",
                usage.name(),
                spec.name(),
                allowed.join(", ")
            )));
        }
        if request.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(Error::invalid(format!("description exceeds {MAX_DESCRIPTION_CHARS} characters")));
        }
        super::limits::check_printable("description", &request.description)?;
        for (key, value) in &request.tags {
            super::limits::check_printable("tag key", key)?;
            super::limits::check_printable(
                &format!("the value of tag {:?}", crate::error::Echo(key)),
                value,
            )?;
        }
        if request.tags.len() > MAX_TAGS {
            return Err(Error::invalid(format!(
                "{} tags given, at most {MAX_TAGS} allowed",
                request.tags.len()
            )));
        }
        let keyring = self.keyring()?;
        let now = self.now();
        let (versions, state) = match request.origin {
            KeyOrigin::Arca => {
                let version = self
                    .off_reactor_with_deadline("key generation", move || {
                        KeyVersion::new(spec, 1, now, spec.generate()?)
                    })
                    .await?;
                (vec![version], KeyState::Enabled)
            }
            KeyOrigin::External if spec == KeySpec::Aes256 || spec.is_hmac() || !spec.is_secret() => {
                (Vec::new(), KeyState::PendingImport)
            }
            KeyOrigin::External => {
                return Err(Error::Unsupported(format!(
                    "importing {} material (this daemon imports AES_256, HMAC, RSA and ECC keys)",
                    spec.name()
                )));
            }
        };
        let id = KeyId::generate();
        let policy = match request.policy.as_str() {
            "" => self.default_policy(),
            document => self.check_policy_document(id, document)?,
        };
        let key = Key {
            metadata: KeyMetadata {
                id,
                policy,
                description: request.description,
                spec,
                usage,
                origin: request.origin,
                state,
                created_at: now,
                tags: request.tags,
                rotation: None,
                imported: None,
                token: Default::default(),
            },
            versions,
        };
        let key = keyring.insert(key).await?;
        tracing::info!(key_id = %key.metadata.id, spec = spec.name(), "key created");
        Ok(info(&key))
    }

    pub fn describe_key(&self, key_ref: &str) -> Result<KeyInfo> {
        let key = self.keyring()?.get(self.resolve(key_ref)?)?;
        self.authorize(&key, "DescribeKey", &EncryptionContext::new())?;
        Ok(info(&key))
    }

    pub async fn put_key_policy(&self, key_ref: &str, document: &str) -> Result<()> {
        let keyring = self.keyring()?;
        let key = keyring.get(self.resolve(key_ref)?)?;
        self.authorize(&key, "PutKeyPolicy", &EncryptionContext::new())?;
        let policy = self.check_policy_document(key.metadata.id, document)?;
        keyring
            .replace(&key, key.with_metadata(KeyMetadata { policy, ..key.metadata.clone() })?)
            .await
            .map(|_| ())
    }

    pub fn get_key_policy(&self, key_ref: &str) -> Result<(KeyId, String)> {
        let key = self.keyring()?.get(self.resolve(key_ref)?)?;
        self.authorize(&key, "GetKeyPolicy", &EncryptionContext::new())?;
        Ok((key.metadata.id, key.metadata.policy.to_json()))
    }

    /// A key that exists, that the caller may use for `operation`, that is enabled, and that has
    /// the usage the operation needs.
    pub(super) fn key_for(
        &self,
        id: KeyId,
        operation: &'static str,
        usage: KeyUsage,
        context: &EncryptionContext,
    ) -> Result<Arc<Key>> {
        let key = self.keyring()?.get(id)?;
        self.authorize(&key, operation, context)?;
        if key.metadata.state != KeyState::Enabled {
            return Err(Error::KeyNotEnabled { key: id, state: key.metadata.state.name(), operation });
        }
        if key.metadata.usage != usage {
            return Err(Error::WrongKeyUsage { key: id, operation, usage: key.metadata.usage.name() });
        }
        Ok(key)
    }

    /// Runs slow CPU work (RSA key generation) on the blocking pool, so it never stalls other
    /// requests, and gives up waiting after the configured deadline.
    pub(super) async fn off_reactor_with_deadline<T: Send + 'static>(
        &self,
        what: &'static str,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let deadline = self.options.key_generation_timeout;
        match tokio::time::timeout(deadline, super::blocking(work)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::DeadlineExceeded(format!("{what} took longer than {deadline:?}"))),
        }
    }
}

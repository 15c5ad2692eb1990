//! Creating, describing and listing keys.

use std::collections::BTreeMap;

use super::KeyService;
use crate::error::{Error, Result};
use crate::keys::{Key, KeyId, KeyMetadata, KeyOrigin, KeySpec, KeyState, KeyUsage, KeyVersion};
use crate::operation::Operation;
use crate::policy::Action;
use crate::service::{Call, KeyInfo};

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

fn info(key: &Key) -> KeyInfo {
    KeyInfo {
        metadata: key.metadata.clone(),
        current_version: key.current_version(),
        versions: key.versions.iter().map(|v| v.version).collect(),
    }
}

impl KeyService {
    pub async fn create_key(&self, call: &Call, request: NewKey) -> Result<KeyInfo> {
        self.keystore.require_administrator(call, Operation::CreateKey)?;
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
        super::tags::check_description(&request.description)?;
        super::tags::check_tags(&request.tags)?;
        let keyring = self.keystore.keyring()?;
        let now = self.keystore.now();
        let (versions, state) = match request.origin {
            KeyOrigin::Arca => {
                let version = self
                    .keystore
                    .off_reactor_with_deadline("key generation", move || {
                        KeyVersion::new(spec, 1, now, spec.generate()?)
                    })
                    .await?;
                (vec![version], KeyState::Enabled)
            }
            KeyOrigin::External
                if spec == KeySpec::Aes256
                    || spec.is_hmac()
                    || (!spec.is_secret() && !matches!(spec, KeySpec::Ed25519 | KeySpec::X25519)) =>
            {
                (Vec::new(), KeyState::PendingImport)
            }
            KeyOrigin::External => {
                return Err(Error::Unsupported(format!(
                    "importing {} material (this daemon imports AES_256, HMAC, RSA and ECDSA keys)",
                    spec.name()
                )));
            }
        };
        let id = KeyId::generate();
        let policy = match request.policy.as_str() {
            "" => self.keystore.default_policy(call),
            document => self.keystore.check_policy_document(id, document)?,
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

    pub fn describe_key(&self, call: &Call, key_ref: &str) -> Result<KeyInfo> {
        let key = self.keystore.authorized_key(call, key_ref, Action::DescribeKey)?;
        Ok(info(&key))
    }

    pub async fn put_key_policy(&self, call: &Call, key_ref: &str, document: &str) -> Result<()> {
        let keyring = self.keystore.keyring()?;
        let key = self.keystore.authorized_key(call, key_ref, Action::PutKeyPolicy)?;
        let policy = self.keystore.check_policy_document(key.metadata.id, document)?;
        keyring
            .replace(&key, key.with_metadata(KeyMetadata { policy, ..key.metadata.clone() })?)
            .await
            .map(|_| ())
    }

    pub fn get_key_policy(&self, call: &Call, key_ref: &str) -> Result<(KeyId, String)> {
        let key = self.keystore.authorized_key(call, key_ref, Action::GetKeyPolicy)?;
        Ok((key.metadata.id, key.metadata.policy.to_json()))
    }
}

//! Imported key material (BYOK), as KMS: a key of origin EXTERNAL waits in PENDING_IMPORT;
//! GetParametersForImport hands out a one-off RSA wrapping key and an import token valid 24 hours;
//! ImportKeyMaterial unwraps the material, which may expire; only the same material may come back.
//! Import tokens live in memory: a restart invalidates them (ask for new parameters).

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::KmsService;
use crate::crypto::context::EncryptionContext;
use crate::crypto::import::{WrappingAlgorithm, WrappingKey, WrappingKeySpec};
use crate::crypto::random_vec;
use crate::error::{Error, Result};
use crate::keys::{Imported, Key, KeyId, KeyMetadata, KeyOrigin, KeySpec, KeyState, KeyVersion};

const TOKEN_LIFETIME_SECONDS: i64 = 24 * 3600;

struct PendingImport {
    key_id: KeyId,
    wrapping_key: WrappingKey,
    algorithm: WrappingAlgorithm,
    valid_to: i64,
}

/// Outstanding import tokens.
#[derive(Default)]
pub struct ImportTokens(Mutex<HashMap<String, PendingImport>>);

impl std::fmt::Debug for ImportTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ImportTokens([REDACTED])")
    }
}

/// What GetParametersForImport returns.
#[derive(Debug, Clone)]
pub struct ImportParameters {
    pub key_id: KeyId,
    pub import_token: String,
    /// DER SubjectPublicKeyInfo of the wrapping key.
    pub public_key: Vec<u8>,
    pub valid_to: i64,
}

fn material_len(spec: KeySpec) -> usize {
    match spec {
        KeySpec::Hmac384 => 48,
        KeySpec::Hmac512 => 64,
        KeySpec::Aes128 => 16,
        KeySpec::Aes192 => 24,
        _ => 32,
    }
}

impl KmsService {
    fn external_key(&self, key_ref: &str, operation: &'static str) -> Result<std::sync::Arc<Key>> {
        let key = self.keyring()?.get(self.resolve(key_ref)?)?;
        self.authorize(&key, operation, &EncryptionContext::new())?;
        if key.metadata.origin != KeyOrigin::External {
            return Err(Error::invalid(format!(
                "{operation}: key {} has Arca-generated material",
                key.metadata.id
            )));
        }
        Ok(key)
    }

    pub async fn get_parameters_for_import(
        &self,
        key_ref: &str,
        algorithm: &str,
        spec: &str,
    ) -> Result<ImportParameters> {
        let key = self.external_key(key_ref, "GetParametersForImport")?;
        let algorithm = WrappingAlgorithm::from_name(algorithm)?;
        let spec = WrappingKeySpec::from_name(spec)?;
        let wrapping_key = self
            .off_reactor_with_deadline("wrapping key generation", move || WrappingKey::generate(spec))
            .await?;
        let token = random_vec(32)?.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let valid_to = self.now() + TOKEN_LIFETIME_SECONDS;
        let public_key = wrapping_key.public_key_der().to_vec();
        let pending = PendingImport { key_id: key.metadata.id, wrapping_key, algorithm, valid_to };
        self.imports.0.lock().map_err(|_| super::poisoned())?.insert(token.clone(), pending);
        Ok(ImportParameters { key_id: key.metadata.id, import_token: token, public_key, valid_to })
    }

    /// `valid_to`: when the material expires (seconds since the Unix epoch), or `None`.
    pub async fn import_key_material(
        &self,
        key_ref: &str,
        token: &str,
        wrapped: &[u8],
        valid_to: Option<i64>,
    ) -> Result<()> {
        let key = self.external_key(key_ref, "ImportKeyMaterial")?;
        let now = self.now();
        if valid_to.is_some_and(|at| at <= now) {
            return Err(Error::invalid("valid_to is in the past"));
        }
        let pending = self
            .imports
            .0
            .lock()
            .map_err(|_| super::poisoned())?
            .remove(token)
            .filter(|p| p.key_id == key.metadata.id && p.valid_to > now)
            .ok_or_else(|| Error::invalid("the import token is unknown, expired, or for another key"))?;
        let material = pending.wrapping_key.unwrap(pending.algorithm, wrapped)?;
        let meta = &key.metadata;
        if material.len() != material_len(meta.spec) {
            return Err(Error::invalid(format!(
                "{} key material is {} bytes, not {}",
                meta.spec.name(),
                material_len(meta.spec),
                material.len()
            )));
        }
        let digest = Sha256::digest(material.as_slice()).to_vec();
        if meta.imported.as_ref().is_some_and(|i| i.digest != digest) {
            return Err(Error::invalid("this key only accepts the key material imported into it before"));
        }
        let version = KeyVersion::new(meta.spec, meta.usage, 1, now, material)?;
        let metadata = KeyMetadata {
            state: KeyState::Enabled,
            imported: Some(Imported { digest, expires_at: valid_to }),
            ..meta.clone()
        };
        self.keyring()?.insert(Key { metadata, versions: vec![version] }).await?;
        tracing::info!(key_id = %meta.id, "key material imported");
        Ok(())
    }

    pub async fn delete_imported_key_material(&self, key_ref: &str) -> Result<()> {
        let key = self.external_key(key_ref, "DeleteImportedKeyMaterial")?;
        self.forget_material(&key).await
    }

    /// Back to PENDING_IMPORT without material (the digest stays, to recognise a re-import).
    pub(super) async fn forget_material(&self, key: &Key) -> Result<()> {
        let metadata = KeyMetadata { state: KeyState::PendingImport, ..key.metadata.clone() };
        self.keyring()?.insert(Key { metadata, versions: Vec::new() }).await.map(|_| ())
    }
}

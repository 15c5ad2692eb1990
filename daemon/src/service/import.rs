//! Imported key material (BYOK), as KMS: a key of origin EXTERNAL waits in PENDING_IMPORT;
//! GetParametersForImport hands out a one-off RSA wrapping key and an import token valid 24 hours;
//! ImportKeyMaterial unwraps the material, which may expire; only the same material may come back.
//! AES_256 and HMAC keys import raw bytes; RSA and ECC keys a PKCS#8 private key of their spec,
//! wrapped with RSA_AES_KEY_WRAP_SHA_256 (a private key is longer than one RSA-OAEP block).
//! Import tokens live in memory: a restart invalidates them (ask for new parameters).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::{Authorized, Call, Keystore};
use crate::crypto::import::{WrappingAlgorithm, WrappingKey, WrappingKeySpec, key_pair_material};
use crate::crypto::random_vec;
use crate::error::{Error, Result};
use crate::keys::{Imported, Key, KeyId, KeyMetadata, KeyOrigin, KeySpec, KeyState, KeyVersion};
use crate::policy::Action;
use crate::secure_mem::SecretBuf;

const TOKEN_LIFETIME_SECONDS: i64 = 24 * 3600;

struct PendingImport {
    key_id: KeyId,
    wrapping_key: WrappingKey,
    algorithm: WrappingAlgorithm,
    valid_to: i64,
}

/// Outstanding import tokens.
#[derive(Default)]
struct ImportTokens(Mutex<HashMap<String, PendingImport>>);

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

/// The material to store and the digest that identifies it on re-import. Secret keys: the raw
/// bytes, of the spec's length, and their SHA-256. Key pairs: a PKCS#8 private key of exactly the
/// key's spec, re-encoded canonically, and the SHA-256 of its public key (DER SubjectPublicKeyInfo)
/// — the key pair's identity whatever PKCS#8 encoding carried it.
fn checked_material(spec: KeySpec, unwrapped: SecretBuf) -> Result<(SecretBuf, Vec<u8>)> {
    if let Some(pair_spec) = spec.pair() {
        let pair = key_pair_material(pair_spec, &unwrapped).map_err(Error::from_crypto)?;
        let digest = Sha256::digest(&pair.public_key_der).to_vec();
        return Ok((pair.private_pkcs8, digest));
    }
    if unwrapped.len() != material_len(spec) {
        return Err(Error::invalid(format!(
            "{} key material is {} bytes, not {}",
            spec.name(),
            material_len(spec),
            unwrapped.len()
        )));
    }
    let digest = Sha256::digest(unwrapped.as_slice()).to_vec();
    Ok((unwrapped, digest))
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

/// The import calls, and the import tokens handed out and not yet used.
#[derive(Debug)]
pub struct ImportService {
    keystore: Arc<Keystore>,
    imports: ImportTokens,
}

impl ImportService {
    pub fn new(keystore: Arc<Keystore>) -> Self {
        Self { keystore, imports: ImportTokens::default() }
    }

    fn external_key(&self, call: &Call, key_ref: &str, action: Action) -> Result<Authorized> {
        let key = self.keystore.authorized_key(call, key_ref, action)?;
        let operation = action.name();
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
        call: &Call,
        key_ref: &str,
        algorithm: &str,
        spec: &str,
    ) -> Result<ImportParameters> {
        let key = self.external_key(call, key_ref, Action::GetParametersForImport)?;
        let algorithm = WrappingAlgorithm::from_name(algorithm).map_err(Error::from_crypto)?;
        algorithm.check_carries(key.metadata.spec.pair()).map_err(Error::from_crypto)?;
        let spec = WrappingKeySpec::from_name(spec).map_err(Error::from_crypto)?;
        let wrapping_key = self
            .keystore
            .off_reactor_with_deadline("wrapping key generation", move || {
                WrappingKey::generate(spec).map_err(Error::from_crypto)
            })
            .await?;
        let token = random_vec(32)
            .map_err(Error::from_crypto)?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        let valid_to = self.keystore.now() + TOKEN_LIFETIME_SECONDS;
        let public_key = wrapping_key.public_key_der().to_vec();
        let pending = PendingImport { key_id: key.metadata.id, wrapping_key, algorithm, valid_to };
        self.imports.0.lock().map_err(|_| super::threads::poisoned())?.insert(token.clone(), pending);
        Ok(ImportParameters { key_id: key.metadata.id, import_token: token, public_key, valid_to })
    }

    /// `valid_to`: when the material expires (seconds since the Unix epoch), or `None`.
    pub async fn import_key_material(
        &self,
        call: &Call,
        key_ref: &str,
        token: &str,
        wrapped: &[u8],
        valid_to: Option<i64>,
    ) -> Result<()> {
        let key = self.external_key(call, key_ref, Action::ImportKeyMaterial)?;
        let state = match key.metadata.state {
            KeyState::PendingDeletion { .. } => {
                return Err(Error::KeyNotEnabled {
                    key: key.metadata.id,
                    state: key.metadata.state.name(),
                    operation: Action::ImportKeyMaterial.name(),
                });
            }
            KeyState::Disabled => KeyState::Disabled,
            KeyState::Enabled | KeyState::PendingImport => KeyState::Enabled,
        };
        let now = self.keystore.now();
        if valid_to.is_some_and(|at| at <= now) {
            return Err(Error::invalid("valid_to is in the past"));
        }
        let pending = self
            .imports
            .0
            .lock()
            .map_err(|_| super::threads::poisoned())?
            .remove(token)
            .filter(|p| p.key_id == key.metadata.id && p.valid_to > now)
            .ok_or_else(|| Error::invalid("the import token is unknown, expired, or for another key"))?;
        let unwrapped =
            pending.wrapping_key.unwrap(pending.algorithm, wrapped).map_err(Error::from_crypto)?;
        let meta = &key.metadata;
        let (material, digest) = checked_material(meta.spec, unwrapped)?;
        if meta.imported.as_ref().is_some_and(|i| i.digest != digest) {
            return Err(Error::invalid("this key only accepts the key material imported into it before"));
        }
        let version = KeyVersion::new(meta.spec, 1, now, material)?;
        let metadata =
            KeyMetadata { state, imported: Some(Imported { digest, expires_at: valid_to }), ..meta.clone() };
        self.keystore.keyring()?.replace(&key, Key { metadata, versions: vec![version] }).await?;
        tracing::info!(key_id = %meta.id, "key material imported");
        Ok(())
    }

    pub async fn delete_imported_key_material(&self, call: &Call, key_ref: &str) -> Result<()> {
        let key = self.external_key(call, key_ref, Action::DeleteImportedKeyMaterial)?;
        self.keystore.forget_material(&key).await
    }
}

//! Imported key material (BYOK), as KMS: a key of origin EXTERNAL waits in PENDING_IMPORT;
//! GetParametersForImport hands out a one-off RSA wrapping key and an import token valid 24 hours;
//! ImportKeyMaterial unwraps the material, which may expire; only the same material may come back.
//! AES_256 and HMAC keys import raw bytes; RSA and ECC keys a PKCS#8 private key of their spec,
//! wrapped with RSA_AES_KEY_WRAP_SHA_256 (a private key is longer than one RSA-OAEP block).
//! Import tokens are kept in the store, the wrapping key sealed (`store::import_tokens`), until
//! used (once) or expired: ImportKeyMaterial may go to any node of a shared store, or follow a
//! restart.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{Authorized, Call, Keystore};
use crate::crypto::import::{WrappingAlgorithm, WrappingKey, WrappingKeySpec, key_pair_material};
use crate::crypto::random_vec;
use crate::error::{Error, Result};
use crate::keys::{Imported, Key, KeyId, KeyMetadata, KeyOrigin, KeySpec, KeyState, KeyVersion};
use crate::policy::Action;
use crate::secure_mem::SecretBuf;
use crate::store::{Expect, PendingImport, Table, Write, open_import_token, seal_import_token};

const TOKEN_LIFETIME_SECONDS: i64 = 24 * 3600;

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
        KeySpec::Hmac224 => 28,
        KeySpec::Hmac384 => 48,
        KeySpec::Hmac512 => 64,
        KeySpec::Aes128 => 16,
        KeySpec::Aes192 => 24,
        _ => 32,
    }
}

/// The import calls.
#[derive(Debug)]
pub struct ImportService {
    keystore: Arc<Keystore>,
}

impl ImportService {
    pub fn new(keystore: Arc<Keystore>) -> Self {
        Self { keystore }
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
        let pending = PendingImport {
            key_id: key.metadata.id,
            wrapping_spec: spec.name().to_owned(),
            algorithm: algorithm.name().to_owned(),
            valid_to,
            private_pkcs8: wrapping_key.private_pkcs8().map_err(Error::from_crypto)?,
        };
        let stored = seal_import_token(&self.keystore.keyring()?.master_key(), &token, &pending)?;
        let write =
            Write::put(Table::ImportTokens, token.as_bytes().to_vec(), stored).expecting(Expect::Absent);
        let backend = Arc::clone(&self.keystore.backend);
        super::threads::blocking(move || backend.commit(vec![write])).await?;
        Ok(ImportParameters { key_id: key.metadata.id, import_token: token, public_key, valid_to })
    }

    /// Takes the import token for `key_id` out of the store: only one import uses a token, on
    /// whichever node. Unknown, expired, used, or for another key: refused alike.
    async fn take_token(
        &self,
        token: &str,
        key_id: KeyId,
        now: i64,
    ) -> Result<(WrappingKey, WrappingAlgorithm)> {
        let refused = || Error::invalid("the import token is unknown, expired, or for another key");
        let backend = Arc::clone(&self.keystore.backend);
        let row = token.as_bytes().to_vec();
        let read = row.clone();
        let stored = super::threads::blocking(move || backend.get(Table::ImportTokens, &read)).await?;
        let stored = stored.ok_or_else(refused)?;
        let pending = open_import_token(&self.keystore.keyring()?.master_key(), token, &stored)?;
        if pending.key_id != key_id || pending.valid_to <= now {
            return Err(refused());
        }
        let backend = Arc::clone(&self.keystore.backend);
        let consume = Write::delete(Table::ImportTokens, row).expecting(Expect::Stored(stored));
        match super::threads::blocking(move || backend.commit(vec![consume])).await {
            Err(Error::Conflict(_)) => return Err(refused()),
            outcome => outcome?,
        }
        let spec = WrappingKeySpec::from_name(&pending.wrapping_spec).map_err(Error::from_crypto)?;
        let algorithm = WrappingAlgorithm::from_name(&pending.algorithm).map_err(Error::from_crypto)?;
        let wrapping_key =
            WrappingKey::from_pkcs8(spec, &pending.private_pkcs8).map_err(Error::from_crypto)?;
        Ok((wrapping_key, algorithm))
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
        let (wrapping_key, algorithm) = self.take_token(token, key.metadata.id, now).await?;
        let unwrapped = wrapping_key.unwrap(algorithm, wrapped).map_err(Error::from_crypto)?;
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

//! DeriveSharedSecret: ECDH between a KEY_AGREEMENT key's current version and the other party's
//! public key, through the crypto layer's one ECDH (the one C_DeriveKey uses with
//! CKM_ECDH1_DERIVE). The answer is the raw shared secret, the X coordinate of the shared point,
//! as KMS returns it: the caller runs its own key derivation over it.

use super::CryptoService;
use crate::crypto::PrivateKey;
use crate::crypto::context::EncryptionContext;
use crate::crypto::ec::KeyAgreementAlgorithm;
use crate::error::{Error, Result};
use crate::keys::{KeyId, KeyOrigin, KeyUsage};
use crate::policy::Action;
use crate::secure_mem::SecretBuf;
use crate::service::Call;

/// DeriveSharedSecret's result: the secret stays in locked memory until the front sends it.
#[derive(Debug)]
pub struct SharedSecret {
    pub key_id: KeyId,
    pub origin: KeyOrigin,
    pub algorithm: KeyAgreementAlgorithm,
    pub secret: SecretBuf,
}

impl CryptoService {
    /// ECDH of the enabled KEY_AGREEMENT key `key_ref` with `peer_public_key`, a DER
    /// SubjectPublicKeyInfo on the same curve (another curve, or bytes that are not one, are
    /// INVALID_ARGUMENT).
    pub fn derive_shared_secret(
        &self,
        call: &Call,
        key_ref: &str,
        algorithm: KeyAgreementAlgorithm,
        peer_public_key: &[u8],
    ) -> Result<SharedSecret> {
        if peer_public_key.is_empty() {
            return Err(Error::invalid("public_key is required: the other party's SubjectPublicKeyInfo"));
        }
        let id = self.keystore.resolve(call, key_ref)?;
        let key = self.keystore.usable_for(
            call,
            id,
            Action::DeriveSharedSecret,
            KeyUsage::KeyAgreement,
            &EncryptionContext::new(),
        )?;
        let secret = match (algorithm, &key.current(call)?.key) {
            (KeyAgreementAlgorithm::Ecdh, PrivateKey::Ec(ec)) => {
                ec.derive_with_spki(peer_public_key).map_err(Error::from_crypto)?
            }
            (KeyAgreementAlgorithm::Ecdh, PrivateKey::X25519(x)) => {
                x.derive_with_spki(peer_public_key).map_err(Error::from_crypto)?
            }
            (_, PrivateKey::Rsa(_) | PrivateKey::Hmac(_) | PrivateKey::Secret | PrivateKey::Ed25519(_)) => {
                return Err(Error::KeyIntegrity(id));
            }
        };
        Ok(SharedSecret { key_id: id, origin: key.metadata.origin, algorithm, secret })
    }
}

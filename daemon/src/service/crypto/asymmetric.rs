//! Key pairs and MAC keys: Sign/Verify, RSAES-OAEP Encrypt/Decrypt, GetPublicKey, GenerateMac/
//! VerifyMac, and GenerateDataKeyPair.

use super::CryptoService;
use super::symmetric::seal_with;
use crate::crypto::PrivateKey;
use crate::crypto::context::EncryptionContext;
use crate::crypto::ec::KeyAgreementAlgorithm;
use crate::crypto::hmac::{self, MacAlgorithm};
use crate::crypto::key::generate_pair;
use crate::crypto::rsa::{OaepHash, RsaPrivateKey, oaep_decrypt, oaep_encrypt};
use crate::crypto::signing::{self, Message, SigningAlgorithm};
use crate::error::{Error, Result};
use crate::keys::{KeyId, KeySpec, KeyUsage};
use crate::policy::Action;
use crate::secure_mem::SecretBuf;
use crate::service::{Authorized, Call};

/// The outcome of Verify and VerifyMac. A signature that does not match is `valid: false`,
/// not an error; a malformed one is `INVALID_ARGUMENT`.
#[derive(Debug, Clone, Copy)]
pub struct Verification {
    pub key_id: KeyId,
    pub valid: bool,
}

/// A public key and what it is for.
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub key_id: KeyId,
    pub spec: KeySpec,
    pub usage: KeyUsage,
    /// DER SubjectPublicKeyInfo.
    pub der: Vec<u8>,
}

/// GenerateDataKeyPair's result: a key pair Arca does not keep, its private half sealed under a
/// symmetric key.
#[derive(Debug)]
pub struct DataKeyPair {
    pub key_id: KeyId,
    pub key_version: u32,
    pub spec: KeySpec,
    /// PKCS#8 DER.
    pub private_key: SecretBuf,
    pub private_key_blob: Vec<u8>,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
}

/// The current version's parsed key, recorded in the call.
fn current<'k>(call: &Call, key: &'k Authorized) -> Result<&'k PrivateKey> {
    Ok(&key.current(call)?.key)
}

/// The current version's RSA key, for RSAES-OAEP.
fn rsa<'k>(call: &Call, key: &'k Authorized) -> Result<&'k RsaPrivateKey> {
    match current(call, key)? {
        PrivateKey::Rsa(rsa) => Ok(rsa),
        PrivateKey::Secret
        | PrivateKey::Hmac(_)
        | PrivateKey::Ec(_)
        | PrivateKey::Ed25519(_)
        | PrivateKey::X25519(_) => {
            Err(Error::invalid("RSAES_OAEP needs an RSA key of usage ENCRYPT_DECRYPT"))
        }
    }
}

/// The signing algorithms of a key spec (none for a spec that is not a key pair).
pub fn signing_algorithms(spec: KeySpec) -> &'static [SigningAlgorithm] {
    spec.pair().map_or(&[], SigningAlgorithm::for_spec)
}

/// The one MAC algorithm an HMAC key spec computes.
pub fn mac_algorithm(spec: KeySpec) -> Option<MacAlgorithm> {
    match spec {
        KeySpec::Hmac224 => Some(MacAlgorithm::HmacSha224),
        KeySpec::Hmac256 => Some(MacAlgorithm::HmacSha256),
        KeySpec::Hmac384 => Some(MacAlgorithm::HmacSha384),
        KeySpec::Hmac512 => Some(MacAlgorithm::HmacSha512),
        _ => None,
    }
}

/// The algorithms a key of a spec and usage serves, by kind, as KMS lists them in its metadata.
/// An encryption algorithm is `None` for SYMMETRIC_DEFAULT, else the RSAES-OAEP hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAlgorithms {
    pub encryption: Vec<Option<OaepHash>>,
    pub signing: Vec<SigningAlgorithm>,
    pub mac: Vec<MacAlgorithm>,
    pub key_agreement: Vec<KeyAgreementAlgorithm>,
}

pub fn key_algorithms(spec: KeySpec, usage: KeyUsage) -> KeyAlgorithms {
    let encryption = match (usage, spec.is_rsa()) {
        // Token keys of other RSA sizes have no KMS algorithms: the KMS face keeps its three.
        (KeyUsage::EncryptDecrypt, true) if spec == KeySpec::RsaOther => Vec::new(),
        (KeyUsage::EncryptDecrypt, true) => vec![Some(OaepHash::Sha1), Some(OaepHash::Sha256)],
        (KeyUsage::EncryptDecrypt, false) => vec![None],
        _ => Vec::new(),
    };
    let signing = match usage {
        KeyUsage::SignVerify => signing_algorithms(spec).to_vec(),
        _ => Vec::new(),
    };
    let key_agreement = match usage {
        KeyUsage::KeyAgreement => KeyAgreementAlgorithm::ALL.to_vec(),
        KeyUsage::EncryptDecrypt | KeyUsage::SignVerify | KeyUsage::GenerateVerifyMac => Vec::new(),
    };
    KeyAlgorithms { encryption, signing, mac: mac_algorithm(spec).into_iter().collect(), key_agreement }
}

fn names<T>(items: impl IntoIterator<Item = T>, name: impl Fn(T) -> &'static str) -> String {
    items.into_iter().map(name).collect::<Vec<_>>().join(", ")
}

impl CryptoService {
    fn signing_key(
        &self,
        call: &Call,
        key_ref: &str,
        action: Action,
        algorithm: SigningAlgorithm,
    ) -> Result<Authorized> {
        let id = self.keystore.resolve(call, key_ref)?;
        let key =
            self.keystore.usable_for(call, id, action, KeyUsage::SignVerify, &EncryptionContext::new())?;
        let allowed = signing_algorithms(key.metadata.spec);
        if !allowed.contains(&algorithm) {
            return Err(Error::invalid(format!(
                "signing algorithm {} is not valid for key spec {}; valid: {}",
                algorithm.name(),
                key.metadata.spec.name(),
                names(allowed.iter().copied(), SigningAlgorithm::name)
            )));
        }
        Ok(key)
    }

    pub fn sign(
        &self,
        call: &Call,
        key_ref: &str,
        algorithm: SigningAlgorithm,
        message: Message<'_>,
    ) -> Result<(KeyId, Vec<u8>)> {
        let key = self.signing_key(call, key_ref, Action::Sign, algorithm)?;
        let signature =
            signing::sign(current(call, &key)?, algorithm, message).map_err(Error::from_crypto)?;
        Ok((key.metadata.id, signature))
    }

    pub fn verify(
        &self,
        call: &Call,
        key_ref: &str,
        algorithm: SigningAlgorithm,
        message: Message<'_>,
        signature: &[u8],
    ) -> Result<Verification> {
        let key = self.signing_key(call, key_ref, Action::Verify, algorithm)?;
        let public = current(call, &key)?.public_key_der().ok_or(Error::KeyIntegrity(key.metadata.id))?;
        let spec = key.metadata.spec.pair().ok_or(Error::KeyIntegrity(key.metadata.id))?;
        let valid =
            signing::verify(public, spec, algorithm, message, signature).map_err(Error::from_crypto)?;
        Ok(Verification { key_id: key.metadata.id, valid })
    }

    pub fn get_public_key(&self, call: &Call, key_ref: &str) -> Result<PublicKey> {
        let key = self.keystore.authorized_key(call, key_ref, Action::GetPublicKey)?;
        let id = key.metadata.id;
        if key.versions.is_empty() {
            let state = key.metadata.state.name();
            return Err(Error::KeyNotEnabled { key: id, state, operation: Action::GetPublicKey.name() });
        }
        let der = current(call, &key)?.public_key_der().ok_or_else(|| {
            Error::invalid(format!("key {id} is {}: it has no public key", key.metadata.spec.name()))
        })?;
        Ok(PublicKey { key_id: id, spec: key.metadata.spec, usage: key.metadata.usage, der: der.to_vec() })
    }

    fn oaep_key(&self, call: &Call, key_ref: &str, action: Action) -> Result<Authorized> {
        let key = self.keystore.usable_for(
            call,
            self.keystore.resolve(call, key_ref)?,
            action,
            KeyUsage::EncryptDecrypt,
            &EncryptionContext::new(),
        )?;
        if !key.metadata.spec.is_rsa() {
            return Err(Error::invalid(format!(
                "RSAES_OAEP needs an RSA key; key {} is {}",
                key.metadata.id,
                key.metadata.spec.name()
            )));
        }
        Ok(key)
    }

    pub fn encrypt_oaep(
        &self,
        call: &Call,
        key_ref: &str,
        hash: OaepHash,
        plaintext: &[u8],
    ) -> Result<(KeyId, Vec<u8>)> {
        let key = self.oaep_key(call, key_ref, Action::Encrypt)?;
        let ciphertext = oaep_encrypt(rsa(call, &key)?, hash, plaintext).map_err(Error::from_crypto)?;
        Ok((key.metadata.id, ciphertext))
    }

    /// An asymmetric ciphertext does not name its key, so the caller must.
    pub fn decrypt_oaep(
        &self,
        call: &Call,
        key_ref: &str,
        hash: OaepHash,
        ciphertext: &[u8],
    ) -> Result<(KeyId, SecretBuf)> {
        if key_ref.is_empty() {
            return Err(Error::invalid("key_id is required to decrypt with an RSAES_OAEP algorithm"));
        }
        let key = self.oaep_key(call, key_ref, Action::Decrypt)?;
        let plaintext = oaep_decrypt(rsa(call, &key)?, hash, ciphertext).map_err(Error::from_crypto)?;
        Ok((key.metadata.id, plaintext))
    }

    fn mac_key(
        &self,
        call: &Call,
        key_ref: &str,
        action: Action,
        algorithm: MacAlgorithm,
    ) -> Result<Authorized> {
        let key = self.keystore.usable_for(
            call,
            self.keystore.resolve(call, key_ref)?,
            action,
            KeyUsage::GenerateVerifyMac,
            &EncryptionContext::new(),
        )?;
        let expected = mac_algorithm(key.metadata.spec).ok_or(Error::KeyIntegrity(key.metadata.id))?;
        if expected != algorithm {
            return Err(Error::invalid(format!(
                "MAC algorithm {} is not valid for key spec {}; valid: {}",
                algorithm.name(),
                key.metadata.spec.name(),
                expected.name()
            )));
        }
        Ok(key)
    }

    pub fn generate_mac(
        &self,
        call: &Call,
        key_ref: &str,
        algorithm: MacAlgorithm,
        message: &[u8],
    ) -> Result<(KeyId, Vec<u8>)> {
        let key = self.mac_key(call, key_ref, Action::GenerateMac, algorithm)?;
        let tag = hmac::generate(current(call, &key)?, message).map_err(Error::from_crypto)?;
        Ok((key.metadata.id, tag))
    }

    pub fn verify_mac(
        &self,
        call: &Call,
        key_ref: &str,
        algorithm: MacAlgorithm,
        message: &[u8],
        tag: &[u8],
    ) -> Result<Verification> {
        let key = self.mac_key(call, key_ref, Action::VerifyMac, algorithm)?;
        let valid = hmac::verify(current(call, &key)?, message, tag).map_err(Error::from_crypto)?;
        Ok(Verification { key_id: key.metadata.id, valid })
    }

    /// A fresh key pair of `spec`, its private key sealed under the symmetric key `key_ref`.
    pub async fn generate_data_key_pair(
        &self,
        call: &Call,
        key_ref: &str,
        spec: KeySpec,
        context: &EncryptionContext,
    ) -> Result<DataKeyPair> {
        let Some(pair) = spec.pair() else {
            return Err(Error::invalid(format!(
                "key_pair_spec {} is not a key pair spec (RSA_*, ECC_NIST_P256/P384/P521, ECC_SECG_P256K1, ...)",
                spec.name()
            )));
        };
        let wrapping_key = self.usable_key(
            call,
            self.keystore.resolve(call, key_ref)?,
            Action::GenerateDataKeyPair,
            context,
        )?;
        let (private_key, public_key) = self
            .keystore
            .off_reactor_with_deadline("key pair generation", move || {
                generate_pair(pair).map_err(Error::from_crypto)
            })
            .await?;
        let sealed = seal_with(call, &wrapping_key, private_key.as_slice(), context)?;
        Ok(DataKeyPair {
            key_id: sealed.key_id,
            key_version: sealed.key_version,
            spec,
            private_key,
            private_key_blob: sealed.blob,
            public_key,
        })
    }
}

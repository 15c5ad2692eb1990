//! Private keys of every spec: generation as stored material, and loading into a usable handle.
//!
//! Asymmetric material is stored as PKCS#8 DER, HMAC and AES material as raw bytes. Handles are
//! AWS-LC objects; their memory comes from the locked pool (see `secure_mem::crypto_alloc`).

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::rsa::{KeySize, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey};
use aws_lc_rs::signature::{self, EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair as _, RsaKeyPair};

use crate::error::{Error, Result};
use crate::keys::{KeySpec, KeyUsage};
use crate::secure_mem::SecretBuf;

/// A key ready for use.
// Handles live once per key version, so the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum KeyHandle {
    /// AES keys are used straight from their material.
    Aes,
    /// So are generic secrets (PKCS#11 HMAC and derivation keys).
    Secret,
    RsaSign {
        pair: RsaKeyPair,
        public_der: Vec<u8>,
    },
    RsaDecrypt {
        private: OaepPrivateDecryptingKey,
        public: OaepPublicEncryptingKey,
        public_der: Vec<u8>,
    },
    Ecdsa {
        pair: EcdsaKeyPair,
        public_der: Vec<u8>,
    },
    Hmac(hmac::Key),
}

impl fmt::Debug for KeyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::Aes => "Aes",
            Self::Secret => "Secret",
            Self::RsaSign { .. } => "RsaSign",
            Self::RsaDecrypt { .. } => "RsaDecrypt",
            Self::Ecdsa { .. } => "Ecdsa",
            Self::Hmac(_) => "Hmac",
        };
        write!(f, "KeyHandle::{kind}([REDACTED])")
    }
}

impl KeyHandle {
    /// The DER SubjectPublicKeyInfo of an asymmetric key.
    pub fn public_key_der(&self) -> Option<&[u8]> {
        match self {
            Self::RsaSign { public_der, .. }
            | Self::RsaDecrypt { public_der, .. }
            | Self::Ecdsa { public_der, .. } => Some(public_der),
            Self::Aes | Self::Secret | Self::Hmac(_) => None,
        }
    }
}

fn crypto_failure(what: &str) -> Error {
    Error::Crypto(format!("{what} failed"))
}

fn rsa_size(spec: KeySpec) -> Option<KeySize> {
    match spec {
        KeySpec::Rsa2048 => Some(KeySize::Rsa2048),
        KeySpec::Rsa3072 => Some(KeySize::Rsa3072),
        KeySpec::Rsa4096 => Some(KeySize::Rsa4096),
        _ => None,
    }
}

pub(super) fn ecdsa_signing(spec: KeySpec) -> Option<&'static EcdsaSigningAlgorithm> {
    match spec {
        KeySpec::EccNistP256 => Some(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
        KeySpec::EccNistP384 => Some(&signature::ECDSA_P384_SHA384_ASN1_SIGNING),
        _ => None,
    }
}

fn hmac_algorithm(spec: KeySpec) -> Option<(hmac::Algorithm, usize)> {
    match spec {
        KeySpec::Hmac256 => Some((hmac::HMAC_SHA256, 32)),
        KeySpec::Hmac384 => Some((hmac::HMAC_SHA384, 48)),
        KeySpec::Hmac512 => Some((hmac::HMAC_SHA512, 64)),
        _ => None,
    }
}

/// New key material for a spec. RSA generation takes from milliseconds to seconds: callers run it
/// off the async reactor.
pub fn generate(spec: KeySpec) -> Result<SecretBuf> {
    if let Some(size) = rsa_size(spec) {
        let pair = RsaKeyPair::generate(size).map_err(|_| crypto_failure("RSA key generation"))?;
        let der = pair.as_der().map_err(|_| crypto_failure("PKCS#8 encoding"))?;
        return SecretBuf::copy_from(der.as_ref());
    }
    if let Some(algorithm) = ecdsa_signing(spec) {
        let pair = EcdsaKeyPair::generate(algorithm).map_err(|_| crypto_failure("EC key generation"))?;
        let der = pair.to_pkcs8v1().map_err(|_| crypto_failure("PKCS#8 encoding"))?;
        return SecretBuf::copy_from(der.as_ref());
    }
    if let Some((_, len)) = hmac_algorithm(spec) {
        return SecretBuf::random(len);
    }
    SecretBuf::random(secret_len(spec).unwrap_or(super::aead::KEY_LEN))
}

/// The material length of AES specs, and the default length of a generic secret.
pub fn secret_len(spec: KeySpec) -> Option<usize> {
    match spec {
        KeySpec::Aes128 => Some(16),
        KeySpec::Aes192 => Some(24),
        KeySpec::Aes256 | KeySpec::GenericSecret => Some(32),
        _ => None,
    }
}

/// Longest generic secret (PKCS#11 CKA_VALUE_LEN), in bytes.
pub const MAX_GENERIC_SECRET_BYTES: usize = 512;

/// Parses stored material into a handle for the key's usage.
pub fn load(spec: KeySpec, usage: KeyUsage, material: &SecretBuf) -> Result<KeyHandle> {
    let der = material.as_slice();
    let rejected = |_| Error::Integrity(format!("stored {} material does not parse", spec.name()));
    if spec.is_rsa() {
        return match usage {
            KeyUsage::SignVerify => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(rejected)?;
                let public_der = public_der(pair.public_key().as_der())?;
                Ok(KeyHandle::RsaSign { pair, public_der })
            }
            _ => {
                let private = PrivateDecryptingKey::from_pkcs8(der).map_err(rejected)?;
                let public_key = private.public_key();
                let public_der = public_der(public_key.as_der())?;
                Ok(KeyHandle::RsaDecrypt {
                    public: OaepPublicEncryptingKey::new(public_key)
                        .map_err(|_| crypto_failure("OAEP key"))?,
                    private: OaepPrivateDecryptingKey::new(private)
                        .map_err(|_| crypto_failure("OAEP key"))?,
                    public_der,
                })
            }
        };
    }
    if let Some(algorithm) = ecdsa_signing(spec) {
        let pair = EcdsaKeyPair::from_pkcs8(algorithm, der).map_err(rejected)?;
        let public_der = public_der(pair.public_key().as_der())?;
        return Ok(KeyHandle::Ecdsa { pair, public_der });
    }
    if let Some((algorithm, len)) = hmac_algorithm(spec) {
        if der.len() != len {
            return Err(Error::Integrity(format!("stored {} material has the wrong length", spec.name())));
        }
        return Ok(KeyHandle::Hmac(hmac::Key::new(algorithm, der)));
    }
    if spec == KeySpec::GenericSecret {
        if der.is_empty() || der.len() > MAX_GENERIC_SECRET_BYTES {
            return Err(Error::Integrity("stored generic secret has the wrong length".into()));
        }
        return Ok(KeyHandle::Secret);
    }
    if Some(der.len()) != secret_len(spec) {
        return Err(Error::Integrity("stored AES material has the wrong length".into()));
    }
    Ok(KeyHandle::Aes)
}

fn public_der<T>(der: std::result::Result<T, aws_lc_rs::error::Unspecified>) -> Result<Vec<u8>>
where
    T: std::ops::Deref,
    T::Target: AsRef<[u8]>,
{
    der.map(|der| (*der).as_ref().to_vec()).map_err(|_| crypto_failure("public key encoding"))
}

/// A fresh key pair that Arca does not keep (GenerateDataKeyPair): PKCS#8 private, SPKI public.
pub fn generate_pair(spec: KeySpec) -> Result<(SecretBuf, Vec<u8>)> {
    if !(spec.is_rsa() || spec.is_ecc()) {
        return Err(Error::invalid(format!("{} is not a key pair spec", spec.name())));
    }
    let private = generate(spec)?;
    let public = load(spec, KeyUsage::SignVerify, &private)?
        .public_key_der()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| crypto_failure("public key derivation"))?;
    Ok((private, public))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_generates_and_loads_for_each_usage() {
        for spec in KeySpec::ALL.into_iter().filter(|s| *s != KeySpec::Rsa4096 && *s != KeySpec::Rsa3072) {
            let material = generate(spec).unwrap();
            for usage in spec.usages() {
                let handle = load(spec, *usage, &material).unwrap();
                assert_eq!(handle.public_key_der().is_some(), spec.is_rsa() || spec.is_ecc(), "{spec:?}");
                assert!(format!("{handle:?}").contains("REDACTED"));
            }
        }
    }

    #[test]
    fn damaged_material_is_an_integrity_error() {
        let mut material = generate(KeySpec::EccNistP256).unwrap();
        material.as_mut_slice()[10] ^= 0xFF;
        assert!(matches!(
            load(KeySpec::EccNistP256, KeyUsage::SignVerify, &material),
            Err(Error::Integrity(_))
        ));
        let short = SecretBuf::random(16).unwrap();
        assert!(load(KeySpec::Hmac256, KeyUsage::GenerateVerifyMac, &short).is_err());
    }
}

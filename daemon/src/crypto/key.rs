//! The one parsed private key of a key version, shared by both faces (KMS and PKCS#11), and the
//! generation of key-pair material.
//!
//! A key version's material is parsed once, when the version is loaded: an RSA key into one
//! [`RsaPrivateKey`] that signs and decrypts, an EC key into one [`EcPrivateKey`] that signs and
//! derives, Ed25519 and X25519 keys into their own types, an HMAC key into AWS-LC's key. AES keys and generic secrets are used straight from
//! their material. The parsed objects live in memory from the locked pool (see
//! `secure_mem::crypto_alloc`).

use std::fmt;

use aws_lc_rs::hmac;

use super::curve25519::{self, Ed25519PrivateKey, X25519PrivateKey};
use super::ec::{EcPrivateKey, ec_generate};
use super::error::{Error, Result};
use super::rsa::{RsaPrivateKey, rsa_generate};
use super::spec::PairSpec;
use crate::secure_mem::SecretBuf;

/// A key version's material, parsed for use.
// Keys live once per key version, so the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum PrivateKey {
    /// AES keys and generic secrets are used straight from their material.
    Secret,
    Hmac(hmac::Key),
    Rsa(RsaPrivateKey),
    Ec(EcPrivateKey),
    Ed25519(Ed25519PrivateKey),
    X25519(X25519PrivateKey),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::Secret => "Secret",
            Self::Hmac(_) => "Hmac",
            Self::Rsa(_) => "Rsa",
            Self::Ec(_) => "Ec",
            Self::Ed25519(_) => "Ed25519",
            Self::X25519(_) => "X25519",
        };
        write!(f, "PrivateKey::{kind}([REDACTED])")
    }
}

impl PrivateKey {
    /// A PKCS#8 key pair of `spec`; a document of another algorithm or size is refused.
    pub fn from_pkcs8(spec: PairSpec, der: &[u8]) -> Result<Self> {
        let key = match spec.rsa_bits() {
            None if spec == PairSpec::Ed25519 => Self::Ed25519(Ed25519PrivateKey::from_pkcs8(der)?),
            None if spec == PairSpec::X25519 => Self::X25519(X25519PrivateKey::from_pkcs8(der)?),
            Some(bits) => {
                let key = RsaPrivateKey::from_pkcs8(der)?;
                if key.modulus_bits() != bits {
                    return Err(Error::KeySize(format!("the key is not a {} key", spec.name())));
                }
                Self::Rsa(key)
            }
            None => {
                let key = EcPrivateKey::from_pkcs8(der)?;
                if key.spec() != spec {
                    return Err(Error::KeyType(format!("the key is not a {} key", spec.name())));
                }
                Self::Ec(key)
            }
        };
        Ok(key)
    }

    /// An HMAC key of exactly `len` bytes for `hash` (SHA-256, SHA-384 or SHA-512).
    pub fn hmac(hash: super::digest::HashAlg, len: usize, material: &[u8]) -> Result<Self> {
        if material.len() != len {
            return Err(Error::KeySize(format!("an HMAC key is {len} bytes, not {}", material.len())));
        }
        Ok(Self::Hmac(hmac::Key::new(hash.hmac_algorithm(), material)))
    }

    /// The DER SubjectPublicKeyInfo of a key pair.
    pub fn public_key_der(&self) -> Option<&[u8]> {
        match self {
            Self::Rsa(key) => Some(key.public_der()),
            Self::Ec(key) => Some(key.public_der()),
            Self::Ed25519(key) => Some(key.public_der()),
            Self::X25519(key) => Some(key.public_der()),
            Self::Secret | Self::Hmac(_) => None,
        }
    }
}

/// PKCS#8 of a new key pair. RSA generation takes from milliseconds to seconds: callers run it
/// off the async reactor.
pub fn generate_pkcs8(spec: PairSpec) -> Result<SecretBuf> {
    match spec.rsa_bits() {
        Some(bits) => rsa_generate(bits),
        None if spec.is_curve25519() => curve25519::generate(spec),
        None => ec_generate(spec),
    }
}

/// A fresh key pair that Arca does not keep (GenerateDataKeyPair): PKCS#8 private, SPKI public.
pub fn generate_pair(spec: PairSpec) -> Result<(SecretBuf, Vec<u8>)> {
    let private = generate_pkcs8(spec)?;
    let public = PrivateKey::from_pkcs8(spec, private.as_slice())?
        .public_key_der()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| super::failed("public key derivation"))?;
    Ok((private, public))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::digest::HashAlg;

    #[test]
    fn every_pair_spec_generates_and_parses_once_for_every_use() {
        let specs = [
            PairSpec::Rsa2048,
            PairSpec::EccNistP256,
            PairSpec::EccNistP384,
            PairSpec::EccNistP521,
            PairSpec::EccSecgP256k1,
            PairSpec::Ed25519,
            PairSpec::X25519,
        ];
        for spec in specs {
            let material = generate_pkcs8(spec).unwrap();
            let key = PrivateKey::from_pkcs8(spec, material.as_slice()).unwrap();
            assert!(key.public_key_der().is_some(), "{spec:?}");
            assert!(format!("{key:?}").contains("REDACTED"));
        }
    }

    #[test]
    fn damaged_or_mismatched_material_is_refused() {
        let mut material = generate_pkcs8(PairSpec::EccNistP256).unwrap();
        assert!(PrivateKey::from_pkcs8(PairSpec::EccNistP384, material.as_slice()).is_err());
        let x25519 = generate_pkcs8(PairSpec::X25519).unwrap();
        assert!(PrivateKey::from_pkcs8(PairSpec::Ed25519, x25519.as_slice()).is_err());
        assert!(PrivateKey::from_pkcs8(PairSpec::X25519, material.as_slice()).is_err());
        material.as_mut_slice()[10] ^= 0xFF;
        assert!(PrivateKey::from_pkcs8(PairSpec::EccNistP256, material.as_slice()).is_err());
        let short = SecretBuf::random(16).unwrap();
        assert!(matches!(PrivateKey::hmac(HashAlg::Sha256, 32, short.as_slice()), Err(Error::KeySize(_))));
    }
}

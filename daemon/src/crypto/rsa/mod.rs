//! RSA: the key type and generation, for both faces. Signatures are in `sign`, encryption in
//! `crypt`; AWS-LC (blinded, constant-time private-key operations) does what it can, and `raw`
//! (a safe-Rust raw RSA operation with crypto-bigint, blinded and checked) the rest, with the
//! paddings laid out by `pkcs1`, `pss` and `oaep`: CKM_RSA_PKCS over arbitrary input and SHA-1 or
//! SHA-224 DigestInfos, PSS with SHA-1/SHA-224 or any salt length, OAEP with SHA-224,
//! CKM_RSA_X_509, and every operation on keys below 2048 bits, which AWS-LC refuses.
//!
//! Keys of 1024 to 4096 bits live on the token (SoftHSM2 parity; below 2048 bits they are
//! legacy); the KMS face keeps RSA_2048, RSA_3072 and RSA_4096. AWS-LC generates 2048, 3072 and
//! 4096 bits; `generate` makes the other sizes (see docs/decisions.md).

mod crypt;
mod generate;
mod oaep;
mod pkcs1;
mod pss;
mod raw;
mod sign;

use std::fmt;
use std::sync::OnceLock;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair};

use super::der::{RsaPrivateComponents, rsa_pkcs8_encode, rsa_public_components, rsa_spki};
use super::error::{Error, Result, failed};
use super::spec::RSA_TOKEN_BITS;
use crate::secure_mem::SecretBuf;
pub use crypt::{OaepHash, RsaCryptScheme, oaep_decrypt, oaep_encrypt, rsa_encrypt};
pub use pss::max_salt_len;
use raw::RawRsaKey;
pub use sign::{RsaSignScheme, rsa_verify};

/// Smallest and largest moduli AWS-LC accepts.
const AWS_LC_MIN_BITS: usize = 2048;
/// Smallest and largest moduli Arca uses at all.
const MIN_BITS: usize = *RSA_TOKEN_BITS.start();
const MAX_BITS: usize = 8192;

fn key_size_error(bits: usize) -> Error {
    Error::KeySize(format!("RSA keys of {MIN_BITS} to {MAX_BITS} bits are supported, not {bits}"))
}

fn rejected(e: KeyRejected) -> Error {
    match e.description_() {
        "TooSmall" | "TooLarge" => {
            Error::KeySize(format!("RSA keys of {MIN_BITS} to {MAX_BITS} bits are supported"))
        }
        _ => Error::KeyType("not a PKCS#8 RSA private key".into()),
    }
}

/// AWS-LC's forms of a key of 2048 bits or more: it keeps a signing pair and a decrypting key
/// apart, so both are held.
struct AwsLcKey {
    pair: RsaKeyPair,
    pkcs1: Pkcs1PrivateDecryptingKey,
    oaep: OaepPrivateDecryptingKey,
    /// The public half for encryption.
    public: PublicEncryptingKey,
}

/// An RSA private key, parsed once (from one PKCS#8 document) for signing, decryption and
/// encryption.
pub struct RsaPrivateKey {
    /// Absent for keys below 2048 bits, which go through `raw` only.
    aws_lc: Option<AwsLcKey>,
    modulus_bits: usize,
    public_der: Vec<u8>,
    /// The components for `raw`: parsed up front for keys AWS-LC refuses, otherwise on the
    /// first operation that needs them.
    raw: OnceLock<RawRsaKey>,
}

impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPrivateKey({} bits, [REDACTED])", self.modulus_bits())
    }
}

impl RsaPrivateKey {
    pub fn from_pkcs8(der: &[u8]) -> Result<Self> {
        let decrypting = match PrivateDecryptingKey::from_pkcs8(der) {
            Ok(decrypting) => decrypting,
            Err(e) if e.description_() == "TooSmall" => return Self::below_aws_lc(der),
            Err(e) => return Err(rejected(e)),
        };
        let pair = RsaKeyPair::from_pkcs8(der).map_err(rejected)?;
        let public_der = pair.public_key().as_der().map_err(|_| failed("RSA public key encoding"))?;
        let setup = |_| failed("RSA key setup");
        Ok(Self {
            modulus_bits: decrypting.key_size_bits(),
            public_der: public_der.as_ref().to_vec(),
            aws_lc: Some(AwsLcKey {
                public: decrypting.public_key(),
                pkcs1: Pkcs1PrivateDecryptingKey::new(decrypting.clone()).map_err(setup)?,
                oaep: OaepPrivateDecryptingKey::new(decrypting).map_err(setup)?,
                pair,
            }),
            raw: OnceLock::new(),
        })
    }

    /// A key AWS-LC finds too small: from 1024 bits, through `raw` only, its components checked
    /// there as AWS-LC checks those of the keys it takes.
    fn below_aws_lc(der: &[u8]) -> Result<Self> {
        let key = RawRsaKey::from_pkcs8_checked(der)?;
        let bits = key.public().bits();
        if bits < MIN_BITS {
            return Err(key_size_error(bits));
        }
        let (modulus, exponent) = raw::public_components(der)?;
        let raw = OnceLock::new();
        let _ = raw.set(key);
        Ok(Self { aws_lc: None, modulus_bits: bits, public_der: rsa_spki(modulus, exponent)?, raw })
    }

    /// The key for `raw`, parsed from AWS-LC's PKCS#8 export on first use (racing parses wiped).
    fn raw_key(&self) -> Result<&RawRsaKey> {
        if let Some(key) = self.raw.get() {
            return Ok(key);
        }
        let pair = self.aws_lc_pair().ok_or_else(|| failed("RSA key setup"))?;
        let der = pair.as_der().map_err(|_| failed("PKCS#8 encoding"))?;
        let _ = self.raw.set(RawRsaKey::from_pkcs8(der.as_ref())?);
        self.raw.get().ok_or_else(|| failed("RSA key setup"))
    }

    fn aws_lc_pair(&self) -> Option<&RsaKeyPair> {
        self.aws_lc.as_ref().map(|key| &key.pair)
    }

    #[cfg(test)]
    fn raw_key_is_parsed(&self) -> bool {
        self.raw.get().is_some()
    }

    pub fn modulus_bits(&self) -> usize {
        self.modulus_bits
    }

    /// SubjectPublicKeyInfo DER.
    pub fn public_key_der(&self) -> Result<Vec<u8>> {
        Ok(self.public_der.clone())
    }

    pub fn public_der(&self) -> &[u8] {
        &self.public_der
    }
}

/// The modulus size in bits of an RSA SubjectPublicKeyInfo (1024 to 8192 bits).
pub fn rsa_modulus_bits(spki: &[u8]) -> Result<usize> {
    let (modulus, _) = rsa_public_components(spki)?;
    let bits = modulus.first().map_or(0, |top| modulus.len() * 8 - top.leading_zeros() as usize);
    if !(MIN_BITS..=MAX_BITS).contains(&bits) {
        return Err(key_size_error(bits));
    }
    Ok(bits)
}

/// The modulus length in bytes of an RSA SubjectPublicKeyInfo (1024 to 8192 bits).
pub fn rsa_modulus_bytes(spki: &[u8]) -> Result<usize> {
    rsa_modulus_bits(spki).map(|bits| bits.div_ceil(8))
}

/// A PKCS#8 RSA private key from CKA_* components, checked by AWS-LC (which verifies that the
/// components agree).
pub fn rsa_pkcs8_from_components(parts: &RsaPrivateComponents<'_>) -> Result<SecretBuf> {
    let der = rsa_pkcs8_encode(parts)?;
    match RsaPrivateKey::from_pkcs8(der.as_slice()) {
        Ok(_) => Ok(der),
        Err(Error::KeySize(message)) => Err(Error::KeySize(message)),
        Err(_) => Err(Error::Encoding(
            "RSA private key components are missing or do not form a consistent key".into(),
        )),
    }
}

/// PKCS#8 of a new key of `bits`, public exponent 65537: 2048, 3072 and 4096 bits from AWS-LC,
/// the other multiples of 8 from 1024 to 4096 from `generate` (docs/decisions.md).
pub fn rsa_generate(bits: usize) -> Result<SecretBuf> {
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        _ => return generate::other_size(bits),
    };
    let pair = RsaKeyPair::generate(size).map_err(|_| failed("RSA key generation"))?;
    let der = pair.as_der().map_err(|_| failed("PKCS#8 encoding"))?;
    Ok(SecretBuf::copy_from(der.as_ref())?)
}

#[cfg(test)]
mod interop_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod wycheproof_tests;

//! RSA: the key type, signatures (and, in `crypt`, encryption) for both faces: PKCS#11's
//! CKM_RSA_PKCS (signatures and encryption), CKM_SHA*_RSA_PKCS,
//! CKM_RSA_PKCS_PSS / CKM_SHA*_RSA_PKCS_PSS and CKM_RSA_PKCS_OAEP, in AWS-LC (blinded,
//! constant-time private-key operations), with one exception: CKM_RSA_PKCS signs any input of up
//! to k − 11 bytes (type-1 padding, then the raw private operation), as PKCS#11 defines it, but
//! AWS-LC pads for SHA-256, SHA-384 and SHA-512 only and has no raw RSA operation. So a DigestInfo
//! of those goes through AWS-LC, anything else (a SHA-1 or SHA-224 DigestInfo, TLS 1.0/1.1's
//! MD5 || SHA-1, arbitrary data) through `raw`; verification likewise, with AWS-LC also
//! taking a SHA-1 DigestInfo. The hash-and-sign PKCS#1 v1.5 mechanisms with SHA-1 and SHA-224
//! (CKM_SHA1_RSA_PKCS, CKM_SHA224_RSA_PKCS) take the same `raw` way over the DigestInfo;
//! PSS remains AWS-LC's, SHA-256/384/512 only (`RsaSignScheme::can_sign`). PSS salts equal the
//! hash length.

mod crypt;
mod raw;

use std::fmt;
use std::sync::OnceLock;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{
    self, KeyPair as _, RsaEncoding, RsaKeyPair, UnparsedPublicKey, VerificationAlgorithm,
};

use super::der::{RsaPrivateComponents, rsa_pkcs8_encode, rsa_public_components};
use super::digest::HashAlg;
use super::error::{Error, Result, failed};
use crate::secure_mem::SecretBuf;
pub use crypt::{OaepHash, RsaCryptScheme, oaep_decrypt, oaep_encrypt, rsa_encrypt};
use raw::{RawRsaKey, check_input_len};

/// Smallest and largest moduli AWS-LC accepts.
const MIN_BITS: usize = 2048;
const MAX_BITS: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaSignScheme {
    /// CKM_RSA_PKCS: type-1 padding over the input as given (usually a DER DigestInfo, but any
    /// bytes up to k − 11 are signed).
    Pkcs1DigestInfo,
    /// PKCS#1 v1.5 over a digest of this hash (CKM_SHA256_RSA_PKCS etc. after hashing).
    Pkcs1(HashAlg),
    /// RSASSA-PSS, MGF1 with the same hash, over a digest; the salt is as long as the digest.
    Pss { hash: HashAlg, salt_len: usize },
}

impl RsaSignScheme {
    /// Whether `RsaPrivateKey::sign` can make signatures of this scheme (CKM_RSA_PKCS always:
    /// any input of up to k − 11 bytes).
    pub fn can_sign(self) -> bool {
        match self {
            Self::Pkcs1DigestInfo | Self::Pkcs1(_) => true,
            Self::Pss { hash, .. } => signing_encoding(self, hash).is_ok(),
        }
    }

    /// Whether `rsa_verify` can check signatures of this scheme (PKCS#1 v1.5 always).
    pub fn can_verify(self) -> bool {
        match self {
            Self::Pkcs1DigestInfo | Self::Pkcs1(_) => true,
            Self::Pss { hash, .. } => verification(self, hash).is_ok(),
        }
    }
}

/// The DER prefixes of a DigestInfo (RFC 8017 section 9.2, note 1), each followed by the digest.
const DIGEST_INFO_PREFIXES: [(HashAlg, &[u8]); 5] = [
    (
        HashAlg::Sha1,
        &[0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14],
    ),
    (
        HashAlg::Sha224,
        &[
            0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05,
            0x00, 0x04, 0x1c,
        ],
    ),
    (
        HashAlg::Sha256,
        &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
            0x00, 0x04, 0x20,
        ],
    ),
    (
        HashAlg::Sha384,
        &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
            0x00, 0x04, 0x30,
        ],
    ),
    (
        HashAlg::Sha512,
        &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
            0x00, 0x04, 0x40,
        ],
    ),
];

/// The DER DigestInfo of `digest` under `hash` (RFC 8017 section 9.2); a digest of the wrong
/// length is a data-length error, as for every other hash-and-sign input.
fn encoded_digest_info(hash: HashAlg, digest: &[u8]) -> Result<Vec<u8>> {
    hash.import_digest(digest)?;
    let prefix = DIGEST_INFO_PREFIXES
        .iter()
        .find_map(|(known, prefix)| (*known == hash).then_some(*prefix))
        .ok_or_else(|| Error::Unsupported(format!("RSA signing with {} is not supported", hash.name())))?;
    Ok([prefix, digest].concat())
}

/// The hash and digest of an input that is exactly a DER DigestInfo of a known hash.
fn digest_info(input: &[u8]) -> Option<(HashAlg, &[u8])> {
    DIGEST_INFO_PREFIXES.iter().find_map(|(hash, prefix)| {
        input.strip_prefix(*prefix).filter(|digest| digest.len() == hash.output_len()).map(|d| (*hash, d))
    })
}

/// Who signs or verifies an input.
enum Route<'a> {
    /// AWS-LC, over this hash and digest.
    Digest(HashAlg, &'a [u8]),
    /// `raw`: PKCS#1 v1.5 type-1 padding over these bytes, which AWS-LC cannot take (CKM_RSA_PKCS
    /// input, or the DigestInfo of a hash AWS-LC does not sign with: SHA-1, SHA-224).
    Raw(std::borrow::Cow<'a, [u8]>),
}

/// The route of `input` under `scheme`; `aws_lc_takes` tells which hashes AWS-LC handles.
fn route(
    scheme: RsaSignScheme,
    input: &[u8],
    modulus_len: usize,
    aws_lc_takes: impl Fn(HashAlg) -> bool,
) -> Result<Route<'_>> {
    match scheme {
        RsaSignScheme::Pkcs1DigestInfo => {
            check_input_len(input, modulus_len)?;
            Ok(match digest_info(input).filter(|(hash, _)| aws_lc_takes(*hash)) {
                Some((hash, digest)) => Route::Digest(hash, digest),
                None => Route::Raw(std::borrow::Cow::Borrowed(input)),
            })
        }
        RsaSignScheme::Pkcs1(hash) if aws_lc_takes(hash) => Ok(Route::Digest(hash, input)),
        RsaSignScheme::Pkcs1(hash) => {
            Ok(Route::Raw(std::borrow::Cow::Owned(encoded_digest_info(hash, input)?)))
        }
        RsaSignScheme::Pss { hash, salt_len } if salt_len == hash.output_len() => {
            Ok(Route::Digest(hash, input))
        }
        RsaSignScheme::Pss { hash, salt_len } => Err(Error::ParameterInvalid(format!(
            "RSA-PSS with {} needs a {}-byte salt, not {salt_len}",
            hash.name(),
            hash.output_len()
        ))),
    }
}

fn unsupported(scheme: RsaSignScheme, hash: HashAlg, what: &str) -> Error {
    let message = format!("RSA {what} with {} is not supported (SHA-256, SHA-384, SHA-512 are)", hash.name());
    match scheme {
        RsaSignScheme::Pkcs1DigestInfo => Error::DataInvalid(message),
        RsaSignScheme::Pkcs1(_) => Error::Unsupported(message),
        RsaSignScheme::Pss { .. } => Error::ParameterInvalid(message),
    }
}

fn signing_encoding(scheme: RsaSignScheme, hash: HashAlg) -> Result<&'static dyn RsaEncoding> {
    let pss = matches!(scheme, RsaSignScheme::Pss { .. });
    Ok(match (pss, hash) {
        (false, HashAlg::Sha256) => &signature::RSA_PKCS1_SHA256,
        (false, HashAlg::Sha384) => &signature::RSA_PKCS1_SHA384,
        (false, HashAlg::Sha512) => &signature::RSA_PKCS1_SHA512,
        (true, HashAlg::Sha256) => &signature::RSA_PSS_SHA256,
        (true, HashAlg::Sha384) => &signature::RSA_PSS_SHA384,
        (true, HashAlg::Sha512) => &signature::RSA_PSS_SHA512,
        _ => return Err(unsupported(scheme, hash, "signing")),
    })
}

fn verification(scheme: RsaSignScheme, hash: HashAlg) -> Result<&'static dyn VerificationAlgorithm> {
    let pss = matches!(scheme, RsaSignScheme::Pss { .. });
    Ok(match (pss, hash) {
        (false, HashAlg::Sha1) => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        (false, HashAlg::Sha256) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (false, HashAlg::Sha384) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (false, HashAlg::Sha512) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (true, HashAlg::Sha256) => &signature::RSA_PSS_2048_8192_SHA256,
        (true, HashAlg::Sha384) => &signature::RSA_PSS_2048_8192_SHA384,
        (true, HashAlg::Sha512) => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return Err(unsupported(scheme, hash, "verification")),
    })
}

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

/// An RSA private key, parsed once (from one PKCS#8 document) for signing, decryption and
/// encryption: AWS-LC keeps a signing pair and a decrypting key apart, so both are held here.
pub struct RsaPrivateKey {
    pair: RsaKeyPair,
    pkcs1: Pkcs1PrivateDecryptingKey,
    oaep: OaepPrivateDecryptingKey,
    /// The public half for encryption, and as DER.
    public: PublicEncryptingKey,
    public_der: Vec<u8>,
    /// The components for `raw`, parsed on the first CKM_RSA_PKCS signature that needs them.
    raw: OnceLock<RawRsaKey>,
}

impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPrivateKey({} bits, [REDACTED])", self.modulus_bits())
    }
}

impl RsaPrivateKey {
    pub fn from_pkcs8(der: &[u8]) -> Result<Self> {
        let decrypting = PrivateDecryptingKey::from_pkcs8(der).map_err(rejected)?;
        let pair = RsaKeyPair::from_pkcs8(der).map_err(rejected)?;
        let public_der = pair.public_key().as_der().map_err(|_| failed("RSA public key encoding"))?;
        Ok(Self {
            public_der: public_der.as_ref().to_vec(),
            public: decrypting.public_key(),
            pkcs1: Pkcs1PrivateDecryptingKey::new(decrypting.clone()).map_err(|_| failed("RSA key setup"))?,
            oaep: OaepPrivateDecryptingKey::new(decrypting).map_err(|_| failed("RSA key setup"))?,
            pair,
            raw: OnceLock::new(),
        })
    }

    /// The key for `raw`, parsed from AWS-LC's PKCS#8 export on first use (racing parses wiped).
    fn raw_key(&self) -> Result<&RawRsaKey> {
        if let Some(key) = self.raw.get() {
            return Ok(key);
        }
        let der = self.pair.as_der().map_err(|_| failed("PKCS#8 encoding"))?;
        let _ = self.raw.set(RawRsaKey::from_pkcs8(der.as_ref())?);
        self.raw.get().ok_or_else(|| failed("RSA key setup"))
    }

    #[cfg(test)]
    fn raw_key_is_parsed(&self) -> bool {
        self.raw.get().is_some()
    }

    pub fn modulus_bits(&self) -> usize {
        self.pkcs1.key_size_bits()
    }

    /// SubjectPublicKeyInfo DER.
    pub fn public_key_der(&self) -> Result<Vec<u8>> {
        Ok(self.public_der.clone())
    }

    pub fn public_der(&self) -> &[u8] {
        &self.public_der
    }

    pub fn sign(&self, scheme: RsaSignScheme, input: &[u8]) -> Result<Vec<u8>> {
        let modulus_len = self.pair.public_modulus_len();
        let aws_lc_signs = |hash| signing_encoding(scheme, hash).is_ok();
        let (hash, digest) = match route(scheme, input, modulus_len, aws_lc_signs)? {
            Route::Digest(hash, digest) => (hash, digest),
            Route::Raw(encoded) => return self.raw_key()?.sign_pkcs1(&encoded),
        };
        let encoding = signing_encoding(scheme, hash)?;
        let digest = hash.import_digest(digest)?;
        let mut signature = vec![0; modulus_len];
        self.pair.sign_digest(encoding, &digest, &mut signature).map_err(|_| failed("RSA signing"))?;
        Ok(signature)
    }
}

/// The modulus length in bytes of an RSA SubjectPublicKeyInfo (2048 to 8192 bits).
pub fn rsa_modulus_bytes(spki: &[u8]) -> Result<usize> {
    let (modulus, _) = rsa_public_components(spki)?;
    let bits = modulus.first().map_or(0, |top| modulus.len() * 8 - top.leading_zeros() as usize);
    if !(MIN_BITS..=MAX_BITS).contains(&bits) {
        return Err(key_size_error(bits));
    }
    Ok(modulus.len())
}

/// Verifies against a SubjectPublicKeyInfo.
pub fn rsa_verify(spki: &[u8], scheme: RsaSignScheme, input: &[u8], signature: &[u8]) -> Result<()> {
    let modulus_len = rsa_modulus_bytes(spki)?;
    let aws_lc_verifies = |hash| verification(scheme, hash).is_ok();
    let routed = route(scheme, input, modulus_len, aws_lc_verifies)?;
    if signature.len() != modulus_len {
        return Err(Error::SignatureLength(format!(
            "an RSA signature for this key is {modulus_len} bytes, not {}",
            signature.len()
        )));
    }
    let (algorithm, digest) = match routed {
        Route::Digest(hash, digest) => (verification(scheme, hash)?, hash.import_digest(digest)?),
        Route::Raw(encoded) => {
            let (modulus, exponent) = rsa_public_components(spki)?;
            return raw::verify_pkcs1(&modulus, &exponent, &encoded, signature);
        }
    };
    UnparsedPublicKey::new(algorithm, spki)
        .verify_digest(&digest, signature)
        .map_err(|_| Error::SignatureInvalid("RSA signature does not match"))
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

/// PKCS#8 of a new key of 2048, 3072 or 4096 bits, public exponent 65537.
pub fn rsa_generate(bits: usize) -> Result<SecretBuf> {
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        _ => {
            return Err(Error::KeySize(format!(
                "RSA keys of 2048, 3072 or 4096 bits are generated, not {bits}"
            )));
        }
    };
    let pair = RsaKeyPair::generate(size).map_err(|_| failed("RSA key generation"))?;
    let der = pair.as_der().map_err(|_| failed("PKCS#8 encoding"))?;
    Ok(SecretBuf::copy_from(der.as_ref())?)
}

#[cfg(test)]
mod tests;

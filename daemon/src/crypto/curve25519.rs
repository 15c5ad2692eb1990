//! Ed25519 signatures (pure EdDSA of RFC 8032, PKCS#11's CKM_EDDSA without parameters) and X25519
//! key agreement (RFC 7748, CKM_ECDH1_DERIVE on a Montgomery key), both in AWS-LC.
//!
//! The stored form is PKCS#8 v1 (RFC 8410) for both. AWS-LC reads and writes Ed25519's itself;
//! it neither reads nor writes an X25519 PKCS#8, so this module does, around the raw 32-byte
//! private key: the document has one fixed shape. Public keys are SubjectPublicKeyInfo (RFC 8410),
//! CKA_EC_POINT the DER OCTET STRING of the 32-byte key (PKCS#11 3.0 §2.3.5, §2.3.7).

use std::fmt;

use aws_lc_rs::agreement;
use aws_lc_rs::encoding::{AsBigEndian, Curve25519SeedBin};
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair as _};

use super::der::io::{OCTET_STRING, Reader, encode, tlv_len};
use super::error::{Error, Result, failed};
use super::spec::PairSpec;
use crate::secure_mem::SecretBuf;

/// The length of every key, public or private, and half an Ed25519 signature.
pub const KEY_LEN: usize = 32;
/// An Ed25519 signature: R || S.
pub const ED25519_SIGNATURE_LEN: usize = 64;

/// The SubjectPublicKeyInfo of a key up to its 32 bytes: SEQUENCE { SEQUENCE { OID }, BIT STRING }.
const ED25519_SPKI_PREFIX: [u8; 12] =
    [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
const X25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00];
/// An X25519 PKCS#8 v1 document up to its 32 bytes: version 0, { id-X25519 }, OCTET STRING
/// wrapping the CurvePrivateKey OCTET STRING.
const X25519_PKCS8_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20];

fn spki_prefix(spec: PairSpec) -> Option<&'static [u8; 12]> {
    match spec {
        PairSpec::Ed25519 => Some(&ED25519_SPKI_PREFIX),
        PairSpec::X25519 => Some(&X25519_SPKI_PREFIX),
        _ => None,
    }
}

/// The 32-byte public key of an Ed25519 or X25519 SubjectPublicKeyInfo.
pub fn public_key_bytes(spec: PairSpec, spki: &[u8]) -> Result<&[u8]> {
    let prefix = spki_prefix(spec)
        .ok_or_else(|| Error::KeyType(format!("{} is not Ed25519 or X25519", spec.name())))?;
    match spki.strip_prefix(prefix.as_slice()) {
        Some(key) if key.len() == KEY_LEN => Ok(key),
        _ => Err(Error::Encoding(format!("malformed {} SubjectPublicKeyInfo", spec.name()))),
    }
}

/// The 32-byte key in CKA_EC_POINT: a DER OCTET STRING (PKCS#11 3.0), or the bare bytes.
pub fn point_bytes(point: &[u8]) -> Option<&[u8]> {
    let key = if point.len() == KEY_LEN { point } else { Reader::single(point, OCTET_STRING)? };
    (key.len() == KEY_LEN).then_some(key)
}

/// A SubjectPublicKeyInfo of `spec` from CKA_EC_POINT; an Ed25519 key must decode as a point.
pub fn spki_from_point(spec: PairSpec, point: &[u8]) -> Result<Vec<u8>> {
    let prefix = spki_prefix(spec)
        .ok_or_else(|| Error::KeyType(format!("{} is not Ed25519 or X25519", spec.name())))?;
    let invalid = || Error::Encoding(format!("not a {} public key (32 bytes)", spec.name()));
    let key = point_bytes(point).ok_or_else(invalid)?;
    if spec == PairSpec::Ed25519 {
        signature::ParsedPublicKey::new(&signature::ED25519, key).map_err(|_| invalid())?;
    }
    Ok([prefix.as_slice(), key].concat())
}

/// CKA_EC_POINT of an Ed25519 or X25519 SubjectPublicKeyInfo: DER OCTET STRING of the key.
pub fn point_from_spki(spec: PairSpec, spki: &[u8]) -> Result<Vec<u8>> {
    let key = public_key_bytes(spec, spki)?;
    encode(tlv_len(key.len()), |w| w.tlv(OCTET_STRING, key)).ok_or_else(|| failed("public key encoding"))
}

/// An Ed25519 private key, parsed once.
pub struct Ed25519PrivateKey {
    pair: Ed25519KeyPair,
    public_der: Vec<u8>,
}

impl fmt::Debug for Ed25519PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519PrivateKey([REDACTED])")
    }
}

impl Ed25519PrivateKey {
    pub fn from_pkcs8(der: &[u8]) -> Result<Self> {
        let pair = Ed25519KeyPair::from_pkcs8(der)
            .map_err(|_| Error::KeyType("not an Ed25519 private key".into()))?;
        let public_der = [ED25519_SPKI_PREFIX.as_slice(), pair.public_key().as_ref()].concat();
        Ok(Self { pair, public_der })
    }

    pub fn public_der(&self) -> &[u8] {
        &self.public_der
    }

    /// Pure Ed25519 over the whole message: R || S.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let signature = self.pair.try_sign(message).map_err(|_| failed("Ed25519 signing"))?;
        Ok(signature.as_ref().to_vec())
    }
}

/// Verifies a pure Ed25519 signature with a SubjectPublicKeyInfo.
pub fn ed25519_verify(spki: &[u8], message: &[u8], signature: &[u8]) -> Result<()> {
    if signature.len() != ED25519_SIGNATURE_LEN {
        return Err(Error::SignatureLength(format!(
            "an Ed25519 signature is {ED25519_SIGNATURE_LEN} bytes, not {}",
            signature.len()
        )));
    }
    let key = public_key_bytes(PairSpec::Ed25519, spki)?;
    signature::UnparsedPublicKey::new(&signature::ED25519, key)
        .verify(message, signature)
        .map_err(|_| Error::SignatureInvalid("Ed25519 signature does not match"))
}

/// An X25519 private key, parsed once.
pub struct X25519PrivateKey {
    key: agreement::PrivateKey,
    public_der: Vec<u8>,
}

impl fmt::Debug for X25519PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("X25519PrivateKey([REDACTED])")
    }
}

impl X25519PrivateKey {
    pub fn from_pkcs8(der: &[u8]) -> Result<Self> {
        let invalid = || Error::KeyType("not an X25519 private key".into());
        let raw = der
            .strip_prefix(X25519_PKCS8_PREFIX.as_slice())
            .filter(|k| k.len() == KEY_LEN)
            .ok_or_else(invalid)?;
        let key = agreement::PrivateKey::from_private_key(&agreement::X25519, raw).map_err(|_| invalid())?;
        let public = key.compute_public_key().map_err(|_| failed("X25519 public key"))?;
        let public_der = [X25519_SPKI_PREFIX.as_slice(), public.as_ref()].concat();
        Ok(Self { key, public_der })
    }

    pub fn public_der(&self) -> &[u8] {
        &self.public_der
    }

    /// X25519 with the peer's 32-byte key (bare or as a DER OCTET STRING). An all-zero result
    /// (a peer key of small order) is refused, as RFC 7748 §6.1 allows.
    pub fn derive(&self, peer: &[u8]) -> Result<SecretBuf> {
        let invalid = || Error::ParameterInvalid("the peer's public data is not an X25519 public key".into());
        let peer = point_bytes(peer).ok_or_else(invalid)?;
        let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, peer);
        agreement::agree(&self.key, peer, invalid(), |secret| Ok(SecretBuf::copy_from(secret)?))
    }

    /// X25519 with a peer given as a SubjectPublicKeyInfo, which must be an X25519 key.
    pub fn derive_with_spki(&self, peer_spki: &[u8]) -> Result<SecretBuf> {
        match super::der::spki_spec(peer_spki)? {
            PairSpec::X25519 => self.derive(public_key_bytes(PairSpec::X25519, peer_spki)?),
            other => Err(Error::CurveUnsupported(format!(
                "the peer's public key is {}; this key is X25519",
                other.name()
            ))),
        }
    }
}

fn x25519_pkcs8(raw: &[u8]) -> Result<SecretBuf> {
    let mut der = SecretBuf::zeroed(X25519_PKCS8_PREFIX.len() + KEY_LEN)?;
    let (prefix, key) = der.as_mut_slice().split_at_mut(X25519_PKCS8_PREFIX.len());
    prefix.copy_from_slice(&X25519_PKCS8_PREFIX);
    key.copy_from_slice(raw.get(..KEY_LEN).ok_or_else(|| failed("X25519 key"))?);
    Ok(der)
}

/// PKCS#8 of a new Ed25519 or X25519 key.
pub fn generate(spec: PairSpec) -> Result<SecretBuf> {
    match spec {
        PairSpec::Ed25519 => {
            let pair = Ed25519KeyPair::generate().map_err(|_| failed("Ed25519 key generation"))?;
            Ok(SecretBuf::copy_from(pair.to_pkcs8v1().map_err(|_| failed("PKCS#8 encoding"))?.as_ref())?)
        }
        PairSpec::X25519 => {
            let key = agreement::PrivateKey::generate(&agreement::X25519)
                .map_err(|_| failed("X25519 key generation"))?;
            let raw: Curve25519SeedBin<'_> = key.as_be_bytes().map_err(|_| failed("X25519 key"))?;
            x25519_pkcs8(raw.as_ref())
        }
        other => Err(Error::KeyType(format!("{} is not Ed25519 or X25519", other.name()))),
    }
}

/// PKCS#8 of an Ed25519 or X25519 key from CKA_VALUE: the 32-byte private key of RFC 8032 (the
/// seed) or RFC 7748 (the scalar, clamped when used).
pub fn pkcs8_from_private_value(spec: PairSpec, value: &[u8]) -> Result<SecretBuf> {
    let invalid =
        || Error::Encoding(format!("a {} private key is {KEY_LEN} bytes, not {}", spec.name(), value.len()));
    if value.len() != KEY_LEN {
        return Err(invalid());
    }
    let der = match spec {
        PairSpec::Ed25519 => {
            let pair = Ed25519KeyPair::from_seed_unchecked(value).map_err(|_| invalid())?;
            let der = pair.to_pkcs8v1().map_err(|_| failed("PKCS#8 encoding"))?;
            SecretBuf::copy_from(der.as_ref())?
        }
        PairSpec::X25519 => x25519_pkcs8(value)?,
        other => return Err(Error::KeyType(format!("{} is not Ed25519 or X25519", other.name()))),
    };
    Ok(der)
}

#[cfg(test)]
#[path = "curve25519_tests.rs"]
mod tests;

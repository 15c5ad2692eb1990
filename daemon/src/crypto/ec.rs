//! ECDSA and ECDH on P-256 and P-384 for PKCS#11: CKM_ECDSA over a hash the caller computed (raw
//! `r || s` signatures, as PKCS#11 has them), CKM_ECDH1_DERIVE with CKD_NULL, key generation.

use std::fmt;

use aws_lc_rs::agreement;
use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm, KeyPair as _,
};
use cryptoki_sys::{
    CKR_CURVE_NOT_SUPPORTED, CKR_DATA_LEN_RANGE, CKR_KEY_TYPE_INCONSISTENT, CKR_MECHANISM_PARAM_INVALID,
    CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE,
};

use super::der::{pkcs8_spec, spki_spec, uncompressed_point};
use super::failed;
use crate::error::{Error, Result};
use crate::keys::KeySpec;
use crate::secure_mem::SecretBuf;

/// What one curve needs: its coordinate length and the AWS-LC algorithms over it. The digest of
/// a prehashed signature is the hash normalised to the coordinate length, so SHA-256 and SHA-384
/// stand for "any 32 and 48 bytes".
struct Curve {
    coordinate_len: usize,
    signing: &'static EcdsaSigningAlgorithm,
    verification: &'static EcdsaVerificationAlgorithm,
    agreement: &'static agreement::Algorithm,
    digest: &'static digest::Algorithm,
}

fn curve(spec: KeySpec) -> Option<Curve> {
    match spec {
        KeySpec::EccNistP256 => Some(Curve {
            coordinate_len: 32,
            signing: &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            verification: &signature::ECDSA_P256_SHA256_FIXED,
            agreement: &agreement::ECDH_P256,
            digest: &digest::SHA256,
        }),
        KeySpec::EccNistP384 => Some(Curve {
            coordinate_len: 48,
            signing: &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            verification: &signature::ECDSA_P384_SHA384_FIXED,
            agreement: &agreement::ECDH_P384,
            digest: &digest::SHA384,
        }),
        _ => None,
    }
}

fn not_ec(spec: KeySpec) -> Error {
    Error::p11(CKR_CURVE_NOT_SUPPORTED, format!("{} is not an EC key spec (P-256, P-384)", spec.name()))
}

/// The byte length of a coordinate (and of the scalar) of an EC spec.
pub(super) fn coordinate_len(spec: KeySpec) -> Option<usize> {
    curve(spec).map(|c| c.coordinate_len)
}

/// The length of a raw `r || s` signature; 0 for a spec that is not EC.
pub fn ec_signature_len(spec: KeySpec) -> usize {
    coordinate_len(spec).map_or(0, |len| 2 * len)
}

/// A hash of any length as the digest ECDSA signs: the leftmost bytes when longer than the
/// curve's order, left-padded with zeros when shorter (bits2int for orders of whole bytes).
fn normalised_digest(curve: &Curve, hash: &[u8]) -> Result<Digest> {
    if hash.is_empty() {
        return Err(Error::p11(CKR_DATA_LEN_RANGE, "CKM_ECDSA input (the hash) is empty"));
    }
    let mut digest = vec![0u8; curve.coordinate_len];
    let take = hash.len().min(curve.coordinate_len);
    let (head, _) = hash.split_at(take);
    digest.get_mut(curve.coordinate_len - take..).ok_or_else(|| failed("ECDSA"))?.copy_from_slice(head);
    Digest::import_less_safe(&digest, curve.digest).map_err(|_| failed("ECDSA digest import"))
}

/// An EC private key, parsed once for signing and key agreement.
pub struct EcPrivateKey {
    spec: KeySpec,
    signing: EcdsaKeyPair,
    agreement: agreement::PrivateKey,
    public_der: Vec<u8>,
}

impl fmt::Debug for EcPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EcPrivateKey({}, [REDACTED])", self.spec.name())
    }
}

impl EcPrivateKey {
    /// A PKCS#8 EC key; the curve is read from the document.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self> {
        let spec = pkcs8_spec(der)?;
        let curve =
            curve(spec).ok_or_else(|| Error::p11(CKR_KEY_TYPE_INCONSISTENT, "not an EC private key"))?;
        let rejected =
            |_| Error::p11(CKR_KEY_TYPE_INCONSISTENT, format!("not a valid {} private key", spec.name()));
        let signing = EcdsaKeyPair::from_pkcs8(curve.signing, der).map_err(rejected)?;
        let agreement =
            agreement::PrivateKey::from_private_key_der(curve.agreement, der).map_err(rejected)?;
        let public_der = signing.public_key().as_der().map_err(|_| failed("EC public key encoding"))?;
        Ok(Self { spec, signing, agreement, public_der: public_der.as_ref().to_vec() })
    }

    /// EccNistP256 or EccNistP384.
    pub fn spec(&self) -> KeySpec {
        self.spec
    }

    /// SubjectPublicKeyInfo DER.
    pub fn public_key_der(&self) -> Result<Vec<u8>> {
        Ok(self.public_der.clone())
    }

    fn curve(&self) -> Result<Curve> {
        curve(self.spec).ok_or_else(|| not_ec(self.spec))
    }

    /// CKM_ECDSA over `hash` (any length, normalised to the curve): raw `r || s`.
    pub fn sign_prehashed(&self, hash: &[u8]) -> Result<Vec<u8>> {
        let digest = normalised_digest(&self.curve()?, hash)?;
        let signature = self.signing.sign_digest(&digest).map_err(|_| failed("ECDSA signing"))?;
        Ok(signature.as_ref().to_vec())
    }

    /// CKM_ECDH1_DERIVE with CKD_NULL: the shared x-coordinate with the peer's uncompressed
    /// point, bare (04 || X || Y) or as a DER OCTET STRING.
    pub fn derive(&self, peer: &[u8]) -> Result<SecretBuf> {
        let curve = self.curve()?;
        let invalid = || {
            Error::p11(
                CKR_MECHANISM_PARAM_INVALID,
                format!("the peer's public data is not an uncompressed {} point", self.spec.name()),
            )
        };
        let point = uncompressed_point(self.spec, peer).ok_or_else(invalid)?;
        let peer = agreement::UnparsedPublicKey::new(curve.agreement, point);
        agreement::agree(&self.agreement, peer, invalid(), SecretBuf::copy_from)
    }
}

/// Verifies a raw `r || s` signature over `hash` (normalised as for signing) with an EC
/// SubjectPublicKeyInfo.
pub fn ecdsa_verify_prehashed(spki: &[u8], hash: &[u8], signature: &[u8]) -> Result<()> {
    let spec = spki_spec(spki)?;
    let curve = curve(spec).ok_or_else(|| Error::p11(CKR_KEY_TYPE_INCONSISTENT, "not an EC public key"))?;
    if signature.len() != 2 * curve.coordinate_len {
        return Err(Error::p11(
            CKR_SIGNATURE_LEN_RANGE,
            format!(
                "a {} signature is {} bytes, not {}",
                spec.name(),
                2 * curve.coordinate_len,
                signature.len()
            ),
        ));
    }
    let digest = normalised_digest(&curve, hash)?;
    signature::UnparsedPublicKey::new(curve.verification, spki)
        .verify_digest(&digest, signature)
        .map_err(|_| Error::p11(CKR_SIGNATURE_INVALID, "ECDSA signature does not match"))
}

/// PKCS#8 of a new key of an EC spec.
pub fn ec_generate(spec: KeySpec) -> Result<SecretBuf> {
    let curve = curve(spec).ok_or_else(|| not_ec(spec))?;
    let pair = EcdsaKeyPair::generate(curve.signing).map_err(|_| failed("EC key generation"))?;
    let der = pair.to_pkcs8v1().map_err(|_| failed("PKCS#8 encoding"))?;
    SecretBuf::copy_from(der.as_ref())
}

#[cfg(test)]
#[path = "ec_tests.rs"]
mod tests;

//! ECDSA and ECDH on P-256, P-384, P-521 and secp256k1 for PKCS#11: CKM_ECDSA over a hash the
//! caller computed (raw `r || s` signatures, as PKCS#11 has them), CKM_ECDH1_DERIVE with CKD_NULL,
//! key generation; and KMS's DeriveSharedSecret, the same ECDH with the peer given as a
//! SubjectPublicKeyInfo. AWS-LC has no ECDH on secp256k1: such keys sign only.

use std::fmt;

use aws_lc_rs::agreement;
use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm, KeyPair as _,
};

use super::der::io::{Reader, SEQUENCE, encode, strip_leading_zeros, tlv_len, uint_content_len};
use super::der::{ec_params, ec_spki_parts, pkcs8_spec, spki_spec, uncompressed_point};
use super::error::{Error, Result, failed};
use super::spec::PairSpec;
use crate::secure_mem::SecretBuf;

/// What one curve needs: its coordinate length, the bit length of its order and the AWS-LC
/// algorithms over it. The digest of a prehashed signature is the hash normalised to the order
/// (bits2int), carried in a digest of the curve's own hash (SHA-256, SHA-384, SHA-512) as
/// "any 32, 48 or 64 bytes".
struct Curve {
    coordinate_len: usize,
    order_bits: usize,
    signing: &'static EcdsaSigningAlgorithm,
    verification: &'static EcdsaVerificationAlgorithm,
    /// `None` on secp256k1, which AWS-LC signs on but has no key agreement for.
    agreement: Option<&'static agreement::Algorithm>,
    digest: &'static digest::Algorithm,
}

fn curve(spec: PairSpec) -> Option<Curve> {
    let (signing, verification, agreement, digest) = match spec {
        PairSpec::EccNistP256 => (
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &signature::ECDSA_P256_SHA256_FIXED,
            Some(&agreement::ECDH_P256),
            &digest::SHA256,
        ),
        PairSpec::EccNistP384 => (
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            &signature::ECDSA_P384_SHA384_FIXED,
            Some(&agreement::ECDH_P384),
            &digest::SHA384,
        ),
        PairSpec::EccNistP521 => (
            &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
            &signature::ECDSA_P521_SHA512_FIXED,
            Some(&agreement::ECDH_P521),
            &digest::SHA512,
        ),
        PairSpec::EccSecgP256k1 => (
            &signature::ECDSA_P256K1_SHA256_FIXED_SIGNING,
            &signature::ECDSA_P256K1_SHA256_FIXED,
            None,
            &digest::SHA256,
        ),
        PairSpec::Rsa2048
        | PairSpec::Rsa3072
        | PairSpec::Rsa4096
        | PairSpec::RsaOther
        | PairSpec::Ed25519
        | PairSpec::X25519 => {
            return None;
        }
    };
    Some(Curve {
        coordinate_len: spec.coordinate_len()?,
        order_bits: spec.order_bits()?,
        signing,
        verification,
        agreement,
        digest,
    })
}

fn not_ec(spec: PairSpec) -> Error {
    Error::CurveUnsupported(format!("{} is not an EC key spec (P-256, P-384, P-521, secp256k1)", spec.name()))
}

/// The length of a raw `r || s` signature; 0 for a spec that is not EC.
pub fn ec_signature_len(spec: PairSpec) -> usize {
    spec.coordinate_len().map_or(0, |len| 2 * len)
}

/// A raw `r || s` signature as a DER ECDSA-Sig-Value (the form KMS hands out).
fn der_signature(signature: &[u8]) -> Result<Vec<u8>> {
    let (r, s) = signature.split_at(signature.len() / 2);
    let content = tlv_len(uint_content_len(r)) + tlv_len(uint_content_len(s));
    encode(tlv_len(content), |w| {
        w.header(SEQUENCE, content)?;
        w.uint(r)?;
        w.uint(s)
    })
    .ok_or_else(|| failed("ECDSA signature encoding"))
}

/// A hash of any length as the digest ECDSA signs (bits2int of SEC 1 §4.1.3): the leftmost bytes
/// when longer than an order of whole bytes, left-padded with zeros when shorter. P-521's order
/// is 521 bits while the digest AWS-LC takes is 64 bytes: inputs of at most 64 bytes keep their
/// value when padded, longer ones (which bits2int would keep up to 521 bits) are refused.
fn normalised_digest(curve: &Curve, hash: &[u8]) -> Result<Digest> {
    if hash.is_empty() {
        return Err(Error::DataLength("CKM_ECDSA input (the hash) is empty".into()));
    }
    let taken = match curve.order_bits % 8 {
        0 => hash.get(..hash.len().min(curve.order_bits / 8)).unwrap_or(hash),
        _ => hash,
    };
    let len = curve.digest.output_len();
    let start = len.checked_sub(taken.len()).ok_or_else(|| {
        Error::DataLength(format!(
            "ECDSA on a curve of {} bits signs inputs of at most {len} bytes, not {}",
            curve.order_bits,
            hash.len()
        ))
    })?;
    let mut digest = vec![0u8; len];
    digest.get_mut(start..).ok_or_else(|| failed("ECDSA"))?.copy_from_slice(taken);
    Digest::import_less_safe(&digest, curve.digest).map_err(|_| failed("ECDSA digest import"))
}

/// The key agreement algorithms of KMS's DeriveSharedSecret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAgreementAlgorithm {
    /// Plain ECDH: the shared secret is the X coordinate of the shared point.
    Ecdh,
}

impl KeyAgreementAlgorithm {
    pub const ALL: [Self; 1] = [Self::Ecdh];

    pub fn name(self) -> &'static str {
        match self {
            Self::Ecdh => "ECDH",
        }
    }
}

/// An EC private key, parsed once for signing and key agreement.
pub struct EcPrivateKey {
    spec: PairSpec,
    signing: EcdsaKeyPair,
    /// `None` on a curve without key agreement (secp256k1).
    agreement: Option<agreement::PrivateKey>,
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
        let curve = curve(spec).ok_or_else(|| Error::KeyType("not an EC private key".into()))?;
        let rejected = |_| Error::KeyType(format!("not a valid {} private key", spec.name()));
        let signing = EcdsaKeyPair::from_pkcs8(curve.signing, der).map_err(rejected)?;
        let agreement = match curve.agreement {
            Some(algorithm) => {
                Some(agreement::PrivateKey::from_private_key_der(algorithm, der).map_err(rejected)?)
            }
            None => None,
        };
        let public_der = signing.public_key().as_der().map_err(|_| failed("EC public key encoding"))?;
        Ok(Self { spec, signing, agreement, public_der: public_der.as_ref().to_vec() })
    }

    /// The curve's spec.
    pub fn spec(&self) -> PairSpec {
        self.spec
    }

    /// SubjectPublicKeyInfo DER.
    pub fn public_key_der(&self) -> Result<Vec<u8>> {
        Ok(self.public_der.clone())
    }

    pub fn public_der(&self) -> &[u8] {
        &self.public_der
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

    /// ECDSA over `hash` as CKM_ECDSA signs it, as a DER ECDSA-Sig-Value.
    pub fn sign_prehashed_der(&self, hash: &[u8]) -> Result<Vec<u8>> {
        der_signature(&self.sign_prehashed(hash)?)
    }

    /// CKM_ECDH1_DERIVE with CKD_NULL: the shared x-coordinate with the peer's uncompressed
    /// point, bare (04 || X || Y) or as a DER OCTET STRING.
    pub fn derive(&self, peer: &[u8]) -> Result<SecretBuf> {
        let curve = self.curve()?;
        let invalid = || {
            Error::ParameterInvalid(format!(
                "the peer's public data is not an uncompressed {} point",
                self.spec.name()
            ))
        };
        let (Some(algorithm), Some(private)) = (curve.agreement, &self.agreement) else {
            return Err(Error::CurveUnsupported(format!("no key agreement on {}", self.spec.name())));
        };
        let point = uncompressed_point(self.spec, peer).ok_or_else(invalid)?;
        let peer = agreement::UnparsedPublicKey::new(algorithm, point);
        agreement::agree(private, peer, invalid(), |secret| Ok(SecretBuf::copy_from(secret)?))
    }

    /// ECDH with a peer given as a DER SubjectPublicKeyInfo, which must be on this key's curve:
    /// the shared X coordinate, as [`Self::derive`] computes it.
    pub fn derive_with_spki(&self, peer_spki: &[u8]) -> Result<SecretBuf> {
        let (spec, point) = ec_spki_parts(peer_spki)?;
        if spec != self.spec {
            return Err(Error::CurveUnsupported(format!(
                "the peer's public key is {}; this key is {}",
                spec.name(),
                self.spec.name()
            )));
        }
        self.derive(point)
    }
}

/// Verifies a raw `r || s` signature over `hash` (normalised as for signing) with an EC
/// SubjectPublicKeyInfo.
pub fn ecdsa_verify_prehashed(spki: &[u8], hash: &[u8], signature: &[u8]) -> Result<()> {
    let spec = spki_spec(spki)?;
    let curve = curve(spec).ok_or_else(|| Error::KeyType("not an EC public key".into()))?;
    if signature.len() != 2 * curve.coordinate_len {
        return Err(Error::SignatureLength(format!(
            "a {} signature is {} bytes, not {}",
            spec.name(),
            2 * curve.coordinate_len,
            signature.len()
        )));
    }
    let digest = normalised_digest(&curve, hash)?;
    signature::UnparsedPublicKey::new(curve.verification, spki)
        .verify_digest(&digest, signature)
        .map_err(|_| Error::SignatureInvalid("ECDSA signature does not match"))
}

/// A PKCS#8 EC private key from CKA_VALUE (the big-endian scalar; short values are left-padded),
/// by way of an RFC 5915 ECPrivateKey without its public key, which AWS-LC computes.
pub fn ec_pkcs8_from_scalar(spec: PairSpec, scalar: &[u8]) -> Result<SecretBuf> {
    let (Some(curve), Some(params)) = (curve(spec), ec_params(spec)) else {
        return Err(Error::CurveUnsupported(format!("{} is not an EC spec", spec.name())));
    };
    let invalid = || Error::Encoding(format!("not a {} private scalar (1 to n-1)", spec.name()));
    let value = strip_leading_zeros(scalar);
    let len = curve.coordinate_len;
    let start = len.checked_sub(value.len()).ok_or_else(invalid)?;
    // SEQUENCE { INTEGER 1, OCTET STRING scalar, [0] { namedCurve } }
    let content = 3 + tlv_len(len) + tlv_len(params.len());
    let mut rfc5915 = SecretBuf::zeroed(tlv_len(content))?;
    let mut writer = super::der::io::Writer::new(rfc5915.as_mut_slice());
    let written = (|| {
        writer.header(SEQUENCE, content)?;
        writer.bytes(&[0x02, 1, 1])?;
        writer.header(0x04, len)?;
        writer.bytes(&vec![0u8; start])?;
        writer.bytes(value)?;
        writer.header(0xa0, params.len())?;
        writer.bytes(params)
    })();
    if written.is_none() || !writer.is_full() {
        return Err(failed("EC private key encoding"));
    }
    let pair =
        EcdsaKeyPair::from_private_key_der(curve.signing, rfc5915.as_slice()).map_err(|_| invalid())?;
    let der = pair.to_pkcs8v1().map_err(|_| failed("PKCS#8 encoding"))?;
    let der = SecretBuf::copy_from(der.as_ref())?;
    EcPrivateKey::from_pkcs8(der.as_slice()).map_err(|_| invalid())?;
    Ok(der)
}

/// Verifies a DER ECDSA-Sig-Value (the form KMS takes) over `hash` as `ecdsa_verify_prehashed`
/// does; an encoding that is not strict DER, or integers too long for the curve, do not verify.
pub fn ecdsa_verify_der(spki: &[u8], hash: &[u8], signature: &[u8]) -> Result<()> {
    let coordinate_len =
        spki_spec(spki)?.coordinate_len().ok_or_else(|| Error::KeyType("not an EC public key".into()))?;
    let invalid = || Error::SignatureInvalid("ECDSA signature does not match");
    let mut reader = Reader::new(Reader::single(signature, SEQUENCE).ok_or_else(invalid)?);
    let mut fixed = vec![0u8; 2 * coordinate_len];
    for half in fixed.chunks_mut(coordinate_len) {
        let value = reader.unsigned().ok_or_else(invalid)?;
        let start = coordinate_len.checked_sub(value.len()).ok_or_else(invalid)?;
        half.get_mut(start..).ok_or_else(invalid)?.copy_from_slice(value);
    }
    if !reader.is_empty() {
        return Err(invalid());
    }
    ecdsa_verify_prehashed(spki, hash, &fixed)
}

/// PKCS#8 of a new key of an EC spec.
pub fn ec_generate(spec: PairSpec) -> Result<SecretBuf> {
    let curve = curve(spec).ok_or_else(|| not_ec(spec))?;
    let pair = EcdsaKeyPair::generate(curve.signing).map_err(|_| failed("EC key generation"))?;
    let der = pair.to_pkcs8v1().map_err(|_| failed("PKCS#8 encoding"))?;
    Ok(SecretBuf::copy_from(der.as_ref())?)
}

#[cfg(test)]
mod tests;

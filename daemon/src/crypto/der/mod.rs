//! PKCS#11 attribute forms to and from the DER documents Arca keeps: SubjectPublicKeyInfo for
//! public keys, PKCS#8 for private keys.
//!
//! Errors: malformed DER is `Encoding`, a well-formed key of another algorithm `KeyType`, another
//! curve `CurveUnsupported`, an RSA size other than 2048, 3072 or 4096 bits (where a spec is
//! asked for) `KeySize`.

pub(crate) mod io;

use aws_lc_rs::signature::{self, UnparsedPublicKey};

use super::error::{Error, Result, failed};
use super::spec::PairSpec;
use crate::secure_mem::SecretBuf;
use io::{
    BIT_STRING, INTEGER, NULL, OCTET_STRING, OID, Reader, SEQUENCE, Writer, encode, strip_leading_zeros,
    tlv_len, uint_content_len,
};

/// OID contents: rsaEncryption, id-ecPublicKey; namedCurve TLVs: prime256v1, secp384r1, secp521r1,
/// secp256k1.
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// OID contents of id-Ed25519 and id-X25519 (RFC 8410).
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const X25519: &[u8] = &[0x2b, 0x65, 0x6e];
const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384_PARAMS: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const P521_PARAMS: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
const K256_PARAMS: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
/// CKA_EC_PARAMS of Ed25519 and X25519 as Arca reports them (the RFC 8410 OID), and every form it
/// accepts: that OID, the PrintableString of the curve's name, the OID GnuPG and OpenSC use.
const ED25519_PARAMS: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
const X25519_PARAMS: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];
const ED25519_NAMES: [&[u8]; 3] = [
    ED25519_PARAMS,
    b"\x13\x0cedwards25519",
    &[0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01],
];
const X25519_NAMES: [&[u8]; 3] = [
    X25519_PARAMS,
    b"\x13\x0acurve25519",
    &[0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01],
];
/// AlgorithmIdentifier { rsaEncryption, NULL }.
const RSA_ALGORITHM: &[u8] =
    &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
/// The OID TLV of id-ecPublicKey.
const EC_PUBLIC_KEY_OID: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

fn malformed(what: &str) -> Error {
    Error::Encoding(format!("malformed {what}"))
}

fn not_rsa() -> Error {
    Error::KeyType("not an RSA key".into())
}

/// An AlgorithmIdentifier: the OID's content and the parameters' whole TLV, if any.
struct AlgorithmId<'a> {
    oid: &'a [u8],
    params: Option<&'a [u8]>,
}

fn algorithm_id(content: &[u8]) -> Option<AlgorithmId<'_>> {
    let mut reader = Reader::new(content);
    let oid = reader.expect(OID)?;
    let params = if reader.is_empty() { None } else { Some(reader.raw()?) };
    reader.is_empty().then_some(AlgorithmId { oid, params })
}

/// A SubjectPublicKeyInfo: its algorithm and the BIT STRING's bytes.
fn parse_spki(spki: &[u8]) -> Result<(AlgorithmId<'_>, &[u8])> {
    let parse = || {
        let mut reader = Reader::new(Reader::single(spki, SEQUENCE)?);
        let algorithm = algorithm_id(reader.expect(SEQUENCE)?)?;
        let (unused_bits, key) = reader.expect(BIT_STRING)?.split_first()?;
        (reader.is_empty() && *unused_bits == 0).then_some((algorithm, key))
    };
    parse().ok_or_else(|| malformed("SubjectPublicKeyInfo"))
}

fn rsa_params_ok(params: Option<&[u8]>) -> bool {
    params.is_none_or(|p| p == [NULL, 0])
}

/// (modulus, public exponent) of an RSA SubjectPublicKeyInfo: big-endian, no leading zeros.
pub fn rsa_public_components(spki: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let (algorithm, key) = parse_spki(spki)?;
    if algorithm.oid != RSA_ENCRYPTION {
        return Err(not_rsa());
    }
    let parse = || {
        let mut reader = Reader::new(Reader::single(key, SEQUENCE)?);
        let (modulus, exponent) = (reader.unsigned()?, reader.unsigned()?);
        reader.is_empty().then(|| (modulus.to_vec(), exponent.to_vec()))
    };
    match parse() {
        Some(parts) if rsa_params_ok(algorithm.params) => Ok(parts),
        _ => Err(malformed("RSA public key")),
    }
}

/// An RSA SubjectPublicKeyInfo from CKA_MODULUS and CKA_PUBLIC_EXPONENT.
pub fn rsa_spki(modulus: &[u8], public_exponent: &[u8]) -> Result<Vec<u8>> {
    let (n, e) = (strip_leading_zeros(modulus), strip_leading_zeros(public_exponent));
    let odd = |v: &[u8]| v.last().is_some_and(|b| b & 1 == 1);
    if !odd(n) || n.len() < 64 || !odd(e) || e == [1] || e.len() > n.len() {
        return Err(Error::Encoding("not a valid RSA modulus and public exponent".into()));
    }
    let key_len = tlv_len(uint_content_len(n)) + tlv_len(uint_content_len(e));
    let bit_string_len = 1 + tlv_len(key_len);
    let outer_len = RSA_ALGORITHM.len() + tlv_len(bit_string_len);
    encode(tlv_len(outer_len), |w| {
        w.header(SEQUENCE, outer_len)?;
        w.bytes(RSA_ALGORITHM)?;
        w.header(BIT_STRING, bit_string_len)?;
        w.bytes(&[0])?;
        w.header(SEQUENCE, key_len)?;
        w.uint(n)?;
        w.uint(e)
    })
    .ok_or_else(|| failed("RSA public key encoding"))
}

/// CKA_* of an RSA private key, big-endian unsigned.
#[derive(Clone, Copy)]
pub struct RsaPrivateComponents<'a> {
    pub modulus: &'a [u8],
    pub public_exponent: &'a [u8],
    pub private_exponent: &'a [u8],
    pub prime_1: &'a [u8],
    pub prime_2: &'a [u8],
    pub exponent_1: &'a [u8],
    pub exponent_2: &'a [u8],
    pub coefficient: &'a [u8],
}

impl std::fmt::Debug for RsaPrivateComponents<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPrivateComponents([REDACTED])")
    }
}

/// A PKCS#8 RSA private key (PKCS#1 RSAPrivateKey inside) built in locked memory; the caller
/// has AWS-LC check that the components agree (`rsa::rsa_pkcs8_from_components`).
pub(super) fn rsa_pkcs8_encode(parts: &RsaPrivateComponents<'_>) -> Result<SecretBuf> {
    let fields = [
        parts.modulus,
        parts.public_exponent,
        parts.private_exponent,
        parts.prime_1,
        parts.prime_2,
        parts.exponent_1,
        parts.exponent_2,
        parts.coefficient,
    ];
    let version = [INTEGER, 1, 0];
    let rsa_len = version.len() + fields.iter().map(|f| tlv_len(uint_content_len(f))).sum::<usize>();
    let outer_len = version.len() + RSA_ALGORITHM.len() + tlv_len(tlv_len(rsa_len));
    let mut der = SecretBuf::zeroed(tlv_len(outer_len))?;
    let mut writer = Writer::new(der.as_mut_slice());
    let written = (|| {
        writer.header(SEQUENCE, outer_len)?;
        writer.bytes(&version)?;
        writer.bytes(RSA_ALGORITHM)?;
        writer.header(OCTET_STRING, tlv_len(rsa_len))?;
        writer.header(SEQUENCE, rsa_len)?;
        writer.bytes(&version)?;
        fields.iter().try_for_each(|f| writer.uint(f))
    })();
    if written.is_none() || !writer.is_full() {
        return Err(failed("RSA private key encoding"));
    }
    Ok(der)
}

/// CKA_EC_PARAMS (a namedCurve OID) of an EC spec.
pub fn ec_params(spec: PairSpec) -> Option<&'static [u8]> {
    match spec {
        PairSpec::EccNistP256 => Some(P256_PARAMS),
        PairSpec::EccNistP384 => Some(P384_PARAMS),
        PairSpec::EccNistP521 => Some(P521_PARAMS),
        PairSpec::EccSecgP256k1 => Some(K256_PARAMS),
        PairSpec::Ed25519 => Some(ED25519_PARAMS),
        PairSpec::X25519 => Some(X25519_PARAMS),
        PairSpec::Rsa2048 | PairSpec::Rsa3072 | PairSpec::Rsa4096 | PairSpec::RsaOther => None,
    }
}

/// The spec of CKA_EC_PARAMS: P-256, P-384, P-521 or secp256k1 named by OID; Ed25519 and X25519
/// by OID (RFC 8410, or the older ones GnuPG and OpenSC use) or by the PrintableString
/// "edwards25519" / "curve25519" (PKCS#11 3.0 §2.3.3 allows both).
pub fn ec_spec_from_params(params: &[u8]) -> Result<PairSpec> {
    let mut reader = Reader::new(params);
    if reader.any().is_none() || !reader.is_empty() {
        return Err(malformed("EC parameters"));
    }
    match params {
        P256_PARAMS => Ok(PairSpec::EccNistP256),
        P384_PARAMS => Ok(PairSpec::EccNistP384),
        P521_PARAMS => Ok(PairSpec::EccNistP521),
        K256_PARAMS => Ok(PairSpec::EccSecgP256k1),
        p if ED25519_NAMES.contains(&p) => Ok(PairSpec::Ed25519),
        p if X25519_NAMES.contains(&p) => Ok(PairSpec::X25519),
        _ => Err(Error::CurveUnsupported(
            "the curves are P-256, P-384, P-521, secp256k1, edwards25519 and curve25519 (not P-224, Ed448, X448)"
                .into(),
        )),
    }
}

pub(super) fn ec_spki_parts(spki: &[u8]) -> Result<(PairSpec, &[u8])> {
    let (algorithm, point) = parse_spki(spki)?;
    if algorithm.oid != EC_PUBLIC_KEY {
        return Err(Error::KeyType("not an EC public key".into()));
    }
    let spec = ec_spec_from_params(algorithm.params.unwrap_or_default())?;
    if spec.coordinate_len().is_none() {
        return Err(Error::CurveUnsupported(format!("{} is not a curve of id-ecPublicKey", spec.name())));
    }
    Ok((spec, point))
}

/// CKA_EC_POINT of an EC SubjectPublicKeyInfo: DER OCTET STRING of 04 || X || Y (of the 32-byte
/// key for Ed25519 and X25519).
pub fn ec_point_from_spki(spki: &[u8]) -> Result<Vec<u8>> {
    if let Ok(spec @ (PairSpec::Ed25519 | PairSpec::X25519)) = spki_spec(spki) {
        return super::curve25519::point_from_spki(spec, spki);
    }
    let (_, point) = ec_spki_parts(spki)?;
    encode(tlv_len(point.len()), |w| w.tlv(OCTET_STRING, point)).ok_or_else(|| failed("EC point encoding"))
}

/// The raw uncompressed point in CKA_EC_POINT (DER OCTET STRING, or the bare point).
pub(super) fn uncompressed_point(spec: PairSpec, ec_point: &[u8]) -> Option<&[u8]> {
    let len = 1 + 2 * spec.coordinate_len()?;
    let point = if ec_point.len() == len { ec_point } else { Reader::single(ec_point, OCTET_STRING)? };
    (point.len() == len && point.first() == Some(&0x04)).then_some(point)
}

/// An EC SubjectPublicKeyInfo from a spec and CKA_EC_POINT, the point checked to be on the curve.
pub fn ec_spki(spec: PairSpec, ec_point: &[u8]) -> Result<Vec<u8>> {
    if spec.is_curve25519() {
        return super::curve25519::spki_from_point(spec, ec_point);
    }
    let (params, verification): (_, &'static signature::EcdsaVerificationAlgorithm) = match spec {
        PairSpec::EccNistP256 => (P256_PARAMS, &signature::ECDSA_P256_SHA256_FIXED),
        PairSpec::EccNistP384 => (P384_PARAMS, &signature::ECDSA_P384_SHA384_FIXED),
        PairSpec::EccNistP521 => (P521_PARAMS, &signature::ECDSA_P521_SHA512_FIXED),
        PairSpec::EccSecgP256k1 => (K256_PARAMS, &signature::ECDSA_P256K1_SHA256_FIXED),
        _ => return Err(Error::CurveUnsupported(format!("{} is not an EC spec", spec.name()))),
    };
    let invalid = || Error::Encoding(format!("not an uncompressed {} point", spec.name()));
    let point = uncompressed_point(spec, ec_point).ok_or_else(invalid)?;
    UnparsedPublicKey::new(verification, point).parse().map_err(|_| invalid())?;
    let algorithm_len = EC_PUBLIC_KEY_OID.len() + params.len();
    let outer_len = tlv_len(algorithm_len) + tlv_len(1 + point.len());
    encode(tlv_len(outer_len), |w| {
        w.header(SEQUENCE, outer_len)?;
        w.header(SEQUENCE, algorithm_len)?;
        w.bytes(EC_PUBLIC_KEY_OID)?;
        w.bytes(params)?;
        w.header(BIT_STRING, 1 + point.len())?;
        w.bytes(&[0])?;
        w.bytes(point)
    })
    .ok_or_else(|| failed("EC public key encoding"))
}

fn rsa_spec(modulus: &[u8]) -> Result<PairSpec> {
    let bits = modulus.first().map_or(0, |top| modulus.len() * 8 - top.leading_zeros() as usize);
    PairSpec::rsa(bits).ok_or_else(|| {
        let (min, max) = (super::spec::RSA_TOKEN_BITS.start(), super::spec::RSA_TOKEN_BITS.end());
        Error::KeySize(format!("RSA keys of {min} to {max} bits are supported, not {bits}"))
    })
}

fn unsupported_algorithm() -> Error {
    Error::KeyType(
        "only RSA, EC (P-256, P-384, P-521, secp256k1), Ed25519 and X25519 keys are supported".into(),
    )
}

/// The spec of a PKCS#8 private key.
pub fn pkcs8_spec(der: &[u8]) -> Result<PairSpec> {
    let parse = || {
        let mut reader = Reader::new(Reader::single(der, SEQUENCE)?);
        let version = reader.unsigned()?;
        let algorithm = algorithm_id(reader.expect(SEQUENCE)?)?;
        let private_key = reader.expect(OCTET_STRING)?;
        (version.len() <= 1 && version.first().is_none_or(|v| *v == 1)).then_some((algorithm, private_key))
    };
    let (algorithm, private_key) = parse().ok_or_else(|| malformed("PKCS#8 private key"))?;
    match algorithm.oid {
        RSA_ENCRYPTION => {
            let modulus = || {
                let mut reader = Reader::new(Reader::single(private_key, SEQUENCE)?);
                reader.unsigned()?;
                reader.unsigned()
            };
            let modulus = modulus().filter(|_| rsa_params_ok(algorithm.params));
            rsa_spec(modulus.ok_or_else(|| malformed("RSA private key"))?)
        }
        EC_PUBLIC_KEY => ec_spec_from_params(algorithm.params.unwrap_or_default()),
        ED25519 if algorithm.params.is_none() => Ok(PairSpec::Ed25519),
        X25519 if algorithm.params.is_none() => Ok(PairSpec::X25519),
        _ => Err(unsupported_algorithm()),
    }
}

/// The spec of a SubjectPublicKeyInfo.
pub fn spki_spec(spki: &[u8]) -> Result<PairSpec> {
    let (algorithm, _) = parse_spki(spki)?;
    match algorithm.oid {
        RSA_ENCRYPTION => rsa_spec(&rsa_public_components(spki)?.0),
        EC_PUBLIC_KEY => ec_spki_parts(spki).map(|(spec, _)| spec),
        ED25519 if algorithm.params.is_none() => Ok(PairSpec::Ed25519),
        X25519 if algorithm.params.is_none() => Ok(PairSpec::X25519),
        _ => Err(unsupported_algorithm()),
    }
}

#[cfg(test)]
mod tests;

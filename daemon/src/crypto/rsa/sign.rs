//! RSA signatures: which schemes there are, and who makes or checks each signature. AWS-LC signs
//! and verifies what it can (PKCS#1 v1.5 and PSS with SHA-256/384/512, PSS salts of the hash
//! length, keys of 2048 bits or more); the raw operation everything else: CKM_RSA_PKCS input
//! other than a DigestInfo AWS-LC takes, the SHA-1 and SHA-224 DigestInfos, PSS with SHA-1 or
//! SHA-224 or another salt length, CKM_RSA_X_509, and every scheme on keys below 2048 bits.

use std::borrow::Cow;

use aws_lc_rs::signature::{self, RsaEncoding, UnparsedPublicKey, VerificationAlgorithm};

use super::raw::RawPublic;
use super::{RsaPrivateKey, pkcs1, pss, rsa_modulus_bytes};
use crate::crypto::der::rsa_public_components;
use crate::crypto::digest::HashAlg;
use crate::crypto::{Error, Result, failed};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaSignScheme {
    /// CKM_RSA_PKCS: type-1 padding over the input as given (usually a DER DigestInfo, but any
    /// bytes up to k − 11 are signed).
    Pkcs1DigestInfo,
    /// PKCS#1 v1.5 over a digest of this hash (CKM_SHA256_RSA_PKCS etc. after hashing).
    Pkcs1(HashAlg),
    /// RSASSA-PSS, MGF1 with the same hash, over a digest, with a salt of `salt_len` bytes.
    Pss { hash: HashAlg, salt_len: usize },
    /// CKM_RSA_X_509: the raw operation on up to k bytes (zeros on the left) below n.
    Raw,
}

/// The DER prefixes of a DigestInfo (RFC 8017 section 9.2, note 1), each followed by the digest.
pub(super) const DIGEST_INFO_PREFIXES: [(HashAlg, &[u8]); 5] = [
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
pub(super) fn encoded_digest_info(hash: HashAlg, digest: &[u8]) -> Result<Vec<u8>> {
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
    AwsLc(HashAlg, &'a [u8]),
    /// The raw operation over the PKCS#1 v1.5 type-1 block of these bytes.
    Pkcs1(Cow<'a, [u8]>),
    /// The raw operation over an EMSA-PSS encoding of this digest.
    Pss { hash: HashAlg, digest: &'a [u8], salt_len: usize },
    /// The raw operation over the input itself.
    X509(&'a [u8]),
}

/// The route of `input` under `scheme`; `aws_lc_takes` tells which hashes AWS-LC handles for
/// this scheme and key (none for keys below 2048 bits).
fn route(
    scheme: RsaSignScheme,
    input: &[u8],
    modulus_len: usize,
    aws_lc_takes: impl Fn(HashAlg) -> bool,
) -> Result<Route<'_>> {
    Ok(match scheme {
        RsaSignScheme::Pkcs1DigestInfo => {
            pkcs1::check_input_len(input, modulus_len)?;
            match digest_info(input).filter(|(hash, _)| aws_lc_takes(*hash)) {
                Some((hash, digest)) => Route::AwsLc(hash, digest),
                None => Route::Pkcs1(Cow::Borrowed(input)),
            }
        }
        RsaSignScheme::Pkcs1(hash) if aws_lc_takes(hash) => Route::AwsLc(hash, input),
        RsaSignScheme::Pkcs1(hash) => Route::Pkcs1(Cow::Owned(encoded_digest_info(hash, input)?)),
        RsaSignScheme::Pss { hash, salt_len } if salt_len == hash.output_len() && aws_lc_takes(hash) => {
            Route::AwsLc(hash, input)
        }
        RsaSignScheme::Pss { hash, salt_len } => Route::Pss { hash, digest: input, salt_len },
        RsaSignScheme::Raw if input.len() > modulus_len => {
            return Err(Error::DataLength(format!(
                "CKM_RSA_X_509 input is {} bytes; this key takes at most {modulus_len}",
                input.len()
            )));
        }
        RsaSignScheme::Raw => Route::X509(input),
    })
}

fn signing_encoding(scheme: RsaSignScheme, hash: HashAlg) -> Option<&'static dyn RsaEncoding> {
    Some(match (scheme, hash) {
        (RsaSignScheme::Pkcs1DigestInfo | RsaSignScheme::Pkcs1(_), HashAlg::Sha256) => {
            &signature::RSA_PKCS1_SHA256
        }
        (RsaSignScheme::Pkcs1DigestInfo | RsaSignScheme::Pkcs1(_), HashAlg::Sha384) => {
            &signature::RSA_PKCS1_SHA384
        }
        (RsaSignScheme::Pkcs1DigestInfo | RsaSignScheme::Pkcs1(_), HashAlg::Sha512) => {
            &signature::RSA_PKCS1_SHA512
        }
        (RsaSignScheme::Pss { .. }, HashAlg::Sha256) => &signature::RSA_PSS_SHA256,
        (RsaSignScheme::Pss { .. }, HashAlg::Sha384) => &signature::RSA_PSS_SHA384,
        (RsaSignScheme::Pss { .. }, HashAlg::Sha512) => &signature::RSA_PSS_SHA512,
        _ => return None,
    })
}

fn verification(scheme: RsaSignScheme, hash: HashAlg) -> Option<&'static dyn VerificationAlgorithm> {
    let pkcs1 = matches!(scheme, RsaSignScheme::Pkcs1DigestInfo | RsaSignScheme::Pkcs1(_));
    Some(match (pkcs1, scheme, hash) {
        (true, _, HashAlg::Sha1) => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        (true, _, HashAlg::Sha256) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (true, _, HashAlg::Sha384) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (true, _, HashAlg::Sha512) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (false, RsaSignScheme::Pss { .. }, HashAlg::Sha256) => &signature::RSA_PSS_2048_8192_SHA256,
        (false, RsaSignScheme::Pss { .. }, HashAlg::Sha384) => &signature::RSA_PSS_2048_8192_SHA384,
        (false, RsaSignScheme::Pss { .. }, HashAlg::Sha512) => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

impl RsaPrivateKey {
    pub fn sign(&self, scheme: RsaSignScheme, input: &[u8]) -> Result<Vec<u8>> {
        let modulus_len = self.modulus_bits().div_ceil(8);
        let aws_lc = self.aws_lc_pair();
        let aws_lc_signs = |hash| aws_lc.is_some() && signing_encoding(scheme, hash).is_some();
        let raw = || self.raw_key();
        let (hash, digest) = match route(scheme, input, modulus_len, aws_lc_signs)? {
            Route::AwsLc(hash, digest) => (hash, digest),
            Route::Pkcs1(encoded) => return pkcs1::sign(raw()?, &encoded),
            Route::Pss { hash, digest, salt_len } => return pss::sign(raw()?, hash, digest, salt_len),
            Route::X509(input) => {
                return Ok(raw()?.private(input).map_err(x509_input_error)?.as_slice().to_vec());
            }
        };
        let (Some(pair), Some(encoding)) = (aws_lc, signing_encoding(scheme, hash)) else {
            return Err(failed("RSA signing"));
        };
        let digest = hash.import_digest(digest)?;
        let mut signature = vec![0; modulus_len];
        pair.sign_digest(encoding, &digest, &mut signature).map_err(|_| failed("RSA signing"))?;
        Ok(signature)
    }
}

/// CKM_RSA_X_509 input of k bytes whose value is not below n.
fn x509_input_error(error: Error) -> Error {
    match error {
        Error::DataInvalid(_) => Error::DataInvalid("CKM_RSA_X_509 input must be below the modulus".into()),
        other => other,
    }
}

/// Verifies against a SubjectPublicKeyInfo.
pub fn rsa_verify(spki: &[u8], scheme: RsaSignScheme, input: &[u8], signature: &[u8]) -> Result<()> {
    let modulus_len = rsa_modulus_bytes(spki)?;
    let (modulus, exponent) = rsa_public_components(spki)?;
    let raw = RawPublic::new(&modulus, &exponent)
        .map_err(|_| Error::SignatureInvalid("the RSA public key is out of range"))?;
    let aws_lc = raw.bits() >= super::AWS_LC_MIN_BITS;
    let aws_lc_verifies = |hash| aws_lc && verification(scheme, hash).is_some();
    let routed = route(scheme, input, modulus_len, aws_lc_verifies)?;
    if signature.len() != modulus_len {
        return Err(Error::SignatureLength(format!(
            "an RSA signature for this key is {modulus_len} bytes, not {}",
            signature.len()
        )));
    }
    let (hash, digest) = match routed {
        Route::AwsLc(hash, digest) => (hash, digest),
        Route::Pkcs1(encoded) => return pkcs1::verify(&raw, &encoded, signature),
        Route::Pss { hash, digest, salt_len } => return pss::verify(&raw, hash, digest, salt_len, signature),
        Route::X509(input) => {
            let mut expected = vec![0; modulus_len - input.len()];
            expected.extend_from_slice(input);
            return match raw.apply(signature)? {
                Some(recovered) if recovered == expected => Ok(()),
                _ => Err(Error::SignatureInvalid("RSA signature does not match")),
            };
        }
    };
    let algorithm = verification(scheme, hash).ok_or_else(|| failed("RSA verification"))?;
    UnparsedPublicKey::new(algorithm, spki)
        .verify_digest(&hash.import_digest(digest)?, signature)
        .map_err(|_| Error::SignatureInvalid("RSA signature does not match"))
}

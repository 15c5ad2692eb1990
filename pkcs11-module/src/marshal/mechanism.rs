//! Mechanism parameters to `Mechanism.parameter`.
//!
//! Parameters that are plain bytes (an IV, a `CK_MAC_GENERAL_PARAMS`, `CK_AES_CTR_PARAMS`,
//! `CK_RSA_PKCS_PSS_PARAMS`, anything unknown) are decoded here from the bytes at `pParameter`.
//! The structures that hold pointers (`CK_GCM_PARAMS`, `CK_RSA_PKCS_OAEP_PARAMS`,
//! `CK_ECDH1_DERIVE_PARAMS`, `CK_KEY_DERIVATION_STRING_DATA`, `CK_AES_CBC_ENCRYPT_DATA_PARAMS`,
//! `CK_HKDF_PARAMS`, the SP 800-108 ones) are read by `abi::mechanism`, which must follow those
//! pointers.

use arca_proto::v1::mechanism::Parameter;
use arca_proto::v1::{CtrParameters, Mechanism, PssParameters};
use cryptoki_sys::*;

use crate::error::Error;

const ULONG: usize = size_of::<CK_ULONG>();

/// How a mechanism's parameter is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A 16-byte IV (CBC modes).
    Iv16,
    /// An optional IV of any length (AES key wrap).
    OptionalIv,
    Gcm,
    Ctr,
    Oaep,
    Pss,
    Ecdh1,
    /// `CK_KEY_DERIVATION_STRING_DATA`.
    DerivationData,
    AesCbcEncryptData,
    Hkdf,
    /// `CK_SP800_108_KDF_PARAMS`.
    Sp800108Counter,
    /// `CK_SP800_108_FEEDBACK_KDF_PARAMS`.
    Sp800108Feedback,
    /// A `CK_ULONG` (`CK_MAC_GENERAL_PARAMS`, `CK_EXTRACT_PARAMS`, a `CK_OBJECT_HANDLE`).
    Ulong,
    /// Anything else: the application's bytes, for the daemon to judge.
    Raw,
}

/// The parameter kind of a mechanism.
pub fn kind(mechanism: CK_MECHANISM_TYPE) -> Kind {
    match mechanism {
        CKM_AES_CBC | CKM_AES_CBC_PAD => Kind::Iv16,
        CKM_AES_KEY_WRAP | CKM_AES_KEY_WRAP_PAD | CKM_AES_KEY_WRAP_KWP => Kind::OptionalIv,
        CKM_AES_GCM => Kind::Gcm,
        CKM_AES_CTR => Kind::Ctr,
        CKM_RSA_PKCS_OAEP => Kind::Oaep,
        CKM_RSA_PKCS_PSS
        | CKM_SHA1_RSA_PKCS_PSS
        | CKM_SHA224_RSA_PKCS_PSS
        | CKM_SHA256_RSA_PKCS_PSS
        | CKM_SHA384_RSA_PKCS_PSS
        | CKM_SHA512_RSA_PKCS_PSS
        | CKM_SHA3_224_RSA_PKCS_PSS
        | CKM_SHA3_256_RSA_PKCS_PSS
        | CKM_SHA3_384_RSA_PKCS_PSS
        | CKM_SHA3_512_RSA_PKCS_PSS => Kind::Pss,
        CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => Kind::Ecdh1,
        CKM_CONCATENATE_BASE_AND_DATA
        | CKM_CONCATENATE_DATA_AND_BASE
        | CKM_XOR_BASE_AND_DATA
        | CKM_AES_ECB_ENCRYPT_DATA => Kind::DerivationData,
        CKM_AES_CBC_ENCRYPT_DATA => Kind::AesCbcEncryptData,
        CKM_HKDF_DERIVE | CKM_HKDF_DATA => Kind::Hkdf,
        CKM_SP800_108_COUNTER_KDF | CKM_SP800_108_DOUBLE_PIPELINE_KDF => Kind::Sp800108Counter,
        CKM_SP800_108_FEEDBACK_KDF => Kind::Sp800108Feedback,
        CKM_CONCATENATE_BASE_AND_KEY | CKM_EXTRACT_KEY_FROM_KEY => Kind::Ulong,
        CKM_SHA_1_HMAC_GENERAL
        | CKM_SHA224_HMAC_GENERAL
        | CKM_SHA256_HMAC_GENERAL
        | CKM_SHA384_HMAC_GENERAL
        | CKM_SHA512_HMAC_GENERAL
        | CKM_SHA512_224_HMAC_GENERAL
        | CKM_SHA512_256_HMAC_GENERAL
        | CKM_SHA3_224_HMAC_GENERAL
        | CKM_SHA3_256_HMAC_GENERAL
        | CKM_SHA3_384_HMAC_GENERAL
        | CKM_SHA3_512_HMAC_GENERAL
        | CKM_MD5_HMAC_GENERAL
        | CKM_AES_MAC_GENERAL
        | CKM_AES_CMAC_GENERAL => Kind::Ulong,
        _ => Kind::Raw,
    }
}

/// A mechanism with its parameter.
pub fn mechanism(kind: CK_MECHANISM_TYPE, parameter: Option<Parameter>) -> Mechanism {
    Mechanism { r#type: kind, parameter }
}

/// Decodes a parameter that holds no pointers from the bytes at `pParameter` (empty when the
/// application gave none). The kinds of structures with pointers are not handled here.
pub fn from_bytes(kind: Kind, bytes: &[u8]) -> Result<Option<Parameter>, Error> {
    match kind {
        Kind::Iv16 if bytes.len() == 16 => Ok(Some(Parameter::Iv(bytes.to_vec()))),
        Kind::Iv16 => Err(Error::MechanismParamInvalid),
        Kind::OptionalIv | Kind::Raw if bytes.is_empty() => Ok(None),
        Kind::OptionalIv => Ok(Some(Parameter::Iv(bytes.to_vec()))),
        Kind::Raw => Ok(Some(Parameter::Raw(bytes.to_vec()))),
        Kind::Ulong => {
            let [value] = ulongs(exact::<CK_MAC_GENERAL_PARAMS>(bytes)?);
            Ok(Some(Parameter::Ulong(value)))
        }
        Kind::Ctr => ctr(exact::<CK_AES_CTR_PARAMS>(bytes)?).map(Some),
        Kind::Pss => {
            let [hash_alg, mgf, salt_len] = ulongs(exact::<CK_RSA_PKCS_PSS_PARAMS>(bytes)?);
            Ok(Some(Parameter::Pss(PssParameters { hash_alg, mgf, salt_len })))
        }
        Kind::Gcm
        | Kind::Oaep
        | Kind::Ecdh1
        | Kind::DerivationData
        | Kind::AesCbcEncryptData
        | Kind::Hkdf
        | Kind::Sp800108Counter
        | Kind::Sp800108Feedback => Err(Error::General),
    }
}

/// The bytes if they are exactly the size of `T`, else `CKR_MECHANISM_PARAM_INVALID`.
fn exact<T>(bytes: &[u8]) -> Result<&[u8], Error> {
    if bytes.len() == size_of::<T>() { Ok(bytes) } else { Err(Error::MechanismParamInvalid) }
}

/// The first `N` native `CK_ULONG`s of `bytes`, zero-filled if `bytes` is shorter (callers
/// check sizes first).
fn ulongs<const N: usize>(bytes: &[u8]) -> [u64; N] {
    let mut out = [0u64; N];
    let chunks = bytes.chunks_exact(ULONG).filter_map(|c| <[u8; ULONG]>::try_from(c).ok());
    for (slot, chunk) in out.iter_mut().zip(chunks) {
        *slot = CK_ULONG::from_ne_bytes(chunk);
    }
    out
}

/// `CK_AES_CTR_PARAMS`: `ulCounterBits` then the 16-byte counter block.
fn ctr(bytes: &[u8]) -> Result<Parameter, Error> {
    let (bits, block) = bytes.split_at_checked(ULONG).ok_or(Error::MechanismParamInvalid)?;
    let [counter_bits] = ulongs(bits);
    Ok(Parameter::Ctr(CtrParameters { counter_bits, counter_block: block.to_vec() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulong_bytes(values: &[CK_ULONG]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_ne_bytes()).collect()
    }

    #[test]
    fn kinds() {
        assert_eq!(kind(CKM_AES_CBC_PAD), Kind::Iv16);
        assert_eq!(kind(CKM_AES_GCM), Kind::Gcm);
        assert_eq!(kind(CKM_SHA256_RSA_PKCS_PSS), Kind::Pss);
        assert_eq!(kind(CKM_SHA256_HMAC_GENERAL), Kind::Ulong);
        assert_eq!(kind(CKM_AES_KEY_WRAP_PAD), Kind::OptionalIv);
        assert_eq!(kind(CKM_ECDH1_DERIVE), Kind::Ecdh1);
        assert_eq!(kind(CKM_SHA256_RSA_PKCS), Kind::Raw);
    }

    #[test]
    fn cbc_needs_a_16_byte_iv() {
        assert_eq!(from_bytes(Kind::Iv16, &[7; 16]).unwrap(), Some(Parameter::Iv(vec![7; 16])));
        assert_eq!(from_bytes(Kind::Iv16, &[7; 8]), Err(Error::MechanismParamInvalid));
        assert_eq!(from_bytes(Kind::Iv16, &[]), Err(Error::MechanismParamInvalid));
    }

    #[test]
    fn key_wrap_iv_is_optional() {
        assert_eq!(from_bytes(Kind::OptionalIv, &[]).unwrap(), None);
        assert_eq!(from_bytes(Kind::OptionalIv, &[0xa6; 8]).unwrap(), Some(Parameter::Iv(vec![0xa6; 8])));
    }

    #[test]
    fn mac_general_is_one_ulong() {
        assert_eq!(from_bytes(Kind::Ulong, &ulong_bytes(&[16])).unwrap(), Some(Parameter::Ulong(16)));
        assert_eq!(from_bytes(Kind::Ulong, &[16, 0, 0, 0]), Err(Error::MechanismParamInvalid));
    }

    #[test]
    fn pss_is_three_ulongs() {
        let bytes = ulong_bytes(&[CKM_SHA256, CKG_MGF1_SHA256, 32]);
        let expected = PssParameters { hash_alg: CKM_SHA256, mgf: CKG_MGF1_SHA256, salt_len: 32 };
        assert_eq!(from_bytes(Kind::Pss, &bytes).unwrap(), Some(Parameter::Pss(expected)));
        assert_eq!(from_bytes(Kind::Pss, &bytes[..16]), Err(Error::MechanismParamInvalid));
        assert_eq!(from_bytes(Kind::Pss, &[]), Err(Error::MechanismParamInvalid));
    }

    #[test]
    fn ctr_is_bits_and_a_counter_block() {
        let mut bytes = ulong_bytes(&[32]);
        bytes.extend_from_slice(&[9; 16]);
        let expected = CtrParameters { counter_bits: 32, counter_block: vec![9; 16] };
        assert_eq!(from_bytes(Kind::Ctr, &bytes).unwrap(), Some(Parameter::Ctr(expected)));
        assert_eq!(from_bytes(Kind::Ctr, &bytes[..20]), Err(Error::MechanismParamInvalid));
    }

    #[test]
    fn unknown_parameters_are_raw() {
        assert_eq!(from_bytes(Kind::Raw, &[]).unwrap(), None);
        assert_eq!(from_bytes(Kind::Raw, &[1, 2]).unwrap(), Some(Parameter::Raw(vec![1, 2])));
    }
}

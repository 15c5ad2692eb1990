//! The mechanisms the token offers (C_GetMechanismList / C_GetMechanismInfo tell exactly this
//! table), their parameters, and which keys each one takes.

use cryptoki_sys::*;

use super::object::{Object, key_type};
use super::schema::Kind;
use crate::error::{Error, Result};

/// A mechanism and its parameter, decoded from the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mechanism {
    pub kind: CK_MECHANISM_TYPE,
    pub parameter: Parameter,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parameter {
    None,
    Iv(Vec<u8>),
    Gcm {
        iv: Vec<u8>,
        iv_bits: u64,
        aad: Vec<u8>,
        tag_bits: u64,
    },
    Ctr {
        counter_bits: u64,
        counter_block: Vec<u8>,
    },
    Oaep {
        hash: CK_MECHANISM_TYPE,
        mgf: u64,
        source: u64,
        source_data: Vec<u8>,
    },
    Pss {
        hash: CK_MECHANISM_TYPE,
        mgf: u64,
        salt_len: u64,
    },
    Ecdh {
        kdf: u64,
        shared_data: Vec<u8>,
        public_data: Vec<u8>,
    },
    /// CK_KEY_DERIVATION_STRING_DATA: the data.
    DerivationData(Vec<u8>),
    AesCbcEncryptData {
        iv: Vec<u8>,
        data: Vec<u8>,
    },
    Hkdf(HkdfParameter),
    Sp800108(Sp800108Parameter),
    Ulong(u64),
    Raw(Vec<u8>),
}

/// CK_HKDF_PARAMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HkdfParameter {
    pub extract: bool,
    pub expand: bool,
    pub prf_hash: CK_MECHANISM_TYPE,
    pub salt_type: u64,
    pub salt: Vec<u8>,
    pub salt_key: u64,
    pub info: Vec<u8>,
}

/// CK_SP800_108_KDF_PARAMS / CK_SP800_108_FEEDBACK_KDF_PARAMS, with the templates of the
/// additional derived keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sp800108Parameter {
    pub prf_type: CK_MECHANISM_TYPE,
    pub data: Vec<PrfData>,
    pub iv: Vec<u8>,
    pub additional_keys: Vec<super::attributes::Template>,
}

/// CK_PRF_DATA_PARAM, its value decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrfData {
    pub kind: u64,
    /// No value (feedback mode's iteration variable).
    pub absent: bool,
    pub little_endian: bool,
    pub width_bits: u64,
    pub dkm_method: u64,
    pub bytes: Vec<u8>,
}

struct Entry {
    mechanism: CK_MECHANISM_TYPE,
    min: u64,
    max: u64,
    flags: CK_FLAGS,
}

const EC_FLAGS: CK_FLAGS = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
/// Edwards and Montgomery curves, named by OID or by name (PKCS#11 3.0 §2.3).
const CURVE25519_FLAGS: CK_FLAGS = CKF_EC_F_P | CKF_EC_OID | CKF_EC_CURVENAME;
const CIPHER: CK_FLAGS = CKF_ENCRYPT | CKF_DECRYPT;
const SIGNATURE: CK_FLAGS = CKF_SIGN | CKF_VERIFY;
const KEY_WRAP: CK_FLAGS = CKF_WRAP | CKF_UNWRAP;

/// Every mechanism runs inside the daemon, the device of this token: CKF_HW.
const fn entry(mechanism: CK_MECHANISM_TYPE, min: u64, max: u64, flags: CK_FLAGS) -> Entry {
    Entry { mechanism, min, max, flags: flags | CKF_HW }
}

/// Key sizes: AES and HMAC in bytes, RSA in modulus bits, EC in field bits (PKCS#11 §2, §6);
/// Ed25519 and X25519 in bits of their 32-byte keys, 256, as SoftHSM2 reports Ed25519.
const TABLE: &[Entry] = &[
    entry(CKM_AES_KEY_GEN, 16, 32, CKF_GENERATE),
    entry(CKM_GENERIC_SECRET_KEY_GEN, 8, 4096, CKF_GENERATE),
    entry(CKM_SHA_1_KEY_GEN, 1, 512, CKF_GENERATE),
    entry(CKM_SHA224_KEY_GEN, 1, 512, CKF_GENERATE),
    entry(CKM_SHA256_KEY_GEN, 1, 512, CKF_GENERATE),
    entry(CKM_SHA384_KEY_GEN, 1, 512, CKF_GENERATE),
    entry(CKM_SHA512_KEY_GEN, 1, 512, CKF_GENERATE),
    entry(CKM_RSA_PKCS_KEY_PAIR_GEN, 1024, 4096, CKF_GENERATE_KEY_PAIR),
    entry(CKM_EC_KEY_PAIR_GEN, 256, 521, CKF_GENERATE_KEY_PAIR | EC_FLAGS),
    entry(CKM_EC_EDWARDS_KEY_PAIR_GEN, 256, 256, CKF_GENERATE_KEY_PAIR | CURVE25519_FLAGS),
    entry(CKM_EC_MONTGOMERY_KEY_PAIR_GEN, 256, 256, CKF_GENERATE_KEY_PAIR | CURVE25519_FLAGS),
    entry(CKM_AES_ECB, 16, 32, CIPHER),
    entry(CKM_AES_CBC, 16, 32, CIPHER),
    entry(CKM_AES_CBC_PAD, 16, 32, CIPHER),
    entry(CKM_AES_CTR, 16, 32, CIPHER),
    entry(CKM_AES_GCM, 16, 32, CIPHER | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT),
    entry(CKM_AES_KEY_WRAP, 16, 32, KEY_WRAP),
    entry(CKM_AES_KEY_WRAP_PAD, 16, 32, KEY_WRAP),
    entry(CKM_RSA_PKCS, 1024, 4096, CIPHER | SIGNATURE | KEY_WRAP),
    entry(CKM_RSA_X_509, 1024, 4096, CIPHER | SIGNATURE),
    entry(CKM_RSA_PKCS_OAEP, 1024, 4096, CIPHER | KEY_WRAP),
    entry(CKM_RSA_PKCS_PSS, 1024, 4096, SIGNATURE),
    entry(CKM_SHA1_RSA_PKCS, 1024, 4096, SIGNATURE),
    entry(CKM_SHA224_RSA_PKCS, 1024, 4096, SIGNATURE),
    entry(CKM_SHA256_RSA_PKCS, 1024, 4096, SIGNATURE),
    entry(CKM_SHA384_RSA_PKCS, 1024, 4096, SIGNATURE),
    entry(CKM_SHA512_RSA_PKCS, 1024, 4096, SIGNATURE),
    entry(CKM_SHA1_RSA_PKCS_PSS, 1024, 4096, SIGNATURE),
    entry(CKM_SHA224_RSA_PKCS_PSS, 1024, 4096, SIGNATURE),
    entry(CKM_SHA256_RSA_PKCS_PSS, 1024, 4096, SIGNATURE),
    entry(CKM_SHA384_RSA_PKCS_PSS, 1024, 4096, SIGNATURE),
    entry(CKM_SHA512_RSA_PKCS_PSS, 1024, 4096, SIGNATURE),
    entry(CKM_ECDSA, 256, 521, SIGNATURE | EC_FLAGS),
    entry(CKM_ECDSA_SHA1, 256, 521, SIGNATURE | EC_FLAGS),
    entry(CKM_ECDSA_SHA224, 256, 521, SIGNATURE | EC_FLAGS),
    entry(CKM_ECDSA_SHA256, 256, 521, SIGNATURE | EC_FLAGS),
    entry(CKM_ECDSA_SHA384, 256, 521, SIGNATURE | EC_FLAGS),
    entry(CKM_ECDSA_SHA512, 256, 521, SIGNATURE | EC_FLAGS),
    entry(CKM_ECDH1_DERIVE, 256, 521, CKF_DERIVE | EC_FLAGS | CURVE25519_FLAGS),
    entry(CKM_EDDSA, 256, 256, SIGNATURE | CURVE25519_FLAGS),
    entry(CKM_CONCATENATE_BASE_AND_KEY, 1, 512, CKF_DERIVE),
    entry(CKM_CONCATENATE_BASE_AND_DATA, 1, 512, CKF_DERIVE),
    entry(CKM_CONCATENATE_DATA_AND_BASE, 1, 512, CKF_DERIVE),
    entry(CKM_XOR_BASE_AND_DATA, 1, 512, CKF_DERIVE),
    entry(CKM_EXTRACT_KEY_FROM_KEY, 1, 512, CKF_DERIVE),
    entry(CKM_AES_ECB_ENCRYPT_DATA, 16, 32, CKF_DERIVE),
    entry(CKM_AES_CBC_ENCRYPT_DATA, 16, 32, CKF_DERIVE),
    entry(CKM_HKDF_DERIVE, 1, 512, CKF_DERIVE),
    entry(CKM_SP800_108_COUNTER_KDF, 1, 512, CKF_DERIVE),
    entry(CKM_SP800_108_FEEDBACK_KDF, 1, 512, CKF_DERIVE),
    entry(CKM_SHA_1_HMAC, 1, 512, SIGNATURE),
    entry(CKM_SHA_1_HMAC_GENERAL, 1, 512, SIGNATURE),
    entry(CKM_SHA224_HMAC, 1, 512, SIGNATURE),
    entry(CKM_SHA224_HMAC_GENERAL, 1, 512, SIGNATURE),
    entry(CKM_SHA256_HMAC, 1, 512, SIGNATURE),
    entry(CKM_SHA256_HMAC_GENERAL, 1, 512, SIGNATURE),
    entry(CKM_SHA384_HMAC, 1, 512, SIGNATURE),
    entry(CKM_SHA384_HMAC_GENERAL, 1, 512, SIGNATURE),
    entry(CKM_SHA512_HMAC, 1, 512, SIGNATURE),
    entry(CKM_SHA512_HMAC_GENERAL, 1, 512, SIGNATURE),
    entry(CKM_AES_CMAC, 16, 32, SIGNATURE),
    entry(CKM_AES_CMAC_GENERAL, 16, 32, SIGNATURE),
    entry(CKM_SHA_1, 0, 0, CKF_DIGEST),
    entry(CKM_SHA224, 0, 0, CKF_DIGEST),
    entry(CKM_SHA256, 0, 0, CKF_DIGEST),
    entry(CKM_SHA384, 0, 0, CKF_DIGEST),
    entry(CKM_SHA512, 0, 0, CKF_DIGEST),
];

pub fn list() -> Vec<CK_MECHANISM_TYPE> {
    TABLE.iter().map(|e| e.mechanism).collect()
}

/// (min key size, max key size, flags).
pub fn info(mechanism: CK_MECHANISM_TYPE) -> Result<(u64, u64, CK_FLAGS)> {
    TABLE
        .iter()
        .find(|e| e.mechanism == mechanism)
        .map(|e| (e.min, e.max, e.flags))
        .ok_or_else(|| invalid(mechanism))
}

pub fn invalid(mechanism: CK_MECHANISM_TYPE) -> Error {
    Error::p11(CKR_MECHANISM_INVALID, format!("mechanism 0x{mechanism:08X} is not supported by this token"))
}

/// Checks that the token offers `mechanism` for `function` (a CKF_* flag).
pub fn require(mechanism: CK_MECHANISM_TYPE, function: CK_FLAGS) -> Result<()> {
    let (_, _, flags) = info(mechanism)?;
    if flags & function == 0 {
        return Err(invalid(mechanism));
    }
    Ok(())
}

/// Whether a signing mechanism is a MAC (HMAC, AES-CMAC): its key policy action is GenerateMac or
/// VerifyMac rather than Sign or Verify.
pub fn is_mac(mechanism: CK_MECHANISM_TYPE) -> bool {
    matches!(
        mechanism,
        CKM_SHA_1_HMAC
            | CKM_SHA_1_HMAC_GENERAL
            | CKM_SHA224_HMAC
            | CKM_SHA224_HMAC_GENERAL
            | CKM_SHA256_HMAC
            | CKM_SHA256_HMAC_GENERAL
            | CKM_SHA384_HMAC
            | CKM_SHA384_HMAC_GENERAL
            | CKM_SHA512_HMAC
            | CKM_SHA512_HMAC_GENERAL
            | CKM_AES_CMAC
            | CKM_AES_CMAC_GENERAL
    )
}

/// Every secret key type the token holds.
const SECRET_KEYS: &[CK_KEY_TYPE] = &[
    CKK_GENERIC_SECRET,
    CKK_AES,
    CKK_SHA_1_HMAC,
    CKK_SHA224_HMAC,
    CKK_SHA256_HMAC,
    CKK_SHA384_HMAC,
    CKK_SHA512_HMAC,
];

/// Generic secrets and HMAC keys (HKDF's input keying material).
const HMAC_KEYS: &[CK_KEY_TYPE] =
    &[CKK_GENERIC_SECRET, CKK_SHA_1_HMAC, CKK_SHA224_HMAC, CKK_SHA256_HMAC, CKK_SHA384_HMAC, CKK_SHA512_HMAC];

/// The key types a mechanism takes.
fn key_types(mechanism: CK_MECHANISM_TYPE) -> &'static [CK_KEY_TYPE] {
    match mechanism {
        CKM_AES_ECB
        | CKM_AES_CBC
        | CKM_AES_CBC_PAD
        | CKM_AES_CTR
        | CKM_AES_GCM
        | CKM_AES_KEY_WRAP
        | CKM_AES_KEY_WRAP_PAD
        | CKM_AES_CMAC
        | CKM_AES_CMAC_GENERAL
        | CKM_AES_ECB_ENCRYPT_DATA
        | CKM_AES_CBC_ENCRYPT_DATA => &[CKK_AES],
        CKM_CONCATENATE_BASE_AND_KEY
        | CKM_CONCATENATE_BASE_AND_DATA
        | CKM_CONCATENATE_DATA_AND_BASE
        | CKM_XOR_BASE_AND_DATA
        | CKM_EXTRACT_KEY_FROM_KEY
        | CKM_SP800_108_COUNTER_KDF
        | CKM_SP800_108_FEEDBACK_KDF => SECRET_KEYS,
        CKM_HKDF_DERIVE => HMAC_KEYS,
        CKM_RSA_PKCS
        | CKM_RSA_PKCS_OAEP
        | CKM_RSA_PKCS_PSS
        | CKM_SHA1_RSA_PKCS
        | CKM_SHA224_RSA_PKCS
        | CKM_SHA256_RSA_PKCS
        | CKM_SHA384_RSA_PKCS
        | CKM_SHA512_RSA_PKCS
        | CKM_RSA_X_509
        | CKM_SHA1_RSA_PKCS_PSS
        | CKM_SHA224_RSA_PKCS_PSS
        | CKM_SHA256_RSA_PKCS_PSS
        | CKM_SHA384_RSA_PKCS_PSS
        | CKM_SHA512_RSA_PKCS_PSS => &[CKK_RSA],
        CKM_ECDSA | CKM_ECDSA_SHA1 | CKM_ECDSA_SHA224 | CKM_ECDSA_SHA256 | CKM_ECDSA_SHA384
        | CKM_ECDSA_SHA512 => &[CKK_EC],
        CKM_ECDH1_DERIVE => &[CKK_EC, CKK_EC_MONTGOMERY],
        CKM_EDDSA => &[CKK_EC_EDWARDS],
        CKM_SHA_1_HMAC | CKM_SHA_1_HMAC_GENERAL => &[CKK_GENERIC_SECRET, CKK_SHA_1_HMAC],
        CKM_SHA224_HMAC | CKM_SHA224_HMAC_GENERAL => &[CKK_GENERIC_SECRET, CKK_SHA224_HMAC],
        CKM_SHA256_HMAC | CKM_SHA256_HMAC_GENERAL => &[CKK_GENERIC_SECRET, CKK_SHA256_HMAC],
        CKM_SHA384_HMAC | CKM_SHA384_HMAC_GENERAL => &[CKK_GENERIC_SECRET, CKK_SHA384_HMAC],
        CKM_SHA512_HMAC | CKM_SHA512_HMAC_GENERAL => &[CKK_GENERIC_SECRET, CKK_SHA512_HMAC],
        _ => &[],
    }
}

/// Checks a key for a mechanism and a use: its type, the capability attribute (CKA_ENCRYPT …)
/// and CKA_ALLOWED_MECHANISMS.
pub fn check_key(object: &Object, mechanism: CK_MECHANISM_TYPE, capability: CK_ATTRIBUTE_TYPE) -> Result<()> {
    let kind = object.kind();
    let Some(spec) = object.spec().filter(|_| kind.is_key()) else {
        return Err(Error::p11(CKR_KEY_TYPE_INCONSISTENT, "the object is not a key"));
    };
    if !key_types(mechanism).contains(&key_type(spec)) {
        return Err(Error::p11(
            CKR_KEY_TYPE_INCONSISTENT,
            format!("mechanism 0x{mechanism:08X} does not take {} keys", spec.name()),
        ));
    }
    let public_use = matches!(capability, CKA_ENCRYPT | CKA_VERIFY | CKA_WRAP);
    let wrong_half = match kind {
        Kind::Private(_) => public_use,
        Kind::Public(_) => !public_use,
        _ => false,
    };
    if wrong_half || !object.flag(capability) {
        return Err(Error::p11(
            CKR_KEY_FUNCTION_NOT_PERMITTED,
            format!("the key does not allow this use (attribute 0x{capability:08X} is not set)"),
        ));
    }
    if let super::object::Lookup::Value(allowed) = object.attribute(CKA_ALLOWED_MECHANISMS) {
        let allowed = super::attributes::decode_ulong_array(&allowed);
        if !allowed.is_empty() && !allowed.contains(&mechanism) {
            return Err(Error::p11(
                CKR_MECHANISM_INVALID,
                format!("mechanism 0x{mechanism:08X} is not in the key's CKA_ALLOWED_MECHANISMS"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_answers_for_what_it_lists_only() {
        for mechanism in list() {
            assert!(info(mechanism).is_ok());
        }
        assert!(matches!(info(CKM_DES_ECB), Err(Error::Pkcs11 { rv: CKR_MECHANISM_INVALID, .. })));
        assert!(require(CKM_AES_GCM, CKF_ENCRYPT).is_ok());
        assert!(require(CKM_AES_GCM, CKF_SIGN).is_err());
    }
}

//! The RSA mechanisms' parameters as the crypto layer's schemes: CKM_RSA_PKCS, CKM_RSA_X_509 and
//! CKM_RSA_PKCS_OAEP (any hash, MGF1 of the same hash, a label with CKZ_DATA_SPECIFIED) for
//! encryption; CKM_RSA_PKCS, CKM_RSA_X_509, the PSS mechanisms (any salt the key has room for)
//! and the hash-and-sign PKCS#1 v1.5 mechanisms for signatures.

use cryptoki_sys::*;

use super::{hash_from_mechanism, hash_from_mgf, hash_of, no_parameter, param_invalid};
use crate::crypto::digest::HashAlg;
use crate::crypto::rsa::{RsaCryptScheme, RsaSignScheme, max_salt_len, rsa_modulus_bits};
use crate::error::Result;
use crate::service::token::crypto_rv::p11;
use crate::service::token::mechanisms::{self, Mechanism, Parameter};

pub fn rsa_crypt_scheme(mechanism: &Mechanism) -> Result<RsaCryptScheme> {
    match (mechanism.kind, &mechanism.parameter) {
        (CKM_RSA_PKCS, _) => no_parameter(mechanism).map(|()| RsaCryptScheme::Pkcs1),
        (CKM_RSA_X_509, _) => no_parameter(mechanism).map(|()| RsaCryptScheme::Raw),
        (CKM_RSA_PKCS_OAEP, Parameter::Oaep { hash, mgf, source, source_data }) => {
            let hash = hash_from_mechanism(*hash).ok_or_else(|| param_invalid("unknown OAEP hash"))?;
            if hash_from_mgf(*mgf) != Some(hash) {
                return Err(param_invalid("OAEP: the MGF1 hash must be the OAEP hash"));
            }
            // PKCS#11 3.0 §2.1.8: CKZ_DATA_SPECIFIED is the one source; a label needs it (an
            // empty one is taken with no source, as clients leave the field zero).
            if *source != CKZ_DATA_SPECIFIED && (*source != 0 || !source_data.is_empty()) {
                return Err(param_invalid("OAEP: a label (pSourceData) needs source CKZ_DATA_SPECIFIED"));
            }
            Ok(RsaCryptScheme::Oaep { hash, label: source_data.clone() })
        }
        _ => Err(param_invalid("CKM_RSA_PKCS_OAEP needs CK_RSA_PKCS_OAEP_PARAMS")),
    }
}

pub(super) fn is_rsa_cipher(mechanism: CK_MECHANISM_TYPE) -> bool {
    matches!(mechanism, CKM_RSA_PKCS | CKM_RSA_PKCS_OAEP | CKM_RSA_X_509)
}

fn pss_scheme(mechanism: &Mechanism, expected: Option<HashAlg>) -> Result<RsaSignScheme> {
    let Parameter::Pss { hash, mgf, salt_len } = &mechanism.parameter else {
        return Err(param_invalid("PSS mechanisms need CK_RSA_PKCS_PSS_PARAMS"));
    };
    let hash = hash_from_mechanism(*hash).ok_or_else(|| param_invalid("unknown PSS hash"))?;
    if expected.is_some_and(|e| e != hash) || hash_from_mgf(*mgf) != Some(hash) {
        return Err(param_invalid("PSS: hashAlg and MGF must match the mechanism's hash"));
    }
    let salt_len = usize::try_from(*salt_len).unwrap_or(usize::MAX);
    Ok(RsaSignScheme::Pss { hash, salt_len })
}

/// The signature scheme of a mechanism for the key of `spki`; a PSS salt longer than the key
/// has room for is refused here, at C_SignInit / C_VerifyInit, as SoftHSM2 does.
pub(super) fn rsa_sign_scheme(mechanism: &Mechanism, spki: &[u8]) -> Result<RsaSignScheme> {
    let scheme = match mechanism.kind {
        CKM_RSA_PKCS => no_parameter(mechanism).map(|()| RsaSignScheme::Pkcs1DigestInfo)?,
        CKM_RSA_X_509 => no_parameter(mechanism).map(|()| RsaSignScheme::Raw)?,
        CKM_RSA_PKCS_PSS => pss_scheme(mechanism, None)?,
        CKM_SHA1_RSA_PKCS_PSS
        | CKM_SHA224_RSA_PKCS_PSS
        | CKM_SHA256_RSA_PKCS_PSS
        | CKM_SHA384_RSA_PKCS_PSS
        | CKM_SHA512_RSA_PKCS_PSS => pss_scheme(mechanism, hash_of(mechanism.kind))?,
        kind => {
            no_parameter(mechanism)?;
            hash_of(kind).map(RsaSignScheme::Pkcs1).ok_or_else(|| mechanisms::invalid(kind))?
        }
    };
    if let RsaSignScheme::Pss { hash, salt_len } = scheme {
        let bits = rsa_modulus_bits(spki).map_err(p11)?;
        if salt_len > max_salt_len(hash, bits) {
            return Err(param_invalid(&format!(
                "PSS: a {bits}-bit key with {} takes a salt of at most {} bytes, not {salt_len}",
                hash.name(),
                max_salt_len(hash, bits)
            )));
        }
    }
    Ok(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rsa::{RsaPrivateKey, rsa_generate};
    use crate::error::Error;

    fn oaep(source: u64, label: &[u8]) -> Mechanism {
        let parameter =
            Parameter::Oaep { hash: CKM_SHA224, mgf: CKG_MGF1_SHA224, source, source_data: label.to_vec() };
        Mechanism { kind: CKM_RSA_PKCS_OAEP, parameter }
    }

    fn rv<T: std::fmt::Debug>(result: Result<T>) -> u64 {
        match result {
            Err(Error::Pkcs11 { rv, .. }) => rv,
            other => panic!("expected a CK_RV, got {other:?}"),
        }
    }

    #[test]
    fn oaep_labels_need_ckz_data_specified() {
        let label = RsaCryptScheme::Oaep { hash: HashAlg::Sha224, label: b"label".to_vec() };
        assert_eq!(rsa_crypt_scheme(&oaep(CKZ_DATA_SPECIFIED, b"label")).unwrap(), label);
        assert_eq!(rsa_crypt_scheme(&oaep(0, b"")).unwrap(), RsaCryptScheme::oaep(HashAlg::Sha224));
        assert_eq!(
            rsa_crypt_scheme(&oaep(CKZ_DATA_SPECIFIED, b"")).unwrap(),
            RsaCryptScheme::oaep(HashAlg::Sha224)
        );
        assert_eq!(rv(rsa_crypt_scheme(&oaep(0, b"label"))), CKR_MECHANISM_PARAM_INVALID);
        assert_eq!(rv(rsa_crypt_scheme(&oaep(2, b""))), CKR_MECHANISM_PARAM_INVALID);
        let x509 = Mechanism { kind: CKM_RSA_X_509, parameter: Parameter::None };
        assert_eq!(rsa_crypt_scheme(&x509).unwrap(), RsaCryptScheme::Raw);
        let with_parameter = Mechanism { kind: CKM_RSA_X_509, parameter: Parameter::Ulong(1) };
        assert_eq!(rv(rsa_crypt_scheme(&with_parameter)), CKR_MECHANISM_PARAM_INVALID);
    }

    #[test]
    fn pss_salts_are_checked_against_the_key_at_init() {
        let key = RsaPrivateKey::from_pkcs8(rsa_generate(1024).unwrap().as_slice()).unwrap();
        let spki = key.public_key_der().unwrap();
        let pss =
            |kind, hash, mgf, salt_len| Mechanism { kind, parameter: Parameter::Pss { hash, mgf, salt_len } };
        // emLen 128: SHA-1 takes salts up to 128 - 20 - 2 = 106 bytes, SHA-224 up to 98.
        for (kind, hash, mgf, limit) in [
            (CKM_SHA1_RSA_PKCS_PSS, CKM_SHA_1, CKG_MGF1_SHA1, 106),
            (CKM_SHA224_RSA_PKCS_PSS, CKM_SHA224, CKG_MGF1_SHA224, 98),
            (CKM_RSA_PKCS_PSS, CKM_SHA224, CKG_MGF1_SHA224, 98),
        ] {
            let scheme = rsa_sign_scheme(&pss(kind, hash, mgf, limit), &spki).unwrap();
            assert!(matches!(scheme, RsaSignScheme::Pss { salt_len, .. } if salt_len == limit as usize));
            assert_eq!(
                rv(rsa_sign_scheme(&pss(kind, hash, mgf, limit + 1), &spki)),
                CKR_MECHANISM_PARAM_INVALID
            );
        }
        let mismatched = pss(CKM_SHA1_RSA_PKCS_PSS, CKM_SHA224, CKG_MGF1_SHA224, 20);
        assert_eq!(rv(rsa_sign_scheme(&mismatched, &spki)), CKR_MECHANISM_PARAM_INVALID);
        let x509 = Mechanism { kind: CKM_RSA_X_509, parameter: Parameter::None };
        assert_eq!(rsa_sign_scheme(&x509, &spki).unwrap(), RsaSignScheme::Raw);
    }
}

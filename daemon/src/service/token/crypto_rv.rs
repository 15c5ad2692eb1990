//! The one mapping from the crypto layer's neutral errors to the `CK_RV` PKCS#11 prescribes.
//!
//! The crypto layer says what went wrong (an input of the wrong length, a bad tag, a key of the
//! wrong size …); the token service says which PKCS#11 code that is. Where the same failure has
//! different codes in different calls — a ciphertext that does not decrypt is
//! CKR_ENCRYPTED_DATA_INVALID from C_Decrypt but CKR_WRAPPED_KEY_INVALID from C_UnwrapKey — the
//! caller names its context. Running out of locked memory or randomness keeps the daemon's own
//! error kinds (reported as CKR_DEVICE_MEMORY and CKR_DEVICE_ERROR).

use cryptoki_sys::*;

use crate::crypto::Error as CryptoError;
use crate::error::Error;

/// The PKCS#11 call a crypto failure happened in, where it decides the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Context {
    /// Every call but C_UnwrapKey: C_Encrypt, C_Decrypt, C_Sign, C_CreateObject …
    Operation,
    /// C_UnwrapKey: the ciphertext is the wrapped key.
    Unwrap,
}

/// The `CK_RV` of a crypto failure in a PKCS#11 call.
pub(super) fn ckr(error: &CryptoError, context: Context) -> CK_RV {
    let unwrap = context == Context::Unwrap;
    match error {
        CryptoError::DataLength(_) => CKR_DATA_LEN_RANGE,
        CryptoError::DataInvalid(_) => CKR_DATA_INVALID,
        CryptoError::CiphertextLength(_) | CryptoError::CiphertextMalformed(_) if unwrap => {
            CKR_WRAPPED_KEY_LEN_RANGE
        }
        CryptoError::CiphertextLength(_) | CryptoError::CiphertextMalformed(_) => {
            CKR_ENCRYPTED_DATA_LEN_RANGE
        }
        CryptoError::CiphertextInvalid(_) if unwrap => CKR_WRAPPED_KEY_INVALID,
        CryptoError::CiphertextInvalid(_) => CKR_ENCRYPTED_DATA_INVALID,
        CryptoError::SignatureLength(_) => CKR_SIGNATURE_LEN_RANGE,
        CryptoError::SignatureInvalid(_) => CKR_SIGNATURE_INVALID,
        CryptoError::Unsupported(_) => CKR_MECHANISM_INVALID,
        CryptoError::ParameterInvalid(_) => CKR_MECHANISM_PARAM_INVALID,
        CryptoError::KeySize(_) => CKR_KEY_SIZE_RANGE,
        CryptoError::KeyType(_) => CKR_KEY_TYPE_INCONSISTENT,
        CryptoError::CurveUnsupported(_) => CKR_CURVE_NOT_SUPPORTED,
        CryptoError::Encoding(_) => CKR_ATTRIBUTE_VALUE_INVALID,
        CryptoError::WrappedKeyLength(_) => CKR_WRAPPED_KEY_LEN_RANGE,
        CryptoError::WrappedKeyInvalid(_) => CKR_WRAPPED_KEY_INVALID,
        CryptoError::Failed(_) => CKR_FUNCTION_FAILED,
        CryptoError::Random(_) => CKR_DEVICE_ERROR,
        CryptoError::LockedMemory(_) => CKR_DEVICE_MEMORY,
    }
}

/// A crypto failure as the daemon error of a PKCS#11 call in `context`.
pub(super) fn in_context(error: CryptoError, context: Context) -> Error {
    let rv = ckr(&error, context);
    match error {
        CryptoError::LockedMemory(message) => Error::LockedMemory(message),
        CryptoError::Random(message) => Error::Random(message),
        CryptoError::DataLength(_)
        | CryptoError::DataInvalid(_)
        | CryptoError::CiphertextLength(_)
        | CryptoError::CiphertextMalformed(_)
        | CryptoError::CiphertextInvalid(_)
        | CryptoError::SignatureLength(_)
        | CryptoError::SignatureInvalid(_)
        | CryptoError::Unsupported(_)
        | CryptoError::ParameterInvalid(_)
        | CryptoError::KeySize(_)
        | CryptoError::KeyType(_)
        | CryptoError::CurveUnsupported(_)
        | CryptoError::Encoding(_)
        | CryptoError::WrappedKeyLength(_)
        | CryptoError::WrappedKeyInvalid(_)
        | CryptoError::Failed(_) => Error::p11(rv, error.to_string()),
    }
}

/// A crypto failure in any PKCS#11 call but C_UnwrapKey.
pub(super) fn p11(error: CryptoError) -> Error {
    in_context(error, Context::Operation)
}

/// A crypto failure in C_UnwrapKey.
pub(super) fn unwrap_p11(error: CryptoError) -> Error {
    in_context(error, Context::Unwrap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rv(error: CryptoError) -> CK_RV {
        match p11(error) {
            Error::Pkcs11 { rv, .. } => rv,
            other => panic!("expected a PKCS#11 error, got {other:?}"),
        }
    }

    /// Each neutral failure gets the code the mechanisms had before the crypto layer was shared.
    #[test]
    fn every_crypto_failure_has_its_pkcs11_code() {
        let text = || "x".to_owned();
        let cases = [
            (CryptoError::DataLength(text()), CKR_DATA_LEN_RANGE),
            (CryptoError::DataInvalid(text()), CKR_DATA_INVALID),
            (CryptoError::CiphertextLength(text()), CKR_ENCRYPTED_DATA_LEN_RANGE),
            (CryptoError::CiphertextInvalid("x"), CKR_ENCRYPTED_DATA_INVALID),
            (CryptoError::SignatureLength(text()), CKR_SIGNATURE_LEN_RANGE),
            (CryptoError::SignatureInvalid("x"), CKR_SIGNATURE_INVALID),
            (CryptoError::Unsupported(text()), CKR_MECHANISM_INVALID),
            (CryptoError::ParameterInvalid(text()), CKR_MECHANISM_PARAM_INVALID),
            (CryptoError::KeySize(text()), CKR_KEY_SIZE_RANGE),
            (CryptoError::KeyType(text()), CKR_KEY_TYPE_INCONSISTENT),
            (CryptoError::CurveUnsupported(text()), CKR_CURVE_NOT_SUPPORTED),
            (CryptoError::Encoding(text()), CKR_ATTRIBUTE_VALUE_INVALID),
            (CryptoError::WrappedKeyLength(text()), CKR_WRAPPED_KEY_LEN_RANGE),
            (CryptoError::WrappedKeyInvalid("x"), CKR_WRAPPED_KEY_INVALID),
            (CryptoError::Failed(text()), CKR_FUNCTION_FAILED),
        ];
        for (error, expected) in cases {
            assert_eq!(rv(error), expected);
        }
    }

    #[test]
    fn unwrapping_turns_ciphertext_failures_into_wrapped_key_codes() {
        let bad = unwrap_p11(CryptoError::CiphertextInvalid("RSA decryption failed: invalid padding"));
        assert!(
            matches!(bad, Error::Pkcs11 { rv: CKR_WRAPPED_KEY_INVALID, ref message } if message.contains("padding"))
        );
        let short = unwrap_p11(CryptoError::CiphertextLength("short".into()));
        assert!(matches!(short, Error::Pkcs11 { rv: CKR_WRAPPED_KEY_LEN_RANGE, .. }));
        assert!(matches!(
            unwrap_p11(CryptoError::KeySize("k".into())),
            Error::Pkcs11 { rv: CKR_KEY_SIZE_RANGE, .. }
        ));
    }

    #[test]
    fn memory_and_randomness_keep_the_daemon_kinds() {
        assert!(matches!(p11(CryptoError::LockedMemory("m".into())), Error::LockedMemory(_)));
        assert!(matches!(p11(CryptoError::Random("r".into())), Error::Random(_)));
        assert_eq!(ckr(&CryptoError::LockedMemory("m".into()), Context::Operation), CKR_DEVICE_MEMORY);
    }
}

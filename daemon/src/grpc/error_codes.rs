//! The precise error an audit record carries beside its outcome (the gRPC code name): for a
//! PKCS#11 call the CK_RV the module returns to the application, by its spec name; for any other
//! call the daemon's error kind, finer than the gRPC code (`AccessDenied`, `KeyNotEnabled` and
//! `WrongKeyUsage` are all refusals, `Throttled` and `LockedMemory` both RESOURCE_EXHAUSTED).

use std::borrow::Cow;

use cryptoki_sys::*;

use super::token::status::ckr_for;
use crate::error::Error;

macro_rules! names {
    ($($rv:ident),* $(,)?) => {
        /// Every CK_RV the daemon produces, by name.
        const NAMES: &[(CK_RV, &str)] = &[$(($rv, stringify!($rv))),*];
    };
}

names!(
    CKR_OK,
    CKR_ACTION_PROHIBITED,
    CKR_ARGUMENTS_BAD,
    CKR_ATTRIBUTE_READ_ONLY,
    CKR_ATTRIBUTE_SENSITIVE,
    CKR_ATTRIBUTE_TYPE_INVALID,
    CKR_ATTRIBUTE_VALUE_INVALID,
    CKR_BUFFER_TOO_SMALL,
    CKR_CURVE_NOT_SUPPORTED,
    CKR_DATA_INVALID,
    CKR_DATA_LEN_RANGE,
    CKR_DEVICE_ERROR,
    CKR_DEVICE_MEMORY,
    CKR_DEVICE_REMOVED,
    CKR_DOMAIN_PARAMS_INVALID,
    CKR_ENCRYPTED_DATA_INVALID,
    CKR_ENCRYPTED_DATA_LEN_RANGE,
    CKR_FUNCTION_FAILED,
    CKR_FUNCTION_NOT_SUPPORTED,
    CKR_FUNCTION_REJECTED,
    CKR_GENERAL_ERROR,
    CKR_HOST_MEMORY,
    CKR_KEY_FUNCTION_NOT_PERMITTED,
    CKR_KEY_HANDLE_INVALID,
    CKR_KEY_INDIGESTIBLE,
    CKR_KEY_NOT_WRAPPABLE,
    CKR_KEY_SIZE_RANGE,
    CKR_KEY_TYPE_INCONSISTENT,
    CKR_KEY_UNEXTRACTABLE,
    CKR_MECHANISM_INVALID,
    CKR_MECHANISM_PARAM_INVALID,
    CKR_OBJECT_HANDLE_INVALID,
    CKR_OPERATION_ACTIVE,
    CKR_OPERATION_NOT_INITIALIZED,
    CKR_PIN_INCORRECT,
    CKR_PIN_INVALID,
    CKR_PIN_LEN_RANGE,
    CKR_PIN_LOCKED,
    CKR_SESSION_EXISTS,
    CKR_SESSION_HANDLE_INVALID,
    CKR_SESSION_PARALLEL_NOT_SUPPORTED,
    CKR_SESSION_READ_ONLY,
    CKR_SESSION_READ_ONLY_EXISTS,
    CKR_SESSION_READ_WRITE_SO_EXISTS,
    CKR_SIGNATURE_INVALID,
    CKR_SIGNATURE_LEN_RANGE,
    CKR_SLOT_ID_INVALID,
    CKR_STATE_UNSAVEABLE,
    CKR_TEMPLATE_INCOMPLETE,
    CKR_TEMPLATE_INCONSISTENT,
    CKR_TOKEN_NOT_PRESENT,
    CKR_TOKEN_WRITE_PROTECTED,
    CKR_UNWRAPPING_KEY_HANDLE_INVALID,
    CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
    CKR_USER_ALREADY_LOGGED_IN,
    CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
    CKR_USER_NOT_LOGGED_IN,
    CKR_USER_PIN_NOT_INITIALIZED,
    CKR_USER_TYPE_INVALID,
    CKR_WRAPPED_KEY_INVALID,
    CKR_WRAPPED_KEY_LEN_RANGE,
    CKR_WRAPPING_KEY_HANDLE_INVALID,
    CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
);

/// The spec name of a CK_RV (`CKR_PIN_INCORRECT`); one outside the table as `CKR_0x%08X`.
pub(super) fn ckr_name(rv: CK_RV) -> Cow<'static, str> {
    match NAMES.iter().find(|(value, _)| *value == rv) {
        Some((_, name)) => Cow::Borrowed(name),
        None => Cow::Owned(format!("CKR_0x{rv:08X}")),
    }
}

/// The daemon's error kind: the `Error` variant's name.
pub(super) fn error_name(error: &Error) -> &'static str {
    match error {
        Error::Sealed => "Sealed",
        Error::NotInitialized => "NotInitialized",
        Error::AlreadyInitialized => "AlreadyInitialized",
        Error::AccessDenied(_) => "AccessDenied",
        Error::Conflict(_) => "Conflict",
        Error::WrongPassphrase => "WrongPassphrase",
        Error::WrongSealMode(_) => "WrongSealMode",
        Error::KeyNotFound(_) => "KeyNotFound",
        Error::AlreadyExists(_) => "AlreadyExists",
        Error::KeyNotEnabled { .. } => "KeyNotEnabled",
        Error::InvalidKeyId(_) => "InvalidKeyId",
        Error::KeyIntegrity(_) => "KeyIntegrity",
        Error::WrongKeyUsage { .. } => "WrongKeyUsage",
        Error::Unsupported(_) => "Unsupported",
        Error::InvalidArgument(_) => "InvalidArgument",
        Error::InvalidCiphertext(_) => "InvalidCiphertext",
        Error::DecryptionFailed => "DecryptionFailed",
        Error::SignatureNotValid => "SignatureNotValid",
        Error::MacNotValid => "MacNotValid",
        Error::Unauthenticated { .. } => "Unauthenticated",
        Error::IncorrectKey { .. } => "IncorrectKey",
        Error::InvalidAliasName(_) => "InvalidAliasName",
        Error::InvalidGrantToken(_) => "InvalidGrantToken",
        Error::TagRule(_) => "TagRule",
        Error::Throttled(_) => "Throttled",
        Error::AuditUnavailable(_) => "AuditUnavailable",
        Error::LockedMemory(_) => "LockedMemory",
        Error::Storage(_) => "Storage",
        Error::StoreUnavailable(_) => "StoreUnavailable",
        Error::Integrity(_) => "Integrity",
        Error::Config(_) => "Config",
        Error::Io { .. } => "Io",
        Error::Crypto(_) => "Crypto",
        Error::DeadlineExceeded(_) => "DeadlineExceeded",
        Error::Random(_) => "Random",
        // A PKCS#11 rule broken outside the Token service still has its exact code.
        Error::Pkcs11 { .. } => "Pkcs11",
    }
}

/// The `error_code` of an audit record: the CK_RV name for a PKCS#11 call, the error kind for
/// the others.
pub(super) fn audit_error_code(error: &Error, pkcs11: bool) -> Cow<'static, str> {
    match error {
        _ if pkcs11 => ckr_name(ckr_for(error)),
        Error::Pkcs11 { rv, .. } => ckr_name(*rv),
        other => Cow::Borrowed(error_name(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_spec_and_unknown_values_stay_readable() {
        assert_eq!(ckr_name(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
        assert_eq!(ckr_name(0xA0), "CKR_PIN_INCORRECT");
        assert_eq!(ckr_name(CKR_FUNCTION_REJECTED), "CKR_FUNCTION_REJECTED");
        assert_eq!(ckr_name(0x8000_0001), "CKR_0x80000001");
        let pin = Error::p11(CKR_PIN_INCORRECT, "wrong PIN");
        assert_eq!(audit_error_code(&pin, true), "CKR_PIN_INCORRECT");
        assert_eq!(audit_error_code(&Error::Throttled("x".into()), true), "CKR_FUNCTION_REJECTED");
        assert_eq!(audit_error_code(&Error::Throttled("x".into()), false), "Throttled");
        assert_eq!(audit_error_code(&Error::AccessDenied("x".into()), false), "AccessDenied");
    }

    /// Every `CKR_*` the daemon's PKCS#11 code names is in the table, so no record carries a
    /// bare number for a code the daemon itself chose.
    #[test]
    fn the_table_names_every_code_the_daemon_uses() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut pending = vec![root.join("service/token"), root.join("crypto"), root.join("grpc")];
        let mut missing = std::collections::BTreeSet::new();
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                    let named = NAMES.iter().any(|(_, name)| *name == word);
                    if word.len() > 4
                        && word.starts_with("CKR_")
                        && !named
                        && word != "CKR_HEADER"
                        && !word.starts_with("CKR_0x")
                    {
                        missing.insert(word.to_owned());
                    }
                }
            }
        }
        assert!(missing.is_empty(), "CK_RVs without a name: {missing:?}");
    }
}

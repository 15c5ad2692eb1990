//! PKCS#11 return values on the wire: the gRPC code that best describes a CK_RV, and the
//! `x-arca-ckr` metadata entry that carries the exact value to the PKCS#11 module.

use cryptoki_sys::*;
use tonic::Code;

use crate::error::Error;

/// Metadata entry holding the CK_RV of a failed Token call, as `0x%08X`.
pub(crate) use arca_proto::CKR_HEADER;

/// The gRPC code for a PKCS#11 return value.
pub(crate) fn code_for(rv: CK_RV) -> Code {
    match rv {
        CKR_ARGUMENTS_BAD
        | CKR_ATTRIBUTE_VALUE_INVALID
        | CKR_ATTRIBUTE_TYPE_INVALID
        | CKR_ATTRIBUTE_READ_ONLY
        | CKR_TEMPLATE_INCOMPLETE
        | CKR_TEMPLATE_INCONSISTENT
        | CKR_MECHANISM_INVALID
        | CKR_MECHANISM_PARAM_INVALID
        | CKR_DATA_INVALID
        | CKR_DATA_LEN_RANGE
        | CKR_ENCRYPTED_DATA_INVALID
        | CKR_ENCRYPTED_DATA_LEN_RANGE
        | CKR_SIGNATURE_LEN_RANGE
        | CKR_KEY_SIZE_RANGE
        | CKR_KEY_TYPE_INCONSISTENT
        | CKR_WRAPPED_KEY_INVALID
        | CKR_WRAPPED_KEY_LEN_RANGE
        | CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT
        | CKR_WRAPPING_KEY_TYPE_INCONSISTENT
        | CKR_DOMAIN_PARAMS_INVALID
        | CKR_CURVE_NOT_SUPPORTED
        | CKR_PIN_INVALID
        | CKR_PIN_LEN_RANGE
        | CKR_USER_TYPE_INVALID
        | CKR_SLOT_ID_INVALID => Code::InvalidArgument,
        CKR_SIGNATURE_INVALID => Code::InvalidArgument,
        CKR_SESSION_HANDLE_INVALID | CKR_OBJECT_HANDLE_INVALID | CKR_KEY_HANDLE_INVALID => Code::NotFound,
        CKR_PIN_INCORRECT
        | CKR_PIN_LOCKED
        | CKR_USER_NOT_LOGGED_IN
        | CKR_KEY_FUNCTION_NOT_PERMITTED
        | CKR_KEY_UNEXTRACTABLE
        | CKR_KEY_NOT_WRAPPABLE
        | CKR_ATTRIBUTE_SENSITIVE
        | CKR_ACTION_PROHIBITED
        | CKR_TOKEN_WRITE_PROTECTED => Code::PermissionDenied,
        CKR_FUNCTION_NOT_SUPPORTED | CKR_STATE_UNSAVEABLE => Code::Unimplemented,
        CKR_DEVICE_MEMORY | CKR_HOST_MEMORY => Code::ResourceExhausted,
        CKR_DEVICE_ERROR | CKR_GENERAL_ERROR | CKR_FUNCTION_FAILED => Code::Internal,
        CKR_DEVICE_REMOVED | CKR_TOKEN_NOT_PRESENT => Code::Unavailable,
        _ => Code::FailedPrecondition,
    }
}

/// The PKCS#11 return value for any daemon error (errors of the KMS model included), as the
/// module reports it to the application.
pub(crate) fn ckr_for(error: &Error) -> CK_RV {
    match error {
        Error::Pkcs11 { rv, .. } => *rv,
        Error::Sealed | Error::NotInitialized => CKR_TOKEN_NOT_PRESENT,
        Error::KeyNotFound(_) | Error::InvalidKeyId(_) => CKR_OBJECT_HANDLE_INVALID,
        // A key policy, a disabled key, a key of the wrong usage: the key may not do this.
        Error::AccessDenied(_) | Error::KeyNotEnabled { .. } | Error::WrongKeyUsage { .. } => {
            CKR_KEY_FUNCTION_NOT_PERMITTED
        }
        Error::InvalidArgument(_)
        | Error::AlreadyExists(_)
        | Error::InvalidAliasName(_)
        | Error::InvalidGrantToken(_)
        | Error::TagRule(_) => CKR_ARGUMENTS_BAD,
        Error::Unsupported(_) => CKR_FUNCTION_NOT_SUPPORTED,
        Error::LockedMemory(_) => CKR_DEVICE_MEMORY,
        Error::DecryptionFailed | Error::InvalidCiphertext(_) | Error::IncorrectKey { .. } => {
            CKR_ENCRYPTED_DATA_INVALID
        }
        Error::SignatureNotValid | Error::MacNotValid => CKR_SIGNATURE_INVALID,
        Error::Unauthenticated { .. } => CKR_USER_NOT_LOGGED_IN,
        // Throttled by a quota: documented in docs/pkcs11.md.
        Error::Throttled(_) => CKR_FUNCTION_REJECTED,
        Error::DeadlineExceeded(_) | Error::Conflict(_) => CKR_FUNCTION_FAILED,
        Error::KeyIntegrity(_)
        | Error::Integrity(_)
        | Error::AuditUnavailable(_)
        | Error::Storage(_)
        | Error::StoreUnavailable(_)
        | Error::Io { .. }
        | Error::Random(_) => CKR_DEVICE_ERROR,
        Error::AlreadyInitialized
        | Error::WrongPassphrase
        | Error::WrongSealMode(_)
        | Error::Config(_)
        | Error::Crypto(_) => CKR_FUNCTION_FAILED,
    }
}

//! The one mapping from daemon errors to gRPC status codes.

use tonic::{Code, Status};

use crate::error::Error;

pub(super) fn to_status(error: &Error) -> Status {
    let code = match error {
        Error::Sealed | Error::NotInitialized | Error::AlreadyInitialized | Error::WrongKeyUsage { .. } => {
            Code::FailedPrecondition
        }
        Error::WrongSealMode(_) => Code::FailedPrecondition,
        Error::WrongPassphrase | Error::AccessDenied(_) => Code::PermissionDenied,
        Error::KeyNotFound(_) => Code::NotFound,
        Error::AlreadyExists(_) => Code::AlreadyExists,
        Error::KeyNotEnabled { .. } => Code::FailedPrecondition,
        Error::InvalidKeyId(_)
        | Error::InvalidArgument(_)
        | Error::InvalidCiphertext(_)
        | Error::DecryptionFailed
        | Error::IncorrectKey { .. }
        | Error::InvalidAliasName(_)
        | Error::InvalidGrantToken(_) => Code::InvalidArgument,
        Error::Unsupported(_) => Code::Unimplemented,
        Error::KeyIntegrity(_) | Error::Integrity(_) => Code::DataLoss,
        Error::LockedMemory(_) | Error::Throttled(_) => Code::ResourceExhausted,
        Error::Conflict(_) => Code::Aborted,
        Error::AuditUnavailable(_) => Code::Unavailable,
        Error::DeadlineExceeded(_) => Code::DeadlineExceeded,
        Error::Storage(_) | Error::Io { .. } | Error::Random(_) | Error::Config(_) | Error::Crypto(_) => {
            Code::Internal
        }
        Error::Pkcs11 { rv, .. } => super::token::status::code_for(*rv),
    };
    // Bounded: a message never carries a caller's huge input back whole.
    let mut status = Status::new(code, crate::error::bounded_message(&error.to_string()));
    let rv = format!("0x{:08X}", super::token::status::ckr_for(error));
    if let Ok(value) = tonic::metadata::MetadataValue::try_from(rv.as_str()) {
        status.metadata_mut().insert(super::token::status::CKR_HEADER, value);
    }
    status
}

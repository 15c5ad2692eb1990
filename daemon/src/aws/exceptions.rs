//! The one mapping from daemon errors to the exceptions AWS KMS answers with: the `__type` name
//! the SDKs turn into `client.exceptions.<Name>` and the HTTP status (400 for the caller's
//! mistakes, 500 for the daemon's faults, which the SDKs retry).

use http::StatusCode;

use crate::error::Error;
use crate::keys::KeyState;

/// An AWS exception: its name and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exception {
    pub(crate) name: &'static str,
    pub(crate) status: StatusCode,
}

pub(crate) const fn client(name: &'static str) -> Exception {
    Exception { name, status: StatusCode::BAD_REQUEST }
}

const fn fault(name: &'static str) -> Exception {
    Exception { name, status: StatusCode::INTERNAL_SERVER_ERROR }
}

pub(crate) const VALIDATION: Exception = client("ValidationException");
pub(crate) const SERIALIZATION: Exception = client("SerializationException");
pub(crate) const UNKNOWN_OPERATION: Exception = client("UnknownOperationException");
pub(crate) const INVALID_SIGNATURE: Exception = client("KMSInvalidSignatureException");
pub(crate) const INVALID_MAC: Exception = client("KMSInvalidMacException");
const INTERNAL: Exception = fault("KMSInternalException");

/// The exception a failed call answers with.
pub(crate) fn exception_of(error: &Error) -> Exception {
    match error {
        Error::AccessDenied(_) => client("AccessDeniedException"),
        Error::KeyNotFound(_) | Error::InvalidKeyId(_) => client("NotFoundException"),
        Error::AlreadyExists(_) => client("AlreadyExistsException"),
        // A disabled key asked to work; a key in the wrong state for a change of state (such as
        // cancelling a deletion never scheduled) is KMSInvalidStateException, as AWS answers.
        Error::KeyNotEnabled { state, operation, .. }
            if *state == KeyState::Disabled.name() && !operation.starts_with("CancelKeyDeletion") =>
        {
            client("DisabledException")
        }
        Error::KeyNotEnabled { .. } | Error::KeyIntegrity(_) => client("KMSInvalidStateException"),
        Error::WrongKeyUsage { .. } => client("InvalidKeyUsageException"),
        Error::Unsupported(_) => client("UnsupportedOperationException"),
        Error::InvalidArgument(_) => VALIDATION,
        Error::InvalidCiphertext(_) | Error::DecryptionFailed => client("InvalidCiphertextException"),
        Error::IncorrectKey { .. } => client("IncorrectKeyException"),
        Error::InvalidAliasName(_) => client("InvalidAliasNameException"),
        Error::InvalidGrantToken(_) => client("InvalidGrantTokenException"),
        Error::TagRule(_) => client("TagException"),
        Error::SignatureNotValid => INVALID_SIGNATURE,
        Error::MacNotValid => INVALID_MAC,
        Error::Unauthenticated { exception, .. } if *exception == INTERNAL.name => INTERNAL,
        Error::Unauthenticated { exception, .. } => client(exception),
        Error::Throttled(_) => client("ThrottlingException"),
        Error::LockedMemory(_) => client("LimitExceededException"),
        Error::DeadlineExceeded(_) | Error::StoreUnavailable(_) => {
            Exception { name: "DependencyTimeoutException", status: StatusCode::SERVICE_UNAVAILABLE }
        }
        // The appliance cannot use keys until an administrator unseals it: a fault the caller
        // can only wait out, as the SDKs do with a 5xx.
        Error::Sealed | Error::NotInitialized | Error::AlreadyInitialized | Error::WrongPassphrase => {
            INTERNAL
        }
        Error::WrongSealMode(_) | Error::Conflict(_) | Error::AuditUnavailable(_) => INTERNAL,
        Error::Storage(_) | Error::Integrity(_) | Error::Config(_) | Error::Io { .. } => INTERNAL,
        Error::Crypto(_) | Error::Random(_) | Error::Pkcs11 { .. } => INTERNAL,
    }
}

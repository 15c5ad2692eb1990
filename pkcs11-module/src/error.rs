//! The one error type of the module and its mapping to `CK_RV`.
//!
//! Every failure inside the module is an [`Error`]; the C ABI converts it once, at the edge, with
//! the exhaustive `From<Error> for CK_RV`. A failed daemon call carries the exact `CK_RV` in the
//! `x-arca-ckr` metadata entry ([`Error::from_status`]); without it the gRPC code decides.

use arca_proto::CKR_HEADER;
use cryptoki_sys::*;
use tonic::{Code, Status};

/// Why a PKCS#11 call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The daemon named the exact return value (`x-arca-ckr`).
    #[error("the daemon answered CK_RV {0:#010x}")]
    Daemon(CK_RV),
    #[error("the library is not initialised")]
    NotInitialized,
    #[error("the library is already initialised")]
    AlreadyInitialized,
    #[error("bad arguments")]
    ArgumentsBad,
    #[error("application-supplied locking without CKF_OS_LOCKING_OK")]
    CantLock,
    #[error("no such slot")]
    SlotIdInvalid,
    #[error("the daemon cannot be reached: no token")]
    TokenNotPresent,
    #[error("the daemon went away")]
    DeviceRemoved,
    #[error("the daemon did not answer in time")]
    DeviceError,
    #[error("the daemon is out of resources")]
    DeviceMemory,
    #[error("the daemon answered something the protocol does not allow")]
    Protocol,
    #[error("the call failed")]
    FunctionFailed,
    #[error("Arca does not implement this function")]
    FunctionNotSupported,
    #[error("Arca has no parallel functions")]
    FunctionNotParallel,
    #[error("the token's random generator takes no seed")]
    RandomSeedNotSupported,
    #[error("invalid attribute value")]
    AttributeValueInvalid,
    #[error("the template is too long")]
    TemplateInconsistent,
    #[error("the PIN is longer than the token allows")]
    PinLenRange,
    #[error("more input than one call may carry")]
    DataLenRange,
    #[error("more ciphertext than one call may carry")]
    EncryptedDataLenRange,
    #[error("invalid attribute type")]
    AttributeTypeInvalid,
    #[error("sensitive attribute")]
    AttributeSensitive,
    #[error("invalid mechanism parameter")]
    MechanismParamInvalid,
    #[error("the mechanism cannot be used this way")]
    MechanismInvalid,
    #[error("an operation of this kind is already active")]
    OperationActive,
    #[error("no operation of this kind is active")]
    OperationNotInitialized,
    #[error("output buffer too small")]
    BufferTooSmall,
    #[error("out of host memory")]
    HostMemory,
    #[error("bad configuration")]
    Configuration,
    #[error("internal error")]
    General,
    /// The calling thread's thread-local storage is being or has been destroyed (a call from a
    /// TLS destructor or an `exit` handler): the runtime cannot run there.
    #[error("the calling thread is ending")]
    ThreadEnding,
}

impl From<Error> for CK_RV {
    fn from(error: Error) -> Self {
        match error {
            Error::Daemon(rv) => rv,
            Error::NotInitialized => CKR_CRYPTOKI_NOT_INITIALIZED,
            Error::AlreadyInitialized => CKR_CRYPTOKI_ALREADY_INITIALIZED,
            Error::ArgumentsBad => CKR_ARGUMENTS_BAD,
            Error::CantLock => CKR_CANT_LOCK,
            Error::SlotIdInvalid => CKR_SLOT_ID_INVALID,
            Error::TokenNotPresent => CKR_TOKEN_NOT_PRESENT,
            Error::DeviceRemoved => CKR_DEVICE_REMOVED,
            Error::DeviceError | Error::Protocol => CKR_DEVICE_ERROR,
            Error::DeviceMemory => CKR_DEVICE_MEMORY,
            Error::FunctionFailed | Error::Configuration => CKR_FUNCTION_FAILED,
            Error::FunctionNotSupported => CKR_FUNCTION_NOT_SUPPORTED,
            Error::FunctionNotParallel => CKR_FUNCTION_NOT_PARALLEL,
            Error::RandomSeedNotSupported => CKR_RANDOM_SEED_NOT_SUPPORTED,
            Error::AttributeValueInvalid => CKR_ATTRIBUTE_VALUE_INVALID,
            Error::TemplateInconsistent => CKR_TEMPLATE_INCONSISTENT,
            Error::PinLenRange => CKR_PIN_LEN_RANGE,
            Error::DataLenRange => CKR_DATA_LEN_RANGE,
            Error::EncryptedDataLenRange => CKR_ENCRYPTED_DATA_LEN_RANGE,
            Error::AttributeTypeInvalid => CKR_ATTRIBUTE_TYPE_INVALID,
            Error::AttributeSensitive => CKR_ATTRIBUTE_SENSITIVE,
            Error::MechanismParamInvalid => CKR_MECHANISM_PARAM_INVALID,
            Error::MechanismInvalid => CKR_MECHANISM_INVALID,
            Error::OperationActive => CKR_OPERATION_ACTIVE,
            Error::OperationNotInitialized => CKR_OPERATION_NOT_INITIALIZED,
            Error::BufferTooSmall => CKR_BUFFER_TOO_SMALL,
            Error::HostMemory => CKR_HOST_MEMORY,
            Error::General | Error::ThreadEnding => CKR_GENERAL_ERROR,
        }
    }
}

impl Error {
    /// The error a failed RPC stands for.
    pub fn from_status(status: &Status) -> Self {
        if let Some(rv) = status.metadata().get(CKR_HEADER).and_then(|v| v.to_str().ok()).and_then(parse_ckr)
        {
            // A failed call named CKR_OK: returning it would tell the application that outputs
            // nobody wrote are there.
            return if rv == CKR_OK { Self::Protocol } else { Self::Daemon(rv) };
        }
        match status.code() {
            Code::Unavailable => Self::DeviceRemoved,
            Code::Unimplemented => Self::FunctionNotSupported,
            Code::DeadlineExceeded => Self::DeviceError,
            Code::ResourceExhausted => Self::DeviceMemory,
            // tonic reports a connection that failed or broke under the call ("service was not
            // ready", a reset stream) with one of these codes and no response metadata at all,
            // whereas every answer of the daemon carries at least its response headers.
            Code::Unknown | Code::Internal | Code::Cancelled if status.metadata().is_empty() => {
                Self::DeviceRemoved
            }
            _ => Self::FunctionFailed,
        }
    }

    /// For the calls that end something (`C_CloseSession`, `C_CloseAllSessions`, `C_Logout`):
    /// on a thread that is ending they succeed without a round trip, because the process (or
    /// thread) is going away and its connection with it, and with the connection the daemon ends
    /// the application, its sessions and its login.
    pub fn ending_is_fine(result: Result<(), Self>) -> Result<(), Self> {
        match result {
            Err(Self::ThreadEnding) => Ok(()),
            other => other,
        }
    }

    /// True when the connection itself failed (as opposed to the daemon refusing the call).
    pub fn is_transport(&self) -> bool {
        matches!(self, Self::DeviceRemoved)
    }

    /// The daemon's answer to a call naming an application it does not know (it restarted).
    pub fn is_unknown_application(&self) -> bool {
        matches!(self, Self::Daemon(CKR_SESSION_HANDLE_INVALID))
    }
}

/// Parses `0x%08X` (the `0x` prefix optional, either case).
pub fn parse_ckr(text: &str) -> Option<CK_RV> {
    let text = text.trim();
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    CK_RV::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataValue;

    fn with_ckr(code: Code, value: &'static str) -> Status {
        let mut status = Status::new(code, "refused");
        status.metadata_mut().insert(CKR_HEADER, MetadataValue::from_static(value));
        status
    }

    fn answered(code: Code) -> Status {
        let mut status = Status::new(code, "answered");
        status.metadata_mut().insert("content-type", MetadataValue::from_static("application/grpc"));
        status
    }

    #[test]
    fn ckr_header_wins_over_the_code() {
        let status = with_ckr(Code::PermissionDenied, "0x000000A0");
        assert_eq!(Error::from_status(&status), Error::Daemon(CKR_PIN_INCORRECT));
        assert_eq!(CK_RV::from(Error::from_status(&status)), CKR_PIN_INCORRECT);
        let status = with_ckr(Code::NotFound, "0x000000B3");
        assert_eq!(CK_RV::from(Error::from_status(&status)), CKR_SESSION_HANDLE_INVALID);
        let status = with_ckr(Code::Internal, "0x80000001");
        assert_eq!(CK_RV::from(Error::from_status(&status)), CKR_VENDOR_DEFINED | 1);
    }

    #[test]
    fn a_failed_call_never_answers_ckr_ok() {
        let status = with_ckr(Code::Internal, "0x00000000");
        assert_eq!(Error::from_status(&status), Error::Protocol);
        assert_eq!(CK_RV::from(Error::from_status(&status)), CKR_DEVICE_ERROR);
    }

    #[test]
    fn bad_ckr_header_falls_back_to_the_code() {
        let mut status = with_ckr(Code::Unimplemented, "zzz");
        status.metadata_mut().insert("content-type", MetadataValue::from_static("application/grpc"));
        assert_eq!(CK_RV::from(Error::from_status(&status)), CKR_FUNCTION_NOT_SUPPORTED);
    }

    #[test]
    fn grpc_codes_map_as_documented() {
        let cases = [
            (Code::Unavailable, CKR_DEVICE_REMOVED),
            (Code::Unimplemented, CKR_FUNCTION_NOT_SUPPORTED),
            (Code::DeadlineExceeded, CKR_DEVICE_ERROR),
            (Code::ResourceExhausted, CKR_DEVICE_MEMORY),
            (Code::InvalidArgument, CKR_FUNCTION_FAILED),
            (Code::Internal, CKR_FUNCTION_FAILED),
            (Code::Unknown, CKR_FUNCTION_FAILED),
            (Code::PermissionDenied, CKR_FUNCTION_FAILED),
        ];
        for (code, rv) in cases {
            assert_eq!(CK_RV::from(Error::from_status(&answered(code))), rv, "{code:?}");
        }
    }

    #[test]
    fn local_transport_failures_are_device_removed() {
        let status = Status::unknown("Service was not ready: transport error");
        assert_eq!(CK_RV::from(Error::from_status(&status)), CKR_DEVICE_REMOVED);
        assert!(Error::from_status(&status).is_transport());
        assert!(!Error::from_status(&answered(Code::NotFound)).is_transport());
    }

    #[test]
    fn parse_ckr_accepts_the_wire_format_only() {
        assert_eq!(parse_ckr("0x00000000"), Some(CKR_OK));
        assert_eq!(parse_ckr("0x000000b3"), Some(CKR_SESSION_HANDLE_INVALID));
        assert_eq!(parse_ckr("0X00000150"), Some(CKR_BUFFER_TOO_SMALL));
        assert_eq!(parse_ckr(""), None);
        assert_eq!(parse_ckr("0x"), None);
        assert_eq!(parse_ckr("0x1g"), None);
        assert_eq!(parse_ckr("0x00000000000000001"), None);
    }

    #[test]
    fn local_errors_map_to_their_ckr() {
        assert_eq!(CK_RV::from(Error::NotInitialized), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(CK_RV::from(Error::AlreadyInitialized), CKR_CRYPTOKI_ALREADY_INITIALIZED);
        assert_eq!(CK_RV::from(Error::CantLock), CKR_CANT_LOCK);
        assert_eq!(CK_RV::from(Error::TokenNotPresent), CKR_TOKEN_NOT_PRESENT);
        assert_eq!(CK_RV::from(Error::RandomSeedNotSupported), CKR_RANDOM_SEED_NOT_SUPPORTED);
        assert_eq!(CK_RV::from(Error::FunctionNotParallel), CKR_FUNCTION_NOT_PARALLEL);
        assert_eq!(CK_RV::from(Error::Protocol), CKR_DEVICE_ERROR);
        assert_eq!(CK_RV::from(Error::General), CKR_GENERAL_ERROR);
        assert_eq!(CK_RV::from(Error::TemplateInconsistent), CKR_TEMPLATE_INCONSISTENT);
        assert_eq!(CK_RV::from(Error::PinLenRange), CKR_PIN_LEN_RANGE);
        assert_eq!(CK_RV::from(Error::DataLenRange), CKR_DATA_LEN_RANGE);
        assert_eq!(CK_RV::from(Error::EncryptedDataLenRange), CKR_ENCRYPTED_DATA_LEN_RANGE);
        assert_eq!(CK_RV::from(Error::ThreadEnding), CKR_GENERAL_ERROR);
        assert_eq!(Error::ending_is_fine(Err(Error::ThreadEnding)), Ok(()));
        assert_eq!(Error::ending_is_fine(Err(Error::General)), Err(Error::General));
    }
}

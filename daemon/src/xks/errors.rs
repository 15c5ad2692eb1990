//! The one mapping from daemon errors to the XKS API's errors: the `errorName` and HTTP code the
//! specification gives each condition, and the body they travel in (`errorMessage` printable
//! ASCII, under 512 characters).

use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct XksError {
    pub(super) name: &'static str,
    pub(super) status: StatusCode,
}

const fn error(name: &'static str, status: StatusCode) -> XksError {
    XksError { name, status }
}

const VALIDATION: XksError = error("ValidationException", StatusCode::BAD_REQUEST);
const INVALID_STATE: XksError = error("InvalidStateException", StatusCode::BAD_REQUEST);
const INVALID_CIPHERTEXT: XksError = error("InvalidCiphertextException", StatusCode::BAD_REQUEST);
const INVALID_KEY_USAGE: XksError = error("InvalidKeyUsageException", StatusCode::BAD_REQUEST);
const AUTHENTICATION_FAILED: XksError = error("AuthenticationFailedException", StatusCode::UNAUTHORIZED);
const ACCESS_DENIED: XksError = error("AccessDeniedException", StatusCode::FORBIDDEN);
const KEY_NOT_FOUND: XksError = error("KeyNotFoundException", StatusCode::NOT_FOUND);
pub(super) const INVALID_URI_PATH: XksError = error("InvalidUriPathException", StatusCode::NOT_FOUND);
pub(super) const METHOD_NOT_ALLOWED: XksError = error("MethodNotAllowed", StatusCode::METHOD_NOT_ALLOWED);
const THROTTLING: XksError = error("ThrottlingException", StatusCode::TOO_MANY_REQUESTS);
const UNSUPPORTED: XksError = error("UnsupportedOperationException", StatusCode::NOT_IMPLEMENTED);
const DEPENDENCY_TIMEOUT: XksError = error("DependencyTimeoutException", StatusCode::SERVICE_UNAVAILABLE);
const INTERNAL: XksError = error("InternalException", StatusCode::INTERNAL_SERVER_ERROR);

pub(super) fn error_of(error: &Error) -> XksError {
    match error {
        Error::InvalidArgument(_)
        | Error::InvalidGrantToken(_)
        | Error::InvalidAliasName(_)
        | Error::TagRule(_)
        | Error::InvalidKeyId(_) => VALIDATION,
        Error::KeyNotEnabled { .. } | Error::KeyIntegrity(_) => INVALID_STATE,
        Error::InvalidCiphertext(_)
        | Error::DecryptionFailed
        | Error::IncorrectKey { .. }
        | Error::SignatureNotValid
        | Error::MacNotValid => INVALID_CIPHERTEXT,
        Error::WrongKeyUsage { .. } => INVALID_KEY_USAGE,
        Error::Unauthenticated { exception: "KMSInternalException", .. } => INTERNAL,
        Error::Unauthenticated { .. } => AUTHENTICATION_FAILED,
        Error::AccessDenied(_) => ACCESS_DENIED,
        Error::KeyNotFound(_) => KEY_NOT_FOUND,
        Error::Throttled(_) => THROTTLING,
        Error::Unsupported(_) => UNSUPPORTED,
        Error::DeadlineExceeded(_) | Error::StoreUnavailable(_) => DEPENDENCY_TIMEOUT,
        Error::LockedMemory(_) | Error::Sealed | Error::NotInitialized | Error::AlreadyInitialized => {
            INTERNAL
        }
        Error::WrongPassphrase | Error::WrongSealMode(_) | Error::AlreadyExists(_) | Error::Conflict(_) => {
            INTERNAL
        }
        Error::AuditUnavailable(_) | Error::Storage(_) | Error::Integrity(_) | Error::Config(_) => INTERNAL,
        Error::Io { .. } | Error::Crypto(_) | Error::Random(_) | Error::Pkcs11 { .. } => INTERNAL,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    error_name: &'a str,
    error_message: String,
}

/// `{"errorName": …, "errorMessage": …}`, the message cut to printable ASCII under 512 characters.
pub(super) fn body(name: &str, message: &str) -> Bytes {
    let error_message: String =
        message.chars().map(|c| if (' '..='~').contains(&c) { c } else { '?' }).take(511).collect();
    serde_json::to_vec(&ErrorBody { error_name: name, error_message }).map(Bytes::from).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_printable_ascii_under_512_characters() {
        let text = String::from_utf8(body("InternalException", &format!("é\n{}", "x".repeat(600))).to_vec())
            .unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        let message = parsed["errorMessage"].as_str().unwrap();
        assert_eq!(message.len(), 511);
        assert!(message.starts_with("??x"));
        assert_eq!(parsed["errorName"], "InternalException");
    }

    #[test]
    fn conditions_answer_with_the_specification_codes() {
        assert_eq!(error_of(&Error::DecryptionFailed), INVALID_CIPHERTEXT);
        assert_eq!(error_of(&Error::AccessDenied("x".into())).status, StatusCode::FORBIDDEN);
        assert_eq!(error_of(&Error::Throttled("x".into())).status, StatusCode::TOO_MANY_REQUESTS);
        let refused =
            Error::Unauthenticated { exception: "InvalidSignatureException", message: String::new() };
        assert_eq!(error_of(&refused), AUTHENTICATION_FAILED);
        assert_eq!(error_of(&Error::Unsupported("big".into())).status, StatusCode::NOT_IMPLEMENTED);
    }
}

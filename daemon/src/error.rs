//! The one error type of the daemon crate. Messages name the cause for the caller and never carry
//! key material; the gRPC layer maps each variant to a status code in one place.

use crate::keys::KeyId;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("sealed: the daemon must be unsealed before keys can be used")]
    Sealed,
    #[error("not initialized: the store has no master key yet (call Initialize)")]
    NotInitialized,
    #[error("already initialized: the store already has a master key")]
    AlreadyInitialized,
    #[error("access denied: {0}")]
    AccessDenied(String),
    #[error("wrong passphrase: the master key could not be unsealed")]
    WrongPassphrase,
    #[error("{0}")]
    WrongSealMode(&'static str),

    #[error("key {0} not found")]
    KeyNotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("key {key} is {state}: it cannot be used for {operation}")]
    KeyNotEnabled { key: KeyId, state: &'static str, operation: &'static str },
    #[error("invalid key id {0:?}: expected a key UUID")]
    InvalidKeyId(String),
    #[error("key {0} is unavailable: its stored record failed the integrity check")]
    KeyIntegrity(KeyId),
    #[error("key {key} cannot be used for {operation}: its usage is {usage}")]
    WrongKeyUsage { key: KeyId, operation: &'static str, usage: &'static str },

    #[error("not supported: {0}")]
    Unsupported(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("invalid ciphertext: {0}")]
    InvalidCiphertext(String),
    #[error("decryption failed: the ciphertext was altered or the encryption context does not match")]
    DecryptionFailed,

    #[error("throttled: {0}")]
    Throttled(String),
    /// Another request changed the key between this request's read and its write; retry.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("audit log unavailable, request refused: {0}")]
    AuditUnavailable(String),
    #[error("locked memory exhausted: {0}")]
    LockedMemory(String),
    #[error("storage error: {0}")]
    Storage(String),
    #[error("integrity error: {0}")]
    Integrity(String),
    #[error("configuration error: {0}")]
    Config(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cryptographic operation failed: {0}")]
    Crypto(String),
    #[error("deadline exceeded: {0}")]
    DeadlineExceeded(String),
    #[error("random number generator failed: {0}")]
    Random(String),

    /// A PKCS#11 rule was broken; `rv` is the CK_RV the spec prescribes for it.
    #[error("{message}")]
    Pkcs11 { rv: cryptoki_sys::CK_RV, message: String },
}

impl Error {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidArgument(message.into())
    }

    /// A PKCS#11 failure with the return value the spec prescribes, e.g.
    /// `Error::p11(CKR_DATA_LEN_RANGE, "CBC input is not a multiple of 16 bytes")`.
    pub fn p11(rv: cryptoki_sys::CK_RV, message: impl Into<String>) -> Self {
        Self::Pkcs11 { rv, message: message.into() }
    }
}

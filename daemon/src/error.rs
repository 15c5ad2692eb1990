//! The one error type of the daemon crate. Messages name the cause for the caller and never carry
//! key material; the gRPC layer maps each variant to a status code in one place.

use crate::key_id::KeyId;

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

    #[error("key {} not found", Echo(.0))]
    KeyNotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("key {key} is {state}: it cannot be used for {operation}")]
    KeyNotEnabled { key: KeyId, state: &'static str, operation: &'static str },
    #[error("invalid key id {:?}: expected a key UUID", Echo(.0))]
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
    /// A signature checked on a front that answers an invalid one with an error (AWS's Verify).
    #[error("the signature is not valid for this key, message and algorithm")]
    SignatureNotValid,
    /// A MAC checked on a front that answers an invalid one with an error (AWS's VerifyMac).
    #[error("the MAC is not valid for this key, message and algorithm")]
    MacNotValid,
    /// A tag that breaks the tag rules, on a front that names this apart from other bad input
    /// (AWS's TagException).
    #[error("invalid tag: {0}")]
    TagRule(String),
    /// A request whose signature a front refused; `exception` is AWS's name for the refusal
    /// (`InvalidSignatureException`, `UnrecognizedClientException` …).
    #[error("{message}")]
    Unauthenticated { exception: &'static str, message: String },
    /// Decrypt or ReEncrypt named a key, and the ciphertext was made under another (KMS's
    /// IncorrectKeyException).
    #[error("incorrect key: the ciphertext was encrypted under key {ciphertext_key}, not key {given}")]
    IncorrectKey { given: KeyId, ciphertext_key: KeyId },
    /// An alias name that breaks the naming rules (KMS's InvalidAliasNameException).
    #[error("invalid alias name: {0}")]
    InvalidAliasName(String),
    /// A grant token that is malformed or names no existing grant (KMS's
    /// InvalidGrantTokenException).
    #[error("invalid grant token: {0}")]
    InvalidGrantToken(String),

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
    /// The store cannot be reached now (a shared database down or restarting); the call may be
    /// retried and the node recovers by itself.
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
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

/// Caller input echoed into a message, bounded: at most [`Echo::MAX_CHARS`] characters, then an
/// ellipsis and the input's full length, so that a huge key id or name is neither sent back whole
/// nor written whole to the log. `{}` shows it plain, `{:?}` quoted and escaped.
pub struct Echo<'a>(pub &'a str);

impl Echo<'_> {
    pub const MAX_CHARS: usize = 64;

    /// The shown part and, when cut, the full length in bytes.
    fn parts(&self) -> (&str, Option<usize>) {
        match self.0.char_indices().nth(Self::MAX_CHARS) {
            Some((cut, _)) => (self.0.get(..cut).unwrap_or_default(), Some(self.0.len())),
            None => (self.0, None),
        }
    }
}

impl std::fmt::Display for Echo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.parts() {
            (shown, Some(len)) => write!(f, "{shown}… ({len} bytes)"),
            (shown, None) => f.write_str(shown),
        }
    }
}

impl std::fmt::Debug for Echo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.parts() {
            (shown, Some(len)) => write!(f, "{shown:?}… ({len} bytes)"),
            (shown, None) => write!(f, "{shown:?}"),
        }
    }
}

/// A whole error message, bounded before it leaves the daemon (status message, log line): the
/// last guard for input echoed somewhere without [`Echo`].
pub fn bounded_message(message: &str) -> std::borrow::Cow<'_, str> {
    const MAX_MESSAGE_CHARS: usize = 1024;
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => {
            format!("{}… ({} bytes)", message.get(..cut).unwrap_or_default(), message.len()).into()
        }
        None => message.into(),
    }
}

impl Error {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidArgument(message.into())
    }

    /// The one mapping of crypto failures for the KMS face (and the store): input errors are
    /// INVALID_ARGUMENT with the crypto layer's message, a ciphertext of the wrong shape
    /// `InvalidCiphertext`, every failed decryption or unwrap the one opaque `DecryptionFailed`,
    /// a failure the inputs cannot explain `Crypto`. The token service maps to `CKR_*` instead
    /// (`service::token::crypto_rv`).
    pub fn from_crypto(error: crate::crypto::Error) -> Self {
        use crate::crypto::Error as C;
        match error {
            C::DataLength(m)
            | C::DataInvalid(m)
            | C::SignatureLength(m)
            | C::Unsupported(m)
            | C::ParameterInvalid(m)
            | C::KeySize(m)
            | C::KeyType(m)
            | C::CurveUnsupported(m)
            | C::Encoding(m)
            | C::WrappedKeyLength(m) => Self::InvalidArgument(m),
            C::SignatureInvalid(m) => Self::InvalidArgument(m.into()),
            C::CiphertextLength(m) | C::CiphertextMalformed(m) => Self::InvalidCiphertext(m),
            C::CiphertextInvalid(_) | C::WrappedKeyInvalid(_) => Self::DecryptionFailed,
            C::Failed(m) => Self::Crypto(m),
            C::Random(m) => Self::Random(m),
            C::LockedMemory(m) => Self::LockedMemory(m),
        }
    }

    /// A PKCS#11 failure with the return value the spec prescribes, e.g.
    /// `Error::p11(CKR_DATA_LEN_RANGE, "CBC input is not a multiple of 16 bytes")`.
    pub fn p11(rv: cryptoki_sys::CK_RV, message: impl Into<String>) -> Self {
        Self::Pkcs11 { rv, message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_input_is_bounded_with_its_length() {
        let huge = "k".repeat(60_000);
        let shown = Error::InvalidKeyId(huge.clone()).to_string();
        assert!(shown.len() < 200, "{} bytes echoed", shown.len());
        assert!(shown.contains("… (60000 bytes)"), "{shown}");
        assert!(Error::KeyNotFound(huge).to_string().contains(&format!("{}… (60000 bytes)", "k".repeat(64))));
        assert_eq!(Error::KeyNotFound("alias/short".into()).to_string(), "key alias/short not found");
        assert_eq!(format!("{:?}", Echo("a\u{7}b")), "\"a\\u{7}b\"");
    }

    #[test]
    fn crypto_failures_keep_their_kms_kinds() {
        use crate::crypto::Error as C;
        let invalid = Error::from_crypto(C::DataLength("message is empty".into()));
        assert!(matches!(invalid, Error::InvalidArgument(ref m) if m == "message is empty"));
        let shape = Error::from_crypto(C::CiphertextLength("blob is truncated".into()));
        assert!(matches!(shape, Error::InvalidCiphertext(_)));
        assert!(matches!(Error::from_crypto(C::CiphertextInvalid("bad tag")), Error::DecryptionFailed));
        assert!(matches!(Error::from_crypto(C::WrappedKeyInvalid("bad")), Error::DecryptionFailed));
        assert!(matches!(Error::from_crypto(C::Failed("x failed".into())), Error::Crypto(_)));
        assert!(matches!(Error::from_crypto(C::LockedMemory("x".into())), Error::LockedMemory(_)));
    }

    #[test]
    fn whole_messages_are_bounded_too() {
        let message = "x".repeat(5000);
        let bounded = bounded_message(&message);
        assert!(bounded.starts_with(&"x".repeat(1024)) && bounded.ends_with("… (5000 bytes)"), "{bounded}");
        assert_eq!(bounded_message("short"), "short");
    }
}

//! The crypto layer's own error: what went wrong, in cryptographic terms, and nothing about who
//! asked. Input errors are precise (they name the field and the limit); verification failures
//! (a bad tag, padding or signature, a wrapped key that fails its integrity check) are opaque,
//! one fixed message each, whichever check failed.
//!
//! Each face maps these variants once: the token service to the `CKR_*` PKCS#11 prescribes,
//! the KMS face to the daemon's error kinds.

use crate::secure_mem::MemoryError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Plaintext, message or digest of a length the operation does not take.
    #[error("{0}")]
    DataLength(String),
    /// Input of the right length that the operation cannot take (e.g. a DigestInfo of a hash
    /// that cannot be signed).
    #[error("{0}")]
    DataInvalid(String),
    /// Ciphertext of a length no ciphertext of this key and mode has.
    #[error("{0}")]
    CiphertextLength(String),
    /// A ciphertext container (header, format version) that does not parse.
    #[error("{0}")]
    CiphertextMalformed(String),
    /// Decryption failed: bad tag or padding (opaque).
    #[error("{0}")]
    CiphertextInvalid(&'static str),
    /// A signature of the wrong length for the key.
    #[error("{0}")]
    SignatureLength(String),
    /// The signature does not verify (opaque).
    #[error("{0}")]
    SignatureInvalid(&'static str),
    /// An algorithm (or a hash under an algorithm) that is not supported.
    #[error("{0}")]
    Unsupported(String),
    /// A parameter of the algorithm (IV, tag length, salt, counter, peer point) is invalid.
    #[error("{0}")]
    ParameterInvalid(String),
    /// A key of a size the algorithm does not take.
    #[error("{0}")]
    KeySize(String),
    /// A key of another algorithm than the operation needs.
    #[error("{0}")]
    KeyType(String),
    /// An elliptic curve other than P-256 and P-384.
    #[error("{0}")]
    CurveUnsupported(String),
    /// DER (or a key component) that does not parse or is out of range.
    #[error("{0}")]
    Encoding(String),
    /// A wrapped key of a length no wrap produces.
    #[error("{0}")]
    WrappedKeyLength(String),
    /// A wrapped key that fails its integrity check (opaque).
    #[error("{0}")]
    WrappedKeyInvalid(&'static str),
    /// AWS-LC (or a self-check) failed in a way the inputs cannot explain.
    #[error("{0}")]
    Failed(String),
    /// The operating system's random number generator failed.
    #[error("random number generator failed: {0}")]
    Random(String),
    /// No locked memory for a secret.
    #[error("locked memory exhausted: {0}")]
    LockedMemory(String),
}

impl From<MemoryError> for Error {
    fn from(error: MemoryError) -> Self {
        match error {
            MemoryError::Exhausted(message) => Self::LockedMemory(message),
            MemoryError::Random(message) => Self::Random(message),
        }
    }
}

/// An AWS-LC failure that the inputs cannot explain.
pub(crate) fn failed(what: &str) -> Error {
    Error::Failed(format!("{what} failed"))
}

//! Cryptographic mechanisms over key bytes: pure functions, no I/O, no knowledge of the store.

pub mod aead;
pub mod aes;
pub mod blob;
pub mod certificate;
pub mod context;
pub mod der;
pub mod digest;
pub mod ec;
pub mod import;
pub mod keypair;
pub mod mac;
pub mod oaep;
pub mod rsa;
pub mod signing;
#[cfg(test)]
pub(crate) mod test_util;
pub mod token_handle;
#[cfg(test)]
mod wycheproof_tests;

use crate::error::{Error, Result};

/// Fills a fresh vector from the operating system's random number generator (for values that are
/// not secret once returned, such as GenerateRandom output, salts and nonces).
pub fn random_vec(len: usize) -> Result<Vec<u8>> {
    let mut bytes = vec![0; len];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(bytes)
}

/// An AWS-LC failure that the inputs cannot explain.
fn failed(what: &str) -> Error {
    Error::p11(cryptoki_sys::CKR_FUNCTION_FAILED, format!("{what} failed"))
}

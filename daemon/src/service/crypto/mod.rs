//! The cryptographic calls on keys: Encrypt, Decrypt, ReEncrypt, data keys and random bytes
//! (`symmetric.rs`), signatures, RSAES-OAEP, MACs, public keys and data key pairs
//! (`asymmetric.rs`), and ECDH key agreement (`agreement.rs`). Each goes through key access, then works on the key version its
//! [`Authorized`](super::Authorized) proof hands out.

mod agreement;
mod asymmetric;
mod symmetric;

use std::sync::Arc;

pub use agreement::SharedSecret;
pub use asymmetric::{
    DataKeyPair, KeyAlgorithms, PublicKey, Verification, key_algorithms, mac_algorithm, signing_algorithms,
};
pub use symmetric::{DataKeySize, Opened, Sealed};

use super::Keystore;

/// The cryptographic calls.
#[derive(Debug)]
pub struct CryptoService {
    keystore: Arc<Keystore>,
}

impl CryptoService {
    pub fn new(keystore: Arc<Keystore>) -> Self {
        Self { keystore }
    }
}

//! Arca's one crypto layer: pure functions and types over key bytes, no I/O, no knowledge of the
//! store, of callers or of the faces (KMS, PKCS#11) that use it. One type per algorithm family,
//! one parsed private key per key version ([`PrivateKey`]), one neutral error ([`Error`]) that
//! each face maps to its own codes.
//!
//! - `aes`: AES-ECB/CBC/CBC-PAD/CTR/GCM, single- and multi-part, and AES key wrap (RFC 3394/5649).
//! - `rsa`: PKCS#1 v1.5 and PSS signatures, PKCS#1 v1.5 and OAEP encryption, key generation.
//! - `ec`: ECDSA over a caller's hash, ECDH, key generation (P-256, P-384, P-521, secp256k1).
//! - `curve25519`: Ed25519 signatures and X25519 key agreement.
//! - `hmac`, `mac`, `digest`: HMAC, AES-CMAC and digests, incremental; constant-time comparison.
//! - `derive`, `kdf`, `kbkdf`: secret-key derivations (concatenation, XOR, extraction, AES
//!   ENCRYPT_DATA, HKDF), the X9.63 KDF of ECDH, NIST SP 800-108.
//! - `der`: attribute forms (modulus, EC parameters and points …) to and from SubjectPublicKeyInfo
//!   and PKCS#8; `certificate`: the fields of an X.509 certificate.
//! - `key`, `spec`: the parsed private key of a key version, and the key-pair specs.
//! - `signing`, `rsa::OaepHash`, `hmac::MacAlgorithm`: the KMS names of algorithms, over the
//!   families.
//! - `aead`: the store's sealing AEAD; `blob`: the KMS ciphertext format; `context`: encryption
//!   contexts; `import`: KMS key import (wrapping keys, unwrapping).
//!
//! Everything runs in AWS-LC except AES-GCM with truncated tags and the store's AEAD (RustCrypto
//! `aes-gcm`, whose key schedule is zeroized on drop) and CKM_RSA_PKCS signatures over inputs
//! other than a SHA-2 DigestInfo (`rsa::raw`, crypto-bigint, blinded and constant-time). Secrets
//! handed back (decrypted plaintext, unwrapped keys, derived secrets, PKCS#8 documents) are
//! `SecretBuf`s.

pub mod aead;
pub mod aes;
pub mod blob;
pub mod certificate;
pub mod context;
pub mod curve25519;
pub mod der;
pub mod derive;
pub mod digest;
pub mod ec;
mod error;
pub mod hmac;
pub mod import;
pub mod kbkdf;
pub mod kdf;
pub mod key;
pub mod mac;
pub mod rsa;
pub mod signing;
pub mod spec;
#[cfg(test)]
pub(crate) mod test_util;
#[cfg(test)]
mod wycheproof_curve_tests;
#[cfg(test)]
mod wycheproof_tests;

pub use digest::HashAlg;
use error::failed;
pub use error::{Error, Result};
pub use key::{PrivateKey, generate_pkcs8};
pub use spec::PairSpec;

/// Fills a fresh vector from the daemon's random generator (for values that are
/// not secret once returned, such as GenerateRandom output, salts and nonces).
pub fn random_vec(len: usize) -> Result<Vec<u8>> {
    let mut bytes = vec![0; len];
    crate::secure_mem::fill_random(&mut bytes)?;
    Ok(bytes)
}

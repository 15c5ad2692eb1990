//! PKCS#11 mechanisms for the token service: pure functions over key bytes (no store, no sessions,
//! no I/O), each failure an `Error::p11` carrying the `CKR_*` the specification prescribes.
//!
//! - `hash`: digests, HMAC and constant-time comparison.
//! - `aes`: CKM_AES_ECB, _CBC, _CBC_PAD, _CTR and _GCM, single- and multi-part.
//! - `wrap`: CKM_AES_KEY_WRAP (RFC 3394) and CKM_AES_KEY_WRAP_PAD (RFC 5649).
//! - `rsa`: PKCS#1 v1.5 and PSS signatures, PKCS#1 v1.5 and OAEP encryption, key generation.
//! - `ec`: ECDSA over a caller's hash (raw `r || s` signatures), ECDH, key generation (P-256, P-384).
//! - `certificate`: the fields of an X.509 certificate stored beside it (any DER date).
//! - `der`: PKCS#11 attribute forms (CKA_MODULUS, CKA_EC_PARAMS, CKA_EC_POINT, …) to and from the
//!   DER documents (SubjectPublicKeyInfo, PKCS#8) the rest of Arca stores.
//!
//! Everything runs in AWS-LC except AES-GCM with truncated tags (RustCrypto `aes-gcm`, whose key
//! schedule is zeroized on drop) and CKM_RSA_PKCS signatures over inputs other than a SHA-2
//! DigestInfo (`rsa_raw`, crypto-bigint, blinded and constant-time). Secrets handed back (plaintext of RSA decryption, unwrapped
//! keys, derived secrets, PKCS#8 documents) are `SecretBuf`s.

pub mod aes;
mod aes_ctr;
mod aes_gcm;
pub mod certificate;
pub mod der;
mod der_io;
pub mod ec;
pub mod hash;
pub mod rsa;
mod rsa_raw;
pub mod wrap;

pub use aes::{AesCipher, AesMode};
pub use der::{
    RsaPrivateComponents, ec_params, ec_pkcs8_from_scalar, ec_point_from_spki, ec_spec_from_params, ec_spki,
    pkcs8_spec, rsa_pkcs8_from_components, rsa_public_components, rsa_spki, spki_spec,
};
pub use ec::{EcPrivateKey, ec_generate, ec_signature_len, ecdsa_verify_prehashed};
pub use hash::{HashAlg, Hasher, HmacContext, constant_time_eq};
pub use rsa::{
    RsaCryptScheme, RsaPrivateKey, RsaSignScheme, rsa_encrypt, rsa_generate, rsa_modulus_bytes, rsa_verify,
};
pub use wrap::{aes_key_unwrap, aes_key_wrap, wrapped_len};

use crate::error::Error;

/// An AWS-LC failure that the inputs cannot explain.
fn failed(what: &str) -> Error {
    Error::p11(cryptoki_sys::CKR_FUNCTION_FAILED, format!("{what} failed"))
}

#[cfg(test)]
pub(crate) mod test_util {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    pub fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    pub fn rv(result: crate::error::Result<impl std::fmt::Debug>) -> cryptoki_sys::CK_RV {
        match result {
            Err(crate::error::Error::Pkcs11 { rv, .. }) => rv,
            other => panic!("expected a PKCS#11 error, got {other:?}"),
        }
    }

    /// A scratch directory in which to run the `openssl` command line.
    pub struct Openssl {
        dir: tempfile::TempDir,
    }

    impl Openssl {
        pub fn new() -> Self {
            Self { dir: tempfile::tempdir().unwrap() }
        }

        pub fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        pub fn dir(&self) -> &Path {
            self.dir.path()
        }

        pub fn write(&self, name: &str, bytes: &[u8]) {
            std::fs::write(self.path(name), bytes).unwrap();
        }

        pub fn read(&self, name: &str) -> Vec<u8> {
            std::fs::read(self.path(name)).unwrap()
        }

        /// Runs openssl and returns whether it succeeded, with its stdout.
        pub fn try_run(&self, args: &[&str]) -> (bool, String) {
            let out = Command::new("openssl").current_dir(self.dir()).args(args).output().unwrap();
            let text =
                format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            (out.status.success(), text)
        }

        pub fn run(&self, args: &[&str]) -> String {
            let (ok, text) = self.try_run(args);
            assert!(ok, "openssl {args:?}: {text}");
            text
        }
    }
}

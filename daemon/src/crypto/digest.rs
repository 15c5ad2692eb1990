//! Digests (SHA-1, SHA-224, SHA-256, SHA-384, SHA-512), one-shot and incremental, the import of a
//! digest a caller computed, and constant-time comparison.

use std::fmt;

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;

use crate::crypto::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub const ALL: [Self; 5] = [Self::Sha1, Self::Sha224, Self::Sha256, Self::Sha384, Self::Sha512];

    pub fn output_len(self) -> usize {
        self.digest_algorithm().output_len()
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA-1",
            Self::Sha224 => "SHA-224",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    pub(super) fn digest_algorithm(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha224 => &digest::SHA224,
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        }
    }

    pub(super) fn hmac_algorithm(self) -> hmac::Algorithm {
        match self {
            Self::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha224 => hmac::HMAC_SHA224,
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha384 => hmac::HMAC_SHA384,
            Self::Sha512 => hmac::HMAC_SHA512,
        }
    }

    /// A digest the caller computed, as AWS-LC's type; a wrong length is a data-length error.
    pub(super) fn import_digest(self, bytes: &[u8]) -> Result<Digest> {
        if bytes.len() != self.output_len() {
            return Err(Error::DataLength(format!(
                "a {} digest is {} bytes, not {}",
                self.name(),
                self.output_len(),
                bytes.len()
            )));
        }
        Digest::import_less_safe(bytes, self.digest_algorithm())
            .map_err(|_| Error::DataLength(format!("{} digest rejected", self.name())))
    }
}

/// Incremental hash.
#[derive(Clone)]
pub struct Hasher {
    alg: HashAlg,
    context: digest::Context,
}

impl Hasher {
    pub fn new(alg: HashAlg) -> Self {
        Self { alg, context: digest::Context::new(alg.digest_algorithm()) }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.context.update(data);
    }

    pub fn finish(self) -> Vec<u8> {
        self.context.finish().as_ref().to_vec()
    }

    pub fn alg(&self) -> HashAlg {
        self.alg
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The state may derive from secret input (C_DigestKey).
        write!(f, "Hasher({:?}, [REDACTED])", self.alg)
    }
}

/// Constant-time equality of two byte strings (their lengths are not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_util::{err, hex};

    /// FIPS 180 "abc" vectors; the hash is fed in pieces and cloned midway.
    #[test]
    fn digests_match_known_answers_incrementally() {
        let expected = [
            "a9993e364706816aba3e25717850c26c9cd0d89d",
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ];
        for (alg, expected) in HashAlg::ALL.into_iter().zip(expected) {
            let mut hasher = Hasher::new(alg);
            hasher.update(b"a");
            let copy = hasher.clone();
            hasher.update(b"");
            hasher.update(b"bc");
            assert_eq!(hasher.alg(), alg);
            assert_eq!(hasher.finish(), hex(expected), "{alg:?}");
            let mut copy = copy;
            copy.update(b"bc");
            assert_eq!(copy.finish(), hex(expected));
        }
    }

    #[test]
    fn digest_import_checks_the_length() {
        assert!(HashAlg::Sha384.import_digest(&[0; 48]).is_ok());
        assert!(matches!(err(HashAlg::Sha384.import_digest(&[0; 32])), Error::DataLength(_)));
        assert!(matches!(err(HashAlg::Sha1.import_digest(&[])), Error::DataLength(_)));
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}

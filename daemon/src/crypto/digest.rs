//! Digests (CKM_SHA_1 … CKM_SHA512), HMAC over secrets of any length, and constant-time
//! comparison.

use std::fmt;

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::hmac;
use cryptoki_sys::{
    CK_MECHANISM_TYPE, CK_RSA_PKCS_MGF_TYPE, CKG_MGF1_SHA1, CKG_MGF1_SHA224, CKG_MGF1_SHA256,
    CKG_MGF1_SHA384, CKG_MGF1_SHA512, CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512,
    CKR_DATA_LEN_RANGE, CKR_KEY_SIZE_RANGE,
};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// Longest HMAC secret accepted (longer secrets are hashed first by HMAC itself; the bound only
/// keeps requests reasonable).
pub const MAX_HMAC_KEY_LEN: usize = 1024;

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

    /// CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512 (also the hashAlg of OAEP and PSS
    /// parameters).
    pub fn from_mechanism(mechanism: CK_MECHANISM_TYPE) -> Option<Self> {
        match mechanism {
            CKM_SHA_1 => Some(Self::Sha1),
            CKM_SHA224 => Some(Self::Sha224),
            CKM_SHA256 => Some(Self::Sha256),
            CKM_SHA384 => Some(Self::Sha384),
            CKM_SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// CKG_MGF1_SHA1 … CKG_MGF1_SHA512.
    pub fn from_mgf(mgf: CK_RSA_PKCS_MGF_TYPE) -> Option<Self> {
        match mgf {
            CKG_MGF1_SHA1 => Some(Self::Sha1),
            CKG_MGF1_SHA224 => Some(Self::Sha224),
            CKG_MGF1_SHA256 => Some(Self::Sha256),
            CKG_MGF1_SHA384 => Some(Self::Sha384),
            CKG_MGF1_SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

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

    fn hmac_algorithm(self) -> hmac::Algorithm {
        match self {
            Self::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha224 => hmac::HMAC_SHA224,
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha384 => hmac::HMAC_SHA384,
            Self::Sha512 => hmac::HMAC_SHA512,
        }
    }

    /// A digest the caller computed, as AWS-LC's type; a wrong length is CKR_DATA_LEN_RANGE.
    pub(super) fn import_digest(self, bytes: &[u8]) -> Result<Digest> {
        if bytes.len() != self.output_len() {
            return Err(Error::p11(
                CKR_DATA_LEN_RANGE,
                format!("a {} digest is {} bytes, not {}", self.name(), self.output_len(), bytes.len()),
            ));
        }
        Digest::import_less_safe(bytes, self.digest_algorithm())
            .map_err(|_| Error::p11(CKR_DATA_LEN_RANGE, format!("{} digest rejected", self.name())))
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

/// Incremental HMAC over a secret of 1 to 1024 bytes.
#[derive(Clone)]
pub struct HmacContext {
    alg: HashAlg,
    context: hmac::Context,
}

impl HmacContext {
    pub fn new(alg: HashAlg, key: &[u8]) -> Result<Self> {
        if key.is_empty() || key.len() > MAX_HMAC_KEY_LEN {
            return Err(Error::p11(
                CKR_KEY_SIZE_RANGE,
                format!("an HMAC key is 1 to {MAX_HMAC_KEY_LEN} bytes, not {}", key.len()),
            ));
        }
        let key = hmac::Key::new(alg.hmac_algorithm(), key);
        Ok(Self { alg, context: hmac::Context::with_key(&key) })
    }

    pub fn update(&mut self, data: &[u8]) {
        self.context.update(data);
    }

    pub fn finish(self) -> Vec<u8> {
        self.context.sign().as_ref().to_vec()
    }

    pub fn alg(&self) -> HashAlg {
        self.alg
    }
}

impl fmt::Debug for HmacContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HmacContext({:?}, [REDACTED])", self.alg)
    }
}

/// Constant-time equality of two byte strings (their lengths are not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_util::{hex, rv};

    #[test]
    fn mechanisms_and_mgfs_map_to_algorithms() {
        let lens = [20, 28, 32, 48, 64];
        let mechs = [CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512];
        let mgfs = [CKG_MGF1_SHA1, CKG_MGF1_SHA224, CKG_MGF1_SHA256, CKG_MGF1_SHA384, CKG_MGF1_SHA512];
        for (i, alg) in HashAlg::ALL.into_iter().enumerate() {
            assert_eq!(HashAlg::from_mechanism(mechs[i]), Some(alg));
            assert_eq!(HashAlg::from_mgf(mgfs[i]), Some(alg));
            assert_eq!(alg.output_len(), lens[i]);
        }
        assert_eq!(HashAlg::from_mechanism(cryptoki_sys::CKM_MD5), None);
        assert_eq!(HashAlg::from_mgf(cryptoki_sys::CKG_MGF1_SHA3_256), None);
    }

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

    /// RFC 4231 test cases 2 (short key) and 6 (131-byte key, longer than the block).
    #[test]
    fn hmac_matches_rfc_4231() {
        let mut mac = HmacContext::new(HashAlg::Sha256, b"Jefe").unwrap();
        mac.update(b"what do ya want ");
        mac.update(b"for nothing?");
        assert_eq!(mac.finish(), hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));

        let key = [0xaa; 131];
        let mut mac = HmacContext::new(HashAlg::Sha512, &key).unwrap();
        mac.update(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            mac.finish(),
            hex("80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352\
                 6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598")
        );
        let shown = format!("{:?}", HmacContext::new(HashAlg::Sha1, b"Jefe").unwrap());
        assert!(shown.contains("REDACTED") && !shown.contains("Jefe"), "{shown}");
    }

    #[test]
    fn hmac_key_lengths_are_bounded() {
        assert_eq!(rv(HmacContext::new(HashAlg::Sha256, b"")), CKR_KEY_SIZE_RANGE);
        assert_eq!(rv(HmacContext::new(HashAlg::Sha256, &[1; 1025])), CKR_KEY_SIZE_RANGE);
        assert!(HmacContext::new(HashAlg::Sha224, &[1; 1024]).is_ok());
    }

    #[test]
    fn digest_import_checks_the_length() {
        assert!(HashAlg::Sha384.import_digest(&[0; 48]).is_ok());
        assert_eq!(rv(HashAlg::Sha384.import_digest(&[0; 32])), CKR_DATA_LEN_RANGE);
        assert_eq!(rv(HashAlg::Sha1.import_digest(&[])), CKR_DATA_LEN_RANGE);
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}

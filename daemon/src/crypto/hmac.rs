//! HMAC: incremental HMAC over a secret of any length (PKCS#11 CKM_SHA*_HMAC), and the KMS
//! GenerateMac/VerifyMac vocabulary over a key version's parsed HMAC key.

use std::fmt;

use aws_lc_rs::hmac;

use super::digest::HashAlg;
use super::error::{Error, Result};
use super::key::PrivateKey;

/// Longest HMAC secret accepted (longer secrets are hashed first by HMAC itself; the bound only
/// keeps requests reasonable).
pub const MAX_HMAC_KEY_LEN: usize = 1024;

/// Largest message GenerateMac and VerifyMac take, as KMS.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// Incremental HMAC over a secret of 1 to 1024 bytes.
#[derive(Clone)]
pub struct HmacContext {
    alg: HashAlg,
    context: hmac::Context,
}

impl HmacContext {
    pub fn new(alg: HashAlg, key: &[u8]) -> Result<Self> {
        if key.is_empty() || key.len() > MAX_HMAC_KEY_LEN {
            return Err(Error::KeySize(format!(
                "an HMAC key is 1 to {MAX_HMAC_KEY_LEN} bytes, not {}",
                key.len()
            )));
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

/// The KMS names of the HMAC algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlgorithm {
    HmacSha224,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl MacAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            Self::HmacSha224 => "HMAC_SHA_224",
            Self::HmacSha256 => "HMAC_SHA_256",
            Self::HmacSha384 => "HMAC_SHA_384",
            Self::HmacSha512 => "HMAC_SHA_512",
        }
    }

    pub fn hash(self) -> HashAlg {
        match self {
            Self::HmacSha224 => HashAlg::Sha224,
            Self::HmacSha256 => HashAlg::Sha256,
            Self::HmacSha384 => HashAlg::Sha384,
            Self::HmacSha512 => HashAlg::Sha512,
        }
    }
}

fn hmac_key(key: &PrivateKey) -> Result<&hmac::Key> {
    match key {
        PrivateKey::Hmac(key) => Ok(key),
        PrivateKey::Secret
        | PrivateKey::Rsa(_)
        | PrivateKey::Ec(_)
        | PrivateKey::Ed25519(_)
        | PrivateKey::X25519(_) => Err(Error::KeyType("an HMAC algorithm needs an HMAC key".into())),
    }
}

fn check_message(message: &[u8]) -> Result<()> {
    if message.is_empty() {
        return Err(Error::DataLength("message is empty".into()));
    }
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(Error::DataLength(format!(
            "message is {} bytes; at most {MAX_MESSAGE_BYTES}",
            message.len()
        )));
    }
    Ok(())
}

/// GenerateMac: the tag of `message` under a key version's HMAC key.
pub fn generate(key: &PrivateKey, message: &[u8]) -> Result<Vec<u8>> {
    check_message(message)?;
    Ok(hmac::sign(hmac_key(key)?, message).as_ref().to_vec())
}

/// VerifyMac: constant-time comparison; a tag of the wrong length is simply not valid.
pub fn verify(key: &PrivateKey, message: &[u8], tag: &[u8]) -> Result<bool> {
    check_message(message)?;
    Ok(hmac::verify(hmac_key(key)?, message, tag).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_util::{err, hex};
    use crate::secure_mem::SecretBuf;

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
        assert!(matches!(err(HmacContext::new(HashAlg::Sha256, b"")), Error::KeySize(_)));
        assert!(matches!(err(HmacContext::new(HashAlg::Sha256, &[1; 1025])), Error::KeySize(_)));
        assert!(HmacContext::new(HashAlg::Sha224, &[1; 1024]).is_ok());
    }

    /// RFC 4231 test case 2 ("Jefe") through a key version's parsed key.
    #[test]
    fn key_versions_match_rfc_4231() {
        let mut material = SecretBuf::zeroed(32).unwrap();
        material.as_mut_slice()[..4].copy_from_slice(b"Jefe");
        // HMAC keys shorter than the block are zero-padded, so "Jefe" and "Jefe\0…" agree.
        let key = PrivateKey::hmac(HashAlg::Sha256, 32, material.as_slice()).unwrap();
        let tag = generate(&key, b"what do ya want for nothing?").unwrap();
        assert_eq!(tag, hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
        assert!(verify(&key, b"what do ya want for nothing?", &tag).unwrap());
        assert!(!verify(&key, b"what do ya want for nothing!", &tag).unwrap());
        assert!(!verify(&key, b"what do ya want for nothing?", &tag[..31]).unwrap());
        assert!(matches!(err(generate(&key, b"")), Error::DataLength(_)));
        assert!(matches!(err(generate(&PrivateKey::Secret, b"m")), Error::KeyType(_)));
    }
}

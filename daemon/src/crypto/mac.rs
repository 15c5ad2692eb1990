//! HMAC with keys of usage GENERATE_VERIFY_MAC.

use aws_lc_rs::hmac;

use super::keypair::KeyHandle;
use crate::error::{Error, Result};
use crate::keys::KeySpec;

/// Largest message GenerateMac and VerifyMac take, as KMS.
pub const MAX_MESSAGE_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlgorithm {
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl MacAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            Self::HmacSha256 => "HMAC_SHA_256",
            Self::HmacSha384 => "HMAC_SHA_384",
            Self::HmacSha512 => "HMAC_SHA_512",
        }
    }

    /// The one algorithm a key spec computes.
    pub fn for_spec(spec: KeySpec) -> Option<Self> {
        match spec {
            KeySpec::Hmac256 => Some(Self::HmacSha256),
            KeySpec::Hmac384 => Some(Self::HmacSha384),
            KeySpec::Hmac512 => Some(Self::HmacSha512),
            _ => None,
        }
    }
}

fn hmac_key(key: &KeyHandle) -> Result<&hmac::Key> {
    match key {
        KeyHandle::Hmac(key) => Ok(key),
        _ => Err(Error::invalid("an HMAC algorithm needs an HMAC key")),
    }
}

fn check_message(message: &[u8]) -> Result<()> {
    if message.is_empty() {
        return Err(Error::invalid("message is empty"));
    }
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(Error::invalid(format!(
            "message is {} bytes; at most {MAX_MESSAGE_BYTES}",
            message.len()
        )));
    }
    Ok(())
}

pub fn generate(key: &KeyHandle, message: &[u8]) -> Result<Vec<u8>> {
    check_message(message)?;
    Ok(hmac::sign(hmac_key(key)?, message).as_ref().to_vec())
}

/// Constant-time comparison; a tag of the wrong length is simply not valid.
pub fn verify(key: &KeyHandle, message: &[u8], tag: &[u8]) -> Result<bool> {
    check_message(message)?;
    Ok(hmac::verify(hmac_key(key)?, message, tag).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keypair;
    use crate::keys::KeyUsage;
    use crate::secure_mem::SecretBuf;

    /// RFC 4231 test case 2 ("Jefe").
    #[test]
    fn matches_rfc_4231() {
        let mut material = SecretBuf::zeroed(32).unwrap();
        material.as_mut_slice()[..4].copy_from_slice(b"Jefe");
        // HMAC keys shorter than the block are zero-padded, so "Jefe" and "Jefe\0…" agree.
        let key = keypair::load(KeySpec::Hmac256, KeyUsage::GenerateVerifyMac, &material).unwrap();
        let tag = generate(&key, b"what do ya want for nothing?").unwrap();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert!(verify(&key, b"what do ya want for nothing?", &tag).unwrap());
        assert!(!verify(&key, b"what do ya want for nothing!", &tag).unwrap());
        assert!(!verify(&key, b"what do ya want for nothing?", &tag[..31]).unwrap());
    }
}

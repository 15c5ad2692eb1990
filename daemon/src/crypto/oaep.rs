//! RSAES-OAEP encryption with RSA keys of usage ENCRYPT_DECRYPT (MGF1 with the same hash).
//!
//! Decryption runs in AWS-LC, whose RSA private-key operation is blinded and constant-time and
//! whose OAEP decoding does not reveal which check failed; Arca reports every failure with one
//! message.

use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm};

use super::keypair::KeyHandle;
use crate::error::{Error, Result};
use crate::secure_mem::SecretBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OaepHash {
    Sha1,
    Sha256,
}

impl OaepHash {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "RSAES_OAEP_SHA_1",
            Self::Sha256 => "RSAES_OAEP_SHA_256",
        }
    }

    fn algorithm(self) -> &'static OaepAlgorithm {
        match self {
            Self::Sha1 => &OAEP_SHA1_MGF1SHA1,
            Self::Sha256 => &OAEP_SHA256_MGF1SHA256,
        }
    }

    fn hash_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// The largest plaintext for a modulus of `modulus_len` bytes: k - 2·hLen - 2 (RFC 8017).
    pub fn max_plaintext(self, modulus_len: usize) -> usize {
        modulus_len.saturating_sub(2 * self.hash_len() + 2)
    }
}

fn keys(
    key: &KeyHandle,
) -> Result<(&aws_lc_rs::rsa::OaepPrivateDecryptingKey, &aws_lc_rs::rsa::OaepPublicEncryptingKey)> {
    match key {
        KeyHandle::RsaDecrypt { private, public, .. } => Ok((private, public)),
        _ => Err(Error::invalid("RSAES_OAEP needs an RSA key of usage ENCRYPT_DECRYPT")),
    }
}

pub fn encrypt(key: &KeyHandle, hash: OaepHash, plaintext: &[u8]) -> Result<Vec<u8>> {
    let (_, public) = keys(key)?;
    let modulus_len = public.key_size_bytes();
    let limit = hash.max_plaintext(modulus_len);
    if plaintext.is_empty() {
        return Err(Error::invalid("plaintext is empty"));
    }
    if plaintext.len() > limit {
        return Err(Error::invalid(format!(
            "plaintext is {} bytes; {} with a {}-bit key takes at most {limit}",
            plaintext.len(),
            hash.name(),
            modulus_len * 8
        )));
    }
    let mut ciphertext = vec![0; public.ciphertext_size()];
    let written = public
        .encrypt(hash.algorithm(), plaintext, &mut ciphertext, None)
        .map_err(|_| Error::Crypto("OAEP encryption failed".into()))?
        .len();
    ciphertext.truncate(written);
    Ok(ciphertext)
}

pub fn decrypt(key: &KeyHandle, hash: OaepHash, ciphertext: &[u8]) -> Result<SecretBuf> {
    let (private, _) = keys(key)?;
    let modulus_len = private.key_size_bytes();
    if ciphertext.len() != modulus_len {
        return Err(Error::InvalidCiphertext(format!(
            "an RSAES_OAEP ciphertext for a {}-bit key is {modulus_len} bytes, not {}",
            modulus_len * 8,
            ciphertext.len()
        )));
    }
    let mut output = SecretBuf::zeroed(private.min_output_size())?;
    let len = private
        .decrypt(hash.algorithm(), ciphertext, output.as_mut_slice(), None)
        .map_err(|_| Error::DecryptionFailed)?
        .len();
    SecretBuf::copy_from(output.as_slice().get(..len).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keypair;
    use crate::keys::{KeySpec, KeyUsage};

    #[test]
    fn round_trip_limits_and_tampering() {
        let material = keypair::generate(KeySpec::Rsa2048).unwrap();
        let key = keypair::load(KeySpec::Rsa2048, KeyUsage::EncryptDecrypt, &material).unwrap();
        for (hash, limit) in [(OaepHash::Sha1, 214), (OaepHash::Sha256, 190)] {
            let plaintext = vec![0x42; limit];
            let ciphertext = encrypt(&key, hash, &plaintext).unwrap();
            assert_eq!(ciphertext.len(), 256);
            assert_eq!(decrypt(&key, hash, &ciphertext).unwrap().as_slice(), plaintext.as_slice());
            assert!(
                matches!(encrypt(&key, hash, &vec![0; limit + 1]), Err(Error::InvalidArgument(m)) if m.contains(&limit.to_string()))
            );
            let mut tampered = ciphertext.clone();
            tampered[100] ^= 1;
            assert!(matches!(decrypt(&key, hash, &tampered), Err(Error::DecryptionFailed)));
            assert!(matches!(decrypt(&key, hash, &ciphertext[1..]), Err(Error::InvalidCiphertext(_))));
        }
    }
}

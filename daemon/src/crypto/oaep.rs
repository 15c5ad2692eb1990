//! The KMS vocabulary of RSAES-OAEP (MGF1 with the same hash) with RSA keys of usage
//! ENCRYPT_DECRYPT: the algorithm names and the KMS limits over `rsa::RsaPrivateKey`.
//!
//! Decryption runs in AWS-LC, whose RSA private-key operation is blinded and constant-time and
//! whose OAEP decoding does not reveal which check failed; Arca reports every failure with one
//! message.

use super::digest::HashAlg;
use super::error::{Error, Result};
use super::key::PrivateKey;
use super::rsa::{RsaCryptScheme, RsaPrivateKey, rsa_encrypt};
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

    fn scheme(self) -> RsaCryptScheme {
        match self {
            Self::Sha1 => RsaCryptScheme::Oaep(HashAlg::Sha1),
            Self::Sha256 => RsaCryptScheme::Oaep(HashAlg::Sha256),
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

fn rsa_key(key: &PrivateKey) -> Result<&RsaPrivateKey> {
    match key {
        PrivateKey::Rsa(rsa) => Ok(rsa),
        PrivateKey::Secret | PrivateKey::Hmac(_) | PrivateKey::Ec(_) => {
            Err(Error::KeyType("RSAES_OAEP needs an RSA key of usage ENCRYPT_DECRYPT".into()))
        }
    }
}

pub fn encrypt(key: &PrivateKey, hash: OaepHash, plaintext: &[u8]) -> Result<Vec<u8>> {
    let rsa = rsa_key(key)?;
    let modulus_len = rsa.modulus_bits() / 8;
    let limit = hash.max_plaintext(modulus_len);
    if plaintext.is_empty() {
        return Err(Error::DataLength("plaintext is empty".into()));
    }
    if plaintext.len() > limit {
        return Err(Error::DataLength(format!(
            "plaintext is {} bytes; {} with a {}-bit key takes at most {limit}",
            plaintext.len(),
            hash.name(),
            modulus_len * 8
        )));
    }
    rsa_encrypt(rsa.public_der(), hash.scheme(), plaintext)
}

pub fn decrypt(key: &PrivateKey, hash: OaepHash, ciphertext: &[u8]) -> Result<SecretBuf> {
    let rsa = rsa_key(key)?;
    let modulus_len = rsa.modulus_bits() / 8;
    if ciphertext.len() != modulus_len {
        return Err(Error::CiphertextLength(format!(
            "an RSAES_OAEP ciphertext for a {}-bit key is {modulus_len} bytes, not {}",
            modulus_len * 8,
            ciphertext.len()
        )));
    }
    rsa.decrypt(hash.scheme(), ciphertext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::PairSpec;
    use crate::crypto::key::generate_pkcs8;

    #[test]
    fn round_trip_limits_and_tampering() {
        let material = generate_pkcs8(PairSpec::Rsa2048).unwrap();
        let key = PrivateKey::from_pkcs8(PairSpec::Rsa2048, material.as_slice()).unwrap();
        for (hash, limit) in [(OaepHash::Sha1, 214), (OaepHash::Sha256, 190)] {
            let plaintext = vec![0x42; limit];
            let ciphertext = encrypt(&key, hash, &plaintext).unwrap();
            assert_eq!(ciphertext.len(), 256);
            assert_eq!(decrypt(&key, hash, &ciphertext).unwrap().as_slice(), plaintext.as_slice());
            assert!(
                matches!(encrypt(&key, hash, &vec![0; limit + 1]), Err(Error::DataLength(m)) if m.contains(&limit.to_string()))
            );
            let mut tampered = ciphertext.clone();
            tampered[100] ^= 1;
            assert!(matches!(decrypt(&key, hash, &tampered), Err(Error::CiphertextInvalid(_))));
            assert!(matches!(decrypt(&key, hash, &ciphertext[1..]), Err(Error::CiphertextLength(_))));
        }
    }
}

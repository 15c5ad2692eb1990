//! RSA encryption: PKCS#1 v1.5, OAEP (MGF1 with the same hash, any label) and CKM_RSA_X_509 with
//! the public key, decryption with the key version's one `RsaPrivateKey`; and the KMS names of
//! RSAES-OAEP (`OaepHash`) with the KMS limits.
//!
//! AWS-LC does what it can: PKCS#1 v1.5, and OAEP with SHA-1/256/384/512 (labels included), on
//! keys of 2048 bits or more; its private-key operation is blinded and constant-time and its
//! padding checks do not reveal which check failed. The raw operation does the rest (OAEP with
//! SHA-224, CKM_RSA_X_509, keys below 2048 bits), with decoders written to the same rule. Every
//! padding failure is one opaque `CiphertextInvalid`.

use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
    OaepAlgorithm, OaepPublicEncryptingKey, Pkcs1PublicEncryptingKey, PublicEncryptingKey,
};

use super::raw::RawPublic;
use super::{AWS_LC_MIN_BITS, RsaPrivateKey, key_size_error, oaep, pkcs1, rsa_modulus_bytes};
use crate::crypto::der::rsa_public_components;
use crate::crypto::digest::HashAlg;
use crate::crypto::{Error, Result, failed};
use crate::secure_mem::SecretBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RsaCryptScheme {
    Pkcs1,
    /// MGF1 with the same hash; the label is empty unless the caller gave one.
    Oaep {
        hash: HashAlg,
        label: Vec<u8>,
    },
    /// CKM_RSA_X_509: the raw operation; the plaintext is up to k bytes (zeros on the left)
    /// below n, and decryption gives all k bytes.
    Raw,
}

impl RsaCryptScheme {
    /// OAEP without a label.
    pub fn oaep(hash: HashAlg) -> Self {
        Self::Oaep { hash, label: Vec::new() }
    }
}

fn oaep_algorithm(hash: HashAlg) -> Option<&'static OaepAlgorithm> {
    match hash {
        HashAlg::Sha1 => Some(&OAEP_SHA1_MGF1SHA1),
        HashAlg::Sha256 => Some(&OAEP_SHA256_MGF1SHA256),
        HashAlg::Sha384 => Some(&OAEP_SHA384_MGF1SHA384),
        HashAlg::Sha512 => Some(&OAEP_SHA512_MGF1SHA512),
        HashAlg::Sha224 => None,
    }
}

/// An empty label is passed as none, as AWS-LC treats both alike.
fn label_of(label: &[u8]) -> Option<&[u8]> {
    (!label.is_empty()).then_some(label)
}

fn invalid_padding() -> Error {
    Error::CiphertextInvalid("RSA decryption failed: invalid padding")
}

impl RsaPrivateKey {
    /// Encrypts with this key's public half.
    pub fn encrypt(&self, scheme: &RsaCryptScheme, plaintext: &[u8]) -> Result<Vec<u8>> {
        match &self.aws_lc {
            Some(key) if aws_lc_encrypts(scheme) => encrypt_with(key.public.clone(), scheme, plaintext),
            _ => rsa_encrypt(&self.public_der, scheme, plaintext),
        }
    }

    /// The plaintext in locked memory.
    pub fn decrypt(&self, scheme: &RsaCryptScheme, ciphertext: &[u8]) -> Result<SecretBuf> {
        let modulus_len = self.modulus_bits.div_ceil(8);
        if ciphertext.len() != modulus_len {
            return Err(Error::CiphertextLength(format!(
                "an RSA ciphertext for this key is {modulus_len} bytes, not {}",
                ciphertext.len()
            )));
        }
        let aws_lc = self.aws_lc.as_ref().filter(|_| aws_lc_encrypts(scheme));
        let Some(key) = aws_lc else {
            return match scheme {
                RsaCryptScheme::Pkcs1 => pkcs1::decrypt(self.raw_key()?, ciphertext),
                RsaCryptScheme::Oaep { hash, label } => {
                    oaep::decrypt(self.raw_key()?, *hash, label, ciphertext)
                }
                RsaCryptScheme::Raw => self.raw_key()?.private(ciphertext).map_err(|e| match e {
                    Error::DataInvalid(_) => {
                        Error::CiphertextInvalid("the RSA ciphertext is not below the modulus")
                    }
                    other => other,
                }),
            };
        };
        let mut output = SecretBuf::zeroed(modulus_len)?;
        let written = match scheme {
            RsaCryptScheme::Oaep { hash, label } => {
                let algorithm = oaep_algorithm(*hash).ok_or_else(|| failed("RSA-OAEP"))?;
                key.oaep
                    .decrypt(algorithm, ciphertext, output.as_mut_slice(), label_of(label))
                    .map(|p| p.len())
            }
            RsaCryptScheme::Pkcs1 | RsaCryptScheme::Raw => {
                key.pkcs1.decrypt(ciphertext, output.as_mut_slice()).map(|p| p.len())
            }
        }
        .map_err(|_| invalid_padding())?;
        Ok(SecretBuf::copy_from(output.as_slice().get(..written).unwrap_or_default())?)
    }
}

/// Whether AWS-LC does this scheme (for a key it takes).
fn aws_lc_encrypts(scheme: &RsaCryptScheme) -> bool {
    match scheme {
        RsaCryptScheme::Pkcs1 => true,
        RsaCryptScheme::Oaep { hash, .. } => oaep_algorithm(*hash).is_some(),
        RsaCryptScheme::Raw => false,
    }
}

/// Encrypts with an RSA SubjectPublicKeyInfo (a PKCS#11 public key object).
pub fn rsa_encrypt(spki: &[u8], scheme: &RsaCryptScheme, plaintext: &[u8]) -> Result<Vec<u8>> {
    let modulus_len = rsa_modulus_bytes(spki)?;
    let (modulus, exponent) = rsa_public_components(spki)?;
    let raw = RawPublic::new(&modulus, &exponent)?;
    if raw.bits() >= AWS_LC_MIN_BITS && aws_lc_encrypts(scheme) {
        let key = PublicEncryptingKey::from_der(spki).map_err(|_| key_size_error(modulus_len * 8))?;
        return encrypt_with(key, scheme, plaintext);
    }
    match scheme {
        RsaCryptScheme::Pkcs1 => pkcs1::encrypt(&raw, plaintext),
        RsaCryptScheme::Oaep { hash, label } => oaep::encrypt(&raw, *hash, label, plaintext),
        RsaCryptScheme::Raw if plaintext.len() > modulus_len => Err(Error::DataLength(format!(
            "CKM_RSA_X_509 input is {} bytes; this key takes at most {modulus_len}",
            plaintext.len()
        ))),
        RsaCryptScheme::Raw => raw
            .apply(plaintext)?
            .ok_or_else(|| Error::DataInvalid("CKM_RSA_X_509 input must be below the modulus".into())),
    }
}

fn encrypt_with(key: PublicEncryptingKey, scheme: &RsaCryptScheme, plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut ciphertext = vec![0; key.key_size_bytes()];
    let too_long = |limit: usize| {
        Error::DataLength(format!(
            "RSA plaintext is {} bytes; this key and padding take at most {limit}",
            plaintext.len()
        ))
    };
    let written = match scheme {
        RsaCryptScheme::Oaep { hash, label } => {
            let algorithm = oaep_algorithm(*hash).ok_or_else(|| failed("RSA-OAEP"))?;
            let key = OaepPublicEncryptingKey::new(key).map_err(|_| failed("RSA key setup"))?;
            if plaintext.len() > key.max_plaintext_size(algorithm) {
                return Err(too_long(key.max_plaintext_size(algorithm)));
            }
            key.encrypt(algorithm, plaintext, &mut ciphertext, label_of(label)).map(|c| c.len())
        }
        RsaCryptScheme::Pkcs1 | RsaCryptScheme::Raw => {
            let key = Pkcs1PublicEncryptingKey::new(key).map_err(|_| failed("RSA key setup"))?;
            if plaintext.len() > key.max_plaintext_size() {
                return Err(too_long(key.max_plaintext_size()));
            }
            key.encrypt(plaintext, &mut ciphertext).map(|c| c.len())
        }
    }
    .map_err(|_| failed("RSA encryption"))?;
    ciphertext.truncate(written);
    Ok(ciphertext)
}

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
            Self::Sha1 => RsaCryptScheme::oaep(HashAlg::Sha1),
            Self::Sha256 => RsaCryptScheme::oaep(HashAlg::Sha256),
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

/// KMS Encrypt with an RSAES_OAEP algorithm, within the KMS limits.
pub fn oaep_encrypt(rsa: &RsaPrivateKey, hash: OaepHash, plaintext: &[u8]) -> Result<Vec<u8>> {
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
    rsa.encrypt(&hash.scheme(), plaintext)
}

/// KMS Decrypt with an RSAES_OAEP algorithm.
pub fn oaep_decrypt(rsa: &RsaPrivateKey, hash: OaepHash, ciphertext: &[u8]) -> Result<SecretBuf> {
    let modulus_len = rsa.modulus_bits() / 8;
    if ciphertext.len() != modulus_len {
        return Err(Error::CiphertextLength(format!(
            "an RSAES_OAEP ciphertext for a {}-bit key is {modulus_len} bytes, not {}",
            modulus_len * 8,
            ciphertext.len()
        )));
    }
    rsa.decrypt(&hash.scheme(), ciphertext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::PairSpec;
    use crate::crypto::key::generate_pkcs8;

    #[test]
    fn round_trip_limits_and_tampering() {
        let material = generate_pkcs8(PairSpec::Rsa2048).unwrap();
        let key = RsaPrivateKey::from_pkcs8(material.as_slice()).unwrap();
        for (hash, limit) in [(OaepHash::Sha1, 214), (OaepHash::Sha256, 190)] {
            let plaintext = vec![0x42; limit];
            let ciphertext = oaep_encrypt(&key, hash, &plaintext).unwrap();
            assert_eq!(ciphertext.len(), 256);
            assert_eq!(oaep_decrypt(&key, hash, &ciphertext).unwrap().as_slice(), plaintext.as_slice());
            assert!(
                matches!(oaep_encrypt(&key, hash, &vec![0; limit + 1]), Err(Error::DataLength(m)) if m.contains(&limit.to_string()))
            );
            let mut tampered = ciphertext.clone();
            tampered[100] ^= 1;
            assert!(matches!(oaep_decrypt(&key, hash, &tampered), Err(Error::CiphertextInvalid(_))));
            assert!(matches!(oaep_decrypt(&key, hash, &ciphertext[1..]), Err(Error::CiphertextLength(_))));
        }
    }
}

//! Key material import (BYOK) as AWS KMS does it: an ephemeral RSA wrapping key whose public half
//! is handed out with an import token, and the unwrapping of material wrapped under it.
//!
//! RSAES_OAEP_SHA_* wrap the material itself with RSA-OAEP; RSA_AES_KEY_WRAP_SHA_256 wraps an
//! ephemeral 256-bit AES key with RSA-OAEP-SHA-256 and the material with AES-KWP (RFC 5649) under
//! that key, which carries material longer than one RSA block (RSA private keys). Every failure
//! of the RSA or AES-KWP step is reported as one opaque `WrappedKeyInvalid`. Key pair material (PKCS#8)
//! is checked against the key's spec and re-encoded by [`key_pair_material`].

use std::fmt;

use aws_lc_rs::encoding::{AsBigEndian, AsDer, EcPrivateKeyBin, Pkcs8V1Der};
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    PrivateDecryptingKey,
};
use aws_lc_rs::signature::{self, EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair as _, RsaKeyPair};

use super::error::{Error, Result, failed};
use super::spec::PairSpec;
use crate::secure_mem::SecretBuf;

/// Length of the ephemeral AES key of RSA_AES_KEY_WRAP_SHA_256.
const AES_KEY_LEN: usize = 32;
/// The shortest AES-KWP output: the 8-byte integrity block and one padded 8-byte block.
const MIN_KWP_LEN: usize = 16;
const KWP_BLOCK: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrappingAlgorithm {
    RsaesOaepSha1,
    RsaesOaepSha256,
    RsaAesKeyWrapSha256,
}

impl WrappingAlgorithm {
    pub const ALL: [Self; 3] = [Self::RsaesOaepSha1, Self::RsaesOaepSha256, Self::RsaAesKeyWrapSha256];

    pub fn name(self) -> &'static str {
        match self {
            Self::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            Self::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
            Self::RsaAesKeyWrapSha256 => "RSA_AES_KEY_WRAP_SHA_256",
        }
    }

    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name).ok_or_else(|| {
            Error::Unsupported(format!(
                "unknown wrapping algorithm {name:?}: expected RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256 \
                 or RSA_AES_KEY_WRAP_SHA_256"
            ))
        })
    }

    /// Refuses what cannot carry `spec`'s material: a PKCS#8 private key is longer than one
    /// RSA-OAEP block, so key pairs are wrapped only with RSA_AES_KEY_WRAP_SHA_256 (AWS's rule).
    pub fn check_carries(self, pair: Option<PairSpec>) -> Result<()> {
        let Some(spec) = pair.filter(|_| self != Self::RsaAesKeyWrapSha256) else {
            return Ok(());
        };
        Err(Error::Unsupported(format!(
            "wrapping algorithm {} cannot carry {} key material (a PKCS#8 private key is longer than \
             one RSA-OAEP block): use RSA_AES_KEY_WRAP_SHA_256",
            self.name(),
            spec.name()
        )))
    }

    /// The OAEP parameters of the RSA step (MGF1 with the same hash).
    fn oaep(self) -> &'static OaepAlgorithm {
        match self {
            Self::RsaesOaepSha1 => &OAEP_SHA1_MGF1SHA1,
            Self::RsaesOaepSha256 | Self::RsaAesKeyWrapSha256 => &OAEP_SHA256_MGF1SHA256,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrappingKeySpec {
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl WrappingKeySpec {
    pub const ALL: [Self; 3] = [Self::Rsa2048, Self::Rsa3072, Self::Rsa4096];

    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa2048 => "RSA_2048",
            Self::Rsa3072 => "RSA_3072",
            Self::Rsa4096 => "RSA_4096",
        }
    }

    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name).ok_or_else(|| {
            Error::Unsupported(format!(
                "unknown wrapping key spec {name:?}: expected RSA_2048, RSA_3072 or RSA_4096"
            ))
        })
    }

    pub fn bits(self) -> usize {
        match self {
            Self::Rsa2048 => 2048,
            Self::Rsa3072 => 3072,
            Self::Rsa4096 => 4096,
        }
    }

    /// The length of the RSA modulus, and so of every RSA-OAEP ciphertext under the key.
    pub fn modulus_len(self) -> usize {
        self.bits() / 8
    }

    fn key_size(self) -> KeySize {
        match self {
            Self::Rsa2048 => KeySize::Rsa2048,
            Self::Rsa3072 => KeySize::Rsa3072,
            Self::Rsa4096 => KeySize::Rsa4096,
        }
    }
}

/// An ephemeral RSA key pair for one import token.
pub struct WrappingKey {
    spec: WrappingKeySpec,
    private: PrivateDecryptingKey,
    oaep: OaepPrivateDecryptingKey,
    public_der: Vec<u8>,
}

impl fmt::Debug for WrappingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WrappingKey({}, [REDACTED])", self.spec.name())
    }
}

impl WrappingKey {
    /// A fresh key pair. RSA generation takes up to seconds: callers run it off the async reactor.
    pub fn generate(spec: WrappingKeySpec) -> Result<Self> {
        let private = PrivateDecryptingKey::generate(spec.key_size())
            .map_err(|_| failed("RSA wrapping key generation"))?;
        Self::from_private(spec, private)
    }

    fn from_private(spec: WrappingKeySpec, private: PrivateDecryptingKey) -> Result<Self> {
        let public_der = private
            .public_key()
            .as_der()
            .map(|der| der.as_ref().to_vec())
            .map_err(|_| failed("public key encoding"))?;
        let oaep = OaepPrivateDecryptingKey::new(private.clone()).map_err(|_| failed("OAEP key"))?;
        Ok(Self { spec, private, oaep, public_der })
    }

    pub fn spec(&self) -> WrappingKeySpec {
        self.spec
    }

    /// The DER SubjectPublicKeyInfo handed to the importer.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_der
    }

    /// The private key as PKCS#8 DER, for the caller to keep sealed until the import token expires.
    pub fn private_pkcs8(&self) -> Result<SecretBuf> {
        let der = self.private.as_der().map_err(|_| failed("PKCS#8 encoding"))?;
        Ok(SecretBuf::copy_from(der.as_ref())?)
    }

    /// Reloads a key kept by [`Self::private_pkcs8`]; the key size must match `spec`.
    pub fn from_pkcs8(spec: WrappingKeySpec, der: &SecretBuf) -> Result<Self> {
        let private = PrivateDecryptingKey::from_pkcs8(der.as_slice())
            .map_err(|_| Error::KeyType("stored wrapping key does not parse as an RSA PKCS#8 key".into()))?;
        if private.key_size_bits() != spec.bits() {
            return Err(Error::KeySize(format!(
                "stored wrapping key is {}-bit, its spec {} says {}",
                private.key_size_bits(),
                spec.name(),
                spec.bits()
            )));
        }
        Self::from_private(spec, private)
    }

    /// Unwraps key material the way AWS KMS ImportKeyMaterial expects it to have been wrapped:
    /// RSAES_OAEP_SHA_*: the material itself, RSA-OAEP encrypted.
    /// RSA_AES_KEY_WRAP_SHA_256: RSA-OAEP-SHA256(ephemeral 256-bit AES key) || AES-KWP (RFC 5649)
    /// of the material under that key (the first modulus-length bytes are the RSA part).
    pub fn unwrap(&self, algorithm: WrappingAlgorithm, wrapped: &[u8]) -> Result<SecretBuf> {
        let material = match algorithm {
            WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaesOaepSha256 => {
                let modulus_len = self.spec.modulus_len();
                if wrapped.len() != modulus_len {
                    return Err(Error::WrappedKeyLength(format!(
                        "{} wrapped key material for a {}-bit wrapping key is {modulus_len} bytes, not {}",
                        algorithm.name(),
                        self.spec.bits(),
                        wrapped.len()
                    )));
                }
                self.rsa_decrypt(algorithm.oaep(), wrapped)?
            }
            WrappingAlgorithm::RsaAesKeyWrapSha256 => self.unwrap_hybrid(wrapped)?,
        };
        if material.is_empty() {
            return Err(Error::DataLength("the unwrapped key material is empty".into()));
        }
        Ok(material)
    }

    fn unwrap_hybrid(&self, wrapped: &[u8]) -> Result<SecretBuf> {
        let (rsa_part, kwp_part) = self.split_hybrid(wrapped)?;
        // A failed RSA step still runs AES-KWP, under a random key, so that the two failures take
        // the same path and give the same answer.
        let (aes_key, rsa_ok) = match self.rsa_decrypt(&OAEP_SHA256_MGF1SHA256, rsa_part) {
            Ok(key) if key.len() == AES_KEY_LEN => (key, true),
            Ok(_) | Err(Error::WrappedKeyInvalid(_)) => (SecretBuf::random(AES_KEY_LEN)?, false),
            Err(other) => return Err(other),
        };
        let material = kwp_unwrap(&aes_key, kwp_part);
        if rsa_ok { material } else { Err(unwrap_failed()) }
    }

    fn split_hybrid<'a>(&self, wrapped: &'a [u8]) -> Result<(&'a [u8], &'a [u8])> {
        let modulus_len = self.spec.modulus_len();
        let kwp_len = wrapped.len().saturating_sub(modulus_len);
        if kwp_len < MIN_KWP_LEN || !kwp_len.is_multiple_of(KWP_BLOCK) {
            return Err(Error::WrappedKeyLength(format!(
                "RSA_AES_KEY_WRAP_SHA_256 wrapped key material for a {}-bit wrapping key is {modulus_len} \
                 bytes of RSA-OAEP followed by at least {MIN_KWP_LEN} bytes of AES-KWP in a multiple of \
                 {KWP_BLOCK}; got {} bytes",
                self.spec.bits(),
                wrapped.len()
            )));
        }
        wrapped.split_at_checked(modulus_len).ok_or_else(|| failed("splitting wrapped material"))
    }

    fn rsa_decrypt(&self, algorithm: &'static OaepAlgorithm, ciphertext: &[u8]) -> Result<SecretBuf> {
        let mut output = SecretBuf::zeroed(self.oaep.min_output_size())?;
        let len = self
            .oaep
            .decrypt(algorithm, ciphertext, output.as_mut_slice(), None)
            .map_err(|_| unwrap_failed())?
            .len();
        Ok(SecretBuf::copy_from(output.as_slice().get(..len).unwrap_or_default())?)
    }
}

/// Imported key pair material, checked and in the form Arca stores.
pub struct KeyPairMaterial {
    /// PKCS#8 DER as AWS-LC writes the keys it generates.
    pub private_pkcs8: SecretBuf,
    /// DER SubjectPublicKeyInfo: the key pair's identity, whatever the PKCS#8 encoding was.
    pub public_key_der: Vec<u8>,
}

impl fmt::Debug for KeyPairMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyPairMaterial([REDACTED])")
    }
}

/// Checks that unwrapped material is a PKCS#8 private key of exactly `spec` and re-encodes it as
/// AWS-LC encodes generated keys, so that every reader of stored material (KMS and PKCS#11) sees
/// one form. A mismatch names both specs; material that is not such a key is INVALID_ARGUMENT.
pub fn key_pair_material(spec: PairSpec, der: &SecretBuf) -> Result<KeyPairMaterial> {
    let found = super::der::pkcs8_spec(der.as_slice()).map_err(|error| {
        Error::Encoding(format!("the key material is not a PKCS#8 {} private key: {error}", spec.name()))
    })?;
    if found != spec {
        return Err(Error::KeyType(format!(
            "the key material is a {} private key; this key's spec is {}",
            found.name(),
            spec.name()
        )));
    }
    let invalid = |_| Error::Encoding(format!("the key material is not a valid {} private key", spec.name()));
    if spec.is_curve25519() {
        return Err(Error::KeyType(format!("{} keys are made through PKCS#11, not imported", spec.name())));
    }
    let (private, public) = if let Some(algorithm) = ecdsa_signing(spec) {
        let parsed = EcdsaKeyPair::from_pkcs8(algorithm, der.as_slice()).map_err(invalid)?;
        // Rebuilt from the scalar and the point: a PKCS#8 that left the optional public key out
        // is stored with it, as a generated key is.
        let scalar: EcPrivateKeyBin<'_> =
            parsed.private_key().as_be_bytes().map_err(|_| failed("EC key encoding"))?;
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            algorithm,
            scalar.as_ref(),
            parsed.public_key().as_ref(),
        )
        .map_err(invalid)?;
        let private = pair.to_pkcs8v1().map_err(|_| failed("PKCS#8 encoding"))?;
        let public = pair.public_key().as_der().map_err(|_| failed("public key encoding"))?;
        (SecretBuf::copy_from(private.as_ref())?, public.as_ref().to_vec())
    } else {
        let pair = RsaKeyPair::from_pkcs8(der.as_slice()).map_err(invalid)?;
        let private: Pkcs8V1Der<'_> = pair.as_der().map_err(|_| failed("PKCS#8 encoding"))?;
        let public = pair.public_key().as_der().map_err(|_| failed("public key encoding"))?;
        (SecretBuf::copy_from(private.as_ref())?, public.as_ref().to_vec())
    };
    Ok(KeyPairMaterial { private_pkcs8: private, public_key_der: public })
}

fn ecdsa_signing(spec: PairSpec) -> Option<&'static EcdsaSigningAlgorithm> {
    match spec {
        PairSpec::EccNistP256 => Some(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
        PairSpec::EccNistP384 => Some(&signature::ECDSA_P384_SHA384_ASN1_SIGNING),
        PairSpec::EccNistP521 => Some(&signature::ECDSA_P521_SHA512_ASN1_SIGNING),
        PairSpec::EccSecgP256k1 => Some(&signature::ECDSA_P256K1_SHA256_ASN1_SIGNING),
        PairSpec::Rsa2048
        | PairSpec::Rsa3072
        | PairSpec::Rsa4096
        | PairSpec::RsaOther
        | PairSpec::Ed25519
        | PairSpec::X25519 => None,
    }
}

/// Every failure of the RSA or AES-KWP step, reported alike.
fn unwrap_failed() -> Error {
    Error::WrappedKeyInvalid("decryption failed: the wrapped key material does not unwrap")
}

/// AES-256 key wrap with padding (RFC 5649, NIST SP 800-38F KWP-AE) in reverse.
fn kwp_unwrap(key: &SecretBuf, wrapped: &[u8]) -> Result<SecretBuf> {
    // AesKek keeps its own copy of the key, zeroized when dropped at the end of this function.
    let kek = AesKek::new(&AES_256, key.as_slice()).map_err(|_| failed("AES key wrap key"))?;
    let mut output = SecretBuf::zeroed(wrapped.len())?;
    let len = kek.unwrap_with_padding(wrapped, output.as_mut_slice()).map_err(|_| unwrap_failed())?.len();
    Ok(SecretBuf::copy_from(output.as_slice().get(..len).unwrap_or_default())?)
}

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;

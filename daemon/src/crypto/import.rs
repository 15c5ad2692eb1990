//! Key material import (BYOK) as AWS KMS does it: an ephemeral RSA wrapping key whose public half
//! is handed out with an import token, and the unwrapping of material wrapped under it.
//!
//! RSAES_OAEP_SHA_* wrap the material itself with RSA-OAEP; RSA_AES_KEY_WRAP_SHA_256 wraps an
//! ephemeral 256-bit AES key with RSA-OAEP-SHA-256 and the material with AES-KWP (RFC 5649) under
//! that key, which carries material longer than one RSA block (RSA private keys). Every failure
//! of the RSA or AES-KWP step is reported as one `DecryptionFailed`.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    PrivateDecryptingKey,
};

use crate::error::{Error, Result};
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
            Error::invalid(format!(
                "unknown wrapping algorithm {name:?}: expected RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256 \
                 or RSA_AES_KEY_WRAP_SHA_256"
            ))
        })
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
            Error::invalid(format!(
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

fn crypto_failure(what: &str) -> Error {
    Error::Crypto(format!("{what} failed"))
}

impl WrappingKey {
    /// A fresh key pair. RSA generation takes up to seconds: callers run it off the async reactor.
    pub fn generate(spec: WrappingKeySpec) -> Result<Self> {
        let private = PrivateDecryptingKey::generate(spec.key_size())
            .map_err(|_| crypto_failure("RSA wrapping key generation"))?;
        Self::from_private(spec, private)
    }

    fn from_private(spec: WrappingKeySpec, private: PrivateDecryptingKey) -> Result<Self> {
        let public_der = private
            .public_key()
            .as_der()
            .map(|der| der.as_ref().to_vec())
            .map_err(|_| crypto_failure("public key encoding"))?;
        let oaep = OaepPrivateDecryptingKey::new(private.clone()).map_err(|_| crypto_failure("OAEP key"))?;
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
        let der = self.private.as_der().map_err(|_| crypto_failure("PKCS#8 encoding"))?;
        SecretBuf::copy_from(der.as_ref())
    }

    /// Reloads a key kept by [`Self::private_pkcs8`]; the key size must match `spec`.
    pub fn from_pkcs8(spec: WrappingKeySpec, der: &SecretBuf) -> Result<Self> {
        let private = PrivateDecryptingKey::from_pkcs8(der.as_slice()).map_err(|_| {
            Error::Integrity("stored wrapping key does not parse as an RSA PKCS#8 key".into())
        })?;
        if private.key_size_bits() != spec.bits() {
            return Err(Error::Integrity(format!(
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
                    return Err(Error::invalid(format!(
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
            return Err(Error::invalid("the unwrapped key material is empty"));
        }
        Ok(material)
    }

    fn unwrap_hybrid(&self, wrapped: &[u8]) -> Result<SecretBuf> {
        let (rsa_part, kwp_part) = self.split_hybrid(wrapped)?;
        // A failed RSA step still runs AES-KWP, under a random key, so that the two failures take
        // the same path and give the same answer.
        let (aes_key, rsa_ok) = match self.rsa_decrypt(&OAEP_SHA256_MGF1SHA256, rsa_part) {
            Ok(key) if key.len() == AES_KEY_LEN => (key, true),
            Ok(_) | Err(Error::DecryptionFailed) => (SecretBuf::random(AES_KEY_LEN)?, false),
            Err(other) => return Err(other),
        };
        let material = kwp_unwrap(&aes_key, kwp_part);
        if rsa_ok { material } else { Err(Error::DecryptionFailed) }
    }

    fn split_hybrid<'a>(&self, wrapped: &'a [u8]) -> Result<(&'a [u8], &'a [u8])> {
        let modulus_len = self.spec.modulus_len();
        let kwp_len = wrapped.len().saturating_sub(modulus_len);
        if kwp_len < MIN_KWP_LEN || !kwp_len.is_multiple_of(KWP_BLOCK) {
            return Err(Error::invalid(format!(
                "RSA_AES_KEY_WRAP_SHA_256 wrapped key material for a {}-bit wrapping key is {modulus_len} \
                 bytes of RSA-OAEP followed by at least {MIN_KWP_LEN} bytes of AES-KWP in a multiple of \
                 {KWP_BLOCK}; got {} bytes",
                self.spec.bits(),
                wrapped.len()
            )));
        }
        wrapped.split_at_checked(modulus_len).ok_or_else(|| crypto_failure("splitting wrapped material"))
    }

    fn rsa_decrypt(&self, algorithm: &'static OaepAlgorithm, ciphertext: &[u8]) -> Result<SecretBuf> {
        let mut output = SecretBuf::zeroed(self.oaep.min_output_size())?;
        let len = self
            .oaep
            .decrypt(algorithm, ciphertext, output.as_mut_slice(), None)
            .map_err(|_| Error::DecryptionFailed)?
            .len();
        SecretBuf::copy_from(output.as_slice().get(..len).unwrap_or_default())
    }
}

/// AES-256 key wrap with padding (RFC 5649, NIST SP 800-38F KWP-AE) in reverse.
fn kwp_unwrap(key: &SecretBuf, wrapped: &[u8]) -> Result<SecretBuf> {
    // AesKek keeps its own copy of the key, zeroized when dropped at the end of this function.
    let kek = AesKek::new(&AES_256, key.as_slice()).map_err(|_| crypto_failure("AES key wrap key"))?;
    let mut output = SecretBuf::zeroed(wrapped.len())?;
    let len =
        kek.unwrap_with_padding(wrapped, output.as_mut_slice()).map_err(|_| Error::DecryptionFailed)?.len();
    SecretBuf::copy_from(output.as_slice().get(..len).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::crypto::{keypair, random_vec};
    use crate::keys::{KeySpec, KeyUsage};

    /// The wrapping side is OpenSSL's command line, independent of AWS-LC, with the commands AWS
    /// documents for ImportKeyMaterial.
    struct Importer {
        dir: tempfile::TempDir,
    }

    impl Importer {
        fn new(key: &WrappingKey) -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("pub.der"), key.public_key_der()).unwrap();
            Self { dir }
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        fn openssl(&self, args: &[&str]) {
            let out =
                std::process::Command::new("openssl").current_dir(self.path()).args(args).output().unwrap();
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }

        fn oaep(&self, hash: &str, plaintext: &[u8]) -> Vec<u8> {
            std::fs::write(self.path().join("plain"), plaintext).unwrap();
            let md = format!("rsa_oaep_md:{hash}");
            let mgf = format!("rsa_mgf1_md:{hash}");
            self.openssl(&[
                "pkeyutl",
                "-encrypt",
                "-pubin",
                "-keyform",
                "DER",
                "-inkey",
                "pub.der",
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                &md,
                "-pkeyopt",
                &mgf,
                "-in",
                "plain",
                "-out",
                "oaep",
            ]);
            std::fs::read(self.path().join("oaep")).unwrap()
        }

        fn kwp(&self, aes_key: &[u8], material: &[u8]) -> Vec<u8> {
            std::fs::write(self.path().join("material"), material).unwrap();
            let hex: String = aes_key.iter().map(|b| format!("{b:02x}")).collect();
            let args = ["enc", "-id-aes256-wrap-pad", "-K", &hex, "-iv", "A65959A6", "-in", "material"];
            self.openssl(&[&args[..], &["-out", "kwp"]].concat());
            std::fs::read(self.path().join("kwp")).unwrap()
        }

        /// RSA_AES_KEY_WRAP_SHA_256 with an AES key of `aes_key_len` bytes (32 is the valid one).
        fn hybrid(&self, aes_key_len: usize, material: &[u8]) -> Vec<u8> {
            let aes_key = random_vec(aes_key_len).unwrap();
            let kwp_key = if aes_key_len == 32 { aes_key.clone() } else { random_vec(32).unwrap() };
            [self.oaep("sha256", &aes_key), self.kwp(&kwp_key, material)].concat()
        }

        /// A PKCS#8 private key generated by OpenSSL (`-algorithm RSA` or `EC`). `genpkey -outform
        /// DER` would write PKCS#1 or SEC1, hence the detour through PEM.
        fn pkcs8(&self, algorithm: &str, option: &str) -> Vec<u8> {
            self.openssl(&["genpkey", "-algorithm", algorithm, "-pkeyopt", option, "-out", "k.pem"]);
            self.openssl(&[
                "pkcs8", "-topk8", "-nocrypt", "-in", "k.pem", "-outform", "DER", "-out", "k.der",
            ]);
            std::fs::read(self.path().join("k.der")).unwrap()
        }
    }

    fn is_decryption_failed(result: Result<SecretBuf>) -> bool {
        matches!(result, Err(Error::DecryptionFailed))
    }

    #[test]
    fn names_round_trip() {
        for algorithm in WrappingAlgorithm::ALL {
            assert_eq!(WrappingAlgorithm::from_name(algorithm.name()).unwrap(), algorithm);
        }
        for spec in WrappingKeySpec::ALL {
            assert_eq!(WrappingKeySpec::from_name(spec.name()).unwrap(), spec);
        }
        assert!(matches!(WrappingAlgorithm::from_name("RSAES_PKCS1_V1_5"), Err(Error::InvalidArgument(_))));
        assert!(matches!(WrappingKeySpec::from_name("RSA_1024"), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn rsaes_oaep_unwraps_openssl_wrapped_material() {
        let key = WrappingKey::generate(WrappingKeySpec::Rsa2048).unwrap();
        let importer = Importer::new(&key);
        for (algorithm, hash) in
            [(WrappingAlgorithm::RsaesOaepSha1, "sha1"), (WrappingAlgorithm::RsaesOaepSha256, "sha256")]
        {
            for len in [32, 64] {
                let material = random_vec(len).unwrap();
                let wrapped = importer.oaep(hash, &material);
                assert_eq!(wrapped.len(), 256);
                assert_eq!(key.unwrap(algorithm, &wrapped).unwrap().as_slice(), material.as_slice());
                // The other OAEP hash does not decrypt it.
                let other = if hash == "sha1" {
                    WrappingAlgorithm::RsaesOaepSha256
                } else {
                    WrappingAlgorithm::RsaesOaepSha1
                };
                assert!(is_decryption_failed(key.unwrap(other, &wrapped)));
            }
        }
    }

    #[test]
    fn rsa_aes_key_wrap_unwraps_openssl_wrapped_material() {
        let key = WrappingKey::generate(WrappingKeySpec::Rsa3072).unwrap();
        let importer = Importer::new(&key);
        let algorithm = WrappingAlgorithm::RsaAesKeyWrapSha256;

        let aes = random_vec(32).unwrap();
        let wrapped = importer.hybrid(32, &aes);
        assert_eq!(wrapped.len(), 384 + 40);
        assert_eq!(key.unwrap(algorithm, &wrapped).unwrap().as_slice(), aes.as_slice());

        let ec = importer.pkcs8("EC", "ec_paramgen_curve:P-256");
        // 138 bytes: the AES-KWP padding is exercised.
        assert!(!ec.len().is_multiple_of(8), "{}", ec.len());
        let unwrapped = key.unwrap(algorithm, &importer.hybrid(32, &ec)).unwrap();
        assert_eq!(unwrapped.as_slice(), ec.as_slice());
        // The imported material is a usable Arca key.
        keypair::load(KeySpec::EccNistP256, KeyUsage::SignVerify, &unwrapped).unwrap();

        let rsa = importer.pkcs8("RSA", "rsa_keygen_bits:2048");
        assert!(rsa.len() > 1000, "{}", rsa.len());
        let unwrapped = key.unwrap(algorithm, &importer.hybrid(32, &rsa)).unwrap();
        assert_eq!(unwrapped.as_slice(), rsa.as_slice());
        keypair::load(KeySpec::Rsa2048, KeyUsage::SignVerify, &unwrapped).unwrap();
    }

    #[test]
    fn tampering_and_wrong_keys_fail_alike() {
        let key = WrappingKey::generate(WrappingKeySpec::Rsa2048).unwrap();
        let other = WrappingKey::generate(WrappingKeySpec::Rsa2048).unwrap();
        let importer = Importer::new(&key);
        let material = random_vec(32).unwrap();

        let oaep = importer.oaep("sha256", &material);
        let mut tampered = oaep.clone();
        tampered[17] ^= 0x01;
        assert!(is_decryption_failed(key.unwrap(WrappingAlgorithm::RsaesOaepSha256, &tampered)));
        assert!(is_decryption_failed(other.unwrap(WrappingAlgorithm::RsaesOaepSha256, &oaep)));

        let hybrid = importer.hybrid(32, &material);
        let algorithm = WrappingAlgorithm::RsaAesKeyWrapSha256;
        for position in [0, 100, 255, 256, 270, hybrid.len() - 1] {
            let mut tampered = hybrid.clone();
            tampered[position] ^= 0x80;
            assert!(is_decryption_failed(key.unwrap(algorithm, &tampered)), "byte {position}");
        }
        assert!(is_decryption_failed(other.unwrap(algorithm, &hybrid)));
        // A valid RSA part carrying a 16-byte AES key, or wrapped with SHA-1, is refused the same way.
        assert!(is_decryption_failed(key.unwrap(algorithm, &importer.hybrid(16, &material))));
        let sha1 = [importer.oaep("sha1", &random_vec(32).unwrap()), hybrid[256..].to_vec()].concat();
        assert!(is_decryption_failed(key.unwrap(algorithm, &sha1)));
    }

    #[test]
    fn wrong_lengths_are_invalid_with_the_sizes_named() {
        let key = WrappingKey::generate(WrappingKeySpec::Rsa2048).unwrap();
        let invalid = |algorithm, len: usize, expected: &[&str]| match key.unwrap(algorithm, &vec![7; len]) {
            Err(Error::InvalidArgument(message)) => {
                for part in expected {
                    assert!(message.contains(part), "{message:?} lacks {part:?}");
                }
            }
            other => panic!("{len} bytes: {other:?}"),
        };
        for algorithm in [WrappingAlgorithm::RsaesOaepSha1, WrappingAlgorithm::RsaesOaepSha256] {
            for len in [0, 255, 257, 512] {
                invalid(algorithm, len, &["256 bytes", &format!("not {len}"), "2048-bit"]);
            }
        }
        for len in [0, 100, 256, 264, 256 + 17, 256 + 41] {
            invalid(
                WrappingAlgorithm::RsaAesKeyWrapSha256,
                len,
                &["256", "16", "multiple of 8", &len.to_string()],
            );
        }
    }

    #[test]
    fn pkcs8_round_trip_keeps_the_key() {
        let key = WrappingKey::generate(WrappingKeySpec::Rsa2048).unwrap();
        let material = random_vec(32).unwrap();
        let wrapped = Importer::new(&key).hybrid(32, &material);

        let pkcs8 = key.private_pkcs8().unwrap();
        let reloaded = WrappingKey::from_pkcs8(WrappingKeySpec::Rsa2048, &pkcs8).unwrap();
        assert_eq!(reloaded.public_key_der(), key.public_key_der());
        let unwrapped = reloaded.unwrap(WrappingAlgorithm::RsaAesKeyWrapSha256, &wrapped).unwrap();
        assert_eq!(unwrapped.as_slice(), material.as_slice());

        assert!(
            matches!(WrappingKey::from_pkcs8(WrappingKeySpec::Rsa3072, &pkcs8), Err(Error::Integrity(m)) if m.contains("2048"))
        );
        let garbage = SecretBuf::random(64).unwrap();
        assert!(matches!(
            WrappingKey::from_pkcs8(WrappingKeySpec::Rsa2048, &garbage),
            Err(Error::Integrity(_))
        ));
        let shown = format!("{reloaded:?}");
        assert!(shown.contains("REDACTED") && shown.len() < 40, "{shown}");
    }
}

//! The KMS signing vocabulary: RSASSA-PKCS1-v1_5, RSASSA-PSS (salt length = digest length) and
//! ECDSA with DER signatures, over a raw message or a digest the caller computed; and pure Ed25519
//! (ED25519_SHA_512), over a raw message only, as KMS has it. Signing is done
//! by the key version's one parsed key (`rsa::RsaPrivateKey`, `ec::EcPrivateKey`), verification
//! by the same functions the token service uses (`rsa::rsa_verify`, `ec::ecdsa_verify_*`); this
//! module names the algorithms, checks the KMS limits and hashes raw messages.

use aws_lc_rs::digest::{self, Digest};

use super::curve25519::{ED25519_SIGNATURE_LEN, ed25519_verify};
use super::der::io::{INTEGER, Reader, SEQUENCE};
use super::digest::{HashAlg, Hasher};
use super::ec::ecdsa_verify_der;
use super::error::{Error, Result};
use super::key::PrivateKey;
use super::rsa::{RsaSignScheme, rsa_verify};
use super::spec::PairSpec;

/// Largest raw message Sign and Verify take, as KMS.
pub const MAX_MESSAGE_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    RsaPkcs1Sha256,
    RsaPkcs1Sha384,
    RsaPkcs1Sha512,
    RsaPssSha256,
    RsaPssSha384,
    RsaPssSha512,
    EcdsaSha256,
    EcdsaSha384,
    EcdsaSha512,
    /// Pure Ed25519 (RFC 8032; SHA-512 is inside the algorithm): MessageType RAW only. KMS's
    /// ED25519_PH_SHA_512 (Ed25519ph) is not offered: AWS-LC has no Ed25519ph.
    Ed25519Sha512,
}

/// What the caller hands in: the message, or its digest.
#[derive(Debug, Clone, Copy)]
pub enum Message<'a> {
    Raw(&'a [u8]),
    Digest(&'a [u8]),
}

impl SigningAlgorithm {
    pub const ALL: [Self; 10] = [
        Self::RsaPkcs1Sha256,
        Self::RsaPkcs1Sha384,
        Self::RsaPkcs1Sha512,
        Self::RsaPssSha256,
        Self::RsaPssSha384,
        Self::RsaPssSha512,
        Self::EcdsaSha256,
        Self::EcdsaSha384,
        Self::EcdsaSha512,
        Self::Ed25519Sha512,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::RsaPkcs1Sha256 => "RSASSA_PKCS1_V1_5_SHA_256",
            Self::RsaPkcs1Sha384 => "RSASSA_PKCS1_V1_5_SHA_384",
            Self::RsaPkcs1Sha512 => "RSASSA_PKCS1_V1_5_SHA_512",
            Self::RsaPssSha256 => "RSASSA_PSS_SHA_256",
            Self::RsaPssSha384 => "RSASSA_PSS_SHA_384",
            Self::RsaPssSha512 => "RSASSA_PSS_SHA_512",
            Self::EcdsaSha256 => "ECDSA_SHA_256",
            Self::EcdsaSha384 => "ECDSA_SHA_384",
            Self::EcdsaSha512 => "ECDSA_SHA_512",
            Self::Ed25519Sha512 => "ED25519_SHA_512",
        }
    }

    /// The algorithms a key spec signs with, as KMS pairs them (secp256k1 with SHA-256).
    pub fn for_spec(spec: PairSpec) -> &'static [Self] {
        use SigningAlgorithm::*;
        match spec {
            // Token keys of other sizes have no KMS algorithms: the KMS face keeps its three sizes.
            PairSpec::RsaOther => &[],
            PairSpec::Rsa2048 | PairSpec::Rsa3072 | PairSpec::Rsa4096 => {
                &[RsaPkcs1Sha256, RsaPkcs1Sha384, RsaPkcs1Sha512, RsaPssSha256, RsaPssSha384, RsaPssSha512]
            }
            PairSpec::EccNistP256 | PairSpec::EccSecgP256k1 => &[EcdsaSha256],
            PairSpec::EccNistP384 => &[EcdsaSha384],
            PairSpec::EccNistP521 => &[EcdsaSha512],
            PairSpec::Ed25519 => &[Ed25519Sha512],
            PairSpec::X25519 => &[],
        }
    }

    fn digest_algorithm(self) -> &'static digest::Algorithm {
        match self {
            Self::RsaPkcs1Sha256 | Self::RsaPssSha256 | Self::EcdsaSha256 => &digest::SHA256,
            Self::RsaPkcs1Sha384 | Self::RsaPssSha384 | Self::EcdsaSha384 => &digest::SHA384,
            Self::RsaPkcs1Sha512 | Self::RsaPssSha512 | Self::EcdsaSha512 | Self::Ed25519Sha512 => {
                &digest::SHA512
            }
        }
    }

    fn hash(self) -> HashAlg {
        match self {
            Self::RsaPkcs1Sha256 | Self::RsaPssSha256 | Self::EcdsaSha256 => HashAlg::Sha256,
            Self::RsaPkcs1Sha384 | Self::RsaPssSha384 | Self::EcdsaSha384 => HashAlg::Sha384,
            Self::RsaPkcs1Sha512 | Self::RsaPssSha512 | Self::EcdsaSha512 | Self::Ed25519Sha512 => {
                HashAlg::Sha512
            }
        }
    }

    /// The RSA scheme of an RSA algorithm; `None` for ECDSA.
    fn rsa_scheme(self) -> Option<RsaSignScheme> {
        let hash = self.hash();
        match self {
            Self::RsaPkcs1Sha256 | Self::RsaPkcs1Sha384 | Self::RsaPkcs1Sha512 => {
                Some(RsaSignScheme::Pkcs1(hash))
            }
            Self::RsaPssSha256 | Self::RsaPssSha384 | Self::RsaPssSha512 => {
                Some(RsaSignScheme::Pss { hash, salt_len: hash.output_len() })
            }
            Self::EcdsaSha256 | Self::EcdsaSha384 | Self::EcdsaSha512 | Self::Ed25519Sha512 => None,
        }
    }

    fn digest_of(self, digest: &[u8]) -> Result<Digest> {
        let algorithm = self.digest_algorithm();
        if digest.len() != algorithm.output_len() {
            return Err(Error::DataLength(format!(
                "a DIGEST message for {} is {} bytes, not {}",
                self.name(),
                algorithm.output_len(),
                digest.len()
            )));
        }
        Digest::import_less_safe(digest, algorithm).map_err(|_| Error::DataLength("digest rejected".into()))
    }
}

fn check_message(message: Message<'_>) -> Result<()> {
    if let Message::Raw(raw) = message {
        if raw.is_empty() {
            return Err(Error::DataLength("message is empty".into()));
        }
        if raw.len() > MAX_MESSAGE_BYTES {
            return Err(Error::DataLength(format!(
                "message is {} bytes; at most {MAX_MESSAGE_BYTES} (send a DIGEST for longer messages)",
                raw.len()
            )));
        }
    }
    Ok(())
}

/// The digest to sign: the caller's, checked, or the hash of the raw message.
fn digest_to_sign(algorithm: SigningAlgorithm, message: Message<'_>) -> Result<Vec<u8>> {
    match message {
        Message::Raw(raw) => {
            let mut hasher = Hasher::new(algorithm.hash());
            hasher.update(raw);
            Ok(hasher.finish())
        }
        Message::Digest(d) => Ok(algorithm.digest_of(d)?.as_ref().to_vec()),
    }
}

/// Signs with a key version's parsed key; the algorithm must suit the key (checked by the
/// caller's spec lookup, and again here).
pub fn sign(key: &PrivateKey, algorithm: SigningAlgorithm, message: Message<'_>) -> Result<Vec<u8>> {
    check_message(message)?;
    if algorithm == SigningAlgorithm::Ed25519Sha512 {
        return match key {
            PrivateKey::Ed25519(ed) => ed.sign(pure_message(message)?),
            _ => Err(Error::KeyType(format!("{} does not apply to this key", algorithm.name()))),
        };
    }
    let digest = digest_to_sign(algorithm, message)?;
    match (key, algorithm.rsa_scheme()) {
        (PrivateKey::Rsa(rsa), Some(scheme)) => rsa.sign(scheme, &digest),
        (PrivateKey::Ec(ec), None) if SigningAlgorithm::for_spec(ec.spec()).contains(&algorithm) => {
            ec.sign_prehashed_der(&digest)
        }
        _ => Err(Error::KeyType(format!("{} does not apply to this key", algorithm.name()))),
    }
}

/// Verifies against a DER SubjectPublicKeyInfo. A well-formed signature that does not match is
/// `Ok(false)`; a signature that cannot be one for this key at all is an error naming why.
pub fn verify(
    public_der: &[u8],
    spec: PairSpec,
    algorithm: SigningAlgorithm,
    message: Message<'_>,
    signature: &[u8],
) -> Result<bool> {
    check_message(message)?;
    if algorithm == SigningAlgorithm::Ed25519Sha512 {
        let message = pure_message(message)?;
        if signature.len() != ED25519_SIGNATURE_LEN {
            return Err(Error::SignatureLength(format!(
                "malformed signature: {} bytes, an Ed25519 signature is {ED25519_SIGNATURE_LEN}",
                signature.len()
            )));
        }
        return Ok(ed25519_verify(public_der, message, signature).is_ok());
    }
    check_signature_shape(spec, signature)?;
    let digest = digest_to_sign(algorithm, message)?;
    let outcome = match algorithm.rsa_scheme() {
        Some(scheme) => rsa_verify(public_der, scheme, &digest, signature),
        None => ecdsa_verify_der(public_der, &digest, signature),
    };
    // Any failure past the shape checks is a signature that does not verify.
    Ok(outcome.is_ok())
}

/// Pure Ed25519 signs the message itself: a DIGEST cannot be signed (KMS answers the same).
fn pure_message(message: Message<'_>) -> Result<&[u8]> {
    match message {
        Message::Raw(raw) => Ok(raw),
        Message::Digest(_) => Err(Error::DataInvalid("ED25519_SHA_512 takes MessageType RAW only".into())),
    }
}

fn check_signature_shape(spec: PairSpec, signature: &[u8]) -> Result<()> {
    let rsa_len = match spec {
        PairSpec::Rsa2048 => Some(256),
        PairSpec::Rsa3072 => Some(384),
        PairSpec::Rsa4096 => Some(512),
        _ => None,
    };
    if let Some(expected) = rsa_len {
        if signature.len() != expected {
            return Err(Error::SignatureLength(format!(
                "malformed signature: {} bytes, a {} signature is {expected}",
                signature.len(),
                spec.name()
            )));
        }
        return Ok(());
    }
    let scalar_len = spec.coordinate_len().unwrap_or(32);
    if !is_der_ecdsa_signature(signature, scalar_len) {
        return Err(Error::SignatureLength(format!(
            "malformed signature: not a DER ECDSA-Sig-Value for {}",
            spec.name()
        )));
    }
    Ok(())
}

/// `SEQUENCE { INTEGER r, INTEGER s }` in strict DER (P-521's needs a long-form length) with
/// integers of plausible size.
fn is_der_ecdsa_signature(der: &[u8], scalar_len: usize) -> bool {
    let Some(body) = Reader::single(der, SEQUENCE) else { return false };
    let mut reader = Reader::new(body);
    for _ in 0..2 {
        match reader.expect(INTEGER) {
            Some(value) if !value.is_empty() && value.len() <= scalar_len + 1 => {}
            _ => return false,
        }
    }
    reader.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::key::generate_pkcs8;

    fn key(spec: PairSpec) -> PrivateKey {
        PrivateKey::from_pkcs8(spec, generate_pkcs8(spec).unwrap().as_slice()).unwrap()
    }

    #[test]
    fn sign_verify_raw_and_digest_for_every_algorithm() {
        for spec in [PairSpec::Rsa2048, PairSpec::EccNistP256, PairSpec::EccNistP384] {
            let handle = key(spec);
            let public = handle.public_key_der().unwrap().to_vec();
            for algorithm in SigningAlgorithm::for_spec(spec) {
                let message = b"the quick brown fox";
                let digest = digest::digest(algorithm.digest_algorithm(), message);
                let by_raw = sign(&handle, *algorithm, Message::Raw(message)).unwrap();
                let by_digest = sign(&handle, *algorithm, Message::Digest(digest.as_ref())).unwrap();
                for signature in [&by_raw, &by_digest] {
                    assert!(verify(&public, spec, *algorithm, Message::Raw(message), signature).unwrap());
                    assert!(
                        verify(&public, spec, *algorithm, Message::Digest(digest.as_ref()), signature)
                            .unwrap()
                    );
                    assert!(!verify(&public, spec, *algorithm, Message::Raw(b"other"), signature).unwrap());
                }
            }
        }
    }

    #[test]
    fn bad_inputs_are_named() {
        let handle = key(PairSpec::EccNistP256);
        let public = handle.public_key_der().unwrap().to_vec();
        let short_digest = Message::Digest(&[0; 31]);
        assert!(
            matches!(sign(&handle, SigningAlgorithm::EcdsaSha256, short_digest), Err(Error::DataLength(m)) if m.contains("32"))
        );
        let big = vec![0; MAX_MESSAGE_BYTES + 1];
        assert!(sign(&handle, SigningAlgorithm::EcdsaSha256, Message::Raw(&big)).is_err());
        let garbage = verify(
            &public,
            PairSpec::EccNistP256,
            SigningAlgorithm::EcdsaSha256,
            Message::Raw(b"m"),
            &[1, 2, 3],
        );
        assert!(matches!(garbage, Err(Error::SignatureLength(m)) if m.contains("malformed")));
        assert!(sign(&handle, SigningAlgorithm::RsaPssSha256, Message::Raw(b"m")).is_err());
    }

    fn openssl(dir: &std::path::Path, args: &[&str]) {
        let status = std::process::Command::new("openssl").current_dir(dir).args(args).status().unwrap();
        assert!(status.success(), "openssl {args:?}");
    }

    /// Signatures made by OpenSSL (DER ECDSA, PKCS#1, PSS with digest-length salt) verify here.
    #[test]
    fn openssl_signatures_verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        std::fs::write(path.join("msg"), b"signed by openssl").unwrap();
        let cases: [(&str, PairSpec, SigningAlgorithm, &[&str]); 3] = [
            ("EC", PairSpec::EccNistP256, SigningAlgorithm::EcdsaSha256, &[]),
            ("RSA", PairSpec::Rsa2048, SigningAlgorithm::RsaPkcs1Sha256, &[]),
            (
                "RSA",
                PairSpec::Rsa2048,
                SigningAlgorithm::RsaPssSha256,
                &["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"],
            ),
        ];
        for (kind, spec, algorithm, sigopts) in cases {
            let option = if kind == "EC" { "ec_paramgen_curve:P-256" } else { "rsa_keygen_bits:2048" };
            openssl(path, &["genpkey", "-algorithm", kind, "-pkeyopt", option, "-out", "key.pem"]);
            openssl(path, &["pkey", "-in", "key.pem", "-pubout", "-outform", "DER", "-out", "pub.der"]);
            let mut sign = vec!["dgst", "-sha256", "-sign", "key.pem", "-out", "sig"];
            sign.extend_from_slice(sigopts);
            sign.push("msg");
            openssl(path, &sign);
            let public = std::fs::read(path.join("pub.der")).unwrap();
            let signature = std::fs::read(path.join("sig")).unwrap();
            let message = Message::Raw(b"signed by openssl");
            assert!(verify(&public, spec, algorithm, message, &signature).unwrap(), "{algorithm:?}");
        }
    }
}

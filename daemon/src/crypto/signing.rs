//! Signatures: RSASSA-PKCS1-v1_5, RSASSA-PSS (salt length = digest length) and ECDSA with DER
//! signatures, over a raw message or a digest the caller computed.

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, RsaEncoding, VerificationAlgorithm};

use super::keypair::KeyHandle;
use crate::error::{Error, Result};
use crate::keys::KeySpec;

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
}

/// What the caller hands in: the message, or its digest.
#[derive(Debug, Clone, Copy)]
pub enum Message<'a> {
    Raw(&'a [u8]),
    Digest(&'a [u8]),
}

impl SigningAlgorithm {
    pub const ALL: [Self; 8] = [
        Self::RsaPkcs1Sha256,
        Self::RsaPkcs1Sha384,
        Self::RsaPkcs1Sha512,
        Self::RsaPssSha256,
        Self::RsaPssSha384,
        Self::RsaPssSha512,
        Self::EcdsaSha256,
        Self::EcdsaSha384,
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
        }
    }

    /// The algorithms a key spec signs with.
    pub fn for_spec(spec: KeySpec) -> &'static [Self] {
        use SigningAlgorithm::*;
        match spec {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                &[RsaPkcs1Sha256, RsaPkcs1Sha384, RsaPkcs1Sha512, RsaPssSha256, RsaPssSha384, RsaPssSha512]
            }
            KeySpec::EccNistP256 => &[EcdsaSha256],
            KeySpec::EccNistP384 => &[EcdsaSha384],
            _ => &[],
        }
    }

    fn digest_algorithm(self) -> &'static digest::Algorithm {
        match self {
            Self::RsaPkcs1Sha256 | Self::RsaPssSha256 | Self::EcdsaSha256 => &digest::SHA256,
            Self::RsaPkcs1Sha384 | Self::RsaPssSha384 | Self::EcdsaSha384 => &digest::SHA384,
            Self::RsaPkcs1Sha512 | Self::RsaPssSha512 => &digest::SHA512,
        }
    }

    fn rsa_padding(self) -> Option<&'static dyn RsaEncoding> {
        match self {
            Self::RsaPkcs1Sha256 => Some(&signature::RSA_PKCS1_SHA256),
            Self::RsaPkcs1Sha384 => Some(&signature::RSA_PKCS1_SHA384),
            Self::RsaPkcs1Sha512 => Some(&signature::RSA_PKCS1_SHA512),
            Self::RsaPssSha256 => Some(&signature::RSA_PSS_SHA256),
            Self::RsaPssSha384 => Some(&signature::RSA_PSS_SHA384),
            Self::RsaPssSha512 => Some(&signature::RSA_PSS_SHA512),
            Self::EcdsaSha256 | Self::EcdsaSha384 => None,
        }
    }

    fn verification(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Self::RsaPkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::RsaPkcs1Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Self::RsaPkcs1Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Self::RsaPssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
            Self::RsaPssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
            Self::RsaPssSha512 => &signature::RSA_PSS_2048_8192_SHA512,
            Self::EcdsaSha256 => &signature::ECDSA_P256_SHA256_ASN1,
            Self::EcdsaSha384 => &signature::ECDSA_P384_SHA384_ASN1,
        }
    }

    fn digest_of(self, digest: &[u8]) -> Result<Digest> {
        let algorithm = self.digest_algorithm();
        if digest.len() != algorithm.output_len() {
            return Err(Error::invalid(format!(
                "a DIGEST message for {} is {} bytes, not {}",
                self.name(),
                algorithm.output_len(),
                digest.len()
            )));
        }
        Digest::import_less_safe(digest, algorithm).map_err(|_| Error::invalid("digest rejected"))
    }
}

fn check_message(message: Message<'_>) -> Result<()> {
    if let Message::Raw(raw) = message {
        if raw.is_empty() {
            return Err(Error::invalid("message is empty"));
        }
        if raw.len() > MAX_MESSAGE_BYTES {
            return Err(Error::invalid(format!(
                "message is {} bytes; at most {MAX_MESSAGE_BYTES} (send a DIGEST for longer messages)",
                raw.len()
            )));
        }
    }
    Ok(())
}

/// Signs with a loaded key; the algorithm must suit the key (checked by the caller's spec lookup).
pub fn sign(key: &KeyHandle, algorithm: SigningAlgorithm, message: Message<'_>) -> Result<Vec<u8>> {
    check_message(message)?;
    let failed = |_| Error::Crypto("signing failed".into());
    match (key, algorithm.rsa_padding()) {
        (KeyHandle::RsaSign { pair, .. }, Some(padding)) => {
            let mut signature = vec![0; pair.public_modulus_len()];
            match message {
                Message::Raw(raw) => {
                    pair.sign(padding, &SystemRandom::new(), raw, &mut signature).map_err(failed)?
                }
                Message::Digest(d) => {
                    pair.sign_digest(padding, &algorithm.digest_of(d)?, &mut signature).map_err(failed)?
                }
            }
            Ok(signature)
        }
        (KeyHandle::Ecdsa { pair, .. }, None) => {
            let signature = match message {
                Message::Raw(raw) => pair.sign(&SystemRandom::new(), raw).map_err(failed)?,
                Message::Digest(d) => pair.sign_digest(&algorithm.digest_of(d)?).map_err(failed)?,
            };
            Ok(signature.as_ref().to_vec())
        }
        _ => Err(Error::invalid(format!("{} does not apply to this key", algorithm.name()))),
    }
}

/// Verifies against a DER SubjectPublicKeyInfo. A well-formed signature that does not match is
/// `Ok(false)`; a signature that cannot be one for this key at all is an error naming why.
pub fn verify(
    public_der: &[u8],
    spec: KeySpec,
    algorithm: SigningAlgorithm,
    message: Message<'_>,
    signature: &[u8],
) -> Result<bool> {
    check_message(message)?;
    check_signature_shape(spec, signature)?;
    let verifier = algorithm.verification();
    let outcome = match message {
        Message::Raw(raw) => verifier.verify_sig(public_der, raw, signature),
        Message::Digest(d) => verifier.verify_digest_sig(public_der, &algorithm.digest_of(d)?, signature),
    };
    Ok(outcome.is_ok())
}

fn check_signature_shape(spec: KeySpec, signature: &[u8]) -> Result<()> {
    let rsa_len = match spec {
        KeySpec::Rsa2048 => Some(256),
        KeySpec::Rsa3072 => Some(384),
        KeySpec::Rsa4096 => Some(512),
        _ => None,
    };
    if let Some(expected) = rsa_len {
        if signature.len() != expected {
            return Err(Error::invalid(format!(
                "malformed signature: {} bytes, a {} signature is {expected}",
                signature.len(),
                spec.name()
            )));
        }
        return Ok(());
    }
    let scalar_len = if spec == KeySpec::EccNistP384 { 48 } else { 32 };
    if !is_der_ecdsa_signature(signature, scalar_len) {
        return Err(Error::invalid(format!(
            "malformed signature: not a DER ECDSA-Sig-Value for {}",
            spec.name()
        )));
    }
    Ok(())
}

/// `SEQUENCE { INTEGER r, INTEGER s }` with short-form lengths and integers of plausible size.
fn is_der_ecdsa_signature(der: &[u8], scalar_len: usize) -> bool {
    let [0x30, body_len, body @ ..] = der else { return false };
    if usize::from(*body_len) != body.len() || *body_len >= 0x80 {
        return false;
    }
    let mut rest = body;
    for _ in 0..2 {
        let [0x02, len, tail @ ..] = rest else { return false };
        let len = usize::from(*len);
        if len == 0 || len > scalar_len + 1 || tail.len() < len {
            return false;
        }
        rest = tail.get(len..).unwrap_or_default();
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keypair;
    use crate::keys::KeyUsage;

    fn key(spec: KeySpec) -> KeyHandle {
        keypair::load(spec, KeyUsage::SignVerify, &keypair::generate(spec).unwrap()).unwrap()
    }

    #[test]
    fn sign_verify_raw_and_digest_for_every_algorithm() {
        for spec in [KeySpec::Rsa2048, KeySpec::EccNistP256, KeySpec::EccNistP384] {
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
        let handle = key(KeySpec::EccNistP256);
        let public = handle.public_key_der().unwrap().to_vec();
        let short_digest = Message::Digest(&[0; 31]);
        assert!(
            matches!(sign(&handle, SigningAlgorithm::EcdsaSha256, short_digest), Err(Error::InvalidArgument(m)) if m.contains("32"))
        );
        let big = vec![0; MAX_MESSAGE_BYTES + 1];
        assert!(sign(&handle, SigningAlgorithm::EcdsaSha256, Message::Raw(&big)).is_err());
        let garbage = verify(
            &public,
            KeySpec::EccNistP256,
            SigningAlgorithm::EcdsaSha256,
            Message::Raw(b"m"),
            &[1, 2, 3],
        );
        assert!(matches!(garbage, Err(Error::InvalidArgument(m)) if m.contains("malformed")));
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
        let cases: [(&str, KeySpec, SigningAlgorithm, &[&str]); 3] = [
            ("EC", KeySpec::EccNistP256, SigningAlgorithm::EcdsaSha256, &[]),
            ("RSA", KeySpec::Rsa2048, SigningAlgorithm::RsaPkcs1Sha256, &[]),
            (
                "RSA",
                KeySpec::Rsa2048,
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

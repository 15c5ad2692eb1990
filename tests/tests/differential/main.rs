//! Differential tests: RustCrypto (`rsa`, `p256`, `p384`), an implementation independent of the
//! AWS-LC that Arca's crypto runs in, judges Arca's output. Every signature Arca makes verifies
//! with RustCrypto against the public key Arca hands out, and every ciphertext RustCrypto makes
//! with that key decrypts in Arca to the same plaintext; through gRPC ([`kms`]) and through the
//! PKCS#11 module ([`pkcs11`]).
//!
//! Messages are random, of random lengths including the edges (0 bytes and the most a call
//! takes); the seed is printed, and `ARCA_TEST_SEED=<n>` replays a run.

mod kms;
mod pkcs11;

use rsa::BoxedUint;
use rsa::pkcs8::DecodePublicKey as _;
use rsa::traits::PublicKeyParts as _;
use sha1::Sha1;
use sha2::{Digest as _, Sha224, Sha256, Sha384, Sha512};

/// SplitMix64: reproducible random messages without a random-number crate.
struct Rng(u64);

impl Rng {
    /// Seeded from `ARCA_TEST_SEED`, else from the clock; the seed is printed either way.
    fn seeded() -> Self {
        let seed = std::env::var("ARCA_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
            now.as_nanos() as u64
        });
        eprintln!("ARCA_TEST_SEED={seed}");
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    /// `count` messages of at most `max` bytes: empty, `max`, one byte, then random lengths.
    fn messages(&mut self, count: usize, max: usize) -> Vec<Vec<u8>> {
        let edges = [0, max, 1];
        (0..count)
            .map(|i| {
                let len = edges.get(i).copied().unwrap_or_else(|| self.below(max + 1));
                (0..len).map(|_| self.next() as u8).collect()
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => Sha1::digest(data).to_vec(),
            Self::Sha224 => Sha224::digest(data).to_vec(),
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha384 => Sha384::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn len(self) -> usize {
        self.digest(b"").len()
    }
}

/// How a signature is made; ECDSA hashes with its curve's hash (SHA-256 for P-256, SHA-384 for
/// P-384).
#[derive(Debug, Clone, Copy)]
enum Scheme {
    Pkcs1(Hash),
    /// Salt as long as the digest, MGF1 with the same hash.
    Pss(Hash),
    /// A DER `ECDSA-Sig-Value` (the KMS face).
    EcdsaDer,
    /// r || s, each as long as the curve's order (the PKCS#11 face).
    EcdsaRaw,
}

/// How a plaintext is encrypted to an RSA public key.
#[derive(Debug, Clone, Copy)]
enum Encryption {
    /// MGF1 with the same hash, no label.
    Oaep(Hash),
    Pkcs1,
}

impl Encryption {
    /// The longest plaintext for a modulus of `modulus_bytes` (RFC 8017 §7.1.1, §7.2.1).
    fn max_plaintext(self, modulus_bytes: usize) -> usize {
        match self {
            Self::Oaep(hash) => modulus_bytes - 2 * hash.len() - 2,
            Self::Pkcs1 => modulus_bytes - 11,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Curve {
    P256,
    P384,
}

/// A public key Arca handed out, parsed by RustCrypto.
#[derive(Debug)]
enum PublicKey {
    Rsa(rsa::PublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// From a DER SubjectPublicKeyInfo (`GetPublicKey`).
    fn from_spki(der: &[u8]) -> Self {
        rsa::PublicKey::from_public_key_der(der)
            .map(Self::Rsa)
            .or_else(|_| p256::ecdsa::VerifyingKey::from_public_key_der(der).map(Self::P256))
            .or_else(|_| p384::ecdsa::VerifyingKey::from_public_key_der(der).map(Self::P384))
            .unwrap_or_else(|e| panic!("RustCrypto cannot parse the public key: {e}"))
    }

    /// From big-endian CKA_MODULUS and CKA_PUBLIC_EXPONENT.
    fn rsa(modulus: &[u8], exponent: &[u8]) -> Self {
        let (n, e) = (BoxedUint::from_be_slice_vartime(modulus), BoxedUint::from_be_slice_vartime(exponent));
        Self::Rsa(rsa::PublicKey::new(n, e).unwrap())
    }

    /// From a SEC1 point (CKA_EC_POINT without its DER OCTET STRING header).
    fn ec(curve: Curve, point: &[u8]) -> Self {
        match curve {
            Curve::P256 => Self::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(point).unwrap()),
            Curve::P384 => Self::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(point).unwrap()),
        }
    }

    fn modulus_bytes(&self) -> usize {
        match self {
            Self::Rsa(key) => key.size(),
            Self::P256(_) | Self::P384(_) => panic!("not an RSA key"),
        }
    }

    /// Whether `signature` is a valid `scheme` signature of `message` under this key.
    fn verify(&self, scheme: Scheme, message: &[u8], signature: &[u8]) -> Result<(), String> {
        let result = match (self, scheme) {
            (Self::Rsa(key), Scheme::Pkcs1(Hash::Sha256)) => {
                key.pkcs1v15_verify::<Sha256>(message, signature)
            }
            (Self::Rsa(key), Scheme::Pkcs1(Hash::Sha384)) => {
                key.pkcs1v15_verify::<Sha384>(message, signature)
            }
            (Self::Rsa(key), Scheme::Pkcs1(Hash::Sha512)) => {
                key.pkcs1v15_verify::<Sha512>(message, signature)
            }
            (Self::Rsa(key), Scheme::Pss(Hash::Sha1)) => key.pss_verify::<Sha1>(message, signature),
            (Self::Rsa(key), Scheme::Pss(Hash::Sha224)) => key.pss_verify::<Sha224>(message, signature),
            (Self::Rsa(key), Scheme::Pss(Hash::Sha256)) => key.pss_verify::<Sha256>(message, signature),
            (Self::Rsa(key), Scheme::Pss(Hash::Sha384)) => key.pss_verify::<Sha384>(message, signature),
            (Self::Rsa(key), Scheme::Pss(Hash::Sha512)) => key.pss_verify::<Sha512>(message, signature),
            (Self::P256(key), Scheme::EcdsaDer | Scheme::EcdsaRaw) => {
                return ecdsa(key, scheme, message, signature, p256::ecdsa::Signature::from_der);
            }
            (Self::P384(key), Scheme::EcdsaDer | Scheme::EcdsaRaw) => {
                return ecdsa(key, scheme, message, signature, p384::ecdsa::Signature::from_der);
            }
            (key, scheme) => panic!("{scheme:?} is not tested with {key:?}"),
        };
        result.map_err(|e| e.to_string())
    }

    /// `plaintext` encrypted by RustCrypto to this RSA key.
    fn encrypt(&self, encryption: Encryption, plaintext: &[u8]) -> Vec<u8> {
        let Self::Rsa(key) = self else { panic!("not an RSA key") };
        let ciphertext = match encryption {
            Encryption::Oaep(Hash::Sha1) => key.oaep_encrypt::<Sha1>(plaintext),
            Encryption::Oaep(Hash::Sha256) => key.oaep_encrypt::<Sha256>(plaintext),
            Encryption::Pkcs1 => key.pkcs1v15_encrypt(plaintext),
            Encryption::Oaep(other) => panic!("OAEP with {other:?} is not tested"),
        };
        ciphertext.unwrap_or_else(|e| panic!("{encryption:?} of {} bytes: {e}", plaintext.len()))
    }
}

/// ECDSA verification for either signature encoding; `from_der` parses the KMS face's DER.
fn ecdsa<K, S>(
    key: &K,
    scheme: Scheme,
    message: &[u8],
    signature: &[u8],
    from_der: fn(&[u8]) -> Result<S, rsa::signature::Error>,
) -> Result<(), String>
where
    K: rsa::signature::Verifier<S>,
    S: for<'a> TryFrom<&'a [u8], Error = rsa::signature::Error>,
{
    let parsed = match scheme {
        Scheme::EcdsaDer => from_der(signature),
        Scheme::EcdsaRaw | Scheme::Pkcs1(_) | Scheme::Pss(_) => S::try_from(signature),
    };
    parsed.and_then(|signature| key.verify(message, &signature)).map_err(|e| e.to_string())
}

//! The state of an active PKCS#11 operation (C_*Init … C_*Final) and the mechanisms behind it.
//! Hash-then-sign mechanisms and HMAC run multi-part; raw RSA, raw ECDSA and RSA encryption are
//! single-part, as PKCS#11 defines them; so is CKM_EDDSA (pure Ed25519 reads the message twice).

use cryptoki_sys::*;

use super::crypto_rv::p11;
use super::mechanisms::{Mechanism, Parameter};
use super::object::Object;
use crate::crypto::PrivateKey;
use crate::crypto::aes::{AesCipher, AesMode};
use crate::crypto::curve25519::{ED25519_SIGNATURE_LEN, ed25519_verify};
use crate::crypto::digest::{HashAlg, Hasher};
use crate::crypto::ec::{ec_signature_len, ecdsa_verify_prehashed};
use crate::crypto::mac::MacContext;
use crate::crypto::rsa::{RsaCryptScheme, RsaSignScheme, rsa_modulus_bytes, rsa_verify};
use crate::error::{Error, Result};
use crate::service::Authorized;

/// The five operations a session can run, one of each at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Encrypt,
    Decrypt,
    Sign,
    Verify,
    Digest,
}

/// The application's output buffer: absent (a length query) or of some capacity.
#[derive(Debug, Clone, Copy)]
pub struct Space {
    pub length_only: bool,
    pub capacity: usize,
}

/// The answer to an output-producing call.
#[derive(Debug)]
pub enum Output {
    Data(Vec<u8>),
    /// The length needed (a length query, or a buffer that was too small).
    Length {
        needed: usize,
        too_small: bool,
    },
}

enum Finisher {
    RsaSign { key: Authorized, scheme: RsaSignScheme },
    EcSign { key: Authorized },
    RsaVerify { spki: Vec<u8>, scheme: RsaSignScheme },
    EcVerify { spki: Vec<u8> },
    EdSign { key: Authorized },
    EdVerify { spki: Vec<u8> },
}

enum State {
    Aes(Box<AesCipher>),
    RsaEncrypt {
        spki: Vec<u8>,
        scheme: RsaCryptScheme,
    },
    RsaDecrypt {
        key: Authorized,
        scheme: RsaCryptScheme,
    },
    /// Sign or verify with a mechanism that hashes the data itself.
    Hashed {
        hasher: Hasher,
        finisher: Finisher,
    },
    /// Single-part sign or verify of data the application prepared (a digest, a DigestInfo).
    Raw {
        finisher: Finisher,
    },
    Mac {
        context: MacContext,
        len: usize,
        verify: bool,
    },
    Digest(Hasher),
}

pub struct Operation {
    state: State,
    /// The token key the operation uses and its version, named in the audit record of each call.
    pub audit_key: Option<(crate::keys::KeyId, u32)>,
    /// Output length of a signature, a MAC, a digest or an RSA block.
    fixed_len: usize,
    /// A multi-part call was made: single-part calls are no longer allowed.
    updated: bool,
    /// The key says CKA_ALWAYS_AUTHENTICATE: no data call until C_Login(CKU_CONTEXT_SPECIFIC).
    pub awaiting_context_login: bool,
    /// Tells this operation from one started later in its place (a login grants the operations
    /// that were waiting when it began, not one started while the PIN was being checked).
    pub serial: u64,
}

/// The serial number of the next operation.
static NEXT_SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operation").field("updated", &self.updated).finish_non_exhaustive()
    }
}

fn param_invalid(message: &str) -> Error {
    Error::p11(CKR_MECHANISM_PARAM_INVALID, message.to_owned())
}

fn no_parameter(mechanism: &Mechanism) -> Result<()> {
    match &mechanism.parameter {
        Parameter::None => Ok(()),
        Parameter::Raw(bytes) if bytes.is_empty() => Ok(()),
        _ => Err(param_invalid("this mechanism takes no parameter")),
    }
}

fn hash_of(mechanism: CK_MECHANISM_TYPE) -> Option<HashAlg> {
    match mechanism {
        CKM_SHA256_RSA_PKCS
        | CKM_SHA256_RSA_PKCS_PSS
        | CKM_ECDSA_SHA256
        | CKM_SHA256_HMAC
        | CKM_SHA256_HMAC_GENERAL
        | CKM_SHA256 => Some(HashAlg::Sha256),
        CKM_SHA384_RSA_PKCS
        | CKM_SHA384_RSA_PKCS_PSS
        | CKM_ECDSA_SHA384
        | CKM_SHA384_HMAC
        | CKM_SHA384_HMAC_GENERAL
        | CKM_SHA384 => Some(HashAlg::Sha384),
        CKM_SHA512_RSA_PKCS
        | CKM_SHA512_RSA_PKCS_PSS
        | CKM_ECDSA_SHA512
        | CKM_SHA512_HMAC
        | CKM_SHA512_HMAC_GENERAL
        | CKM_SHA512 => Some(HashAlg::Sha512),
        // ECDSA over SHA-1 and SHA-224: what pkcs11-tool --test-ec and older applications sign.
        CKM_SHA_1
        | CKM_ECDSA_SHA1
        | CKM_SHA1_RSA_PKCS
        | CKM_SHA1_RSA_PKCS_PSS
        | CKM_SHA_1_HMAC
        | CKM_SHA_1_HMAC_GENERAL => Some(HashAlg::Sha1),
        CKM_SHA224
        | CKM_ECDSA_SHA224
        | CKM_SHA224_RSA_PKCS
        | CKM_SHA224_RSA_PKCS_PSS
        | CKM_SHA224_HMAC
        | CKM_SHA224_HMAC_GENERAL => Some(HashAlg::Sha224),
        _ => None,
    }
}

/// The material of a key's current version.
pub fn material(key: &Authorized) -> Result<&[u8]> {
    key.shared_key()
        .current()
        .map(|v| v.material.as_slice())
        .ok_or_else(|| Error::p11(CKR_KEY_FUNCTION_NOT_PERMITTED, "the key has no material (pending import)"))
}

/// The parsed private key of a key pair's current version (the one both faces use).
pub fn private_key(key: &Authorized) -> Result<&PrivateKey> {
    let version = key.shared_key().current().ok_or_else(|| {
        Error::p11(CKR_KEY_FUNCTION_NOT_PERMITTED, "the key has no material (pending import)")
    })?;
    match &version.key {
        PrivateKey::Secret | PrivateKey::Hmac(_) => {
            Err(Error::Integrity(format!("{} keys have no private-key handle", key.metadata.spec.name())))
        }
        pair @ (PrivateKey::Rsa(_) | PrivateKey::Ec(_) | PrivateKey::Ed25519(_) | PrivateKey::X25519(_)) => {
            Ok(pair)
        }
    }
}

/// CKM_SHA_1 … CKM_SHA512 (also the hashAlg of OAEP and PSS parameters).
pub fn hash_from_mechanism(mechanism: CK_MECHANISM_TYPE) -> Option<HashAlg> {
    match mechanism {
        CKM_SHA_1 => Some(HashAlg::Sha1),
        CKM_SHA224 => Some(HashAlg::Sha224),
        CKM_SHA256 => Some(HashAlg::Sha256),
        CKM_SHA384 => Some(HashAlg::Sha384),
        CKM_SHA512 => Some(HashAlg::Sha512),
        _ => None,
    }
}

/// CKG_MGF1_SHA1 … CKG_MGF1_SHA512.
pub fn hash_from_mgf(mgf: CK_RSA_PKCS_MGF_TYPE) -> Option<HashAlg> {
    match mgf {
        CKG_MGF1_SHA1 => Some(HashAlg::Sha1),
        CKG_MGF1_SHA224 => Some(HashAlg::Sha224),
        CKG_MGF1_SHA256 => Some(HashAlg::Sha256),
        CKG_MGF1_SHA384 => Some(HashAlg::Sha384),
        CKG_MGF1_SHA512 => Some(HashAlg::Sha512),
        _ => None,
    }
}

pub fn aes_mode(mechanism: &Mechanism) -> Result<AesMode> {
    let iv16 = |iv: &[u8]| <[u8; 16]>::try_from(iv).map_err(|_| param_invalid("the IV must be 16 bytes"));
    match (mechanism.kind, &mechanism.parameter) {
        (CKM_AES_ECB, _) => no_parameter(mechanism).map(|()| AesMode::Ecb),
        (CKM_AES_CBC, Parameter::Iv(iv)) => Ok(AesMode::Cbc { iv: iv16(iv)? }),
        (CKM_AES_CBC_PAD, Parameter::Iv(iv)) => Ok(AesMode::CbcPad { iv: iv16(iv)? }),
        (CKM_AES_CTR, Parameter::Ctr { counter_bits, counter_block }) => Ok(AesMode::Ctr {
            counter_block: iv16(counter_block)?,
            counter_bits: u32::try_from(*counter_bits).map_err(|_| param_invalid("counter bits"))?,
        }),
        (CKM_AES_GCM, Parameter::Gcm { iv, iv_bits, aad, tag_bits }) => {
            if *iv_bits != 0 && *iv_bits != (iv.len() as u64) * 8 {
                return Err(param_invalid("ulIvBits does not match ulIvLen"));
            }
            if !tag_bits.is_multiple_of(8) {
                return Err(param_invalid("the GCM tag length must be a whole number of bytes"));
            }
            Ok(AesMode::Gcm { iv: iv.clone(), aad: aad.clone(), tag_len: (*tag_bits / 8) as usize })
        }
        _ => Err(param_invalid(
            "this AES mechanism needs its parameter (IV, CK_GCM_PARAMS, CK_AES_CTR_PARAMS)",
        )),
    }
}

impl Operation {
    fn new(state: State, fixed_len: usize) -> Self {
        let serial = NEXT_SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self { state, fixed_len, updated: false, audit_key: None, awaiting_context_login: false, serial }
    }

    pub fn encrypt(mechanism: &Mechanism, object: &Object, key: Option<&Authorized>) -> Result<Self> {
        if is_rsa_cipher(mechanism.kind) {
            let spki = object.public_key_der()?;
            let modulus = rsa_modulus_bytes(&spki).map_err(p11)?;
            return Ok(Self::new(State::RsaEncrypt { spki, scheme: rsa_crypt_scheme(mechanism)? }, modulus));
        }
        let key = key.ok_or_else(|| Error::p11(CKR_KEY_TYPE_INCONSISTENT, "not a secret key"))?;
        let cipher = AesCipher::new(material(key)?, aes_mode(mechanism)?, true).map_err(p11)?;
        Ok(Self::new(State::Aes(Box::new(cipher)), 0))
    }

    pub fn decrypt(mechanism: &Mechanism, object: &Object, key: Option<&Authorized>) -> Result<Self> {
        let key = key.ok_or_else(|| Error::p11(CKR_KEY_TYPE_INCONSISTENT, "not a key"))?;
        if is_rsa_cipher(mechanism.kind) {
            let modulus = rsa_modulus_bytes(&object.public_key_der()?).map_err(p11)?;
            let state = State::RsaDecrypt { key: key.clone(), scheme: rsa_crypt_scheme(mechanism)? };
            return Ok(Self::new(state, modulus));
        }
        let cipher = AesCipher::new(material(key)?, aes_mode(mechanism)?, false).map_err(p11)?;
        Ok(Self::new(State::Aes(Box::new(cipher)), 0))
    }

    pub fn sign(mechanism: &Mechanism, object: &Object, key: Option<&Authorized>) -> Result<Self> {
        let key = key.ok_or_else(|| Error::p11(CKR_KEY_TYPE_INCONSISTENT, "not a key"))?;
        if let Some(mac) = Self::mac(mechanism, key, false)? {
            return Ok(mac);
        }
        let spki = object.public_key_der()?;
        let (finisher, len) = if key.metadata.spec.is_rsa() {
            let scheme = rsa_sign_scheme(mechanism, &spki)?;
            (Finisher::RsaSign { key: key.clone(), scheme }, rsa_modulus_bytes(&spki).map_err(p11)?)
        } else if mechanism.kind == CKM_EDDSA {
            eddsa_parameter(mechanism)?;
            (Finisher::EdSign { key: key.clone() }, ED25519_SIGNATURE_LEN)
        } else {
            no_parameter(mechanism)?;
            let len = key.metadata.spec.pair().map_or(0, ec_signature_len);
            (Finisher::EcSign { key: key.clone() }, len)
        };
        Ok(Self::signature(mechanism, finisher, len))
    }

    pub fn verify(mechanism: &Mechanism, object: &Object, key: Option<&Authorized>) -> Result<Self> {
        if let Some(key) = key.filter(|k| k.metadata.spec.is_secret())
            && let Some(mac) = Self::mac(mechanism, key, true)?
        {
            return Ok(mac);
        }
        let spki = object.public_key_der()?;
        let spec = object.spec().ok_or_else(|| Error::p11(CKR_KEY_TYPE_INCONSISTENT, "not a public key"))?;
        let (finisher, len) = if spec.is_rsa() {
            let scheme = rsa_sign_scheme(mechanism, &spki)?;
            let len = rsa_modulus_bytes(&spki).map_err(p11)?;
            (Finisher::RsaVerify { spki, scheme }, len)
        } else if mechanism.kind == CKM_EDDSA {
            eddsa_parameter(mechanism)?;
            (Finisher::EdVerify { spki }, ED25519_SIGNATURE_LEN)
        } else {
            no_parameter(mechanism)?;
            (Finisher::EcVerify { spki }, spec.pair().map_or(0, ec_signature_len))
        };
        Ok(Self::signature(mechanism, finisher, len))
    }

    fn signature(mechanism: &Mechanism, finisher: Finisher, len: usize) -> Self {
        match hash_of(mechanism.kind) {
            Some(hash) => Self::new(State::Hashed { hasher: Hasher::new(hash), finisher }, len),
            None => Self::new(State::Raw { finisher }, len),
        }
    }

    fn mac(mechanism: &Mechanism, key: &Authorized, verify: bool) -> Result<Option<Self>> {
        let (general, cmac) = match mechanism.kind {
            CKM_SHA_1_HMAC | CKM_SHA224_HMAC | CKM_SHA256_HMAC | CKM_SHA384_HMAC | CKM_SHA512_HMAC => {
                (false, false)
            }
            CKM_SHA_1_HMAC_GENERAL
            | CKM_SHA224_HMAC_GENERAL
            | CKM_SHA256_HMAC_GENERAL
            | CKM_SHA384_HMAC_GENERAL
            | CKM_SHA512_HMAC_GENERAL => (true, false),
            CKM_AES_CMAC => (false, true),
            CKM_AES_CMAC_GENERAL => (true, true),
            _ => return Ok(None),
        };
        let context = if cmac {
            MacContext::aes_cmac(material(key)?)
        } else {
            let hash = hash_of(mechanism.kind).ok_or_else(|| super::mechanisms::invalid(mechanism.kind))?;
            MacContext::hmac(hash, material(key)?)
        }
        .map_err(p11)?;
        let full = context.output_len();
        let len = match (&mechanism.parameter, general) {
            (Parameter::Ulong(len), true) if (1..=full as u64).contains(len) => *len as usize,
            (_, true) => return Err(param_invalid("CK_MAC_GENERAL_PARAMS: 1 to the MAC's full length")),
            (_, false) => {
                no_parameter(mechanism)?;
                full
            }
        };
        Ok(Some(Self::new(State::Mac { context, len, verify }, len)))
    }

    pub fn digest(mechanism: &Mechanism) -> Result<Self> {
        no_parameter(mechanism)?;
        let hash = hash_of(mechanism.kind)
            .filter(|_| {
                matches!(mechanism.kind, CKM_SHA_1 | CKM_SHA224 | CKM_SHA256 | CKM_SHA384 | CKM_SHA512)
            })
            .ok_or_else(|| super::mechanisms::invalid(mechanism.kind))?;
        Ok(Self::new(State::Digest(Hasher::new(hash)), hash.output_len()))
    }
}

/// CKM_EDDSA signs pure Ed25519: no CK_EDDSA_PARAMS. A parameter asks for Ed25519ctx or Ed25519ph
/// (RFC 8032 §5.1), which AWS-LC does not offer.
fn eddsa_parameter(mechanism: &Mechanism) -> Result<()> {
    no_parameter(mechanism).map_err(|_| {
        param_invalid("CK_EDDSA_PARAMS (Ed25519ph, Ed25519ctx) are not supported: pure Ed25519 only")
    })
}

impl Finisher {
    /// Signs `input` (a digest, or the application's prepared data), or checks `signature`.
    fn run(&self, input: &[u8], signature: Option<&[u8]>) -> Result<Vec<u8>> {
        match self {
            Self::RsaSign { key, scheme } => match private_key(key)? {
                PrivateKey::Rsa(rsa) => rsa.sign(*scheme, input).map_err(p11),
                _ => Err(Error::p11(CKR_KEY_TYPE_INCONSISTENT, "not an RSA key")),
            },
            Self::EcSign { key } => match private_key(key)? {
                PrivateKey::Ec(ec) => ec.sign_prehashed(input).map_err(p11),
                _ => Err(Error::p11(CKR_KEY_TYPE_INCONSISTENT, "not an EC key")),
            },
            Self::RsaVerify { spki, scheme } => {
                rsa_verify(spki, *scheme, input, signature.unwrap_or_default())
                    .map(|()| Vec::new())
                    .map_err(p11)
            }
            Self::EcVerify { spki } => ecdsa_verify_prehashed(spki, input, signature.unwrap_or_default())
                .map(|()| Vec::new())
                .map_err(p11),
            Self::EdSign { key } => match private_key(key)? {
                PrivateKey::Ed25519(ed) => ed.sign(input).map_err(p11),
                _ => Err(Error::p11(CKR_KEY_TYPE_INCONSISTENT, "not an Ed25519 key")),
            },
            Self::EdVerify { spki } => {
                ed25519_verify(spki, input, signature.unwrap_or_default()).map(|()| Vec::new()).map_err(p11)
            }
        }
    }
}

mod rsa_scheme;
mod run;

pub use rsa_scheme::rsa_crypt_scheme;
use rsa_scheme::{is_rsa_cipher, rsa_sign_scheme};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanisms_and_mgfs_map_to_algorithms() {
        let lens = [20, 28, 32, 48, 64];
        let mechs = [CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512];
        let mgfs = [CKG_MGF1_SHA1, CKG_MGF1_SHA224, CKG_MGF1_SHA256, CKG_MGF1_SHA384, CKG_MGF1_SHA512];
        for (i, alg) in HashAlg::ALL.into_iter().enumerate() {
            assert_eq!(hash_from_mechanism(mechs[i]), Some(alg));
            assert_eq!(hash_from_mgf(mgfs[i]), Some(alg));
            assert_eq!(alg.output_len(), lens[i]);
        }
        assert_eq!(hash_from_mechanism(CKM_MD5), None);
        assert_eq!(hash_from_mgf(CKG_MGF1_SHA3_256), None);
    }
}

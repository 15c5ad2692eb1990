//! Secret-key derivations of PKCS#11 (chapter "Miscellaneous simple key derivation mechanisms",
//! AES "ENCRYPT_DATA", HKDF): pure functions from key values and the application's data to a new
//! key value, always in a `SecretBuf`. What part of the result becomes the new key (CKA_VALUE_LEN)
//! is the caller's to cut.

use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, Algorithm, EncryptingKey, EncryptionContext, UnboundCipherKey,
};
use hkdf::hmac::{EagerHash, Hmac};
use hkdf::{Hkdf, HmacImpl};
use zeroize::Zeroize as _;

use super::digest::HashAlg;
use super::error::{Error, Result, failed};
use crate::secure_mem::SecretBuf;

/// The AES block, the unit of the ENCRYPT_DATA mechanisms' data.
const AES_BLOCK: usize = 16;

/// The longest output of one derivation: the longest generic secret the token holds.
pub const MAX_DERIVED_LEN: usize = 512;

fn parameter(message: String) -> Error {
    Error::ParameterInvalid(message)
}

/// CKM_CONCATENATE_BASE_AND_KEY, _BASE_AND_DATA, _DATA_AND_BASE: `first || second`.
pub fn concatenate(first: &[u8], second: &[u8]) -> Result<SecretBuf> {
    let len = first.len().saturating_add(second.len());
    if len > MAX_DERIVED_LEN {
        return Err(parameter(format!("a concatenation of {len} bytes exceeds {MAX_DERIVED_LEN}")));
    }
    let mut out = SecretBuf::zeroed(len)?;
    let (head, tail) = out.as_mut_slice().split_at_mut(first.len());
    head.copy_from_slice(first);
    tail.copy_from_slice(second);
    Ok(out)
}

/// CKM_XOR_BASE_AND_DATA: the base XOR the data, as long as the shorter of the two.
pub fn xor(base: &[u8], data: &[u8]) -> Result<SecretBuf> {
    if data.is_empty() {
        return Err(parameter("CKM_XOR_BASE_AND_DATA needs data".into()));
    }
    let mut out = SecretBuf::zeroed(base.len().min(data.len()))?;
    for ((slot, b), d) in out.as_mut_slice().iter_mut().zip(base).zip(data) {
        *slot = b ^ d;
    }
    Ok(out)
}

/// CKM_EXTRACT_KEY_FROM_KEY: `len` bytes of the base's bits from bit `first_bit` on (bit 0 is
/// the most significant bit of the first byte), wrapping around to the base's start.
pub fn extract(base: &[u8], first_bit: u64, len: usize) -> Result<SecretBuf> {
    let base_bits = (base.len() as u64) * 8;
    if base.is_empty() || len == 0 || len > base.len() {
        return Err(parameter(format!("{len} bytes cannot be extracted from a key of {} bytes", base.len())));
    }
    if first_bit >= base_bits {
        return Err(parameter(format!("bit {first_bit} is past the key's {base_bits} bits")));
    }
    let bit = |index: u64| -> u8 {
        let index = (first_bit + index) % base_bits;
        let byte = base.get((index / 8) as usize).copied().unwrap_or_default();
        (byte >> (7 - index % 8)) & 1
    };
    let mut out = SecretBuf::zeroed(len)?;
    for (i, slot) in out.as_mut_slice().iter_mut().enumerate() {
        *slot = (0..8).fold(0u8, |acc, j| (acc << 1) | bit(i as u64 * 8 + j));
    }
    Ok(out)
}

fn aes_algorithm(key: &[u8]) -> Result<&'static Algorithm> {
    match key.len() {
        16 => Ok(&AES_128),
        24 => Ok(&AES_192),
        32 => Ok(&AES_256),
        other => Err(Error::KeySize(format!("an AES key is 16, 24 or 32 bytes, not {other}"))),
    }
}

/// CKM_AES_ECB_ENCRYPT_DATA (no IV) and CKM_AES_CBC_ENCRYPT_DATA (with one): the data, a
/// non-empty multiple of the block, encrypted under the base key without padding.
pub fn aes_encrypt_data(key: &[u8], iv: Option<[u8; AES_BLOCK]>, data: &[u8]) -> Result<SecretBuf> {
    if data.is_empty() || !data.len().is_multiple_of(AES_BLOCK) || data.len() > MAX_DERIVED_LEN {
        return Err(parameter(format!(
            "the data to encrypt is a multiple of {AES_BLOCK} bytes up to {MAX_DERIVED_LEN}, not {}",
            data.len()
        )));
    }
    let unbound = UnboundCipherKey::new(aes_algorithm(key)?, key).map_err(|_| failed("AES key"))?;
    let mut out = SecretBuf::copy_from(data)?;
    match iv {
        None => {
            let key = EncryptingKey::ecb(unbound).map_err(|_| failed("AES-ECB key"))?;
            key.less_safe_encrypt(out.as_mut_slice(), EncryptionContext::None)
        }
        Some(iv) => {
            let key = EncryptingKey::cbc(unbound).map_err(|_| failed("AES-CBC key"))?;
            key.less_safe_encrypt(out.as_mut_slice(), EncryptionContext::Iv128(iv.into()))
        }
    }
    .map_err(|_| failed("AES encryption of key data"))?;
    Ok(out)
}

/// What CKM_HKDF_DERIVE runs (RFC 5869): extract, expand, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HkdfSteps {
    Extract,
    Expand,
    ExtractAndExpand,
}

/// HKDF over `hash`: the pseudorandom key of `salt` (none: zeros of the hash's length) and
/// `secret` when extracting only; `len` bytes expanded with `info` otherwise (from `secret` as the
/// pseudorandom key when expanding only).
pub fn hkdf(
    hash: HashAlg,
    steps: HkdfSteps,
    salt: Option<&[u8]>,
    secret: &[u8],
    info: &[u8],
    len: usize,
) -> Result<SecretBuf> {
    match hash {
        HashAlg::Sha1 => hkdf_with::<sha1::Sha1>(steps, salt, secret, info, len),
        HashAlg::Sha224 => hkdf_with::<sha2::Sha224>(steps, salt, secret, info, len),
        HashAlg::Sha256 => hkdf_with::<sha2::Sha256>(steps, salt, secret, info, len),
        HashAlg::Sha384 => hkdf_with::<sha2::Sha384>(steps, salt, secret, info, len),
        HashAlg::Sha512 => hkdf_with::<sha2::Sha512>(steps, salt, secret, info, len),
    }
}

fn hkdf_with<H>(
    steps: HkdfSteps,
    salt: Option<&[u8]>,
    secret: &[u8],
    info: &[u8],
    len: usize,
) -> Result<SecretBuf>
where
    H: EagerHash,
    Hmac<H>: HmacImpl,
{
    let expander = match steps {
        HkdfSteps::Extract => {
            let (mut prk, _) = Hkdf::<H>::extract(salt, secret);
            let copied = SecretBuf::copy_from(&prk);
            prk.as_mut_slice().zeroize();
            return copied.map_err(Into::into);
        }
        HkdfSteps::Expand => Hkdf::<H>::from_prk(secret)
            .map_err(|_| parameter("the HKDF pseudorandom key is shorter than the hash".into()))?,
        HkdfSteps::ExtractAndExpand => Hkdf::<H>::new(salt, secret),
    };
    if len == 0 || len > MAX_DERIVED_LEN {
        return Err(parameter(format!("HKDF derives 1 to {MAX_DERIVED_LEN} bytes here, not {len}")));
    }
    let mut out = SecretBuf::zeroed(len)?;
    expander.expand(info, out.as_mut_slice()).map_err(|_| failed("HKDF expansion"))?;
    Ok(out)
}

#[cfg(test)]
mod tests;

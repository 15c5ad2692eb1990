//! CKM_AES_GCM with a 12-byte IV and a 12- to 16-byte tag (RustCrypto `aes-gcm`, which takes
//! truncated tags; its key schedule is zeroized on drop).
//!
//! GCM output is not released before the tag is checked, so the whole input is buffered until
//! `finish` (at most `MAX_GCM_INPUT` bytes): plaintext being encrypted in a `SecretBuf`,
//! ciphertext being decrypted in an ordinary vector (it is not secret), decrypted into a
//! `SecretBuf` and handed out only once the tag matched.

use aes_gcm::aead::Tag;
use aes_gcm::aead::array::Array;
use aes_gcm::aead::consts::{U12, U13, U14, U15, U16};
use aes_gcm::aes::{Aes128, Aes192, Aes256};
use aes_gcm::{AeadCore, AeadInOut, AesGcm, KeyInit};

use super::algorithm;
use crate::crypto::failed;
use crate::crypto::{Error, Result};
use crate::secure_mem::SecretBuf;

/// Most input one GCM operation buffers (plaintext; ciphertext may add the tag).
pub(super) const MAX_GCM_INPUT: usize = 1 << 20;
pub(super) const GCM_IV_LEN: usize = 12;

/// Encrypts in place and returns the tag.
type SealFn = fn(&[u8], &[u8; GCM_IV_LEN], &[u8], &mut [u8]) -> Option<Vec<u8>>;
/// Decrypts in place; false if the tag does not match.
type OpenFn = fn(&[u8], &[u8; GCM_IV_LEN], &[u8], &mut [u8], &[u8]) -> bool;

fn seal<C: KeyInit + AeadInOut + AeadCore<NonceSize = U12>>(
    key: &[u8],
    iv: &[u8; GCM_IV_LEN],
    aad: &[u8],
    data: &mut [u8],
) -> Option<Vec<u8>> {
    let cipher = C::new_from_slice(key).ok()?;
    let tag = cipher.encrypt_inout_detached(&Array::from(*iv), aad, data.into()).ok()?;
    Some(tag.to_vec())
}

fn open<C: KeyInit + AeadInOut + AeadCore<NonceSize = U12>>(
    key: &[u8],
    iv: &[u8; GCM_IV_LEN],
    aad: &[u8],
    data: &mut [u8],
    tag: &[u8],
) -> bool {
    let (Ok(cipher), Ok(tag)) = (C::new_from_slice(key), Tag::<C>::try_from(tag)) else {
        return false;
    };
    cipher.decrypt_inout_detached(&Array::from(*iv), aad, data.into(), &tag).is_ok()
}

fn ops<C: KeyInit + AeadInOut + AeadCore<NonceSize = U12>>() -> (SealFn, OpenFn) {
    (seal::<C>, open::<C>)
}

fn gcm_ops(key_len: usize, tag_len: usize) -> Option<(SealFn, OpenFn)> {
    type G<A, T> = AesGcm<A, U12, T>;
    Some(match (key_len, tag_len) {
        (16, 12) => ops::<G<Aes128, U12>>(),
        (16, 13) => ops::<G<Aes128, U13>>(),
        (16, 14) => ops::<G<Aes128, U14>>(),
        (16, 15) => ops::<G<Aes128, U15>>(),
        (16, 16) => ops::<G<Aes128, U16>>(),
        (24, 12) => ops::<G<Aes192, U12>>(),
        (24, 13) => ops::<G<Aes192, U13>>(),
        (24, 14) => ops::<G<Aes192, U14>>(),
        (24, 15) => ops::<G<Aes192, U15>>(),
        (24, 16) => ops::<G<Aes192, U16>>(),
        (32, 12) => ops::<G<Aes256, U12>>(),
        (32, 13) => ops::<G<Aes256, U13>>(),
        (32, 14) => ops::<G<Aes256, U14>>(),
        (32, 15) => ops::<G<Aes256, U15>>(),
        (32, 16) => ops::<G<Aes256, U16>>(),
        _ => return None,
    })
}

enum Buffered {
    /// Plaintext to encrypt: secret.
    Plaintext(SecretVec),
    /// Ciphertext and tag to decrypt.
    Ciphertext(Vec<u8>),
}

pub(super) struct GcmEngine {
    key: SecretBuf,
    iv: [u8; GCM_IV_LEN],
    aad: Vec<u8>,
    tag_len: usize,
    seal: SealFn,
    open: OpenFn,
    buffered: Buffered,
}

impl GcmEngine {
    pub(super) fn new(key: &[u8], iv: &[u8], aad: Vec<u8>, tag_len: usize, encrypt: bool) -> Result<Self> {
        algorithm(key)?;
        let iv: [u8; GCM_IV_LEN] = iv.try_into().map_err(|_| {
            Error::ParameterInvalid(format!("AES-GCM takes a {GCM_IV_LEN}-byte IV, not {} bytes", iv.len()))
        })?;
        let (seal, open) = gcm_ops(key.len(), tag_len).ok_or_else(|| {
            Error::ParameterInvalid(format!(
                "AES-GCM tags are 12 to 16 bytes (96 to 128 bits), not {tag_len} bytes"
            ))
        })?;
        let buffered =
            if encrypt { Buffered::Plaintext(SecretVec::new()?) } else { Buffered::Ciphertext(Vec::new()) };
        Ok(Self { key: SecretBuf::copy_from(key)?, iv, aad, tag_len, seal, open, buffered })
    }

    fn buffered_len(&self) -> usize {
        match &self.buffered {
            Buffered::Plaintext(p) => p.len,
            Buffered::Ciphertext(c) => c.len(),
        }
    }

    /// Upper bound of the output of `finish` after `more` further input bytes.
    pub(super) fn output_len(&self, more: usize) -> usize {
        let total = self.buffered_len().saturating_add(more);
        match self.buffered {
            Buffered::Plaintext(_) => total.saturating_add(self.tag_len),
            Buffered::Ciphertext(_) => total.saturating_sub(self.tag_len),
        }
    }

    pub(super) fn update(&mut self, input: &[u8]) -> Result<()> {
        let total = self.buffered_len().saturating_add(input.len());
        match &mut self.buffered {
            Buffered::Plaintext(_) if total > MAX_GCM_INPUT => Err(Error::DataLength(format!(
                "AES-GCM encrypts at most {MAX_GCM_INPUT} bytes per operation"
            ))),
            Buffered::Ciphertext(_) if total > MAX_GCM_INPUT + self.tag_len => Err(Error::CiphertextLength(
                format!("AES-GCM decrypts at most {MAX_GCM_INPUT} bytes plus the tag per operation"),
            )),
            Buffered::Plaintext(plaintext) => plaintext.extend(input),
            Buffered::Ciphertext(ciphertext) => {
                ciphertext.extend_from_slice(input);
                Ok(())
            }
        }
    }

    pub(super) fn finish(mut self) -> Result<Vec<u8>> {
        let (key, iv, aad) = (self.key.as_slice(), &self.iv, self.aad.as_slice());
        match &mut self.buffered {
            Buffered::Plaintext(plaintext) => {
                let data = plaintext.as_mut_slice();
                let tag = (self.seal)(key, iv, aad, data).ok_or_else(|| failed("AES-GCM encryption"))?;
                let mut output = Vec::with_capacity(data.len() + tag.len());
                output.extend_from_slice(data);
                output.extend_from_slice(&tag);
                Ok(output)
            }
            Buffered::Ciphertext(input) => {
                let at = input.len().checked_sub(self.tag_len).ok_or_else(|| {
                    Error::CiphertextLength(format!(
                        "AES-GCM ciphertext is shorter than its {}-byte tag",
                        self.tag_len
                    ))
                })?;
                let (ciphertext, tag) = input.split_at(at);
                let mut plaintext = SecretBuf::copy_from(ciphertext)?;
                if !(self.open)(key, iv, aad, plaintext.as_mut_slice(), tag) {
                    return Err(Error::CiphertextInvalid(
                        "AES-GCM tag mismatch: wrong key, IV or AAD, or altered ciphertext",
                    ));
                }
                Ok(plaintext.as_slice().to_vec())
            }
        }
    }
}

/// A growable secret: a `SecretBuf` reallocated (and the old one wiped) as it fills.
struct SecretVec {
    buf: SecretBuf,
    len: usize,
}

impl SecretVec {
    fn new() -> Result<Self> {
        Ok(Self { buf: SecretBuf::zeroed(0)?, len: 0 })
    }

    fn extend(&mut self, data: &[u8]) -> Result<()> {
        let end = self.len.checked_add(data.len()).ok_or_else(|| failed("AES-GCM buffering"))?;
        if end > self.buf.len() {
            let mut bigger = SecretBuf::zeroed(end.max(self.buf.len().saturating_mul(2)).max(64))?;
            let old = self.buf.as_slice().get(..self.len).ok_or_else(|| failed("AES-GCM buffering"))?;
            let new = bigger.as_mut_slice().get_mut(..self.len).ok_or_else(|| failed("AES-GCM buffering"))?;
            new.copy_from_slice(old);
            self.buf = bigger;
        }
        let slot =
            self.buf.as_mut_slice().get_mut(self.len..end).ok_or_else(|| failed("AES-GCM buffering"))?;
        slot.copy_from_slice(data);
        self.len = end;
        Ok(())
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = self.len;
        self.buf.as_mut_slice().get_mut(..len).unwrap_or_default()
    }
}

#[cfg(test)]
#[path = "gcm_tests.rs"]
mod tests;

//! CKM_AES_GCM as NIST SP 800-38D defines it: an IV of any length (a 96-bit IV is used as is,
//! any other is hashed into the first counter block), a tag of 4 to 16 bytes. Built from the
//! parts RustCrypto's `aes-gcm` is made of (`aes`, `ctr`'s 32-bit big-endian counter, `ghash`),
//! because its type-level IV and tag sizes cannot take the lengths PKCS#11 allows; the
//! Wycheproof vectors of every IV size check it (`gcm_tests.rs`).
//!
//! GCM output is not released before the tag is checked, so the whole input is buffered until
//! `finish` (at most `MAX_GCM_INPUT` bytes): plaintext being encrypted in a `SecretBuf`,
//! ciphertext being decrypted in an ordinary vector (it is not secret), decrypted into a
//! `SecretBuf` and handed out only once the tag matched.

use aes_gcm::aes::cipher::array::Array;
use aes_gcm::aes::cipher::consts::U16;
use aes_gcm::aes::cipher::{BlockCipherEncrypt, BlockSizeUser, InnerIvInit, KeyInit, StreamCipherCore};
use aes_gcm::aes::{Aes128, Aes192, Aes256};
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::algorithm;
use crate::crypto::failed;
use crate::crypto::{Error, Result};
use crate::secure_mem::SecretBuf;

/// Most input one GCM operation buffers (plaintext; ciphertext may add the tag).
pub(super) const MAX_GCM_INPUT: usize = 1 << 20;
/// The tag lengths accepted, in bytes (32 to 128 bits, as PKCS#11's `ulTagBits` in whole bytes).
pub(super) const TAG_LENS: std::ops::RangeInclusive<usize> = 4..=16;
/// The longest IV accepted (PKCS#11 allows up to 2^32-1 bytes; no real IV comes near).
pub(super) const MAX_IV_LEN: usize = 1024;

type Block = Array<u8, U16>;
type Ctr32BE<C> = ctr::CtrCore<C, ctr::flavors::Ctr32BE>;

/// GHASH under the key's hash subkey, the counter mode from the IV's first counter block on, and
/// the mask of the tag (the first counter block encrypted).
fn start<'c, C: BlockSizeUser<BlockSize = U16> + BlockCipherEncrypt>(
    cipher: &'c C,
    iv: &[u8],
) -> (GHash, Ctr32BE<&'c C>, Block) {
    let mut subkey = ghash::Key::default();
    cipher.encrypt_block(&mut subkey);
    let ghash = GHash::new(&subkey);
    subkey.zeroize();
    let j0 = if iv.len() == 12 {
        // IV || 0^31 || 1
        let mut block = 1u128.to_be_bytes();
        block.iter_mut().zip(iv).for_each(|(slot, byte)| *slot = *byte);
        Block::from(block)
    } else {
        // GHASH(IV || 0-padding || [0]64 || [len(IV)]64)
        let mut hashed = ghash.clone();
        hashed.update_padded(iv);
        hashed.update(&[Block::from(lengths_block(0, iv.len()))]);
        hashed.finalize()
    };
    let mut ctr = Ctr32BE::inner_iv_init(cipher, &j0);
    let mut mask = Block::default();
    ctr.write_keystream_block(&mut mask);
    (ghash, ctr, mask)
}

/// `[len(a)]64 || [len(b)]64`, the lengths in bits (GCM's length block).
fn lengths_block(a: usize, b: usize) -> [u8; 16] {
    ((u128::from(a as u64 * 8) << 64) | u128::from(b as u64 * 8)).to_be_bytes()
}

/// The full tag of `ciphertext` with `aad`.
fn full_tag(mut ghash: GHash, mask: &Block, aad: &[u8], ciphertext: &[u8]) -> Block {
    ghash.update_padded(aad);
    ghash.update_padded(ciphertext);
    ghash.update(&[Block::from(lengths_block(aad.len(), ciphertext.len()))]);
    let mut tag = ghash.finalize();
    for (byte, mask) in tag.iter_mut().zip(mask.iter()) {
        *byte ^= mask;
    }
    tag
}

/// Encrypts in place and returns the full 16-byte tag.
fn seal<C: BlockSizeUser<BlockSize = U16> + BlockCipherEncrypt + KeyInit>(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    data: &mut [u8],
) -> Option<Block> {
    let cipher = C::new_from_slice(key).ok()?;
    let (ghash, ctr, mask) = start(&cipher, iv);
    ctr.apply_keystream_partial(data.into());
    Some(full_tag(ghash, &mask, aad, data))
}

/// Decrypts in place if `tag` (a prefix of the full tag) matches; false otherwise, `data`
/// untouched.
fn open<C: BlockSizeUser<BlockSize = U16> + BlockCipherEncrypt + KeyInit>(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    data: &mut [u8],
    tag: &[u8],
) -> bool {
    let Ok(cipher) = C::new_from_slice(key) else { return false };
    let (ghash, ctr, mask) = start(&cipher, iv);
    let expected = full_tag(ghash, &mask, aad, data);
    let matches = expected.get(..tag.len()).is_some_and(|prefix| bool::from(prefix.ct_eq(tag)));
    if matches {
        ctr.apply_keystream_partial(data.into());
    }
    matches
}

/// Encrypts in place and returns the full tag.
type SealFn = fn(&[u8], &[u8], &[u8], &mut [u8]) -> Option<Block>;
/// Decrypts in place; false if the tag does not match.
type OpenFn = fn(&[u8], &[u8], &[u8], &mut [u8], &[u8]) -> bool;

fn gcm_ops(key_len: usize) -> Option<(SealFn, OpenFn)> {
    Some(match key_len {
        16 => (seal::<Aes128>, open::<Aes128>),
        24 => (seal::<Aes192>, open::<Aes192>),
        32 => (seal::<Aes256>, open::<Aes256>),
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
    iv: Vec<u8>,
    aad: Vec<u8>,
    tag_len: usize,
    seal: SealFn,
    open: OpenFn,
    buffered: Buffered,
}

impl GcmEngine {
    pub(super) fn new(key: &[u8], iv: &[u8], aad: Vec<u8>, tag_len: usize, encrypt: bool) -> Result<Self> {
        algorithm(key)?;
        if iv.is_empty() || iv.len() > MAX_IV_LEN {
            return Err(Error::ParameterInvalid(format!(
                "AES-GCM takes an IV of 1 to {MAX_IV_LEN} bytes, not {} bytes",
                iv.len()
            )));
        }
        if !TAG_LENS.contains(&tag_len) {
            return Err(Error::ParameterInvalid(format!(
                "AES-GCM tags are 4 to 16 bytes (32 to 128 bits), not {tag_len} bytes"
            )));
        }
        let (seal, open) = gcm_ops(key.len()).ok_or_else(|| failed("AES-GCM key length"))?;
        let iv = iv.to_vec();
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
                let tag = tag.get(..self.tag_len).ok_or_else(|| failed("AES-GCM tag length"))?;
                let mut output = Vec::with_capacity(data.len() + tag.len());
                output.extend_from_slice(data);
                output.extend_from_slice(tag);
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

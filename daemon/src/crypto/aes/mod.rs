//! PKCS#11 AES modes, single- and multi-part: CKM_AES_ECB, CKM_AES_CBC, CKM_AES_CBC_PAD (PKCS#7),
//! CKM_AES_CTR and CKM_AES_GCM.
//!
//! ECB and CBC run on AWS-LC's unpadded block keys, one call per run of whole blocks, with the
//! CBC chaining value carried between calls; CBC_PAD adds and checks PKCS#7 itself. A partial
//! block of plaintext waiting for more input is kept in a `SecretBuf`. When decrypting with
//! CBC_PAD the last whole ciphertext block is held back until `finish`, since it may carry the
//! padding.

mod ctr;
mod gcm;
pub mod wrap;

use std::fmt;

use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, Algorithm, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext,
    UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use subtle::{ConstantTimeEq, ConstantTimeGreater};

use super::failed;
use crate::crypto::{Error, Result};
use crate::secure_mem::SecretBuf;
use ctr::CtrEngine;
use gcm::GcmEngine;

pub const BLOCK_LEN: usize = 16;

#[derive(Debug, Clone)]
pub enum AesMode {
    Ecb,
    Cbc {
        iv: [u8; 16],
    },
    /// PKCS#7 padding.
    CbcPad {
        iv: [u8; 16],
    },
    /// CK_AES_CTR_PARAMS: the low `counter_bits` bits of `counter_block` count blocks (1..=128);
    /// running out of counter values is a data-length error, never a reuse of keystream.
    Ctr {
        counter_block: [u8; 16],
        counter_bits: u32,
    },
    /// 12-byte IV, tag of 12 to 16 bytes.
    Gcm {
        iv: Vec<u8>,
        aad: Vec<u8>,
        tag_len: usize,
    },
}

/// One AES operation (encryption or decryption) in progress.
pub struct AesCipher {
    engine: Engine,
}

enum Engine {
    Block(BlockEngine),
    Ctr(CtrEngine),
    Gcm(GcmEngine),
}

impl fmt::Debug for AesCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match &self.engine {
            Engine::Block(b) => match (b.chain.is_some(), b.pad) {
                (false, _) => "Ecb",
                (true, false) => "Cbc",
                (true, true) => "CbcPad",
            },
            Engine::Ctr(_) => "Ctr",
            Engine::Gcm(_) => "Gcm",
        };
        write!(f, "AesCipher({mode}, [REDACTED])")
    }
}

pub(super) fn algorithm(key: &[u8]) -> Result<&'static Algorithm> {
    match key.len() {
        16 => Ok(&AES_128),
        24 => Ok(&AES_192),
        32 => Ok(&AES_256),
        n => Err(Error::KeySize(format!("an AES key is 16, 24 or 32 bytes, not {n}"))),
    }
}

pub(super) fn unbound_key(key: &[u8]) -> Result<UnboundCipherKey> {
    UnboundCipherKey::new(algorithm(key)?, key).map_err(|_| failed("AES key setup"))
}

impl AesCipher {
    /// `key` is 16, 24 or 32 bytes (else `KeySize`); bad mode parameters are
    /// `ParameterInvalid`.
    pub fn new(key: &[u8], mode: AesMode, encrypt: bool) -> Result<Self> {
        let engine = match mode {
            AesMode::Ecb => Engine::Block(BlockEngine::new(key, None, false, encrypt)?),
            AesMode::Cbc { iv } => Engine::Block(BlockEngine::new(key, Some(iv), false, encrypt)?),
            AesMode::CbcPad { iv } => Engine::Block(BlockEngine::new(key, Some(iv), true, encrypt)?),
            AesMode::Ctr { counter_block, counter_bits } => {
                Engine::Ctr(CtrEngine::new(key, counter_block, counter_bits)?)
            }
            AesMode::Gcm { iv, aad, tag_len } => {
                Engine::Gcm(GcmEngine::new(key, &iv, aad, tag_len, encrypt)?)
            }
        };
        Ok(Self { engine })
    }

    /// Upper bound of what `update` returns for `input_len` more bytes.
    pub fn update_len(&self, input_len: usize) -> usize {
        match &self.engine {
            Engine::Block(b) => b.update_len(input_len),
            Engine::Ctr(_) => input_len,
            Engine::Gcm(_) => 0,
        }
    }

    pub fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        match &mut self.engine {
            Engine::Block(b) => b.update(input),
            Engine::Ctr(c) => c.update(input),
            Engine::Gcm(g) => g.update(input).map(|()| Vec::new()),
        }
    }

    /// Upper bound of what `finish` returns.
    pub fn final_len(&self) -> usize {
        match &self.engine {
            Engine::Block(b) => b.final_len_for(b.pending_len),
            Engine::Ctr(_) => 0,
            Engine::Gcm(g) => g.output_len(0),
        }
    }

    pub fn finish(self) -> Result<Vec<u8>> {
        match self.engine {
            Engine::Block(b) => b.finish(),
            Engine::Ctr(_) => Ok(Vec::new()),
            Engine::Gcm(g) => g.finish(),
        }
    }

    /// Upper bound of what `one_shot` returns.
    pub fn one_shot_len(&self, input_len: usize) -> usize {
        match &self.engine {
            Engine::Block(b) => {
                let total = b.pending_len.saturating_add(input_len);
                b.update_len(input_len).saturating_add(b.final_len_for(b.keep(total)))
            }
            Engine::Ctr(_) => input_len,
            Engine::Gcm(g) => g.output_len(input_len),
        }
    }

    /// `update` and `finish` in one.
    pub fn one_shot(mut self, input: &[u8]) -> Result<Vec<u8>> {
        let mut output = self.update(input)?;
        output.extend_from_slice(&self.finish()?);
        Ok(output)
    }
}

enum BlockKey {
    Encrypt(EncryptingKey),
    Decrypt(DecryptingKey),
}

/// ECB, CBC and CBC_PAD.
struct BlockEngine {
    key: BlockKey,
    /// CBC: the chaining value (IV, then the last ciphertext block); ECB: none.
    chain: Option<[u8; BLOCK_LEN]>,
    pad: bool,
    /// Input not yet processed: under one block, or exactly one block when decrypting CBC_PAD.
    pending: SecretBuf,
    pending_len: usize,
}

impl BlockEngine {
    fn new(key: &[u8], chain: Option<[u8; BLOCK_LEN]>, pad: bool, encrypt: bool) -> Result<Self> {
        let unbound = unbound_key(key)?;
        let setup = |_| failed("AES key setup");
        let key = match (encrypt, chain.is_some()) {
            (true, false) => BlockKey::Encrypt(EncryptingKey::ecb(unbound).map_err(setup)?),
            (true, true) => BlockKey::Encrypt(EncryptingKey::cbc(unbound).map_err(setup)?),
            (false, false) => BlockKey::Decrypt(DecryptingKey::ecb(unbound).map_err(setup)?),
            (false, true) => BlockKey::Decrypt(DecryptingKey::cbc(unbound).map_err(setup)?),
        };
        Ok(Self { key, chain, pad, pending: SecretBuf::zeroed(BLOCK_LEN)?, pending_len: 0 })
    }

    fn encrypting(&self) -> bool {
        matches!(self.key, BlockKey::Encrypt(_))
    }

    /// How much of `total` buffered-plus-new bytes waits for more input.
    fn keep(&self, total: usize) -> usize {
        let rest = total % BLOCK_LEN;
        if self.pad && !self.encrypting() && total > 0 && rest == 0 { BLOCK_LEN } else { rest }
    }

    fn update_len(&self, input_len: usize) -> usize {
        let total = self.pending_len.saturating_add(input_len);
        total - self.keep(total)
    }

    fn final_len_for(&self, pending_len: usize) -> usize {
        match (self.pad, self.encrypting()) {
            (true, true) => BLOCK_LEN,
            (true, false) => pending_len.saturating_sub(1),
            (false, _) => 0,
        }
    }

    fn pending(&self) -> &[u8] {
        self.pending.as_slice().get(..self.pending_len).unwrap_or_default()
    }

    fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        let total = self.pending_len.checked_add(input.len()).ok_or_else(too_long)?;
        let process = total - self.keep(total);
        let Some(from_input) = process.checked_sub(self.pending_len).filter(|_| process > 0) else {
            // Everything still fits in the pending block.
            let end = self.pending_len + input.len();
            let slot = self.pending.as_mut_slice().get_mut(self.pending_len..end).ok_or_else(internal)?;
            slot.copy_from_slice(input);
            self.pending_len = end;
            return Ok(Vec::new());
        };
        let (now, later) = input.split_at_checked(from_input).ok_or_else(internal)?;
        let mut output = Vec::with_capacity(process);
        output.extend_from_slice(self.pending());
        output.extend_from_slice(now);
        self.transform(&mut output)?;
        let slot = self.pending.as_mut_slice().get_mut(..later.len()).ok_or_else(internal)?;
        slot.copy_from_slice(later);
        self.pending_len = later.len();
        Ok(output)
    }

    /// Encrypts or decrypts whole blocks in place, advancing the CBC chain.
    fn transform(&mut self, blocks: &mut [u8]) -> Result<()> {
        match (&self.key, self.chain) {
            (BlockKey::Encrypt(key), None) => {
                key.less_safe_encrypt(blocks, EncryptionContext::None).map_err(|_| failed("AES-ECB"))?;
            }
            (BlockKey::Encrypt(key), Some(iv)) => {
                let context = EncryptionContext::Iv128(FixedLength::from(iv));
                key.less_safe_encrypt(blocks, context).map_err(|_| failed("AES-CBC"))?;
                self.chain = last_block(blocks).or(self.chain);
            }
            (BlockKey::Decrypt(key), None) => {
                key.decrypt(blocks, DecryptionContext::None).map_err(|_| failed("AES-ECB"))?;
            }
            (BlockKey::Decrypt(key), Some(iv)) => {
                let next = last_block(blocks);
                let context = DecryptionContext::Iv128(FixedLength::from(iv));
                key.decrypt(blocks, context).map_err(|_| failed("AES-CBC"))?;
                self.chain = next.or(self.chain);
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<u8>> {
        match (self.encrypting(), self.pad) {
            (true, false) if self.pending_len != 0 => Err(Error::DataLength(format!(
                "AES-ECB/CBC input must be whole 16-byte blocks ({} bytes left over)",
                self.pending_len
            ))),
            (false, false) if self.pending_len != 0 => Err(Error::CiphertextLength(format!(
                "AES-ECB/CBC ciphertext must be whole 16-byte blocks ({} bytes left over)",
                self.pending_len
            ))),
            (_, false) => Ok(Vec::new()),
            (true, true) => {
                // PKCS#7: 1 to 16 bytes, each holding the pad length.
                let pad = BLOCK_LEN - self.pending_len;
                let mut block = self.pending().to_vec();
                block.resize(BLOCK_LEN, pad as u8);
                self.transform(&mut block)?;
                Ok(block)
            }
            (false, true) => self.finish_unpad(),
        }
    }

    fn finish_unpad(mut self) -> Result<Vec<u8>> {
        if self.pending_len != BLOCK_LEN {
            return Err(Error::CiphertextLength(
                "AES-CBC-PAD ciphertext must be one or more whole 16-byte blocks".into(),
            ));
        }
        let mut block = SecretBuf::copy_from(self.pending())?;
        self.transform(block.as_mut_slice())?;
        let kept = pkcs7_unpadded_len(block.as_slice())
            .ok_or(Error::CiphertextInvalid("AES-CBC-PAD decryption found invalid padding"))?;
        Ok(block.as_slice().get(..kept).unwrap_or_default().to_vec())
    }
}

/// The length of a final 16-byte block without its PKCS#7 padding, checked in constant time.
fn pkcs7_unpadded_len(block: &[u8]) -> Option<usize> {
    let pad = *block.last()?;
    let mut valid = !pad.ct_eq(&0) & !pad.ct_gt(&(BLOCK_LEN as u8)) & (block.len() as u8).ct_eq(&16);
    let first_pad = (BLOCK_LEN as u8).wrapping_sub(pad);
    for (i, byte) in block.iter().enumerate() {
        let in_padding = !first_pad.ct_gt(&(i as u8));
        valid &= !(in_padding & !byte.ct_eq(&pad));
    }
    bool::from(valid).then(|| BLOCK_LEN - usize::from(pad))
}

fn last_block(blocks: &[u8]) -> Option<[u8; BLOCK_LEN]> {
    let at = blocks.len().checked_sub(BLOCK_LEN)?;
    blocks.get(at..)?.try_into().ok()
}

fn too_long() -> Error {
    Error::DataLength("input too long".into())
}

fn internal() -> Error {
    failed("AES buffering")
}

#[cfg(test)]
mod tests;

//! CKM_AES_CTR: AES in counter mode over AWS-LC, with PKCS#11's counter width.
//!
//! CK_AES_CTR_PARAMS names how many low bits of the counter block count (1 to 128). AWS-LC
//! increments the whole 128-bit block; the two agree as long as the counter never wraps within
//! its bits, so an operation that would need more blocks than the counter has left is refused
//! with a data-length error before any of its output is produced. Output is exactly as long as
//! the input: a call ending inside a block resumes the next call at the same keystream offset.

use aws_lc_rs::cipher::{EncryptingKey, EncryptionContext};
use aws_lc_rs::iv::FixedLength;
use zeroize::Zeroize;

use super::{BLOCK_LEN, unbound_key};
use crate::crypto::failed;
use crate::crypto::{Error, Result};

pub(super) struct CtrEngine {
    key: EncryptingKey,
    initial: u128,
    counter_bits: u32,
    /// The largest block index the counter reaches without wrapping.
    last_block: u128,
    /// Bytes processed so far.
    position: u128,
}

impl CtrEngine {
    pub(super) fn new(key: &[u8], counter_block: [u8; BLOCK_LEN], counter_bits: u32) -> Result<Self> {
        if !(1..=128).contains(&counter_bits) {
            return Err(Error::ParameterInvalid(format!(
                "AES-CTR counter bits must be 1 to 128, not {counter_bits}"
            )));
        }
        let key = EncryptingKey::ctr(unbound_key(key)?).map_err(|_| failed("AES-CTR key setup"))?;
        let initial = u128::from_be_bytes(counter_block);
        let mask = u128::MAX >> (128 - counter_bits);
        Ok(Self { key, initial, counter_bits, last_block: mask - (initial & mask), position: 0 })
    }

    pub(super) fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        if input.is_empty() {
            return Ok(Vec::new());
        }
        let end = self.position.checked_add(input.len() as u128).ok_or_else(|| self.exhausted())?;
        if (end - 1) / BLOCK_LEN as u128 > self.last_block {
            return Err(self.exhausted());
        }
        let mut output = input.to_vec();
        let offset = (self.position % BLOCK_LEN as u128) as usize;
        let mut done = 0;
        if offset != 0 {
            // Finish the block the previous call stopped in.
            done = (BLOCK_LEN - offset).min(input.len());
            let mut block = [0u8; BLOCK_LEN];
            let result = self.partial_block(&mut block, offset, &mut output, done);
            block.zeroize();
            result?;
        }
        if let Some(rest) = output.get_mut(done..).filter(|rest| !rest.is_empty()) {
            self.apply(rest, (self.position + done as u128) / BLOCK_LEN as u128)?;
        }
        self.position = end;
        Ok(output)
    }

    /// XORs `output[..len]` with the keystream of the current block from `offset` on.
    fn partial_block(
        &self,
        block: &mut [u8; BLOCK_LEN],
        offset: usize,
        output: &mut [u8],
        len: usize,
    ) -> Result<()> {
        let window = block.get_mut(offset..offset + len).ok_or_else(|| failed("AES-CTR"))?;
        let head = output.get_mut(..len).ok_or_else(|| failed("AES-CTR"))?;
        window.copy_from_slice(head);
        self.apply(block, self.position / BLOCK_LEN as u128)?;
        let window = block.get(offset..offset + len).ok_or_else(|| failed("AES-CTR"))?;
        head.copy_from_slice(window);
        Ok(())
    }

    /// Encrypts `data` in place with the keystream starting at block `index`.
    fn apply(&self, data: &mut [u8], index: u128) -> Result<()> {
        // `index <= last_block`, so the addition never carries out of the counter bits.
        let counter = self.initial.wrapping_add(index).to_be_bytes();
        let context = EncryptionContext::Iv128(FixedLength::from(counter));
        self.key.less_safe_encrypt(data, context).map_err(|_| failed("AES-CTR"))?;
        Ok(())
    }

    fn exhausted(&self) -> Error {
        let total = self.last_block.saturating_add(1).saturating_mul(BLOCK_LEN as u128);
        Error::DataLength(format!(
            "AES-CTR: the {}-bit counter would wrap; {} more bytes can be processed",
            self.counter_bits,
            total.saturating_sub(self.position)
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::crypto::Error;
    use crate::crypto::aes::{AesCipher, AesMode};
    use crate::crypto::test_util::{err, hex};

    fn ctr(key: &[u8], counter_block: [u8; 16], counter_bits: u32) -> AesCipher {
        AesCipher::new(key, AesMode::Ctr { counter_block, counter_bits }, true).unwrap()
    }

    fn block(last: &[u8]) -> [u8; 16] {
        let mut block = [0x5a; 16];
        block[16 - last.len()..].copy_from_slice(last);
        block
    }

    #[test]
    fn counter_bits_out_of_range_are_parameter_errors() {
        for bits in [0, 129, u32::MAX] {
            let mode = AesMode::Ctr { counter_block: [0; 16], counter_bits: bits };
            assert!(matches!(err(AesCipher::new(&[0; 16], mode, true)), Error::ParameterInvalid(_)));
        }
    }

    #[test]
    fn one_bit_counter_allows_two_blocks_then_refuses() {
        let key = [7; 16];
        assert_eq!(ctr(&key, block(&[0x00]), 1).one_shot(&[0; 32]).unwrap().len(), 32);
        assert!(matches!(err(ctr(&key, block(&[0x00]), 1).one_shot(&[0; 33])), Error::DataLength(_)));
        // Counter value 1 of a 1-bit counter: one block left.
        assert_eq!(ctr(&key, block(&[0x01]), 1).one_shot(&[0; 16]).unwrap().len(), 16);
        assert!(matches!(err(ctr(&key, block(&[0x01]), 1).one_shot(&[0; 17])), Error::DataLength(_)));
    }

    #[test]
    fn exhaustion_is_detected_across_parts_and_leaves_no_output() {
        let key = [9; 32];
        let mut cipher = ctr(&key, block(&[0xfe]), 8);
        assert_eq!(cipher.update(&[1; 20]).unwrap().len(), 20);
        assert_eq!(cipher.update(&[1; 12]).unwrap().len(), 12);
        let refused = cipher.update(&[1; 1]);
        assert!(matches!(err(refused), Error::DataLength(_)));
        // The refusal consumed nothing: an empty update still works.
        assert!(cipher.update(&[]).unwrap().is_empty());
    }

    #[test]
    fn full_width_counter_stops_before_wrapping_128_bits() {
        let key = [3; 16];
        assert!(ctr(&key, [0xff; 16], 128).one_shot(&[0; 16]).is_ok());
        assert!(matches!(err(ctr(&key, [0xff; 16], 128).one_shot(&[0; 17])), Error::DataLength(_)));
    }

    /// A carry inside the counter bits is fine and matches AES-CTR over the full block: the second
    /// block's counter is ..01 00 with a 16-bit counter.
    #[test]
    fn carries_within_the_counter_bits_follow_the_full_block_increment() {
        let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
        let narrow = ctr(&key, block(&[0x00, 0xff]), 16).one_shot(&[0; 48]).unwrap();
        let wide = ctr(&key, block(&[0x00, 0xff]), 128).one_shot(&[0; 48]).unwrap();
        assert_eq!(narrow, wide);
        // The keystream of the second block is AES(counter + 1): check against ECB.
        let mut next = block(&[0x01, 0x00]);
        let ecb = AesCipher::new(&key, AesMode::Ecb, true).unwrap().one_shot(&next).unwrap();
        assert_eq!(&narrow[16..32], &ecb[..]);
        next[15] = 0x01;
        let ecb = AesCipher::new(&key, AesMode::Ecb, true).unwrap().one_shot(&next).unwrap();
        assert_eq!(&narrow[32..48], &ecb[..]);
    }
}

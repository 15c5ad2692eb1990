//! PKCS#1 v1.5 blocks for the raw path (RFC 8017): type 1 for signatures over any input of up to
//! k − 11 bytes (a DigestInfo of any hash, TLS 1.0/1.1's MD5 || SHA-1, arbitrary data), type 2
//! for encryption with keys AWS-LC does not take; and the decoding of a decrypted type-2 block.
//!
//! The decoding looks at every byte of the block whatever it holds and decides with masks, so
//! that its time does not tell which check failed; every failure is one opaque error. The copy
//! of the message out of the block takes a time that depends on the message's length, which the
//! caller learns anyway.

use subtle::{Choice, ConditionallySelectable as _, ConstantTimeEq as _, ConstantTimeGreater as _};

use super::raw::{RawPublic, RawRsaKey};
use crate::crypto::{Error, Result, failed};
use crate::secure_mem::SecretBuf;

/// PKCS#1 v1.5 padding takes at least 11 bytes of the modulus.
pub(super) const PKCS1_OVERHEAD: usize = 11;

fn too_long(len: usize, limit: usize) -> Error {
    Error::DataLength(format!("PKCS#1 v1.5 input is {len} bytes; this key takes at most {limit}"))
}

/// Refuses input longer than k − 11 bytes.
pub(super) fn check_input_len(input: &[u8], modulus_len: usize) -> Result<()> {
    let limit = modulus_len.saturating_sub(PKCS1_OVERHEAD);
    if input.len() > limit {
        return Err(too_long(input.len(), limit));
    }
    Ok(())
}

/// `00 || block_type || padding || 00 || input`, k bytes, with `padding` of the right length
/// made by `fill`.
fn block(
    input: &[u8],
    modulus_len: usize,
    block_type: u8,
    fill: impl FnOnce(&mut [u8]) -> Result<()>,
) -> Result<SecretBuf> {
    check_input_len(input, modulus_len)?;
    let padding = modulus_len
        .checked_sub(input.len() + 3)
        .filter(|len| *len >= 8)
        .ok_or_else(|| too_long(input.len(), modulus_len.saturating_sub(PKCS1_OVERHEAD)))?;
    let mut out = SecretBuf::zeroed(modulus_len)?;
    let bytes = out.as_mut_slice();
    let (head, rest) = bytes.split_at_mut(2);
    head.copy_from_slice(&[0x00, block_type]);
    let (padding_bytes, rest) = rest.split_at_mut(padding);
    fill(padding_bytes)?;
    rest.get_mut(1..).ok_or_else(|| failed("PKCS#1 block"))?.copy_from_slice(input);
    Ok(out)
}

/// EMSA-PKCS1-v1_5 type 1 (RFC 8017 section 9.2 steps 3-5): `00 01 FF…FF 00 || input`, k bytes.
pub(super) fn type1_block(input: &[u8], modulus_len: usize) -> Result<Vec<u8>> {
    let block = block(input, modulus_len, 0x01, |padding| {
        padding.fill(0xff);
        Ok(())
    })?;
    Ok(block.as_slice().to_vec())
}

/// EME-PKCS1-v1_5 encoding (RFC 8017 section 7.2.1 step 2): `00 02 PS 00 || message`, PS of
/// random non-zero bytes.
fn type2_block(message: &[u8], modulus_len: usize) -> Result<SecretBuf> {
    block(message, modulus_len, 0x02, |padding| {
        let mut filled = 0;
        while filled < padding.len() {
            let random = SecretBuf::random(padding.len())?;
            for byte in random.as_slice().iter().filter(|b| **b != 0) {
                if let Some(slot) = padding.get_mut(filled) {
                    *slot = *byte;
                    filled += 1;
                }
            }
        }
        Ok(())
    })
}

/// A CKM_RSA_PKCS signature through the raw operation.
pub(super) fn sign(key: &RawRsaKey, input: &[u8]) -> Result<Vec<u8>> {
    let block = type1_block(input, key.public().modulus_len())?;
    Ok(key.private(&block)?.as_slice().to_vec())
}

fn signature_invalid() -> Error {
    Error::SignatureInvalid("RSA signature does not match")
}

/// Checks a PKCS#1 v1.5 signature: `signature^e mod n` must be the type-1 block of `input`.
/// The signature is k bytes (the caller checked).
pub(super) fn verify(key: &RawPublic, input: &[u8], signature: &[u8]) -> Result<()> {
    let expected = type1_block(input, key.modulus_len())?;
    match key.apply(signature)? {
        Some(recovered) if recovered == expected => Ok(()),
        _ => Err(signature_invalid()),
    }
}

/// RSAES-PKCS1-v1_5 encryption through the raw operation.
pub(super) fn encrypt(key: &RawPublic, message: &[u8]) -> Result<Vec<u8>> {
    let block = type2_block(message, key.modulus_len())?;
    key.apply(block.as_slice())?.ok_or_else(|| failed("RSA encryption"))
}

/// RSAES-PKCS1-v1_5 decryption of a k-byte ciphertext through the raw operation.
pub(super) fn decrypt(key: &RawRsaKey, ciphertext: &[u8]) -> Result<SecretBuf> {
    let invalid = || Error::CiphertextInvalid("RSA decryption failed: invalid padding");
    let block = key.private(ciphertext).map_err(|e| match e {
        Error::DataInvalid(_) => invalid(),
        other => other,
    })?;
    let start = type2_message_start(block.as_slice()).ok_or_else(invalid)?;
    Ok(SecretBuf::copy_from(block.as_slice().get(start..).unwrap_or_default())?)
}

/// Where the message of a type-2 block starts, decided in constant time over the block.
fn type2_message_start(block: &[u8]) -> Option<usize> {
    let (Some(first), Some(second)) = (block.first(), block.get(1)) else { return None };
    let mut valid = first.ct_eq(&0) & second.ct_eq(&2);
    let mut looking = Choice::from(1);
    let mut separator = 0u32;
    for (index, byte) in block.iter().enumerate().skip(2) {
        let is_zero = byte.ct_eq(&0);
        let here = u32::try_from(index).ok()?;
        separator.conditional_assign(&here, looking & is_zero);
        looking &= !is_zero;
    }
    // At least eight bytes of padding: the separator is at index 10 or later.
    valid &= !looking & separator.ct_gt(&9);
    bool::from(valid).then_some(separator as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type2_blocks_decode_and_bad_ones_do_not() {
        let block = type2_block(b"message", 128).unwrap();
        let bytes = block.as_slice();
        assert_eq!(&bytes[..2], &[0, 2]);
        assert!(bytes[2..120].iter().all(|b| *b != 0));
        assert_eq!(type2_message_start(bytes), Some(121));
        let mut short_padding = vec![0, 2, 1, 1, 1, 1, 1, 1, 1, 0];
        short_padding.extend_from_slice(&[7; 118]);
        assert_eq!(type2_message_start(&short_padding), None);
        for (index, value) in [(0, 1), (1, 1), (1, 0)] {
            let mut bad = bytes.to_vec();
            bad[index] = value;
            assert_eq!(type2_message_start(&bad), None, "{index}");
        }
        let mut no_separator = bytes.to_vec();
        no_separator[120] = 5;
        assert_eq!(type2_message_start(&no_separator), None);
        assert!(matches!(type2_block(&[0; 118], 128), Err(Error::DataLength(_))));
    }
}

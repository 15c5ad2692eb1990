//! RSAES-OAEP through the raw operation (RFC 8017 section 7.1), for what AWS-LC does not
//! encrypt or decrypt: SHA-224, and keys below 2048 bits. MGF1 uses the OAEP hash, and the label
//! (PKCS#11's pSourceData) is any byte string.
//!
//! Decoding looks at every byte of the block whatever it holds and decides with masks, so that
//! its time does not tell which check failed (RFC 8017 section 7.1.2 note); every failure is
//! one opaque error. Only the final copy of the message depends on its length.

use subtle::{Choice, ConditionallySelectable as _, ConstantTimeEq as _};
use zeroize::Zeroizing;

use super::pss::mgf1;
use super::raw::{RawPublic, RawRsaKey};
use crate::crypto::digest::{HashAlg, Hasher};
use crate::crypto::{Error, Result, failed};
use crate::secure_mem::SecretBuf;

fn label_hash(hash: HashAlg, label: &[u8]) -> Vec<u8> {
    let mut hasher = Hasher::new(hash);
    hasher.update(label);
    hasher.finish()
}

/// The largest message: k − 2·hLen − 2.
pub(super) fn max_message_len(hash: HashAlg, modulus_len: usize) -> usize {
    modulus_len.saturating_sub(2 * hash.output_len() + 2)
}

/// EME-OAEP encoding (section 7.1.1 step 2): `00 || maskedSeed || maskedDB`, k bytes.
fn encode(hash: HashAlg, label: &[u8], message: &[u8], k: usize) -> Result<SecretBuf> {
    let h_len = hash.output_len();
    let limit = max_message_len(hash, k);
    if message.len() > limit || k < 2 * h_len + 2 {
        return Err(Error::DataLength(format!(
            "RSA-OAEP plaintext is {} bytes; this key and hash take at most {limit}",
            message.len()
        )));
    }
    let mut block = SecretBuf::zeroed(k)?;
    let (zero_and_seed, db) = block.as_mut_slice().split_at_mut(1 + h_len);
    let seed = zero_and_seed.get_mut(1..).ok_or_else(|| failed("OAEP encoding"))?;
    seed.copy_from_slice(SecretBuf::random(h_len)?.as_slice());
    let (l_hash, rest) = db.split_at_mut(h_len);
    l_hash.copy_from_slice(&label_hash(hash, label));
    let (ps_and_one, m) = rest.split_at_mut(rest.len() - message.len());
    m.copy_from_slice(message);
    if let Some(one) = ps_and_one.last_mut() {
        *one = 0x01;
    }
    let db_mask = mgf1(hash, seed, db.len());
    for (byte, mask) in db.iter_mut().zip(db_mask.iter()) {
        *byte ^= mask;
    }
    for (byte, mask) in seed.iter_mut().zip(mgf1(hash, db, h_len).iter()) {
        *byte ^= mask;
    }
    Ok(block)
}

/// Where the message of a decrypted block starts (after unmasking `db` in place), decided in
/// constant time over the block.
fn message_start(hash: HashAlg, label: &[u8], block: &mut [u8]) -> Option<usize> {
    let h_len = hash.output_len();
    let (head, db) = block.split_at_mut_checked(1 + h_len)?;
    let (y, seed) = head.split_first_mut()?;
    let y_is_zero = y.ct_eq(&0);
    for (byte, mask) in seed.iter_mut().zip(mgf1(hash, db, h_len).iter()) {
        *byte ^= mask;
    }
    let db_mask = mgf1(hash, seed, db.len());
    for (byte, mask) in db.iter_mut().zip(db_mask.iter()) {
        *byte ^= mask;
    }
    let (l_hash, rest) = db.split_at_checked(h_len)?;
    let mut valid = y_is_zero & l_hash.ct_eq(label_hash(hash, label).as_slice());
    let (mut looking, mut bad_padding, mut one_at) = (Choice::from(1), Choice::from(0), 0u32);
    for (index, byte) in rest.iter().enumerate() {
        let (is_zero, is_one) = (byte.ct_eq(&0), byte.ct_eq(&1));
        one_at.conditional_assign(&u32::try_from(index).ok()?, looking & is_one);
        bad_padding |= looking & !is_zero & !is_one;
        looking &= !is_one;
    }
    valid &= !looking & !bad_padding;
    bool::from(valid).then_some(1 + 2 * h_len + one_at as usize + 1)
}

/// RSAES-OAEP encryption through the raw operation.
pub(super) fn encrypt(key: &RawPublic, hash: HashAlg, label: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    let block = encode(hash, label, message, key.modulus_len())?;
    key.apply(block.as_slice())?.ok_or_else(|| failed("RSA encryption"))
}

/// RSAES-OAEP decryption of a k-byte ciphertext through the raw operation.
pub(super) fn decrypt(key: &RawRsaKey, hash: HashAlg, label: &[u8], ciphertext: &[u8]) -> Result<SecretBuf> {
    let invalid = || Error::CiphertextInvalid("RSA decryption failed: invalid padding");
    if key.public().modulus_len() < 2 * hash.output_len() + 2 {
        return Err(invalid());
    }
    let mut block = key.private(ciphertext).map_err(|e| match e {
        Error::DataInvalid(_) => invalid(),
        other => other,
    })?;
    let start = message_start(hash, label, block.as_mut_slice()).ok_or_else(invalid)?;
    let message = Zeroizing::new(block.as_slice().get(start..).unwrap_or_default().to_vec());
    Ok(SecretBuf::copy_from(&message)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_decode_with_their_label_only() {
        for hash in HashAlg::ALL {
            let k = 256;
            let message = vec![0x5a; max_message_len(hash, k).min(20)];
            let block = encode(hash, b"label", &message, k).unwrap();
            let mut copy = block.as_slice().to_vec();
            let start = message_start(hash, b"label", &mut copy).unwrap();
            assert_eq!(&copy[start..], message.as_slice());
            let mut copy = block.as_slice().to_vec();
            assert_eq!(message_start(hash, b"other", &mut copy), None);
            let mut copy = block.as_slice().to_vec();
            copy[0] = 1;
            assert_eq!(message_start(hash, b"label", &mut copy), None);
        }
        let limit = max_message_len(HashAlg::Sha224, 128);
        assert_eq!(limit, 128 - 58);
        assert!(matches!(encode(HashAlg::Sha512, b"", &[], 128), Err(Error::DataLength(_))));
        assert!(matches!(encode(HashAlg::Sha224, b"", &vec![0; limit + 1], 128), Err(Error::DataLength(_))));
    }
}

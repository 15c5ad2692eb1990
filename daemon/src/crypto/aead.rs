//! AES-256-GCM with 96-bit random nonces and detached 128-bit tags.

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit, Nonce, Tag};

use super::error::{Error, Result};
use crate::secure_mem::SecretBuf;

pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;

fn cipher(key: &[u8]) -> Result<Aes256Gcm> {
    // The expanded key schedule is zeroized on drop (aes-gcm's `zeroize` feature).
    Aes256Gcm::new_from_slice(key)
        .map_err(|_| Error::KeySize(format!("an AES-256 key must be {KEY_LEN} bytes")))
}

pub fn random_nonce() -> Result<[u8; NONCE_LEN]> {
    let mut nonce = [0; NONCE_LEN];
    crate::secure_mem::fill_random(&mut nonce)?;
    Ok(nonce)
}

/// Encrypts `buffer` in place and returns the tag.
pub fn encrypt_in_place(
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buffer: &mut [u8],
) -> Result<[u8; TAG_LEN]> {
    let tag = cipher(key)?
        .encrypt_inout_detached(&Nonce::from(*nonce), aad, InOutBuf::from(buffer))
        .map_err(|_| Error::DataLength("message too long for AES-GCM".into()))?;
    Ok(tag.into())
}

/// Decrypts `buffer` in place; on a bad tag the buffer's content is unspecified and the caller
/// must discard it.
pub fn decrypt_in_place(
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buffer: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<()> {
    cipher(key)?
        .decrypt_inout_detached(&Nonce::from(*nonce), aad, InOutBuf::from(buffer), &Tag::from(*tag))
        .map_err(|_| decryption_failed())
}

/// A bad tag, or a sealed value too short to hold one (opaque).
fn decryption_failed() -> Error {
    Error::CiphertextInvalid("decryption failed: the ciphertext was altered or the context does not match")
}

/// Seals a secret as `nonce || ciphertext || tag` (used for key material at rest).
pub fn seal(key: &[u8], aad: &[u8], secret: &[u8]) -> Result<Vec<u8>> {
    let nonce = random_nonce()?;
    let mut sealed = Vec::with_capacity(NONCE_LEN + secret.len() + TAG_LEN);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(secret);
    let tag = encrypt_in_place(key, &nonce, aad, sealed.get_mut(NONCE_LEN..).unwrap_or_default())?;
    sealed.extend_from_slice(&tag);
    Ok(sealed)
}

/// Opens what `seal` produced into locked memory.
pub fn open(key: &[u8], aad: &[u8], sealed: &[u8]) -> Result<SecretBuf> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(decryption_failed());
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| decryption_failed())?;
    let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| decryption_failed())?;
    let mut secret = SecretBuf::copy_from(ciphertext)?;
    decrypt_in_place(key, &nonce, aad, secret.as_mut_slice(), &tag)?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let key = [7u8; KEY_LEN];
        let sealed = seal(&key, b"aad", b"material").unwrap();
        assert_eq!(open(&key, b"aad", &sealed).unwrap().as_slice(), b"material");
        assert!(matches!(open(&key, b"other", &sealed), Err(Error::CiphertextInvalid(_))));
        assert!(matches!(open(&[8u8; KEY_LEN], b"aad", &sealed), Err(Error::CiphertextInvalid(_))));
        assert!(matches!(open(&key, b"aad", &sealed[..20]), Err(Error::CiphertextInvalid(_))));
    }

    /// NIST GCM test vector (AES-256, 96-bit IV, with AAD): gcmEncryptExtIV256.rsp, Count 0 of
    /// [Keylen = 256] [IVlen = 96] [PTlen = 128] [AADlen = 128] [Taglen = 128].
    #[test]
    fn matches_a_nist_vector() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
        };
        let key = hex("92e11dcdaa866f5ce790fd24501f92509aacf4cb8b1339d50c9c1240935dd08b");
        let nonce: [u8; 12] = hex("ac93a1a6145299bde902f21a").try_into().unwrap();
        let aad = hex("1e0889016f67601c8ebea4943bc23ad6");
        let mut buffer = hex("2d71bcfa914e4ac045b2aa60955fad24");
        let tag = encrypt_in_place(&key, &nonce, &aad, &mut buffer).unwrap();
        assert_eq!(buffer, hex("8995ae2e6df3dbf96fac7b7137bae67f"));
        assert_eq!(tag.to_vec(), hex("eca5aa77d51d4a0a14d9c51e1da474ab"));
    }
}

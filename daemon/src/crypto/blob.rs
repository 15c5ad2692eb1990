//! The self-describing ciphertext blob of symmetric Encrypt and GenerateDataKey:
//!
//! ```text
//! offset  size  field
//! 0       1     format version (1)
//! 1       16    key id (UUID bytes)
//! 17      4     key version (big-endian)
//! 21      12    nonce
//! 33      n     ciphertext
//! 33+n    16    tag
//! ```
//!
//! AES-256-GCM authenticates the 33-byte header and the encoded encryption context as AAD, so no
//! byte of a blob can change unnoticed and a blob only opens under the context it was made with.

use super::aead::{self, NONCE_LEN, TAG_LEN};
use super::context::{self, EncryptionContext};
use super::error::{Error, Result};
use crate::secure_mem::SecretBuf;

pub const FORMAT_VERSION: u8 = 1;
pub const HEADER_LEN: usize = 1 + 16 + 4 + NONCE_LEN;
pub const MIN_BLOB_LEN: usize = HEADER_LEN + TAG_LEN;

/// A blob split into its fields; nothing is authenticated until `open`.
#[derive(Debug)]
pub struct ParsedBlob<'a> {
    /// The key's UUID, as bytes.
    pub key_id: [u8; 16],
    pub key_version: u32,
    header: &'a [u8],
    nonce: [u8; NONCE_LEN],
    ciphertext: &'a [u8],
    tag: [u8; TAG_LEN],
}

/// Encrypts `plaintext` under one version of a key.
pub fn seal(
    key_id: &[u8; 16],
    key_version: u32,
    material: &SecretBuf,
    plaintext: &[u8],
    context: &EncryptionContext,
) -> Result<Vec<u8>> {
    let nonce = aead::random_nonce()?;
    let mut blob = Vec::with_capacity(MIN_BLOB_LEN + plaintext.len());
    blob.push(FORMAT_VERSION);
    blob.extend_from_slice(key_id);
    blob.extend_from_slice(&key_version.to_be_bytes());
    blob.extend_from_slice(&nonce);
    let aad = aad(&blob, context)?;
    blob.extend_from_slice(plaintext);
    let body = blob.get_mut(HEADER_LEN..).unwrap_or_default();
    let tag = aead::encrypt_in_place(material.as_slice(), &nonce, &aad, body)?;
    blob.extend_from_slice(&tag);
    Ok(blob)
}

/// Splits a blob, refusing anything that is not a well-formed version-1 blob.
pub fn parse(blob: &[u8]) -> Result<ParsedBlob<'_>> {
    if blob.len() < MIN_BLOB_LEN {
        return Err(Error::CiphertextLength(format!(
            "blob is truncated: {} bytes, a blob has at least {MIN_BLOB_LEN}",
            blob.len()
        )));
    }
    let (header, rest) = blob.split_at(HEADER_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let format = header.first().copied().unwrap_or_default();
    if format != FORMAT_VERSION {
        return Err(Error::CiphertextMalformed(format!(
            "unsupported blob format version {format} (this daemon reads version {FORMAT_VERSION})"
        )));
    }
    let field = |range: std::ops::Range<usize>| header.get(range).unwrap_or_default();
    let malformed = |_| Error::CiphertextMalformed("malformed header".into());
    Ok(ParsedBlob {
        key_id: field(1..17).try_into().map_err(malformed)?,
        key_version: u32::from_be_bytes(field(17..21).try_into().map_err(malformed)?),
        header,
        nonce: field(21..HEADER_LEN).try_into().map_err(malformed)?,
        ciphertext,
        tag: tag.try_into().map_err(malformed)?,
    })
}

impl ParsedBlob<'_> {
    /// Authenticates and decrypts the blob into locked memory.
    pub fn open(&self, material: &SecretBuf, context: &EncryptionContext) -> Result<SecretBuf> {
        let aad = aad(self.header, context)?;
        let mut plaintext = SecretBuf::copy_from(self.ciphertext)?;
        aead::decrypt_in_place(material.as_slice(), &self.nonce, &aad, plaintext.as_mut_slice(), &self.tag)?;
        Ok(plaintext)
    }
}

fn aad(header: &[u8], context: &EncryptionContext) -> Result<Vec<u8>> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&context::encode(context)?);
    Ok(aad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> ([u8; 16], SecretBuf, EncryptionContext) {
        let context = [("purpose".to_string(), "test".to_string())].into_iter().collect();
        (*uuid::Uuid::new_v4().as_bytes(), SecretBuf::random(32).unwrap(), context)
    }

    #[test]
    fn round_trip_names_key_and_version() {
        let (id, key, context) = setup();
        let blob = seal(&id, 7, &key, b"hello", &context).unwrap();
        assert_eq!(blob.len(), MIN_BLOB_LEN + 5);
        let parsed = parse(&blob).unwrap();
        assert_eq!((parsed.key_id, parsed.key_version), (id, 7));
        assert_eq!(parsed.open(&key, &context).unwrap().as_slice(), b"hello");
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let (id, key, context) = setup();
        let blob = seal(&id, 1, &key, b"some plaintext", &context).unwrap();
        for index in 0..blob.len() {
            let mut tampered = blob.clone();
            tampered[index] ^= 0x01;
            let outcome = parse(&tampered).and_then(|p| p.open(&key, &context));
            assert!(outcome.is_err(), "flip at byte {index} was accepted");
        }
    }

    #[test]
    fn wrong_context_and_truncation_are_refused() {
        let (id, key, context) = setup();
        let blob = seal(&id, 1, &key, b"x", &context).unwrap();
        let other = EncryptionContext::new();
        assert!(matches!(parse(&blob).unwrap().open(&key, &other), Err(Error::CiphertextInvalid(_))));
        for len in 0..MIN_BLOB_LEN {
            assert!(matches!(parse(&blob[..len]), Err(Error::CiphertextLength(_))));
        }
    }
}

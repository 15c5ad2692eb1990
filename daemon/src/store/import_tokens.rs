//! Import tokens at rest: what GetParametersForImport handed out, kept in the store until the
//! token is used or expires, so that ImportKeyMaterial may come to any node of a shared store (or
//! after a restart). The wrapping key's private half is sealed under the master key; the AAD binds
//! it to the token, the key, the wrapping spec and algorithm and the expiry, so no field of the
//! record can be changed or moved to another token unnoticed.

use crate::crypto::aead;
use crate::error::{Error, Result};
use crate::keys::KeyId;
use crate::secure_mem::SecretBuf;

use super::MasterKey;

const RECORD_FORMAT: u32 = 1;

#[derive(Clone, PartialEq, prost::Message)]
struct ImportTokenRecord {
    #[prost(uint32, tag = "1")]
    format: u32,
    #[prost(bytes = "vec", tag = "2")]
    key_id: Vec<u8>,
    #[prost(string, tag = "3")]
    wrapping_spec: String,
    #[prost(string, tag = "4")]
    algorithm: String,
    #[prost(int64, tag = "5")]
    valid_to: i64,
    /// `nonce || ciphertext || tag` of the wrapping key's PKCS#8.
    #[prost(bytes = "vec", tag = "6")]
    sealed_private_key: Vec<u8>,
}

/// An outstanding import token.
#[derive(Debug)]
pub struct PendingImport {
    pub key_id: KeyId,
    /// The wrapping key spec and algorithm, by their KMS names.
    pub wrapping_spec: String,
    pub algorithm: String,
    pub valid_to: i64,
    pub private_pkcs8: SecretBuf,
}

fn aad(token: &str, record: &ImportTokenRecord) -> Vec<u8> {
    let mut aad = b"arca.v1 import token ".to_vec();
    for part in
        [token.as_bytes(), &record.key_id, record.wrapping_spec.as_bytes(), record.algorithm.as_bytes()]
    {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad.extend_from_slice(&record.valid_to.to_be_bytes());
    aad
}

fn unreadable() -> Error {
    Error::Integrity("an import token record failed its integrity check".into())
}

/// The stored form of `pending` under `token`.
pub fn seal_import_token(master: &MasterKey, token: &str, pending: &PendingImport) -> Result<Vec<u8>> {
    let mut record = ImportTokenRecord {
        format: RECORD_FORMAT,
        key_id: pending.key_id.as_bytes().to_vec(),
        wrapping_spec: pending.wrapping_spec.clone(),
        algorithm: pending.algorithm.clone(),
        valid_to: pending.valid_to,
        sealed_private_key: Vec::new(),
    };
    record.sealed_private_key =
        aead::seal(master.material_key.as_slice(), &aad(token, &record), pending.private_pkcs8.as_slice())
            .map_err(super::seal::sealing_error)?;
    Ok(prost::Message::encode_to_vec(&record))
}

/// Opens the record of `token`.
pub fn open_import_token(master: &MasterKey, token: &str, stored: &[u8]) -> Result<PendingImport> {
    let record: ImportTokenRecord = prost::Message::decode(stored).map_err(|_| unreadable())?;
    if record.format != RECORD_FORMAT {
        return Err(unreadable());
    }
    let key_id = <[u8; 16]>::try_from(record.key_id.as_slice()).map_err(|_| unreadable())?;
    let private_pkcs8 =
        aead::open(master.material_key.as_slice(), &aad(token, &record), &record.sealed_private_key)
            .map_err(|_| unreadable())?;
    Ok(PendingImport {
        key_id: KeyId::from_bytes(key_id),
        wrapping_spec: record.wrapping_spec,
        algorithm: record.algorithm,
        valid_to: record.valid_to,
        private_pkcs8,
    })
}

/// When a stored token expires, read without the master key (for pruning expired tokens).
pub fn import_token_valid_to(stored: &[u8]) -> Option<i64> {
    prost::Message::decode(stored).ok().map(|record: ImportTokenRecord| record.valid_to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> MasterKey {
        MasterKey::random()
    }

    fn pending() -> PendingImport {
        PendingImport {
            key_id: KeyId::generate(),
            wrapping_spec: "RSA_2048".into(),
            algorithm: "RSAES_OAEP_SHA_256".into(),
            valid_to: 1_800_000_000,
            private_pkcs8: SecretBuf::copy_from(&[0x42; 64]).unwrap(),
        }
    }

    #[test]
    fn a_token_opens_under_its_own_name_only_and_keeps_the_private_key_sealed() {
        let (master, pending) = (master(), pending());
        let stored = seal_import_token(&master, "token-a", &pending).unwrap();
        assert!(!stored.windows(64).any(|w| w == [0x42; 64]), "the private key is stored sealed");
        let opened = open_import_token(&master, "token-a", &stored).unwrap();
        assert_eq!((opened.key_id, opened.valid_to), (pending.key_id, pending.valid_to));
        assert_eq!(opened.private_pkcs8.as_slice(), pending.private_pkcs8.as_slice());
        assert!(open_import_token(&master, "token-b", &stored).is_err(), "moved to another token");
        assert_eq!(import_token_valid_to(&stored), Some(1_800_000_000));
    }

    #[test]
    fn a_record_with_any_field_changed_does_not_open() {
        let master = master();
        let stored = seal_import_token(&master, "t", &pending()).unwrap();
        let record: ImportTokenRecord = prost::Message::decode(stored.as_slice()).unwrap();
        let edits = [
            ImportTokenRecord { key_id: KeyId::generate().as_bytes().to_vec(), ..record.clone() },
            ImportTokenRecord { wrapping_spec: "RSA_4096".into(), ..record.clone() },
            ImportTokenRecord { algorithm: "RSAES_OAEP_SHA_1".into(), ..record.clone() },
            ImportTokenRecord { valid_to: record.valid_to + 86_400, ..record.clone() },
        ];
        for edited in edits {
            let bytes = prost::Message::encode_to_vec(&edited);
            assert!(open_import_token(&master, "t", &bytes).is_err(), "{edited:?}");
        }
    }
}

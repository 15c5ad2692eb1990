//! Access key records at rest: the AWS-style credentials the KMS front's callers sign requests
//! with, each bound to an Arca principal.
//!
//! The record is stored under its access key id in [`super::Table::AccessKeys`]. The secret is
//! sealed with AES-256-GCM under the master key, like key material; the AAD binds the access key
//! id, the principal, the description and the creation date, so a record moved to another id, or
//! edited to name another principal, fails to open rather than lending its secret to someone else.

use super::MasterKey;
use super::seal::sealing_error;
use crate::crypto::aead;
use crate::error::{Error, Result};
use crate::secure_mem::SecretBuf;

const RECORD_FORMAT: u32 = 1;
const AAD_LABEL: &[u8] = b"arca.v1 access key ";

#[derive(Clone, PartialEq, prost::Message)]
struct AccessKeyRecord {
    #[prost(uint32, tag = "1")]
    format: u32,
    /// `uid:N` or `cert:SUBJECT`.
    #[prost(string, tag = "2")]
    principal: String,
    #[prost(string, tag = "3")]
    description: String,
    /// Seconds since the Unix epoch.
    #[prost(int64, tag = "4")]
    created_at: i64,
    /// `nonce || ciphertext || tag` of the secret access key.
    #[prost(bytes = "vec", tag = "5")]
    sealed_secret: Vec<u8>,
}

/// What an access key record says in the open: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyEntry {
    pub access_key_id: String,
    pub principal: String,
    pub description: String,
    pub created_at: i64,
}

/// Each field length-prefixed, so no two entries share an AAD.
fn aad(entry: &AccessKeyEntry) -> Vec<u8> {
    let mut aad = AAD_LABEL.to_vec();
    for field in [&entry.access_key_id, &entry.principal, &entry.description] {
        aad.extend_from_slice(&(field.len() as u64).to_be_bytes());
        aad.extend_from_slice(field.as_bytes());
    }
    aad.extend_from_slice(&entry.created_at.to_be_bytes());
    aad
}

fn tampered(access_key_id: &str) -> Error {
    Error::Integrity(format!(
        "the stored record of access key {} failed its integrity check",
        crate::error::Echo(access_key_id)
    ))
}

/// The stored form of an access key: its entry in the open, its secret sealed.
pub fn seal_access_key(master: &MasterKey, entry: &AccessKeyEntry, secret: &SecretBuf) -> Result<Vec<u8>> {
    let sealed_secret =
        aead::seal(master.material_key.as_slice(), &aad(entry), secret.as_slice()).map_err(sealing_error)?;
    let record = AccessKeyRecord {
        format: RECORD_FORMAT,
        principal: entry.principal.clone(),
        description: entry.description.clone(),
        created_at: entry.created_at,
        sealed_secret,
    };
    Ok(prost::Message::encode_to_vec(&record))
}

/// Opens the record stored under `access_key_id`: its entry and, in locked memory, its secret.
/// A record edited, or moved from another id, is an integrity error.
pub fn open_access_key(
    master: &MasterKey,
    access_key_id: &str,
    stored: &[u8],
) -> Result<(AccessKeyEntry, SecretBuf)> {
    let record: AccessKeyRecord = prost::Message::decode(stored).map_err(|_| tampered(access_key_id))?;
    if record.format != RECORD_FORMAT {
        return Err(tampered(access_key_id));
    }
    let entry = AccessKeyEntry {
        access_key_id: access_key_id.to_owned(),
        principal: record.principal,
        description: record.description,
        created_at: record.created_at,
    };
    let secret = aead::open(master.material_key.as_slice(), &aad(&entry), &record.sealed_secret)
        .map_err(|_| tampered(access_key_id))?;
    Ok((entry, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> MasterKey {
        MasterKey::random()
    }

    fn entry() -> AccessKeyEntry {
        AccessKeyEntry {
            access_key_id: "AKIAAAAAAAAAAAAAAAAA".into(),
            principal: "uid:1000".into(),
            description: "build server".into(),
            created_at: 1_765_000_000,
        }
    }

    const SECRET: &[u8; 40] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn sealed(master: &MasterKey, entry: &AccessKeyEntry) -> Vec<u8> {
        seal_access_key(master, entry, &SecretBuf::copy_from(SECRET).unwrap()).unwrap()
    }

    #[test]
    fn records_round_trip_without_the_secret_in_clear() {
        let (master, entry) = (master(), entry());
        let stored = sealed(&master, &entry);
        assert!(!stored.windows(SECRET.len()).any(|w| w == SECRET), "secret stored in clear");
        let (opened, secret) = open_access_key(&master, &entry.access_key_id, &stored).unwrap();
        assert_eq!(opened, entry);
        assert_eq!(secret.as_slice(), SECRET);
    }

    #[test]
    fn any_edited_byte_is_an_integrity_error() {
        let (master, entry) = (master(), entry());
        let stored = sealed(&master, &entry);
        for index in 0..stored.len() {
            let mut edited = stored.clone();
            edited[index] ^= 0x01;
            let outcome = open_access_key(&master, &entry.access_key_id, &edited);
            assert!(matches!(outcome, Err(Error::Integrity(_))), "byte {index} edited unnoticed");
        }
    }

    #[test]
    fn a_record_moved_to_another_id_or_principal_does_not_open() {
        let (master, entry) = (master(), entry());
        let stored = sealed(&master, &entry);
        let moved = open_access_key(&master, "AKIABBBBBBBBBBBBBBBB", &stored);
        assert!(matches!(moved, Err(Error::Integrity(_))));
        // The principal of another record, with this record's sealed secret.
        let other = AccessKeyEntry { principal: "uid:0".into(), ..entry.clone() };
        let mut record: AccessKeyRecord = prost::Message::decode(sealed(&master, &other).as_slice()).unwrap();
        let own: AccessKeyRecord = prost::Message::decode(stored.as_slice()).unwrap();
        record.sealed_secret = own.sealed_secret;
        let swapped = prost::Message::encode_to_vec(&record);
        assert!(matches!(open_access_key(&master, &entry.access_key_id, &swapped), Err(Error::Integrity(_))));
        assert!(
            open_access_key(&self::master(), &entry.access_key_id, &stored).is_err(),
            "another master key"
        );
    }
}

//! The administrators named when the store was initialised, kept in the meta table beside the
//! sealed master key and written in the same transaction. The record is `mac || body`: an
//! HMAC-SHA-256 under the record MAC key derived from the master key, so nobody who can write the
//! store file but does not hold the master key can add an administrator unnoticed.
//!
//! While the store is sealed the MAC cannot be checked: [`peek_administrators`] reads the list
//! as stored, and unsealing checks it with [`open_administrators`].

use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

use super::MasterKey;
use crate::error::{Error, Result};

/// The record's key in [`super::Table::Meta`].
pub const ADMINISTRATORS_RECORD_KEY: &[u8] = b"administrators";

const RECORD_FORMAT: u32 = 1;
const MAC_LEN: usize = 32;
const MAC_LABEL: &[u8] = b"arca.v1 administrators ";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

#[derive(Clone, PartialEq, prost::Message)]
struct AdministratorsRecord {
    #[prost(uint32, tag = "1")]
    format: u32,
    /// Principals (`uid:N`, `cert:SUBJECT`), as Admin.Initialize accepted them.
    #[prost(string, repeated, tag = "2")]
    principals: Vec<String>,
}

fn mac(master: &MasterKey, body: &[u8]) -> Result<HmacSha256> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(master.record_mac_key.as_slice())
        .map_err(|_| Error::Integrity("bad record MAC key".into()))?;
    mac.update(MAC_LABEL);
    mac.update(body);
    Ok(mac)
}

fn tampered() -> Error {
    Error::Integrity("the stored administrators record failed its integrity check".into())
}

/// The stored form of `principals`: `mac || body`.
pub fn seal_administrators(master: &MasterKey, principals: &[String]) -> Result<Vec<u8>> {
    let record = AdministratorsRecord { format: RECORD_FORMAT, principals: principals.to_vec() };
    let body = prost::Message::encode_to_vec(&record);
    let tag = mac(master, &body)?.finalize().into_bytes();
    Ok([tag.as_slice(), &body].concat())
}

/// Checks a stored record under the unsealed master key and returns its principals.
pub fn open_administrators(master: &MasterKey, stored: &[u8]) -> Result<Vec<String>> {
    let (tag, body) = stored.split_at_checked(MAC_LEN).ok_or_else(tampered)?;
    let expected = mac(master, body)?.finalize().into_bytes();
    if !bool::from(expected.as_slice().ct_eq(tag)) {
        return Err(tampered());
    }
    decode(body)
}

/// The principals of a stored record, its MAC unchecked (the store is sealed).
pub fn peek_administrators(stored: &[u8]) -> Result<Vec<String>> {
    let (_, body) = stored.split_at_checked(MAC_LEN).ok_or_else(tampered)?;
    decode(body)
}

fn decode(body: &[u8]) -> Result<Vec<String>> {
    let record: AdministratorsRecord = prost::Message::decode(body).map_err(|_| tampered())?;
    if record.format != RECORD_FORMAT {
        return Err(Error::Integrity(format!(
            "the stored administrators record has the unknown format {}",
            record.format
        )));
    }
    Ok(record.principals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SealConfig, SealMode, SealRecord};

    fn master() -> MasterKey {
        let config = SealConfig {
            mode: SealMode::Passphrase,
            argon2_memory_kib: 8,
            argon2_iterations: 1,
            argon2_parallelism: 1,
        };
        SealRecord::create(&config, Some("pw")).unwrap().1
    }

    #[test]
    fn records_round_trip_and_peek_without_the_key() {
        let master = master();
        let principals = vec!["uid:1000".to_owned(), "cert:CN=ops,O=Example".to_owned()];
        let stored = seal_administrators(&master, &principals).unwrap();
        assert_eq!(open_administrators(&master, &stored).unwrap(), principals);
        assert_eq!(peek_administrators(&stored).unwrap(), principals);
    }

    #[test]
    fn an_edited_record_or_another_master_key_is_refused() {
        let master = master();
        let stored = seal_administrators(&master, &["uid:1000".to_owned()]).unwrap();
        let forged = seal_administrators(&self::master(), &["uid:666".to_owned()]).unwrap();
        assert!(matches!(open_administrators(&master, &forged), Err(Error::Integrity(_))));
        let mut edited = stored.clone();
        if let Some(last) = edited.last_mut() {
            *last ^= 1;
        }
        assert!(matches!(open_administrators(&master, &edited), Err(Error::Integrity(_))));
        assert!(open_administrators(&master, &stored[..MAC_LEN - 1]).is_err());
        assert!(peek_administrators(b"short").is_err());
    }
}

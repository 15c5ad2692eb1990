//! Aliases and grants at rest, each authenticated by an HMAC under the master key's record MAC
//! key and bound to its row (the alias name, the grant id): whoever can write the store but holds
//! no master key (a database administrator of a shared store) cannot point an alias at another
//! key or add or widen a grant.
//!
//! - An alias row is `key id (16) || mac (32)`; a grant row is `0x00 'g' '1' || mac (32) ||
//!   grant`. Earlier releases stored the bare key id and the bare grant: those rows open as
//!   [`Opened::Legacy`]. The embedded store, written by this host alone, takes them and rewrites
//!   them authenticated at unseal; a shared store refuses them.

use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

use super::KeyRecordCodec;
use crate::error::{Error, Result};
use crate::keys::KeyId;

const MAC_LEN: usize = 32;
const GRANT_MAGIC: &[u8] = b"\x00g1";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// A row as read: authenticated, or written by an earlier release without a MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened<T> {
    Authenticated(T),
    Legacy(T),
}

fn unauthentic(what: &str) -> Error {
    Error::Integrity(format!("{what} record failed its integrity check"))
}

impl KeyRecordCodec {
    fn row_mac(&self, label: &[u8], row: &[u8], body: &[u8]) -> Result<HmacSha256> {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(self.master_key().record_mac_key.as_slice())
            .map_err(|_| Error::Integrity("bad record MAC key".into()))?;
        mac.update(label);
        mac.update(&(row.len() as u64).to_be_bytes());
        mac.update(row);
        mac.update(body);
        Ok(mac)
    }

    /// The stored form of alias `name` pointing at `target`.
    pub fn encode_alias(&self, name: &str, target: KeyId) -> Result<Vec<u8>> {
        let tag =
            self.row_mac(b"arca.v1 alias ", name.as_bytes(), target.as_bytes())?.finalize().into_bytes();
        Ok([target.as_bytes().as_slice(), tag.as_slice()].concat())
    }

    /// The key alias `name` points at, if its row is authentic (or of an earlier release).
    pub fn decode_alias(&self, name: &str, stored: &[u8]) -> Result<Opened<KeyId>> {
        if let Ok(legacy) = <[u8; 16]>::try_from(stored) {
            return Ok(Opened::Legacy(KeyId::from_bytes(legacy)));
        }
        let (id, tag) = stored.split_at_checked(16).ok_or_else(|| unauthentic("an alias"))?;
        let id = <[u8; 16]>::try_from(id).map_err(|_| unauthentic("an alias"))?;
        let expected = self.row_mac(b"arca.v1 alias ", name.as_bytes(), &id)?.finalize().into_bytes();
        if tag.len() != MAC_LEN || !bool::from(expected.as_slice().ct_eq(tag)) {
            return Err(unauthentic("an alias"));
        }
        Ok(Opened::Authenticated(KeyId::from_bytes(id)))
    }

    /// The stored form of the grant `body` (its protobuf) under row `grant_id`.
    pub fn encode_grant(&self, grant_id: &[u8], body: &[u8]) -> Result<Vec<u8>> {
        let tag = self.row_mac(b"arca.v1 grant ", grant_id, body)?.finalize().into_bytes();
        Ok([GRANT_MAGIC, tag.as_slice(), body].concat())
    }

    /// The grant's protobuf, if its row is authentic (or of an earlier release).
    pub fn decode_grant(&self, grant_id: &[u8], stored: &[u8]) -> Result<Opened<Vec<u8>>> {
        let Some(rest) = stored.strip_prefix(GRANT_MAGIC) else { return Ok(Opened::Legacy(stored.to_vec())) };
        let (tag, body) = rest.split_at_checked(MAC_LEN).ok_or_else(|| unauthentic("a grant"))?;
        let expected = self.row_mac(b"arca.v1 grant ", grant_id, body)?.finalize().into_bytes();
        if !bool::from(expected.as_slice().ct_eq(tag)) {
            return Err(unauthentic("a grant"));
        }
        Ok(Opened::Authenticated(body.to_vec()))
    }
}

/// Whether stored alias and grant rows are all authenticated: what a shared store requires
/// (`arcad migrate` checks a source before copying it into PostgreSQL).
pub fn is_authenticated_form(table: super::Table, stored: &[u8]) -> bool {
    match table {
        super::Table::Aliases => stored.len() == 16 + MAC_LEN,
        super::Table::Grants => stored.starts_with(GRANT_MAGIC),
        super::Table::Meta
        | super::Table::Keys
        | super::Table::Objects
        | super::Table::AccessKeys
        | super::Table::ImportTokens => true,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::MasterKey;

    fn codec() -> KeyRecordCodec {
        KeyRecordCodec::new(Arc::new(MasterKey::random()))
    }

    #[test]
    fn an_alias_opens_only_under_its_own_name_and_target() {
        let codec = codec();
        let (target, other) = (KeyId::generate(), KeyId::generate());
        let stored = codec.encode_alias("alias/payments", target).unwrap();
        assert_eq!(codec.decode_alias("alias/payments", &stored).unwrap(), Opened::Authenticated(target));
        assert!(codec.decode_alias("alias/other", &stored).is_err(), "moved to another name");
        let mut retargeted = stored.clone();
        retargeted[..16].copy_from_slice(other.as_bytes());
        assert!(codec.decode_alias("alias/payments", &retargeted).is_err(), "pointed at another key");
        assert!(codec.decode_alias("alias/payments", &stored[..40]).is_err());
        assert_eq!(codec.decode_alias("alias/payments", other.as_bytes()).unwrap(), Opened::Legacy(other));
        assert!(is_authenticated_form(crate::store::Table::Aliases, &stored));
        assert!(!is_authenticated_form(crate::store::Table::Aliases, other.as_bytes()));
    }

    #[test]
    fn a_grant_opens_only_unedited_under_its_own_id() {
        let codec = codec();
        let stored = codec.encode_grant(b"grant-1", b"\x0a\x01body").unwrap();
        assert_eq!(
            codec.decode_grant(b"grant-1", &stored).unwrap(),
            Opened::Authenticated(b"\x0a\x01body".to_vec())
        );
        assert!(codec.decode_grant(b"grant-2", &stored).is_err(), "moved to another id");
        for index in GRANT_MAGIC.len()..stored.len() {
            let mut edited = stored.clone();
            edited[index] ^= 1;
            assert!(codec.decode_grant(b"grant-1", &edited).is_err(), "byte {index} edited");
        }
        assert_eq!(
            codec.decode_grant(b"grant-1", b"\x0a\x01body").unwrap(),
            Opened::Legacy(b"\x0a\x01body".to_vec())
        );
        assert!(is_authenticated_form(crate::store::Table::Grants, &stored));
    }
}

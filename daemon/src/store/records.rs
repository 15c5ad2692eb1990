//! Key records at rest. Each version's material is sealed with AES-256-GCM under the master key
//! (AAD: key id, version, spec), and the whole record carries an HMAC-SHA-256 under a key derived
//! from the master key, so neither material nor metadata can be edited or swapped unnoticed.

use std::collections::BTreeMap;
use std::sync::Arc;

use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

use super::MasterKey;
use crate::crypto::aead;
use crate::error::{Error, Result};
use crate::keys::{
    Imported, Key, KeyId, KeyMetadata, KeyOrigin, KeySpec, KeyState, KeyUsage, KeyVersion, Rotation,
    TokenAttributes,
};

const RECORD_FORMAT: u32 = 1;
const MAC_LEN: usize = 32;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

#[derive(Clone, PartialEq, prost::Message)]
struct KeyRecord {
    #[prost(uint32, tag = "1")]
    format: u32,
    #[prost(string, tag = "2")]
    description: String,
    #[prost(string, tag = "3")]
    spec: String,
    #[prost(string, tag = "4")]
    usage: String,
    #[prost(string, tag = "5")]
    origin: String,
    #[prost(string, tag = "6")]
    state: String,
    #[prost(int64, tag = "7")]
    pending_deletion_at: i64,
    #[prost(int64, tag = "8")]
    created_at: i64,
    #[prost(btree_map = "string, string", tag = "9")]
    tags: BTreeMap<String, String>,
    #[prost(message, repeated, tag = "10")]
    versions: Vec<SealedVersion>,
    /// 0 when automatic rotation is off.
    #[prost(uint32, tag = "11")]
    rotation_period_days: u32,
    #[prost(int64, tag = "12")]
    next_rotation_at: i64,
    /// The key policy document (JSON).
    #[prost(string, tag = "13")]
    policy: String,
    /// SHA-256 of imported material (EXTERNAL keys); empty otherwise.
    #[prost(bytes = "vec", tag = "14")]
    imported_digest: Vec<u8>,
    /// When imported material expires; 0 = never.
    #[prost(int64, tag = "15")]
    imported_expires_at: i64,
    /// PKCS#11 attributes of the key (or of a key pair's private half), by CKA_* type.
    #[prost(btree_map = "uint64, bytes", tag = "16")]
    token_object: BTreeMap<u64, Vec<u8>>,
    /// PKCS#11 attributes of a key pair's public half.
    #[prost(btree_map = "uint64, bytes", tag = "17")]
    token_public: BTreeMap<u64, Vec<u8>>,
    #[prost(bool, tag = "18")]
    token_public_destroyed: bool,
}

/// A token object that is not a key of the keyring (a public key, a certificate, a data
/// object): every attribute, by CKA_* type. Nothing in it is secret; the record is MACed.
#[derive(Clone, PartialEq, prost::Message)]
struct ObjectRecord {
    #[prost(uint32, tag = "1")]
    format: u32,
    #[prost(btree_map = "uint64, bytes", tag = "2")]
    attributes: BTreeMap<u64, Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SealedVersion {
    #[prost(uint32, tag = "1")]
    version: u32,
    /// `nonce || ciphertext || tag`
    #[prost(bytes = "vec", tag = "2")]
    sealed_material: Vec<u8>,
    #[prost(int64, tag = "3")]
    created_at: i64,
}

/// Turns keys into sealed records and back.
#[derive(Debug, Clone)]
pub struct KeyRecordCodec {
    master: Arc<MasterKey>,
}

fn material_aad(id: KeyId, version: u32, spec: KeySpec) -> Vec<u8> {
    let mut aad = b"arca.v1 key material ".to_vec();
    aad.extend_from_slice(id.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad.extend_from_slice(spec.name().as_bytes());
    aad
}

impl KeyRecordCodec {
    pub fn new(master: Arc<MasterKey>) -> Self {
        Self { master }
    }

    /// The master key the records are sealed under (access keys are sealed under it too).
    pub fn master_key(&self) -> &Arc<MasterKey> {
        &self.master
    }

    fn mac(&self, id: KeyId, body: &[u8]) -> Result<HmacSha256> {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(self.master.record_mac_key.as_slice())
            .map_err(|_| Error::Integrity("bad record MAC key".into()))?;
        mac.update(b"arca.v1 key record ");
        mac.update(id.as_bytes());
        mac.update(body);
        Ok(mac)
    }

    /// The stored form of a key: `mac || record`.
    pub fn encode(&self, key: &Key) -> Result<Vec<u8>> {
        let meta = &key.metadata;
        let mut versions = Vec::with_capacity(key.versions.len());
        for version in &key.versions {
            let aad = material_aad(meta.id, version.version, meta.spec);
            let sealed = aead::seal(self.master.material_key.as_slice(), &aad, version.material.as_slice())
                .map_err(super::seal::sealing_error)?;
            versions.push(SealedVersion {
                version: version.version,
                sealed_material: sealed,
                created_at: version.created_at,
            });
        }
        let (state, pending_deletion_at) = state_to_record(meta.state);
        let record = KeyRecord {
            format: RECORD_FORMAT,
            description: meta.description.clone(),
            spec: meta.spec.name().to_owned(),
            usage: meta.usage.name().to_owned(),
            origin: origin_name(meta.origin).to_owned(),
            state: state.to_owned(),
            pending_deletion_at,
            created_at: meta.created_at,
            tags: meta.tags.clone(),
            versions,
            rotation_period_days: meta.rotation.map_or(0, |r| r.period_days),
            next_rotation_at: meta.rotation.map_or(0, |r| r.next_at),
            policy: meta.policy.to_json(),
            imported_digest: meta.imported.as_ref().map(|i| i.digest.clone()).unwrap_or_default(),
            imported_expires_at: meta.imported.as_ref().and_then(|i| i.expires_at).unwrap_or(0),
            token_object: meta.token.object.clone(),
            token_public: meta.token.public.clone(),
            token_public_destroyed: meta.token.public_destroyed,
        };
        let body = prost::Message::encode_to_vec(&record);
        let tag = self.mac(meta.id, &body)?.finalize().into_bytes();
        Ok([tag.as_slice(), &body].concat())
    }

    /// Checks and opens a stored record; any mismatch is an integrity error for this key only.
    pub fn decode(&self, id: KeyId, stored: &[u8]) -> Result<Key> {
        if stored.len() < MAC_LEN {
            return Err(Error::KeyIntegrity(id));
        }
        let (tag, body) = stored.split_at(MAC_LEN);
        let expected = self.mac(id, body)?.finalize().into_bytes();
        if !bool::from(expected.as_slice().ct_eq(tag)) {
            return Err(Error::KeyIntegrity(id));
        }
        let record: KeyRecord = prost::Message::decode(body).map_err(|_| Error::KeyIntegrity(id))?;
        if record.format != RECORD_FORMAT {
            return Err(Error::KeyIntegrity(id));
        }
        let spec = KeySpec::from_name(&record.spec)?;
        let usage = KeyUsage::from_name(&record.usage)?;
        let mut versions = Vec::with_capacity(record.versions.len());
        for sealed in &record.versions {
            let aad = material_aad(id, sealed.version, spec);
            let material = aead::open(self.master.material_key.as_slice(), &aad, &sealed.sealed_material)
                .map_err(|_| Error::KeyIntegrity(id))?;
            versions.push(
                KeyVersion::new(spec, sealed.version, sealed.created_at, material)
                    .map_err(|_| Error::KeyIntegrity(id))?,
            );
        }
        let metadata = KeyMetadata {
            id,
            description: record.description,
            spec,
            usage,
            origin: origin_from_name(&record.origin)?,
            state: state_from_record(&record.state, record.pending_deletion_at)?,
            created_at: record.created_at,
            tags: record.tags,
            policy: crate::policy::Policy::from_stored(&record.policy)
                .map_err(|_| Error::KeyIntegrity(id))?,
            imported: (!record.imported_digest.is_empty()).then(|| Imported {
                digest: record.imported_digest.clone(),
                expires_at: (record.imported_expires_at != 0).then_some(record.imported_expires_at),
            }),
            rotation: (record.rotation_period_days > 0).then_some(Rotation {
                period_days: record.rotation_period_days,
                next_at: record.next_rotation_at,
            }),
            token: TokenAttributes {
                object: record.token_object,
                public: record.token_public,
                public_destroyed: record.token_public_destroyed,
            },
        };
        Ok(Key { metadata, versions })
    }

    fn object_mac(&self, id: &[u8], body: &[u8]) -> Result<HmacSha256> {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(self.master.record_mac_key.as_slice())
            .map_err(|_| Error::Integrity("bad record MAC key".into()))?;
        mac.update(b"arca.v1 token object ");
        mac.update(id);
        mac.update(body);
        Ok(mac)
    }

    /// The stored form of a token object: `mac || record`.
    pub fn encode_object(&self, id: &[u8], attributes: &BTreeMap<u64, Vec<u8>>) -> Result<Vec<u8>> {
        let record = ObjectRecord { format: RECORD_FORMAT, attributes: attributes.clone() };
        let body = prost::Message::encode_to_vec(&record);
        let tag = self.object_mac(id, &body)?.finalize().into_bytes();
        Ok([tag.as_slice(), &body].concat())
    }

    /// Checks and opens a stored token object.
    pub fn decode_object(&self, id: &[u8], stored: &[u8]) -> Result<BTreeMap<u64, Vec<u8>>> {
        let fail = || Error::Integrity("a token object record failed its integrity check".into());
        let (tag, body) = stored.split_at_checked(MAC_LEN).ok_or_else(fail)?;
        let expected = self.object_mac(id, body)?.finalize().into_bytes();
        if !bool::from(expected.as_slice().ct_eq(tag)) {
            return Err(fail());
        }
        let record: ObjectRecord = prost::Message::decode(body).map_err(|_| fail())?;
        if record.format != RECORD_FORMAT {
            return Err(fail());
        }
        Ok(record.attributes)
    }
}

fn origin_name(origin: KeyOrigin) -> &'static str {
    match origin {
        KeyOrigin::Arca => "ARCA",
        KeyOrigin::External => "EXTERNAL",
    }
}

fn origin_from_name(name: &str) -> Result<KeyOrigin> {
    match name {
        "ARCA" => Ok(KeyOrigin::Arca),
        "EXTERNAL" => Ok(KeyOrigin::External),
        other => Err(Error::Integrity(format!("unknown key origin {other:?} in the store"))),
    }
}

fn state_to_record(state: KeyState) -> (&'static str, i64) {
    match state {
        KeyState::PendingDeletion { at } => (state.name(), at),
        _ => (state.name(), 0),
    }
}

fn state_from_record(name: &str, at: i64) -> Result<KeyState> {
    match name {
        "ENABLED" => Ok(KeyState::Enabled),
        "DISABLED" => Ok(KeyState::Disabled),
        "PENDING_DELETION" => Ok(KeyState::PendingDeletion { at }),
        "PENDING_IMPORT" => Ok(KeyState::PendingImport),
        other => Err(Error::Integrity(format!("unknown key state {other:?} in the store"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secure_mem::SecretBuf;

    fn codec() -> KeyRecordCodec {
        KeyRecordCodec::new(Arc::new(MasterKey::random()))
    }

    fn key() -> Key {
        Key {
            metadata: KeyMetadata {
                id: KeyId::generate(),
                description: "payments".into(),
                spec: KeySpec::Aes256,
                usage: KeyUsage::EncryptDecrypt,
                origin: KeyOrigin::Arca,
                state: KeyState::Enabled,
                created_at: 1_700_000_000,
                tags: [("team".to_string(), "core".to_string())].into_iter().collect(),
                rotation: Some(Rotation { period_days: 365, next_at: 1_731_536_000 }),
                policy: crate::policy::Policy::default_for("uid:1000", &["uid:0".to_owned()]),
                imported: None,
                token: TokenAttributes::default(),
            },
            versions: vec![
                KeyVersion::new(
                    KeySpec::Aes256,
                    1,
                    1_700_000_000,
                    SecretBuf::copy_from(&[0x5A; 32]).unwrap(),
                )
                .unwrap(),
            ],
        }
    }

    #[test]
    fn records_round_trip_without_plaintext_material() {
        let (codec, key) = (codec(), key());
        let stored = codec.encode(&key).unwrap();
        assert!(!stored.windows(32).any(|w| w == [0x5A; 32]), "material stored in clear");
        let back = codec.decode(key.metadata.id, &stored).unwrap();
        assert_eq!(back.metadata, key.metadata);
        assert_eq!(back.versions[0].material, key.versions[0].material);
    }

    #[test]
    fn any_edit_or_swap_is_an_integrity_error() {
        let (codec, key) = (codec(), key());
        let stored = codec.encode(&key).unwrap();
        for index in 0..stored.len() {
            let mut edited = stored.clone();
            edited[index] ^= 0x20;
            assert!(matches!(codec.decode(key.metadata.id, &edited), Err(Error::KeyIntegrity(_))));
        }
        let other = KeyId::generate();
        assert!(matches!(codec.decode(other, &stored), Err(Error::KeyIntegrity(_))));
    }
}

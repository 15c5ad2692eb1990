//! One audit record and its place in the chain.
//!
//! `hash = SHA-256(previous hash || body)`, where `body` is the record's JSON without `hash` and
//! `mac`; `mac = HMAC-SHA-256(audit key, hash)` once the daemon is unsealed (the key derives from
//! the master key). Each MAC therefore vouches for every record before it.
//!
//! Fields added after the first release (`source`, `key_version`, `error_code`, the digests,
//! `unrecorded_throttled`) are left out of the JSON when empty, so a record written before they
//! existed serialises again byte for byte and its hash still checks.
//!
//! A record's size is bounded whatever the caller sends: a key name longer than
//! [`MAX_FIELD_BYTES`] or an encryption context whose JSON is longer than [`MAX_CONTEXT_BYTES`] is
//! recorded by its length and SHA-256 (`key_digest`, `encryption_context_digest`) instead, so a
//! caller refused everything cannot grow the log faster than [`MAX_RECORD_BYTES`] per call.

use std::collections::BTreeMap;

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What happened, as the request handler saw it. Never plaintext, ciphertext or key bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body {
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub request_id: String,
    pub principal: String,
    /// How the call came: the face and the transport (`grpc/unix`, `grpc/tls`, `pkcs11/unix`,
    /// `pkcs11/tls`); absent in records older than the field.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    pub operation: String,
    /// The key as the caller named it (id or alias); empty when the call names none, or when the
    /// name was too long to record (then `key_digest` stands for it).
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_digest: Option<FieldDigest>,
    /// The key version the call used, when it used one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_version: Option<u32>,
    /// Empty when the context was too long to record (then `encryption_context_digest` stands for
    /// it: the length and SHA-256 of its JSON).
    pub encryption_context: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context_digest: Option<FieldDigest>,
    /// What the caller's own system said of the request (an external key store call's
    /// `requestMetadata`: the AWS principal, the KMS key ARN and operation, the KMS request id);
    /// absent for other calls. Bounded like the context, with its digest when too long.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub request_metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_metadata_digest: Option<FieldDigest>,
    /// `OK` or the gRPC code name.
    pub outcome: String,
    /// On failure the precise code: the CK_RV name for a PKCS#11 call (`CKR_PIN_INCORRECT`), the
    /// daemon's error kind for the others (`AccessDenied`, `KeyNotEnabled`, `Throttled`, …).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error_code: String,
    /// Throttled calls of this principal not recorded one by one since its previous throttled
    /// record (they carry no more than this record would).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unrecorded_throttled: u64,
    /// Hex of the previous record's hash (64 zeros for the first).
    pub prev: String,
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

/// A field too long to record, by its length in bytes and its SHA-256: enough to match it against
/// a value an investigator holds, at a fixed size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDigest {
    pub len: u64,
    pub sha256: String,
}

impl FieldDigest {
    pub fn of(bytes: &[u8]) -> Self {
        Self { len: bytes.len() as u64, sha256: hex(&Sha256::digest(bytes)) }
    }
}

/// Key names up to this many bytes are recorded as given; longer ones by their digest.
pub(super) const MAX_FIELD_BYTES: usize = 256;
/// Encryption contexts whose JSON is up to this many bytes are recorded as given.
pub(super) const MAX_CONTEXT_BYTES: usize = 1024;
/// No stored line is longer (the bounded fields, the daemon's own fields and the chain's).
pub const MAX_RECORD_BYTES: usize = 4096;

/// A key name as recorded: itself, or (too long) empty and its digest.
pub(super) fn bounded_key(key: &str) -> (String, Option<FieldDigest>) {
    if key.len() <= MAX_FIELD_BYTES {
        (key.to_owned(), None)
    } else {
        (String::new(), Some(FieldDigest::of(key.as_bytes())))
    }
}

/// An encryption context as recorded: itself, or (too long) empty and the digest of its JSON.
pub(super) fn bounded_context(
    context: BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Option<FieldDigest>) {
    let json = serde_json::to_vec(&context).unwrap_or_default();
    if json.len() <= MAX_CONTEXT_BYTES {
        (context, None)
    } else {
        (BTreeMap::new(), Some(FieldDigest::of(&json)))
    }
}

/// A record as stored: one JSON line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Stored {
    #[serde(flatten)]
    pub body: Body,
    pub hash: String,
    /// Empty when written while sealed (no audit key yet).
    pub mac: String,
}

pub(super) const GENESIS: [u8; 32] = [0; 32];

pub(super) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            text.push(char::from(DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0')));
        }
    }
    text
}

pub(super) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

pub(super) fn chain_hash(previous: &[u8], body: &Body) -> [u8; 32] {
    chain_hash_of_json(previous, &serde_json::to_vec(body).unwrap_or_default())
}

/// The chain hash over a body already serialised (`serde_json::to_vec(body)`).
pub(super) fn chain_hash_of_json(previous: &[u8], body_json: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(body_json);
    hasher.finalize().into()
}

/// The stored line of a record from its serialised body: the body's fields, then `hash` and
/// `mac`, exactly as serialising [`Stored`] gives (the body is serialised once per record).
pub(super) fn stored_line(body_json: &[u8], hash: &str, mac: &str) -> Option<Vec<u8>> {
    let (close, fields) = body_json.split_last()?;
    if *close != b'}' {
        return None;
    }
    let mut line = Vec::with_capacity(body_json.len() + hash.len() + mac.len() + 24);
    line.extend_from_slice(fields);
    line.extend_from_slice(b",\"hash\":\"");
    line.extend_from_slice(hash.as_bytes());
    line.extend_from_slice(b"\",\"mac\":\"");
    line.extend_from_slice(mac.as_bytes());
    line.extend_from_slice(b"\"}\n");
    Some(line)
}

pub(super) fn mac(key: &[u8], hash: &[u8]) -> Option<Vec<u8>> {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(hash);
    Some(mac.finalize().into_bytes().to_vec())
}

#[cfg(test)]
mod line_tests {
    use super::*;

    #[test]
    fn a_line_built_from_the_serialised_body_equals_the_serialised_record() {
        let body = Body {
            seq: 7,
            time_ms: 1_700_000_000_000,
            request_id: "r\"1".into(),
            principal: "uid:0".into(),
            source: "pkcs11/unix".into(),
            operation: "C_Sign".into(),
            key: "k".into(),
            key_digest: None,
            key_version: Some(2),
            encryption_context: [("a".to_string(), "b".to_string())].into_iter().collect(),
            encryption_context_digest: Some(FieldDigest::of(b"{}")),
            request_metadata: BTreeMap::new(),
            request_metadata_digest: None,
            outcome: "PERMISSION_DENIED".into(),
            error_code: "CKR_PIN_INCORRECT".into(),
            unrecorded_throttled: 0,
            prev: hex(&GENESIS),
        };
        let json = serde_json::to_vec(&body).unwrap();
        let hash = hex(&chain_hash_of_json(&GENESIS, &json));
        assert_eq!(chain_hash_of_json(&GENESIS, &json), chain_hash(&GENESIS, &body));
        let mut expected =
            serde_json::to_vec(&Stored { body, hash: hash.clone(), mac: "ab".into() }).unwrap();
        expected.push(b'\n');
        assert_eq!(stored_line(&json, &hash, "ab").unwrap(), expected);
        assert_eq!(hex(&[0x00, 0x9f, 0xff]), "009fff");
    }
}

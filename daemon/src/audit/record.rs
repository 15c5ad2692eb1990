//! One audit record and its place in the chain.
//!
//! `hash = SHA-256(previous hash || body)`, where `body` is the record's JSON without `hash` and
//! `mac`; `mac = HMAC-SHA-256(audit key, hash)` once the daemon is unsealed (the key derives from
//! the master key). Each MAC therefore vouches for every record before it.

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
    pub operation: String,
    /// The key as the caller named it (id or alias); empty when the call names none.
    pub key: String,
    pub encryption_context: BTreeMap<String, String>,
    /// `OK` or the gRPC code name.
    pub outcome: String,
    /// Hex of the previous record's hash (64 zeros for the first).
    pub prev: String,
}

/// A record as stored: one JSON line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    #[serde(flatten)]
    pub body: Body,
    pub hash: String,
    /// Empty when written while sealed (no audit key yet).
    pub mac: String,
}

pub const GENESIS: [u8; 32] = [0; 32];

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

pub fn chain_hash(previous: &[u8], body: &Body) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(serde_json::to_vec(body).unwrap_or_default());
    hasher.finalize().into()
}

pub fn mac(key: &[u8], hash: &[u8]) -> Option<Vec<u8>> {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(hash);
    Some(mac.finalize().into_bytes().to_vec())
}

//! Per-caller request quotas: a token bucket per principal and class of operation, refilled at the
//! configured rate with one second of burst. An empty bucket answers RESOURCE_EXHAUSTED
//! "throttled" (and the audit log records it, like every call).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Requests per second per caller; 0 turns a quota off.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotaConfig {
    /// Encrypt, Decrypt, ReEncrypt, GenerateDataKey*, GenerateRandom, Sign, Verify, MACs.
    pub crypto_requests_per_second: u32,
    /// GenerateDataKeyPair* (each generates a key pair).
    pub key_pair_requests_per_second: u32,
}

impl Default for QuotaConfig {
    /// Above what one host serves (see docs/benchmarks.md), so only a runaway caller meets them.
    fn default() -> Self {
        Self { crypto_requests_per_second: 50_000, key_pair_requests_per_second: 100 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Crypto,
    KeyPair,
}

const CRYPTO_OPERATIONS: &[&str] = &[
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "Sign",
    "Verify",
    "GenerateMac",
    "VerifyMac",
    // PKCS#11: each call that processes data (C_*Init only prepares).
    "C_Encrypt",
    "C_EncryptUpdate",
    "C_EncryptFinal",
    "C_Decrypt",
    "C_DecryptUpdate",
    "C_DecryptFinal",
    "C_Sign",
    "C_SignUpdate",
    "C_SignFinal",
    "C_Verify",
    "C_VerifyUpdate",
    "C_VerifyFinal",
    "C_WrapKey",
    "C_UnwrapKey",
    "C_DeriveKey",
    "C_GenerateRandom",
];

fn class_of(operation: &str) -> Option<Class> {
    if CRYPTO_OPERATIONS.contains(&operation) {
        Some(Class::Crypto)
    } else if operation.starts_with("GenerateDataKeyPair") || operation == "C_GenerateKeyPair" {
        Some(Class::KeyPair)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

#[derive(Debug)]
pub struct Quotas {
    config: QuotaConfig,
    /// principal -> [crypto bucket, key pair bucket]
    buckets: Mutex<HashMap<String, [Bucket; 2]>>,
}

impl Quotas {
    pub fn new(config: QuotaConfig) -> Self {
        Self { config, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `operation` from `principal`'s bucket, or refuses.
    pub fn admit(&self, principal: &str, operation: &str) -> Result<()> {
        let Some(class) = class_of(operation) else { return Ok(()) };
        let (rate, index) = match class {
            Class::Crypto => (self.config.crypto_requests_per_second, 0),
            Class::KeyPair => (self.config.key_pair_requests_per_second, 1),
        };
        if rate == 0 {
            return Ok(());
        }
        let rate = f64::from(rate);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().map_err(|_| Error::Storage("quota lock poisoned".into()))?;
        if !buckets.contains_key(principal) {
            let full = Bucket { tokens: f64::MAX, refilled: now };
            buckets.insert(principal.to_owned(), [full; 2]);
        }
        let bucket = buckets
            .get_mut(principal)
            .and_then(|b| b.get_mut(index))
            .ok_or_else(|| Error::Storage("quota bucket missing".into()))?;
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens.min(rate) + elapsed * rate).min(rate);
        bucket.refilled = now;
        if bucket.tokens < 1.0 {
            return Err(Error::Throttled(format!(
                "{principal} exceeded {rate} {operation}-class requests per second; retry with backoff"
            )));
        }
        bucket.tokens -= 1.0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_past_the_rate_is_throttled_per_caller_and_class() {
        let quotas =
            Quotas::new(QuotaConfig { crypto_requests_per_second: 5, key_pair_requests_per_second: 1 });
        for _ in 0..5 {
            quotas.admit("uid:1", "Encrypt").unwrap();
        }
        assert!(matches!(quotas.admit("uid:1", "Decrypt"), Err(Error::Throttled(_))));
        quotas.admit("uid:2", "Encrypt").unwrap();
        quotas.admit("uid:1", "GenerateDataKeyPair").unwrap();
        assert!(quotas.admit("uid:1", "GenerateDataKeyPairWithoutPlaintext").is_err());
        quotas.admit("uid:1", "CreateKey").unwrap();
        assert!(matches!(quotas.admit("uid:1", "C_Sign"), Err(Error::Throttled(_))));
        quotas.admit("uid:1", "C_SignInit").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(250));
        quotas.admit("uid:1", "Encrypt").unwrap();
    }

    #[test]
    fn zero_turns_a_quota_off() {
        let quotas =
            Quotas::new(QuotaConfig { crypto_requests_per_second: 0, key_pair_requests_per_second: 0 });
        for _ in 0..1000 {
            quotas.admit("uid:1", "Encrypt").unwrap();
        }
    }
}

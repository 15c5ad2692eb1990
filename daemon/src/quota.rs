//! Per-caller request quotas: a token bucket per principal and class of operation, refilled at the
//! configured rate with one second of burst. An empty bucket answers RESOURCE_EXHAUSTED
//! "throttled".
//!
//! Refused calls (denied, not found, invalid) also draw on a bucket of their own, whatever the
//! operation: a caller who may use nothing cannot make the daemon work and audit without bound,
//! since once that bucket is empty every call of theirs is throttled until it refills.
//!
//! Throttled calls are recorded at most `throttled_records_per_second` times a second per caller,
//! each record counting the throttled calls left out before it (`unrecorded_throttled`): a flood
//! that is refused at the quota costs the audit log a bounded number of bytes a second, not a
//! record per call.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::operation::{Operation, QuotaClass};

/// Requests per second per caller; 0 turns a quota off.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotaConfig {
    /// Encrypt, Decrypt, ReEncrypt, GenerateDataKey*, GenerateRandom, Sign, Verify, MACs.
    pub crypto_requests_per_second: u32,
    /// GenerateDataKeyPair* (each generates a key pair).
    pub key_pair_requests_per_second: u32,
    /// Refused calls of any operation (permission denied, not found, invalid argument, …).
    pub refused_requests_per_second: u32,
    /// Audit records of throttled calls per caller; the others are counted in the next one.
    /// 0 records every throttled call.
    pub throttled_records_per_second: u32,
}

impl Default for QuotaConfig {
    /// Above what one host serves (see docs/benchmarks.md), so only a runaway caller meets them.
    fn default() -> Self {
        Self {
            crypto_requests_per_second: 50_000,
            key_pair_requests_per_second: 100,
            refused_requests_per_second: 100,
            throttled_records_per_second: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Crypto,
    KeyPair,
    Refused,
}

impl Class {
    /// The bucket's place in a caller's array.
    fn index(self) -> usize {
        match self {
            Self::Crypto => 0,
            Self::KeyPair => 1,
            Self::Refused => 2,
        }
    }

    fn rate(self, config: &QuotaConfig) -> u32 {
        match self {
            Self::Crypto => config.crypto_requests_per_second,
            Self::KeyPair => config.key_pair_requests_per_second,
            Self::Refused => config.refused_requests_per_second,
        }
    }
}

/// The bucket an operation draws on, if any (the operation table says which).
fn class_of(operation: Operation) -> Option<Class> {
    match operation.quota_class() {
        QuotaClass::Crypto => Some(Class::Crypto),
        QuotaClass::KeyPair => Some(Class::KeyPair),
        QuotaClass::Unmetered => None,
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    /// Adds what the time since the last refill earned, up to one second's worth.
    fn refill(&mut self, rate: f64, now: Instant) {
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens.min(rate) + elapsed * rate).min(rate);
        self.refilled = now;
    }
}

#[derive(Debug)]
pub struct Quotas {
    config: QuotaConfig,
    /// principal -> a bucket per class, in [`Class::index`] order
    buckets: Mutex<HashMap<String, [Bucket; 3]>>,
    /// principal -> its throttled-record bucket and the throttled calls not recorded since the last
    throttled_records: Mutex<HashMap<String, (Bucket, u64)>>,
}

/// Whether a throttled call gets its own audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottledRecord {
    /// Record it, with this many throttled calls of the caller left unrecorded before it.
    Write { unrecorded_before: u64 },
    /// Leave it out; the caller's next throttled record counts it.
    Skip,
}

impl Quotas {
    pub fn new(config: QuotaConfig) -> Self {
        Self { config, buckets: Mutex::new(HashMap::new()), throttled_records: Mutex::new(HashMap::new()) }
    }

    /// Refuses a caller whose refusals emptied their bucket; otherwise takes one token for
    /// `operation` from the caller's bucket of its class, or refuses.
    pub fn admit(&self, principal: &str, operation: Operation) -> Result<()> {
        if !self.with_bucket(principal, Class::Refused, |bucket| bucket.tokens >= 1.0)? {
            return Err(Error::Throttled(format!(
                "{principal} exceeded {} refused requests per second; retry with backoff",
                self.config.refused_requests_per_second
            )));
        }
        let Some(class) = class_of(operation) else { return Ok(()) };
        if self.with_bucket(principal, class, |bucket| {
            let taken = bucket.tokens >= 1.0;
            if taken {
                bucket.tokens -= 1.0;
            }
            taken
        })? {
            return Ok(());
        }
        Err(Error::Throttled(format!(
            "{principal} exceeded {} {operation}-class requests per second; retry with backoff",
            class.rate(&self.config)
        )))
    }

    /// Counts a refused call against the caller (after it was answered).
    pub fn charge_refusal(&self, principal: &str) -> Result<()> {
        self.with_bucket(principal, Class::Refused, |bucket| bucket.tokens = (bucket.tokens - 1.0).max(0.0))
    }

    /// Decides whether the caller's throttled call is recorded: at most
    /// `throttled_records_per_second` a second (with one second of burst), the rest counted.
    pub fn throttled_record(&self, principal: &str) -> Result<ThrottledRecord> {
        let rate = self.config.throttled_records_per_second;
        if rate == 0 {
            return Ok(ThrottledRecord::Write { unrecorded_before: 0 });
        }
        let now = Instant::now();
        let mut records =
            self.throttled_records.lock().map_err(|_| Error::Storage("quota lock poisoned".into()))?;
        let (bucket, unrecorded) = records
            .entry(principal.to_owned())
            .or_insert_with(|| (Bucket { tokens: f64::MAX, refilled: now }, 0));
        bucket.refill(f64::from(rate), now);
        if bucket.tokens < 1.0 {
            *unrecorded += 1;
            return Ok(ThrottledRecord::Skip);
        }
        bucket.tokens -= 1.0;
        Ok(ThrottledRecord::Write { unrecorded_before: std::mem::take(unrecorded) })
    }

    /// Runs `work` on the caller's refilled bucket of `class`; a class whose rate is 0 is off
    /// (its bucket always holds a token).
    fn with_bucket<T>(
        &self,
        principal: &str,
        class: Class,
        work: impl FnOnce(&mut Bucket) -> T,
    ) -> Result<T> {
        let now = Instant::now();
        let rate = class.rate(&self.config);
        if rate == 0 {
            return Ok(work(&mut Bucket { tokens: f64::MAX, refilled: now }));
        }
        let mut buckets = self.buckets.lock().map_err(|_| Error::Storage("quota lock poisoned".into()))?;
        let buckets = buckets
            .entry(principal.to_owned())
            .or_insert_with(|| [Bucket { tokens: f64::MAX, refilled: now }; 3]);
        let bucket =
            buckets.get_mut(class.index()).ok_or_else(|| Error::Storage("quota bucket missing".into()))?;
        bucket.refill(f64::from(rate), now);
        Ok(work(bucket))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_calls_are_recorded_once_a_second_and_the_rest_counted() {
        let quotas = Quotas::new(QuotaConfig { throttled_records_per_second: 1, ..QuotaConfig::default() });
        assert_eq!(
            quotas.throttled_record("uid:7").unwrap(),
            ThrottledRecord::Write { unrecorded_before: 0 }
        );
        for _ in 0..500 {
            assert_eq!(quotas.throttled_record("uid:7").unwrap(), ThrottledRecord::Skip);
        }
        // Another caller has a bucket of its own.
        assert_eq!(
            quotas.throttled_record("uid:8").unwrap(),
            ThrottledRecord::Write { unrecorded_before: 0 }
        );
        std::thread::sleep(std::time::Duration::from_millis(1_050));
        assert_eq!(
            quotas.throttled_record("uid:7").unwrap(),
            ThrottledRecord::Write { unrecorded_before: 500 }
        );
        assert_eq!(quotas.throttled_record("uid:7").unwrap(), ThrottledRecord::Skip);
    }

    #[test]
    fn zero_records_every_throttled_call() {
        let quotas = Quotas::new(QuotaConfig { throttled_records_per_second: 0, ..QuotaConfig::default() });
        for _ in 0..10 {
            assert_eq!(
                quotas.throttled_record("uid:7").unwrap(),
                ThrottledRecord::Write { unrecorded_before: 0 }
            );
        }
    }

    #[test]
    fn a_burst_past_the_rate_is_throttled_per_caller_and_class() {
        let quotas = Quotas::new(QuotaConfig {
            crypto_requests_per_second: 5,
            key_pair_requests_per_second: 1,
            ..Default::default()
        });
        for _ in 0..5 {
            quotas.admit("uid:1", Operation::Encrypt).unwrap();
        }
        assert!(matches!(quotas.admit("uid:1", Operation::Decrypt), Err(Error::Throttled(_))));
        quotas.admit("uid:2", Operation::Encrypt).unwrap();
        quotas.admit("uid:1", Operation::GenerateDataKeyPair).unwrap();
        assert!(quotas.admit("uid:1", Operation::GenerateDataKeyPairWithoutPlaintext).is_err());
        quotas.admit("uid:1", Operation::CreateKey).unwrap();
        assert!(matches!(quotas.admit("uid:1", Operation::TokenSign), Err(Error::Throttled(_))));
        quotas.admit("uid:1", Operation::SignInit).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(250));
        quotas.admit("uid:1", Operation::Encrypt).unwrap();
    }

    #[test]
    fn zero_turns_a_quota_off() {
        let quotas = Quotas::new(QuotaConfig {
            crypto_requests_per_second: 0,
            key_pair_requests_per_second: 0,
            refused_requests_per_second: 0,
            throttled_records_per_second: 0,
        });
        for _ in 0..1000 {
            quotas.admit("uid:1", Operation::Encrypt).unwrap();
            quotas.charge_refusal("uid:1").unwrap();
        }
    }

    #[test]
    fn refusals_empty_their_own_bucket_and_then_every_call_is_throttled() {
        let quotas = Quotas::new(QuotaConfig { refused_requests_per_second: 3, ..Default::default() });
        for _ in 0..3 {
            quotas.admit("uid:1", Operation::DescribeKey).unwrap();
            quotas.charge_refusal("uid:1").unwrap();
        }
        let Err(Error::Throttled(message)) = quotas.admit("uid:1", Operation::DescribeKey) else {
            panic!("admitted")
        };
        assert!(message.contains("3 refused requests per second"), "{message}");
        assert!(quotas.admit("uid:1", Operation::Encrypt).is_err(), "any operation of that caller");
        quotas.admit("uid:2", Operation::DescribeKey).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(400));
        quotas.admit("uid:1", Operation::DescribeKey).unwrap();
    }
}

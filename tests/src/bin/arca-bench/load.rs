//! The load: the keys and inputs the operations need, callers that repeat one operation until the
//! deadline, and their merged latencies.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use arca_proto::v1 as pb;
use arca_proto::v1::key_management_client::KeyManagementClient;
use pb::EncryptionAlgorithm::{RsaesOaepSha256, SymmetricDefault};
use tokio::task::JoinSet;
use tonic::transport::Channel;

use crate::BenchError;
use crate::ops::{Client, KeyKind, Op, bounded, encrypt_request, send};

/// Encrypt's plaintext, and the size of the blob Decrypt opens.
const PLAINTEXT_BYTES: usize = 1024;
/// The RSAES-OAEP plaintext (a data key's size; RSA-2048 with SHA-256 takes at most 190).
const OAEP_PLAINTEXT_BYTES: usize = 32;
/// Sign's RAW message.
const SIGNED_MESSAGE_BYTES: usize = 32;
/// GenerateMac's message.
const MAC_MESSAGE_BYTES: usize = 64;

/// The id of each kind of key the run uses.
#[derive(Debug, Default)]
pub struct Keys(BTreeMap<KeyKind, String>);

impl Keys {
    /// Creates one key of each kind that `ops` need, and no other.
    pub async fn create(client: &mut Client, ops: &[Op]) -> Result<Self, BenchError> {
        let mut keys = Self::default();
        for kind in ops.iter().map(|op| op.key_kind()) {
            if let Entry::Vacant(slot) = keys.0.entry(kind) {
                slot.insert(create_key(client, kind).await?);
            }
        }
        Ok(keys)
    }

    fn id(&self, kind: KeyKind) -> Result<&str, BenchError> {
        let missing = || BenchError::Setup(format!("no {} key was created", kind.spec().as_str_name()));
        self.0.get(&kind).map(String::as_str).ok_or_else(missing)
    }

    /// `AES_256/ENCRYPT_DECRYPT <id>, ECC_NIST_P256/SIGN_VERIFY <id>`, for the log.
    pub fn describe(&self) -> String {
        let mut text = String::new();
        for (kind, key_id) in &self.0 {
            let separator = if text.is_empty() { "" } else { ", " };
            let (spec, usage) = (kind.spec().as_str_name(), kind.usage().as_str_name());
            let _ = write!(text, "{separator}{spec}/{usage} {key_id}");
        }
        text
    }
}

async fn create_key(client: &mut Client, kind: KeyKind) -> Result<String, BenchError> {
    let request = pb::CreateKeyRequest {
        description: "arca-bench".to_owned(),
        key_spec: kind.spec().into(),
        key_usage: kind.usage().into(),
        ..Default::default()
    };
    let created = bounded("CreateKey", client.create_key(request)).await?;
    let key_id = created.key_metadata.map(|metadata| metadata.key_id).unwrap_or_default();
    if key_id.is_empty() {
        return Err(BenchError::Setup("CreateKey returned no key id".to_owned()));
    }
    Ok(key_id)
}

/// What every caller of one operation shares.
#[derive(Debug, Clone)]
pub struct Workload {
    pub op: Op,
    pub key_id: String,
    /// The plaintext, ciphertext or message the operation takes (empty when it takes none).
    pub input: Vec<u8>,
}

/// When the callers start measuring and when they stop.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub measure_from: Instant,
    pub end: Instant,
}

impl Workload {
    /// What the callers of `op` share: its key, and its input (made now when it is a ciphertext).
    pub async fn prepare(client: &mut Client, op: Op, keys: &Keys) -> Result<Self, BenchError> {
        let key_id = keys.id(op.key_kind())?.to_owned();
        let input = input(client, op, &key_id).await?;
        Ok(Self { op, key_id, input })
    }
}

async fn input(client: &mut Client, op: Op, key_id: &str) -> Result<Vec<u8>, BenchError> {
    match op {
        Op::Encrypt => Ok(pattern(PLAINTEXT_BYTES)),
        Op::Decrypt => encrypted(client, key_id, PLAINTEXT_BYTES, SymmetricDefault).await,
        Op::DecryptRsaOaep => encrypted(client, key_id, OAEP_PLAINTEXT_BYTES, RsaesOaepSha256).await,
        Op::SignEcdsaP256 | Op::SignRsa2048 => Ok(pattern(SIGNED_MESSAGE_BYTES)),
        Op::Hmac256 => Ok(pattern(MAC_MESSAGE_BYTES)),
        Op::GenerateDataKey | Op::KeypairEccP256 | Op::KeypairRsa2048 | Op::CreateKey => Ok(Vec::new()),
    }
}

/// The ciphertext of `len` pattern bytes, encrypted once by the daemon.
async fn encrypted(
    client: &mut Client,
    key_id: &str,
    len: usize,
    algorithm: pb::EncryptionAlgorithm,
) -> Result<Vec<u8>, BenchError> {
    let request = encrypt_request(key_id.to_owned(), pattern(len), algorithm);
    Ok(bounded("Encrypt", client.encrypt(request)).await?.ciphertext_blob)
}

/// `len` bytes of a fixed, non-constant pattern.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

impl Window {
    pub fn after(warmup: Duration, duration: Duration) -> Self {
        let measure_from = Instant::now() + warmup;
        Self { measure_from, end: measure_from + duration }
    }

    /// Whether a call that finished at `finished` counts: completions within the window, so that
    /// slow calls (RSA key generation) straddling its start or end do not bias the rate.
    pub fn counts(&self, finished: Instant) -> bool {
        finished >= self.measure_from && finished <= self.end
    }
}

/// One caller: calls until the window ends, keeping the latency of each call that completes
/// within it.
async fn caller(workload: Workload, mut client: Client, window: Window) -> Result<Vec<Duration>, BenchError> {
    let mut latencies = Vec::new();
    loop {
        let started = Instant::now();
        if started >= window.end {
            return Ok(latencies);
        }
        send(&mut client, workload.op, &workload.key_id, &workload.input).await?;
        let finished = Instant::now();
        if window.counts(finished) {
            latencies.push(finished.duration_since(started));
        }
    }
}

/// Runs `clients` callers spread round-robin over the channels; the first failure stops them all.
/// Returns the latencies, sorted.
pub async fn measure(
    workload: &Workload,
    channels: &[Channel],
    clients: usize,
    window: Window,
) -> Result<Vec<Duration>, BenchError> {
    let mut callers = JoinSet::new();
    for channel in channels.iter().cycle().take(clients) {
        let client = KeyManagementClient::new(channel.clone());
        callers.spawn(caller(workload.clone(), client, window));
    }
    gather(callers).await
}

/// Every caller's latencies, sorted; the first caller's error stops the others.
pub async fn gather(
    mut callers: JoinSet<Result<Vec<Duration>, BenchError>>,
) -> Result<Vec<Duration>, BenchError> {
    let mut all = Vec::new();
    while let Some(joined) = callers.join_next().await {
        match joined.map_err(BenchError::from).and_then(|outcome| outcome) {
            Ok(latencies) => all.extend(latencies),
            Err(error) => {
                callers.abort_all();
                return Err(error);
            }
        }
    }
    all.sort_unstable();
    Ok(all)
}

/// The nearest-rank percentile of sorted latencies (zero when there are none).
pub fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 50), Duration::from_millis(50));
        assert_eq!(percentile(&sorted, 99), Duration::from_millis(99));
        assert_eq!(percentile(&sorted[..1], 99), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50), Duration::ZERO);
    }

    #[test]
    fn calls_count_when_they_finish_within_the_window() {
        let window = Window::after(Duration::from_secs(1), Duration::from_secs(10));
        assert!(window.counts(window.measure_from));
        assert!(window.counts(window.end));
        assert!(!window.counts(window.measure_from - Duration::from_millis(1)));
        assert!(!window.counts(window.end + Duration::from_millis(1)));
    }

    #[test]
    fn ids_are_described_in_kind_order() {
        let mut keys = Keys::default();
        keys.0.insert(KeyKind::Hmac256, "h".to_owned());
        keys.0.insert(KeyKind::Aes256, "a".to_owned());
        assert_eq!(keys.describe(), "AES_256/ENCRYPT_DECRYPT a, HMAC_256/GENERATE_VERIFY_MAC h");
        assert!(keys.id(KeyKind::Rsa2048Signing).is_err());
    }
}

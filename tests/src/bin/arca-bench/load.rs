//! The load: callers that repeat one operation until the deadline, and their merged latencies.

use std::future::Future;
use std::time::{Duration, Instant};

use arca_proto::v1 as pb;
use arca_proto::v1::key_management_client::KeyManagementClient;
use tokio::task::JoinSet;
use tonic::transport::Channel;

use crate::{BenchError, Op};

/// Longest any single call may take before the run is abandoned.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// What every caller of one operation shares.
#[derive(Debug, Clone)]
pub struct Workload {
    pub op: Op,
    pub key_id: String,
    /// Encrypt's plaintext.
    pub plaintext: Vec<u8>,
    /// Decrypt's ciphertext blob.
    pub blob: Vec<u8>,
}

/// When the callers start measuring and when they stop.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub measure_from: Instant,
    pub end: Instant,
}

impl Window {
    pub fn after(warmup: Duration, duration: Duration) -> Self {
        let measure_from = Instant::now() + warmup;
        Self { measure_from, end: measure_from + duration }
    }
}

impl Workload {
    async fn call(&self, client: &mut KeyManagementClient<Channel>) -> Result<(), BenchError> {
        let op = self.op.rpc_name();
        let key_id = &self.key_id;
        match self.op {
            Op::Encrypt => {
                let request = encrypt_request(key_id, self.plaintext.clone());
                bounded(op, client.encrypt(request)).await.map(drop)
            }
            Op::Decrypt => {
                let request = decrypt_request(key_id, self.blob.clone());
                bounded(op, client.decrypt(request)).await.map(drop)
            }
            Op::GenerateDataKey => {
                bounded(op, client.generate_data_key(data_key_request(key_id))).await.map(drop)
            }
        }
    }
}

/// Awaits one call for at most CALL_TIMEOUT.
pub async fn bounded<T>(
    op: &'static str,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, BenchError> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(outcome) => {
            outcome.map(tonic::Response::into_inner).map_err(|status| BenchError::Call { op, status })
        }
        Err(_) => Err(BenchError::Timeout(op)),
    }
}

pub fn encrypt_request(key_id: &str, plaintext: Vec<u8>) -> pb::EncryptRequest {
    pb::EncryptRequest { key_id: key_id.to_owned(), plaintext, ..Default::default() }
}

fn decrypt_request(key_id: &str, ciphertext_blob: Vec<u8>) -> pb::DecryptRequest {
    pb::DecryptRequest { ciphertext_blob, key_id: key_id.to_owned(), ..Default::default() }
}

fn data_key_request(key_id: &str) -> pb::GenerateDataKeyRequest {
    pb::GenerateDataKeyRequest {
        key_id: key_id.to_owned(),
        key_spec: pb::DataKeySpec::Aes256.into(),
        ..Default::default()
    }
}

/// One caller: calls until the window ends, keeping the latency of each call that starts after
/// the warmup and completes before the end.
async fn caller(
    workload: Workload,
    mut client: KeyManagementClient<Channel>,
    window: Window,
) -> Result<Vec<Duration>, BenchError> {
    let mut latencies = Vec::new();
    loop {
        let started = Instant::now();
        if started >= window.end {
            return Ok(latencies);
        }
        workload.call(&mut client).await?;
        let finished = Instant::now();
        if started >= window.measure_from && finished <= window.end {
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
}

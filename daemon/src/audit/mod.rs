//! The tamper-evident audit log: one JSON line per call, from any front end, hash-chained and
//! authenticated (see `record.rs`). Appends go straight to the file; state changes are synced
//! before the caller hears back. If a record cannot be written the call fails closed.

mod record;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use record::Body;
use record::{GENESIS, Stored, chain_hash, chain_hash_of_json, hex, mac, stored_line, unhex};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};
use crate::secure_mem::SecretBuf;

/// One call, as the request layer reports it.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub request_id: &'a str,
    pub principal: &'a str,
    pub operation: &'a str,
    pub key: &'a str,
    pub encryption_context: BTreeMap<String, String>,
    pub outcome: &'a str,
    /// Whether the call changed state (synced before it is acknowledged).
    pub durable: bool,
}

/// The result of a verification pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub records: u64,
    /// Records whose MAC was checked (those written while unsealed).
    pub authenticated: u64,
    /// The first record that breaks the chain, and why.
    pub first_bad: Option<(u64, String)>,
}

struct Tail {
    file: File,
    next_seq: u64,
    last_hash: [u8; 32],
}

pub struct AuditLog {
    path: PathBuf,
    tail: Mutex<Tail>,
    mac_key: Mutex<Option<SecretBuf>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").field("path", &self.path).finish_non_exhaustive()
    }
}

fn audit_error(action: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::Storage(format!("audit log: {action}: {e}"))
}

impl AuditLog {
    /// Opens (or creates) the log and finds where the chain ends. A torn last line left by a crash
    /// is cut off; the chain continues from the last complete record.
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(audit_error("open"))?;
        let (mut next_seq, mut last_hash, mut complete_len) = (0, GENESIS, 0u64);
        let mut reader = BufReader::new(&mut file);
        let mut line = String::new();
        loop {
            line.clear();
            let read = reader.read_line(&mut line).map_err(audit_error("read"))?;
            if read == 0 || !line.ends_with('\n') {
                break;
            }
            let stored: Stored = serde_json::from_str(&line)
                .map_err(|e| Error::Integrity(format!("audit log record {next_seq} is unreadable: {e}")))?;
            next_seq = stored.body.seq + 1;
            last_hash = unhex(&stored.hash).and_then(|h| h.try_into().ok()).ok_or_else(|| {
                Error::Integrity(format!("audit log record {} has a bad hash", stored.body.seq))
            })?;
            complete_len += read as u64;
        }
        drop(reader);
        if file.metadata().map_err(audit_error("stat"))?.len() != complete_len {
            tracing::warn!("audit log: cutting a torn last record left by a crash");
            file.set_len(complete_len).map_err(audit_error("truncate"))?;
            file.seek(SeekFrom::End(0)).map_err(audit_error("seek"))?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            tail: Mutex::new(Tail { file, next_seq, last_hash }),
            mac_key: Mutex::new(None),
        })
    }

    /// Records are authenticated from now on (called when the store is unsealed).
    pub fn set_mac_key(&self, key: SecretBuf) {
        if let Ok(mut slot) = self.mac_key.lock() {
            *slot = Some(key);
        }
    }

    /// Appends one record; returns only once it is written (and synced if `durable`).
    pub fn append(&self, event: Event<'_>) -> Result<()> {
        let mut tail = self.tail.lock().map_err(|_| Error::Storage("audit log lock poisoned".into()))?;
        let body = Body {
            seq: tail.next_seq,
            time_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            request_id: event.request_id.to_owned(),
            principal: event.principal.to_owned(),
            operation: event.operation.to_owned(),
            key: event.key.to_owned(),
            encryption_context: event.encryption_context,
            outcome: event.outcome.to_owned(),
            prev: hex(&tail.last_hash),
        };
        let body_json =
            serde_json::to_vec(&body).map_err(|e| Error::Storage(format!("audit log: encode: {e}")))?;
        let hash = chain_hash_of_json(&tail.last_hash, &body_json);
        let mac = match &*self.mac_key.lock().map_err(|_| Error::Storage("audit key lock poisoned".into()))? {
            Some(key) => mac(key.as_slice(), &hash).map(|m| hex(&m)).unwrap_or_default(),
            None => String::new(),
        };
        let line = stored_line(&body_json, &hex(&hash), &mac)
            .ok_or_else(|| Error::Storage("audit log: a record body is not a JSON object".into()))?;
        tail.file.write_all(&line).map_err(audit_error("write"))?;
        if event.durable {
            tail.file.sync_data().map_err(audit_error("sync"))?;
        }
        tail.next_seq += 1;
        tail.last_hash = hash;
        Ok(())
    }

    /// Syncs everything written so far (at shutdown).
    pub fn sync(&self) -> Result<()> {
        let tail = self.tail.lock().map_err(|_| Error::Storage("audit log lock poisoned".into()))?;
        tail.file.sync_data().map_err(audit_error("sync"))
    }

    /// Checks the whole chain and, where present, every MAC; names the first bad record.
    pub fn verify(&self) -> Result<Verification> {
        let file = File::open(&self.path).map_err(audit_error("open"))?;
        let key = self.mac_key.lock().map_err(|_| Error::Storage("audit key lock poisoned".into()))?;
        let mut outcome = Verification { records: 0, authenticated: 0, first_bad: None };
        let mut previous = GENESIS;
        for (index, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(audit_error("read"))?;
            let expected_seq = index as u64;
            match check(&line, expected_seq, &previous, key.as_ref()) {
                Ok((hash, authenticated)) => {
                    previous = hash;
                    outcome.records += 1;
                    outcome.authenticated += u64::from(authenticated);
                }
                Err(reason) => {
                    outcome.first_bad = Some((expected_seq, reason));
                    break;
                }
            }
        }
        Ok(outcome)
    }

    /// The last `limit` records, optionally only those naming a key or principal.
    pub fn tail(&self, limit: usize, key: &str, principal: &str) -> Result<Vec<String>> {
        let file = File::open(&self.path).map_err(audit_error("open"))?;
        let mut matching = std::collections::VecDeque::new();
        for line in BufReader::new(file).lines() {
            let line = line.map_err(audit_error("read"))?;
            let Ok(stored) = serde_json::from_str::<Stored>(&line) else { continue };
            if (key.is_empty() || stored.body.key == key)
                && (principal.is_empty() || stored.body.principal == principal)
            {
                matching.push_back(line);
                if matching.len() > limit {
                    matching.pop_front();
                }
            }
        }
        Ok(matching.into())
    }
}

/// Checks one line against the chain; returns its hash and whether its MAC was verified.
fn check(
    line: &str,
    seq: u64,
    previous: &[u8; 32],
    key: Option<&SecretBuf>,
) -> Result<([u8; 32], bool), String> {
    let stored: Stored = serde_json::from_str(line).map_err(|e| format!("unreadable: {e}"))?;
    if stored.body.seq != seq {
        return Err(format!(
            "sequence {} where {seq} was expected (a record was removed or inserted)",
            stored.body.seq
        ));
    }
    if stored.body.prev != hex(previous) {
        return Err("does not follow the previous record (reordered, removed or inserted)".into());
    }
    let hash = chain_hash(previous, &stored.body);
    if stored.hash != hex(&hash) {
        return Err("its content was changed".into());
    }
    if stored.mac.is_empty() {
        return Ok((hash, false));
    }
    let key = key.ok_or("authenticated, but the daemon is sealed and cannot check it")?;
    let expected = mac(key.as_slice(), &hash).ok_or("MAC key unusable")?;
    let given = unhex(&stored.mac).ok_or("malformed MAC")?;
    if bool::from(expected.as_slice().ct_eq(&given)) {
        Ok((hash, true))
    } else {
        Err("its MAC does not match".into())
    }
}

#[cfg(test)]
mod tests;

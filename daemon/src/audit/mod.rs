//! The tamper-evident audit log: one JSON line per call, from any front end, hash-chained and
//! authenticated (see `record.rs`). Appends go straight to the file; state changes are synced
//! before the caller hears back. If a record cannot be written the call fails closed.
//!
//! The log rotates (past a size, or on demand): the current file is synced and renamed
//! `audit.log.<first-seq>-<last-seq>` and a new `audit.log` goes on with the next sequence number,
//! its first record chaining to the renamed file's last. A crash at any instant leaves either the
//! old file, or the renamed one and no (or an empty) new one: `open` then continues the chain from
//! the newest rotated file.
//!
//! A write that fails (a full disk) is rolled back to the end of the last complete record, so the
//! file never holds a torn record the next one would be glued to, and appends resume by themselves
//! once space returns. The chain's head is anchored in the store (`anchor.rs`) so that records
//! cut from the end of the log are seen.

mod anchor;
mod reading;
mod record;
mod segments;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use anchor::Anchor;
pub use anchor::{AnchorStore, Head};
pub use reading::{BadRecord, Filter, Verification};
pub use record::{Body, MAX_RECORD_BYTES};
use record::{
    GENESIS, Stored, bounded_context, bounded_key, chain_hash_of_json, hex, mac, stored_line, unhex,
};
use segments::{audit_error, open_current, rotated_name, split, sync_dir};

use crate::error::{Error, Result};
use crate::secure_mem::SecretBuf;

/// One call, as the request layer reports it.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub request_id: &'a str,
    pub principal: &'a str,
    /// The face and the transport: `grpc/unix`, `grpc/tls`, `pkcs11/unix`, `pkcs11/tls`.
    pub source: &'a str,
    pub operation: &'a str,
    pub key: &'a str,
    pub key_version: Option<u32>,
    pub encryption_context: BTreeMap<String, String>,
    /// The caller's own account of the request (XKS `requestMetadata`); empty for other calls.
    pub request_metadata: BTreeMap<String, String>,
    pub outcome: &'a str,
    /// The precise error on failure (a CK_RV name, or the daemon's error kind); empty on success.
    pub error_code: &'a str,
    /// For a throttled call: the caller's throttled calls left unrecorded since its previous
    /// throttled record (see `quota`); 0 otherwise.
    pub unrecorded_throttled: u64,
    /// Whether the call changed state (synced before it is acknowledged).
    pub durable: bool,
}

/// A file set aside by a rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub file: String,
    pub first_seq: u64,
    pub last_seq: u64,
}

struct Tail {
    /// `None` after a rotation that renamed the file but could not open the next one, or after a
    /// failed write that could not be rolled back: the next append opens it (or fails, closed).
    file: Option<File>,
    /// The end of the last complete record: what the file is cut back to after a failed write.
    len: u64,
    /// The sequence number of the current file's first record, if it has one.
    first_seq: Option<u64>,
    next_seq: u64,
    last_hash: [u8; 32],
}

impl Tail {
    /// The current file, opened again if needed: anything past the last complete record (what a
    /// failed write left) is cut off first.
    fn file(&mut self, path: &Path) -> Result<&mut File> {
        if self.file.is_none() {
            let file = open_current(path)?;
            let on_disk = file.metadata().map_err(audit_error("stat"))?.len();
            if on_disk < self.len {
                return Err(Error::Integrity(format!(
                    "audit log: the file shrank to {on_disk} bytes under the daemon (it held {})",
                    self.len
                )));
            }
            if on_disk > self.len {
                file.set_len(self.len).map_err(audit_error("cut a failed write"))?;
            }
            self.file = Some(file);
        }
        self.file.as_mut().ok_or_else(|| Error::Storage("audit log: no current file".into()))
    }

    /// Writes one record (synced if `durable`); on failure cuts the file back to the end of the
    /// last complete record, or, if even that fails, drops it so the next append cuts it.
    fn write(&mut self, path: &Path, line: &[u8], durable: bool) -> Result<()> {
        let complete_len = self.len;
        let file = self.file(path)?;
        let written = file.write_all(line).and_then(|()| if durable { file.sync_data() } else { Ok(()) });
        let Err(error) = written else { return Ok(()) };
        if let Err(cut) = file.set_len(complete_len) {
            tracing::error!(error = %cut, "audit log: cannot cut a failed write yet; retrying at the next");
            self.file = None;
        }
        Err(audit_error(if durable { "write and sync" } else { "write" })(error))
    }

    fn head(&self) -> Option<Head> {
        self.next_seq.checked_sub(1).map(|seq| Head { seq, hash: hex(&self.last_hash) })
    }
}

pub struct AuditLog {
    path: PathBuf,
    /// Rotate once the current file reaches this size; 0 never.
    max_bytes: u64,
    tail: Mutex<Tail>,
    mac_key: Mutex<Option<SecretBuf>>,
    /// Set once the store is open; locked after `tail` when both are held.
    anchor: Mutex<Option<Anchor>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").field("path", &self.path).finish_non_exhaustive()
    }
}

/// The chain's end as the current file holds it: (first seq, next seq, last hash, complete length).
type Scanned = (Option<u64>, u64, [u8; 32], u64);

fn scan(file: &mut File) -> Result<Scanned> {
    let (mut first_seq, mut next_seq, mut last_hash, mut complete_len) = (None, 0, GENESIS, 0u64);
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(audit_error("read"))?;
        if read == 0 || !line.ends_with('\n') {
            break;
        }
        let stored: Stored = serde_json::from_str(&line)
            .map_err(|e| Error::Integrity(format!("audit log record {next_seq} is unreadable: {e}")))?;
        // Records lost inside the file (the file's first one chains to the rotated file before).
        if first_seq.is_some() && (stored.body.seq != next_seq || stored.body.prev != hex(&last_hash)) {
            return Err(Error::Integrity(format!(
                "audit log record {} does not follow record {} (records are missing or out of order)",
                stored.body.seq,
                next_seq.saturating_sub(1)
            )));
        }
        first_seq.get_or_insert(stored.body.seq);
        next_seq = seq_after(&stored)?;
        last_hash = hash_of(&stored)?;
        complete_len += read as u64;
    }
    Ok((first_seq, next_seq, last_hash, complete_len))
}

/// The sequence number of the record after `stored`; a (forged) last sequence number leaves none.
fn seq_after(stored: &Stored) -> Result<u64> {
    stored.body.seq.checked_add(1).ok_or_else(|| {
        Error::Integrity(format!("audit log record {} has the last sequence number", stored.body.seq))
    })
}

fn hash_of(stored: &Stored) -> Result<[u8; 32]> {
    unhex(&stored.hash)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| Error::Integrity(format!("audit log record {} has a bad hash", stored.body.seq)))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl AuditLog {
    /// Opens (or creates) the log and finds where the chain ends. A torn last line left by a crash
    /// is cut off; the chain continues from the last complete record, in the newest rotated file
    /// when the current one holds none (a crash during rotation, or right after it).
    pub fn open(path: &Path, max_bytes: u64) -> Result<Self> {
        let mut file = open_current(path)?;
        let (first_seq, mut next_seq, mut last_hash, complete_len) = scan(&mut file)?;
        if file.metadata().map_err(audit_error("stat"))?.len() != complete_len {
            tracing::warn!("audit log: cutting a torn last record left by a crash");
            file.set_len(complete_len).map_err(audit_error("truncate"))?;
            file.seek(SeekFrom::End(0)).map_err(audit_error("seek"))?;
        }
        if first_seq.is_none() {
            let (dir, base) = split(path);
            if let Some(newest) = segments::rotated(&dir, &base)?.pop()
                && let Some(last) = segments::last_record(newest)?
            {
                next_seq = seq_after(&last)?;
                last_hash = hash_of(&last)?;
            }
        }
        let tail = Tail { file: Some(file), len: complete_len, first_seq, next_seq, last_hash };
        Ok(Self {
            path: path.to_path_buf(),
            max_bytes,
            tail: Mutex::new(tail),
            mac_key: Mutex::new(None),
            anchor: Mutex::new(None),
        })
    }

    /// Checks that the log reaches the head anchored in `store` and holds that record there (an
    /// integrity error names the cut otherwise), then anchors there from now on.
    pub fn attach_anchor(&self, store: Box<dyn AnchorStore>) -> Result<()> {
        let anchored = store.load()?;
        if let Some(head) = &anchored {
            self.check_reaches(head)?;
        }
        let anchor = Anchor { store, anchored, saved_at: std::time::Instant::now() };
        *self.anchor_slot()? = Some(anchor);
        Ok(())
    }

    fn check_reaches(&self, anchored: &Head) -> Result<()> {
        let last = self.locked()?.head();
        let found = match &last {
            Some(last) if last.seq == anchored.seq => Some(last.hash.clone()),
            Some(last) if last.seq > anchored.seq => reading::hash_at(self.segments()?.0, anchored.seq)?,
            _ => {
                let cut = anchor::cut_message(anchored, last.map(|head| head.seq));
                return Err(Error::Integrity(format!("{cut} (the store anchors that record)")));
            }
        };
        if found.as_deref() == Some(anchored.hash.as_str()) {
            return Ok(());
        }
        Err(Error::Integrity(format!(
            "audit log record {} is not the one anchored in the store (the log was replaced or edited)",
            anchored.seq
        )))
    }

    fn anchor_slot(&self) -> Result<MutexGuard<'_, Option<Anchor>>> {
        self.anchor.lock().map_err(|_| Error::Storage("audit anchor lock poisoned".into()))
    }

    /// Anchors the head when due; records not yet synced are synced first, so the anchor never
    /// names a record a crash could lose. A sealed daemon (no MAC key yet) writes nothing to its
    /// store: what it logged while sealed is anchored at the first anchoring after the unseal.
    fn anchor_if_due(&self, tail: &mut Tail, synced: bool) {
        if !self.mac_key.lock().is_ok_and(|key| key.is_some()) {
            return;
        }
        let (Some(head), Ok(mut slot)) = (tail.head(), self.anchor.lock()) else { return };
        let Some(anchor) = slot.as_mut().filter(|anchor| anchor.due(head.seq, synced)) else { return };
        if !synced && let Some(Err(error)) = tail.file.as_ref().map(File::sync_data) {
            tracing::warn!(%error, "audit log: cannot sync before anchoring");
            return;
        }
        anchor.save(head);
    }

    /// The directory holding the log (the data directory).
    pub fn directory(&self) -> PathBuf {
        split(&self.path).0
    }

    /// Records are authenticated from now on (called when the store is unsealed).
    pub fn set_mac_key(&self, key: SecretBuf) {
        if let Ok(mut slot) = self.mac_key.lock() {
            *slot = Some(key);
        }
    }

    fn locked(&self) -> Result<MutexGuard<'_, Tail>> {
        self.tail.lock().map_err(|_| Error::Storage("audit log lock poisoned".into()))
    }

    /// Appends one record; returns only once it is written (and synced if `durable`). A file
    /// that has reached the size limit is rotated afterwards; a failed rotation is logged and
    /// tried again at the next append, the record being safe in the current file either way.
    pub fn append(&self, event: Event<'_>) -> Result<()> {
        let mut tail = self.locked()?;
        let seq = tail.next_seq;
        let (key, key_digest) = bounded_key(event.key);
        let (encryption_context, encryption_context_digest) = bounded_context(event.encryption_context);
        let (request_metadata, request_metadata_digest) = bounded_context(event.request_metadata);
        let body = Body {
            seq,
            time_ms: now_ms(),
            request_id: event.request_id.to_owned(),
            principal: event.principal.to_owned(),
            source: event.source.to_owned(),
            operation: event.operation.to_owned(),
            key,
            key_digest,
            key_version: event.key_version,
            encryption_context,
            encryption_context_digest,
            request_metadata,
            request_metadata_digest,
            outcome: event.outcome.to_owned(),
            error_code: event.error_code.to_owned(),
            unrecorded_throttled: event.unrecorded_throttled,
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
        if line.len() > MAX_RECORD_BYTES {
            return Err(Error::Storage(format!(
                "audit log: a record of {} bytes exceeds the {MAX_RECORD_BYTES}-byte limit",
                line.len()
            )));
        }
        tail.write(&self.path, &line, event.durable)?;
        tail.next_seq += 1;
        tail.last_hash = hash;
        tail.len += line.len() as u64;
        tail.first_seq.get_or_insert(seq);
        self.anchor_if_due(&mut tail, event.durable);
        if self.max_bytes > 0
            && tail.len >= self.max_bytes
            && let Err(error) = self.rotate_locked(&mut tail)
        {
            tracing::error!(%error, "cannot rotate the audit log");
        }
        Ok(())
    }

    /// Syncs everything written so far and anchors its head (at shutdown).
    pub fn sync(&self) -> Result<()> {
        let mut tail = self.locked()?;
        if let Some(file) = &tail.file {
            file.sync_data().map_err(audit_error("sync"))?;
        }
        self.anchor_if_due(&mut tail, true);
        Ok(())
    }

    /// Sets the current file aside now; `None` when it holds no record yet.
    pub fn rotate(&self) -> Result<Option<Rotated>> {
        let mut tail = self.locked()?;
        self.rotate_locked(&mut tail)
    }

    /// Sync, rename, sync the directory, start the next file, sync the directory. Between the
    /// rename and the new file there is no current file: `open` and the next append create it.
    fn rotate_locked(&self, tail: &mut Tail) -> Result<Option<Rotated>> {
        let (Some(first_seq), Some(last_seq)) = (tail.first_seq, tail.next_seq.checked_sub(1)) else {
            return Ok(None);
        };
        if let Some(file) = &tail.file {
            file.sync_data().map_err(audit_error("sync"))?;
        }
        let (dir, base) = split(&self.path);
        let name = rotated_name(&base, first_seq, last_seq);
        let target = dir.join(&name);
        if target.exists() {
            return Err(Error::Storage(format!("audit log: cannot rotate: {name} already exists")));
        }
        std::fs::rename(&self.path, &target).map_err(audit_error("rename"))?;
        (tail.file, tail.len, tail.first_seq) = (None, 0, None);
        sync_dir(&dir)?;
        tail.file(&self.path)?;
        sync_dir(&dir)?;
        tracing::info!(file = name, first_seq, last_seq, "audit log rotated");
        Ok(Some(Rotated { file: name, first_seq, last_seq }))
    }

    /// Every file, oldest first, the current one last: later appends and rotations do not
    /// disturb the reading (rotated files never change; the current one is read through a
    /// descriptor opened while rotations are held off, so it stays the file listed).
    /// Also the head written so far: the files must reach it.
    fn segments(&self) -> Result<(Vec<segments::Segment>, Option<Head>)> {
        let tail = self.locked()?;
        let current = match File::open(&self.path) {
            Ok(file) => Some(file),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(audit_error("open")(error)),
        };
        Ok((segments::all(&self.path, current)?, tail.head()))
    }

    /// Checks the whole chain, across rotated files, and where present every MAC; names the
    /// first bad record and its file. The files must reach both the head this daemon wrote and the
    /// one anchored in the store, holding those very records there.
    pub fn verify(&self) -> Result<Verification> {
        let (segments, written) = self.segments()?;
        let anchored = self.anchor_slot()?.as_ref().and_then(|anchor| anchor.anchored.clone());
        let heads: Vec<Head> = written.into_iter().chain(anchored).collect();
        // A copy, so appends (which take the key too) go on while the files are read.
        let key = match &*self.mac_key.lock().map_err(|_| Error::Storage("audit key lock poisoned".into()))? {
            Some(key) => Some(SecretBuf::copy_from(key.as_slice())?),
            None => None,
        };
        reading::verify(segments, key.as_ref(), &heads)
    }

    /// The last `limit` records matching `filter`, oldest first, across rotated files.
    pub fn tail_records(&self, limit: usize, filter: &Filter<'_>) -> Result<Vec<String>> {
        reading::newest(self.segments()?.0, limit, filter)
    }
}

#[cfg(test)]
mod anchor_tests;
#[cfg(test)]
mod rotation_tests;
#[cfg(test)]
mod tests;

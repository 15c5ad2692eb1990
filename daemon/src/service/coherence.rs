//! Keeping a node's caches true to a store that other nodes also write (PostgreSQL).
//!
//! The keyring, the grants, the aliases, the token record and the administrators are served from
//! memory. Before each call the node asks the store for its generation (one indexed read); when
//! another node has committed since, the changed records are read again and applied before the
//! call goes on. So a change acknowledged on one node (a key disabled, a policy, a rotation, a
//! grant revoked, a PIN locked) is enforced by every node from its next call on; no cache can
//! allow what the store now forbids.
//!
//! Concurrent calls share one look: a call waits for a look that began after it arrived, so one
//! round trip serves every call that was waiting, and a look that failed fails them all at once
//! (a database that is down answers quickly rather than once per queued call). A store written by
//! this process alone (redb) is never asked.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Keystore, threads};
use crate::error::{Error, Result};
use crate::store::{ChangedRows, Changes};

/// The state of the looks of one keystore.
#[derive(Debug, Default)]
pub(super) struct Coherence {
    /// Whether the store is shared; if not, there is nothing to look for.
    shared: bool,
    /// The store generation the caches reflect.
    applied: Mutex<u64>,
    /// Looks begun so far; a call remembers the count it saw on arrival.
    looks_started: AtomicU64,
    /// The number of the last look that ended, and its failure if it failed.
    last_look: Mutex<(u64, Option<LookFailure>)>,
    /// One look at a time.
    turn: tokio::sync::Mutex<()>,
}

/// Why a look failed, as the calls that shared it are told.
#[derive(Debug, Clone)]
struct LookFailure {
    message: String,
    /// The store could not be reached (else it answered with an error).
    unavailable: bool,
}

impl LookFailure {
    fn of(error: &Error) -> Self {
        let message = match error {
            Error::StoreUnavailable(message) | Error::Storage(message) => message.clone(),
            other => other.to_string(),
        };
        Self { message, unavailable: matches!(error, Error::StoreUnavailable(_)) }
    }

    fn error(&self) -> Error {
        match self.unavailable {
            true => Error::StoreUnavailable(self.message.clone()),
            false => Error::Storage(self.message.clone()),
        }
    }
}

impl Coherence {
    /// For a store whose generation is `generation` now (`None`: a store of one process).
    pub(super) fn new(generation: Option<u64>) -> Self {
        Self { shared: generation.is_some(), applied: Mutex::new(generation.unwrap_or(0)), ..Self::default() }
    }

    fn applied(&self) -> Result<u64> {
        self.applied.lock().map(|applied| *applied).map_err(|_| threads::poisoned())
    }

    fn set_applied(&self, generation: u64) -> Result<()> {
        *self.applied.lock().map_err(|_| threads::poisoned())? = generation;
        Ok(())
    }

    /// The outcome of the last look if it began after `arrival`.
    fn outcome_since(&self, arrival: u64) -> Result<Option<Result<()>>> {
        let (number, failure) = &*self.last_look.lock().map_err(|_| threads::poisoned())?;
        if *number <= arrival {
            return Ok(None);
        }
        Ok(Some(match failure {
            None => Ok(()),
            Some(failure) => Err(failure.error()),
        }))
    }
}

impl Keystore {
    /// Brings this node's caches up to the store as it stands now: what other nodes committed
    /// before this call began is seen by it. Nothing to do for a store of one process.
    pub async fn catch_up(&self) -> Result<()> {
        let coherence = &self.coherence;
        if !coherence.shared {
            return Ok(());
        }
        let arrival = coherence.looks_started.load(Ordering::SeqCst);
        let _turn = coherence.turn.lock().await;
        if let Some(outcome) = coherence.outcome_since(arrival)? {
            return outcome;
        }
        let number = coherence.looks_started.fetch_add(1, Ordering::SeqCst) + 1;
        let outcome = self.look().await;
        let failure = outcome.as_ref().err().map(LookFailure::of);
        *coherence.last_look.lock().map_err(|_| threads::poisoned())? = (number, failure);
        outcome
    }

    /// One look: the generation, and when it moved, the changes applied under the write lock.
    async fn look(&self) -> Result<()> {
        let since = self.coherence.applied()?;
        let Some(changes) = self.changes_since(since).await? else { return Ok(()) };
        if matches!(&changes.rows, ChangedRows::Listed(rows) if rows.is_empty()) {
            return self.coherence.set_applied(changes.generation);
        }
        // Read them again holding the write lock: no write of this node lands between the read
        // and its application, so no record goes back to an older value.
        let _writes = self.writes.lock().await;
        let since = self.coherence.applied()?;
        let Some(changes) = self.changes_since(since).await? else { return Ok(()) };
        self.apply(changes.rows)?;
        self.coherence.set_applied(changes.generation)
    }

    async fn changes_since(&self, since: u64) -> Result<Option<Changes>> {
        let backend = Arc::clone(&self.backend);
        threads::blocking(move || backend.changes_since(since)).await
    }

    /// Takes in the changed records; the caller holds the write lock. A record that cannot be
    /// taken in is logged and left out: one bad row must not stop every call of the node.
    fn apply(&self, rows: ChangedRows) -> Result<()> {
        let rows = match rows {
            ChangedRows::Listed(rows) => rows,
            ChangedRows::Pruned => return self.reload_everything(),
        };
        tracing::debug!(records = rows.len(), "changed records taken in");
        let keyring = self.keyring().ok();
        for (table, key, value) in rows {
            let taken = match (table, &keyring) {
                (crate::store::Table::Meta, _) => self.refresh_meta(&key, value.as_deref()),
                (_, Some(keyring)) => keyring.refresh(table, &key, value.as_deref()),
                (_, None) => Ok(()),
            };
            if let Err(error) = taken {
                tracing::error!(table = table.name(), %error, "a changed record could not be taken in");
            }
        }
        Ok(())
    }
}

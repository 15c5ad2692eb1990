//! The chain's head kept outside the log, so that cutting records off the end is seen.
//!
//! A hash chain shows any record changed, removed or inserted, but not the newest records cut:
//! the shortened file is still a valid chain. So the head (sequence number and hash) of records
//! already durable is written into the store after each state change and at least once a second
//! while records come in; opening the daemon and verifying the log both require the log to reach
//! that head and to hold that very record there.
//!
//! The head is written only after the records it names are synced: a crash at any instant leaves
//! an anchor at or behind the log's durable end, never ahead of it, so it never makes the daemon
//! unstartable by itself.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// How often, at most, records that did not change state get anchored.
pub(super) const ANCHOR_INTERVAL: Duration = Duration::from_secs(1);

/// A record of the chain, by sequence number and hash (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

/// Where the anchored head is kept (the sealed store's meta table).
pub trait AnchorStore: Send + Sync {
    fn load(&self) -> Result<Option<Head>>;
    /// Durable on return.
    fn save(&self, head: &Head) -> Result<()>;
}

/// The anchor store, and what was last written to it.
pub(super) struct Anchor {
    pub store: Box<dyn AnchorStore>,
    pub anchored: Option<Head>,
    pub saved_at: Instant,
}

impl Anchor {
    /// Whether `head` should be written now: always after a synced state change, otherwise once
    /// the interval has passed since the last write.
    pub(super) fn due(&self, head_seq: u64, synced: bool) -> bool {
        let moved = self.anchored.as_ref().is_none_or(|anchored| anchored.seq < head_seq);
        moved && (synced || self.saved_at.elapsed() >= ANCHOR_INTERVAL)
    }

    /// Writes `head`; a failure leaves the anchor behind (safe: it is only a lower bound) and is
    /// logged, the records themselves being durable already.
    pub(super) fn save(&mut self, head: Head) {
        self.saved_at = Instant::now();
        match self.store.save(&head) {
            Ok(()) => self.anchored = Some(head),
            Err(error) => tracing::warn!(%error, seq = head.seq, "cannot anchor the audit log's head"),
        }
    }
}

/// Why a log that does not reach `written` (a head the daemon wrote) is not intact.
pub(super) fn cut_message(written: &Head, last: Option<u64>) -> String {
    let ends = last.map_or_else(|| "holds no record".to_owned(), |last| format!("ends at record {last}"));
    format!("the audit log {ends}, but record {} was written: records were cut from its end", written.seq)
}

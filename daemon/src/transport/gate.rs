//! The connection cap's count: every open connection holds a [`Slot`] of the [`Gate`], given
//! back when the connection ends; past `max_connections` only administrators get one, from the
//! `admin_reserve`. Refusals are counted in the metrics and logged at most once every few seconds.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::metrics::Metrics;

/// At most one log line about refused connections per this long.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The count of open connections against the cap.
#[derive(Debug)]
pub(crate) struct Gate {
    open: AtomicUsize,
    max_connections: usize,
    admin_reserve: usize,
    metrics: Arc<Metrics>,
    refused_unlogged: AtomicU64,
    last_log: Mutex<Option<Instant>>,
}

/// A connection's place under the cap, given back when dropped.
#[derive(Debug)]
pub(super) struct Slot {
    gate: Arc<Gate>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.gate.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    pub(crate) fn new(max_connections: usize, admin_reserve: usize, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            open: AtomicUsize::new(0),
            max_connections,
            admin_reserve,
            metrics,
            refused_unlogged: AtomicU64::new(0),
            last_log: Mutex::new(None),
        })
    }

    /// A slot for a new connection, or `None` (counted and logged) when the cap is reached.
    pub(super) fn admit(self: &Arc<Self>, administrator: bool) -> Option<Slot> {
        let limit = match administrator {
            true => self.max_connections.saturating_add(self.admin_reserve),
            false => self.max_connections,
        };
        let admitted = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| (open < limit).then_some(open + 1));
        match admitted {
            Ok(_) => Some(Slot { gate: Arc::clone(self) }),
            Err(open) => {
                self.refused(administrator, open);
                None
            }
        }
    }

    fn refused(&self, administrator: bool, open: usize) {
        let reason = if administrator { "admin_reserve" } else { "max_connections" };
        self.metrics.record_connection_refused(reason);
        let unlogged = self.refused_unlogged.fetch_add(1, Ordering::AcqRel) + 1;
        let Ok(mut last_log) = self.last_log.lock() else { return };
        if last_log.is_some_and(|at| at.elapsed() < REFUSAL_LOG_INTERVAL) {
            return;
        }
        *last_log = Some(Instant::now());
        self.refused_unlogged.fetch_sub(unlogged, Ordering::AcqRel);
        tracing::warn!(
            refused = unlogged,
            open,
            max_connections = self.max_connections,
            admin_reserve = self.admin_reserve,
            "connections refused: the connection cap is reached (connections.max_connections)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn administrators_keep_a_reserve_past_the_cap() {
        let metrics = Arc::new(Metrics::default());
        let gate = Gate::new(2, 1, Arc::clone(&metrics));
        let first = gate.admit(false).unwrap();
        let _second = gate.admit(false).unwrap();
        assert!(gate.admit(false).is_none(), "past the cap");
        let admin = gate.admit(true).unwrap();
        assert!(gate.admit(true).is_none(), "past the reserve");
        drop(first);
        assert!(gate.admit(false).is_none(), "the administrator holds the freed place");
        drop(admin);
        let _third = gate.admit(false).unwrap();
        let text = metrics.render(crate::metrics::Gauges {
            sealed: false,
            keys: 0,
            locked_bytes: 0,
            disk: crate::metrics::DiskGauges::default(),
        });
        assert!(text.contains("arca_connections_refused_total{reason=\"max_connections\"} 2"), "{text}");
        assert!(text.contains("arca_connections_refused_total{reason=\"admin_reserve\"} 1"), "{text}");
    }
}

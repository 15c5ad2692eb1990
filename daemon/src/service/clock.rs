//! The service's notion of now. Tests start the daemon with an adjustable clock and move it
//! forward (deletion, rotation) instead of sleeping; production uses the system clock only.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::error::{Error, Result};

#[derive(Debug, Default)]
pub(super) struct Clock {
    offset_seconds: AtomicI64,
    adjustable: bool,
}

impl Clock {
    pub(super) fn new(adjustable: bool, offset_seconds: i64) -> Self {
        let offset_seconds = if adjustable { offset_seconds } else { 0 };
        Self { offset_seconds: AtomicI64::new(offset_seconds), adjustable }
    }

    /// Seconds since the Unix epoch.
    pub(super) fn now(&self) -> i64 {
        let system = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        system.saturating_add(self.offset_seconds.load(Ordering::Relaxed))
    }

    /// Moves the clock forward; only on a daemon started with the test clock.
    pub(super) fn advance(&self, seconds: i64) -> Result<i64> {
        if !self.adjustable {
            return Err(Error::WrongSealMode(
                "the clock can only be moved on a daemon started with --test-clock",
            ));
        }
        if seconds < 0 {
            return Err(Error::invalid("the clock only moves forward"));
        }
        self.offset_seconds.fetch_add(seconds, Ordering::Relaxed);
        Ok(self.now())
    }
}

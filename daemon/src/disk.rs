//! The free-space reserve of the data directory: below `min_free_disk_bytes` the daemon refuses
//! new work (RESOURCE_EXHAUSTED, naming the reserve) instead of running the disk full, so the
//! store and the audit log always have room to finish what they acknowledged and to record the
//! refusals. The free space is read with one `statvfs` at most once per [`CHECK_INTERVAL`], not
//! once per call.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::metrics::DiskGauges;

/// How long a reading of the free space is trusted.
pub(crate) const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The default reserve: room for the store's copy-on-write commits and many audit records.
pub(crate) const DEFAULT_MIN_FREE_DISK_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy)]
struct Reading {
    free_bytes: u64,
    at: Instant,
}

/// The reserve of one directory's filesystem.
#[derive(Debug)]
pub struct DiskReserve {
    dir: PathBuf,
    /// 0 turns the reserve off.
    min_free_bytes: u64,
    last: Mutex<Option<Reading>>,
    refusals: AtomicU64,
}

impl DiskReserve {
    pub fn new(dir: PathBuf, min_free_bytes: u64) -> Self {
        Self { dir, min_free_bytes, last: Mutex::new(None), refusals: AtomicU64::new(0) }
    }

    /// Refuses new work while the free space is under the reserve. A free space that cannot be
    /// read does not refuse: the writes themselves then fail closed.
    pub fn admit(&self) -> Result<()> {
        if self.min_free_bytes == 0 {
            return Ok(());
        }
        let Some(free_bytes) = self.free_bytes() else { return Ok(()) };
        if free_bytes >= self.min_free_bytes {
            return Ok(());
        }
        self.refusals.fetch_add(1, Ordering::Relaxed);
        Err(Error::Throttled(format!(
            "the data directory {} has {free_bytes} bytes free, under the min_free_disk_bytes reserve of \
             {}: new work is refused until space is freed",
            self.dir.display(),
            self.min_free_bytes
        )))
    }

    /// The free space for unprivileged writers, read again when the last reading is stale.
    pub fn free_bytes(&self) -> Option<u64> {
        let mut last = self.last.lock().ok()?;
        if let Some(reading) = *last
            && reading.at.elapsed() < CHECK_INTERVAL
        {
            return Some(reading.free_bytes);
        }
        let stat = match rustix::fs::statvfs(&self.dir) {
            Ok(stat) => stat,
            Err(error) => {
                tracing::warn!(%error, dir = %self.dir.display(), "cannot read the free disk space");
                return None;
            }
        };
        let free_bytes = stat.f_bavail.saturating_mul(stat.f_frsize);
        *last = Some(Reading { free_bytes, at: Instant::now() });
        Some(free_bytes)
    }

    pub fn min_free_bytes(&self) -> u64 {
        self.min_free_bytes
    }

    /// Calls refused for want of space since the start.
    pub fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }

    pub fn gauges(&self) -> DiskGauges {
        DiskGauges {
            free_bytes: self.free_bytes(),
            reserve_bytes: self.min_free_bytes,
            refusals: self.refusals(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_refuses_just_under_and_admits_at_the_free_space() {
        let dir = tempfile::tempdir().unwrap();
        let probe = DiskReserve::new(dir.path().to_path_buf(), 1);
        let free = probe.free_bytes().unwrap();
        // The reading is kept for the interval, so both reserves see the same free space.
        let at_free = DiskReserve {
            last: Mutex::new(*probe.last.lock().unwrap()),
            ..DiskReserve::new(dir.path().into(), free)
        };
        at_free.admit().unwrap();
        let over = DiskReserve {
            last: Mutex::new(*probe.last.lock().unwrap()),
            ..DiskReserve::new(dir.path().into(), free + 1)
        };
        let Err(Error::Throttled(message)) = over.admit() else { panic!("admitted under the reserve") };
        assert!(
            message.contains("min_free_disk_bytes") && message.contains(&(free + 1).to_string()),
            "{message}"
        );
        assert_eq!((at_free.refusals(), over.refusals()), (0, 1));
        DiskReserve::new(dir.path().into(), 0).admit().unwrap();
    }
}

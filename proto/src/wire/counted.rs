//! Process-wide counts of what is in progress (calls, connections), read to decide whether
//! polling for an answer or a request would take a processor something else needs.

use std::sync::atomic::{AtomicUsize, Ordering};

/// A process-wide count.
#[derive(Debug)]
pub(super) struct Count(AtomicUsize);

impl Count {
    pub(super) const fn new() -> Self {
        Self(AtomicUsize::new(0))
    }

    pub(super) fn get(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    /// Counts one in, until the guard is dropped.
    pub(super) fn enter(&'static self) -> Counted {
        self.0.fetch_add(1, Ordering::AcqRel);
        Counted(self)
    }
}

/// One counted in.
#[derive(Debug)]
pub(super) struct Counted(&'static Count);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::AcqRel);
    }
}

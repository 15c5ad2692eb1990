//! A slab pool of locked chunks, one free list per power-of-two size class.

use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::{Mutex, OnceLock};

use super::MemoryError;
use crate::error::Result;

/// What to do when the kernel refuses to lock memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockPolicy {
    /// Refuse: secrets must never be swappable.
    Require,
    /// Warn once and go on with unlocked (still non-dumpable, zeroized) memory.
    AllowUnlocked,
}

const CHUNK_BYTES: usize = 64 * 1024;
const MIN_CLASS_BYTES: usize = 16;
const MAX_CLASS_BYTES: usize = 8 * 1024;

/// Where an allocation came from, so that release puts it back there.
#[derive(Debug)]
pub(super) enum Slot {
    /// A slot of the given size class in a pooled chunk.
    Class(usize),
    /// A region of its own, `bytes` long (a multiple of the page size).
    Dedicated { bytes: usize },
}

struct Pool {
    policy: LockPolicy,
    /// Free slot addresses per class; an address is a `usize` so the pool is `Send`.
    free: Vec<Vec<usize>>,
    locked_bytes: usize,
    warned_unlocked: bool,
    /// Every mapping the pool made: start address -> length.
    regions: BTreeMap<usize, usize>,
}

static POOL: OnceLock<Mutex<Pool>> = OnceLock::new();

fn pool() -> &'static Mutex<Pool> {
    POOL.get_or_init(|| Mutex::new(Pool::new(LockPolicy::Require)))
}

fn class_count() -> usize {
    (MAX_CLASS_BYTES / MIN_CLASS_BYTES).trailing_zeros() as usize + 1
}

fn class_of(len: usize) -> Option<usize> {
    if len > MAX_CLASS_BYTES {
        return None;
    }
    let size = len.max(MIN_CLASS_BYTES).next_power_of_two();
    Some((size / MIN_CLASS_BYTES).trailing_zeros() as usize)
}

fn class_bytes(class: usize) -> usize {
    MIN_CLASS_BYTES << class
}

/// Sets the lock policy and locks the first chunk now, so that a process that cannot lock memory
/// fails at start rather than on its first key.
pub fn init(policy: LockPolicy) -> Result<()> {
    let mut pool = pool().lock().map_err(|_| poisoned())?;
    pool.policy = policy;
    if pool.locked_bytes == 0 {
        let class = class_of(32).unwrap_or(0);
        pool.grow(class)?;
    }
    Ok(())
}

/// Bytes currently locked by the pool (what `VmLck` in `/proc/self/status` counts).
pub fn locked_bytes() -> usize {
    pool().lock().map(|pool| pool.locked_bytes).unwrap_or(0)
}

/// The slot an allocation of `len` bytes gets, so that a caller that only kept the length can
/// release it.
pub(super) fn slot_for(len: usize) -> Slot {
    match class_of(len) {
        Some(class) => Slot::Class(class),
        None => Slot::Dedicated { bytes: len.div_ceil(page_size()) * page_size() },
    }
}

/// Whether `address` lies in memory this pool mapped.
pub(super) fn owns(address: usize) -> bool {
    let Ok(pool) = pool().lock() else { return false };
    pool.regions.range(..=address).next_back().is_some_and(|(start, len)| address < start + len)
}

pub(super) fn allocate(len: usize) -> Result<(NonNull<u8>, Slot), MemoryError> {
    let mut pool = pool().lock().map_err(|_| poisoned())?;
    match class_of(len) {
        Some(class) => {
            if pool.free.get(class).is_none_or(Vec::is_empty) {
                pool.grow(class)?;
            }
            let address = pool.free.get_mut(class).and_then(Vec::pop).ok_or_else(poisoned)?;
            let ptr = NonNull::new(address as *mut u8).ok_or_else(poisoned)?;
            Ok((ptr, Slot::Class(class)))
        }
        None => {
            let bytes = len.div_ceil(page_size()) * page_size();
            let ptr = pool.map_region(bytes)?;
            Ok((ptr, Slot::Dedicated { bytes }))
        }
    }
}

/// Returns a slot that the caller has already zeroized.
pub(super) fn release(ptr: NonNull<u8>, slot: &Slot) {
    let Ok(mut pool) = pool().lock() else { return };
    match *slot {
        Slot::Class(class) => {
            if let Some(list) = pool.free.get_mut(class) {
                list.push(ptr.as_ptr() as usize);
            }
        }
        Slot::Dedicated { bytes } => {
            super::process::unmap(ptr, bytes);
            pool.regions.remove(&(ptr.as_ptr() as usize));
            pool.locked_bytes = pool.locked_bytes.saturating_sub(bytes);
        }
    }
}

impl Pool {
    fn new(policy: LockPolicy) -> Self {
        Self {
            policy,
            free: (0..class_count()).map(|_| Vec::new()).collect(),
            locked_bytes: 0,
            warned_unlocked: false,
            regions: BTreeMap::new(),
        }
    }

    fn grow(&mut self, class: usize) -> Result<(), MemoryError> {
        let base = self.map_region(CHUNK_BYTES)?.as_ptr() as usize;
        let size = class_bytes(class);
        let list = self.free.get_mut(class).ok_or_else(poisoned)?;
        // Reverse order so that the lowest address is handed out first.
        list.extend((0..CHUNK_BYTES / size).rev().map(|index| base + index * size));
        Ok(())
    }

    fn map_region(&mut self, bytes: usize) -> Result<NonNull<u8>, MemoryError> {
        let ptr = super::process::map_private(bytes)?;
        self.regions.insert(ptr.as_ptr() as usize, bytes);
        match super::process::lock(ptr, bytes) {
            Ok(()) => self.locked_bytes += bytes,
            Err(cause) if self.policy == LockPolicy::AllowUnlocked => {
                if !self.warned_unlocked {
                    tracing::warn!(%cause, "secrets are in unlocked memory (--allow-unlocked-memory)");
                    self.warned_unlocked = true;
                }
            }
            Err(cause) => {
                super::process::unmap(ptr, bytes);
                self.regions.remove(&(ptr.as_ptr() as usize));
                return Err(MemoryError::Exhausted(cause));
            }
        }
        Ok(ptr)
    }
}

fn page_size() -> usize {
    super::process::page_size()
}

fn poisoned() -> MemoryError {
    MemoryError::Exhausted("the locked memory pool is unusable".into())
}

//! Memory for secrets: every buffer lives in pages that are `mlock`ed (never swapped) and marked
//! `MADV_DONTDUMP` (never in a core file), and is zeroized when dropped. Only these regions are
//! locked, never the whole process (`mlockall`).
//!
//! Small secrets come from a slab pool of locked chunks so that a data key costs no system call;
//! larger ones get a region of their own.
//!
//! What secrets pass through on their way in or out is wiped as well: heap blocks when freed
//! ([`WipingAllocator`]), the stack below a finished call ([`wipe_stack_below`]).

mod crypto_alloc;
mod pool;
mod process;
mod random;
mod stack;
mod wiping_alloc;

use std::fmt;
use std::ptr::NonNull;

use zeroize::Zeroize;

pub use crypto_alloc::route_crypto_library_allocations;
pub use pool::{LockPolicy, init, locked_bytes};
pub use process::{effective_uid, harden_process, raise_open_files_limit};
pub use random::fill_random;
pub use stack::{StackWiping, wipe_stack_below, wiping_stack};
pub use wiping_alloc::WipingAllocator;

/// Why a secret could not be made: no locked memory, or no randomness. The daemon's error
/// kinds and the crypto layer's both convert from it, so that neither depends on the other.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryError {
    #[error("locked memory exhausted: {0}")]
    Exhausted(String),
    #[error("random number generator failed: {0}")]
    Random(String),
}

impl From<MemoryError> for crate::error::Error {
    fn from(error: MemoryError) -> Self {
        match error {
            MemoryError::Exhausted(message) => Self::LockedMemory(message),
            MemoryError::Random(message) => Self::Random(message),
        }
    }
}

type Result<T, E = MemoryError> = std::result::Result<T, E>;

/// A fixed-length secret in locked, non-dumpable memory, zeroized on drop.
pub struct SecretBuf {
    ptr: NonNull<u8>,
    len: usize,
    slot: pool::Slot,
}

// SAFETY: a SecretBuf exclusively owns its region, like a Box<[u8]>; the pointer is never shared.
unsafe impl Send for SecretBuf {}
// SAFETY: shared access only hands out `&[u8]`, which is Sync.
unsafe impl Sync for SecretBuf {}

impl SecretBuf {
    /// A zero-filled secret of `len` bytes.
    pub fn zeroed(len: usize) -> Result<Self> {
        let (ptr, slot) = pool::allocate(len)?;
        Ok(Self { ptr, len, slot })
    }

    /// A copy of `bytes` in locked memory. The caller stays responsible for wiping `bytes`.
    pub fn copy_from(bytes: &[u8]) -> Result<Self> {
        let mut secret = Self::zeroed(bytes.len())?;
        secret.as_mut_slice().copy_from_slice(bytes);
        Ok(secret)
    }

    /// `len` random bytes ([`fill_random`]).
    pub fn random(len: usize) -> Result<Self> {
        let mut secret = Self::zeroed(len)?;
        fill_random(secret.as_mut_slice())?;
        Ok(secret)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` points to at least `len` initialised bytes owned by this buffer for its
        // whole life (the pool never hands a slot out twice), and `&self` forbids writes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` makes this the only live reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for SecretBuf {
    fn drop(&mut self) {
        self.as_mut_slice().zeroize();
        pool::release(self.ptr, &self.slot);
    }
}

impl fmt::Debug for SecretBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBuf([REDACTED; {}])", self.len)
    }
}

impl PartialEq for SecretBuf {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.as_slice().ct_eq(other.as_slice()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_debug_is_redacted() {
        let secret = SecretBuf::copy_from(b"top secret bytes").unwrap();
        assert_eq!(secret.as_slice(), b"top secret bytes");
        let shown = format!("{secret:?}");
        assert!(!shown.contains("top"), "{shown}");
        assert!(shown.contains("REDACTED"));
    }

    #[test]
    fn sizes_from_empty_to_large_are_served() {
        for len in [0, 1, 31, 32, 33, 4096, 8192, 8193, 100_000] {
            let secret = SecretBuf::random(len).unwrap();
            assert_eq!(secret.len(), len);
        }
    }

    #[test]
    fn released_slots_are_wiped_before_reuse() {
        let first = SecretBuf::copy_from(&[0xAA; 48]).unwrap();
        drop(first);
        // The pool hands out the most recently freed slot of a class first.
        let second = SecretBuf::zeroed(48).unwrap();
        assert!(second.as_slice().iter().all(|b| *b == 0));
    }
}

//! Routes every allocation of the C crypto library (AWS-LC: parsed private keys, their bignums and
//! precomputations, signing contexts) into the locked pool, so the key material it holds is locked,
//! excluded from core dumps and wiped when freed, like a [`super::SecretBuf`].
//!
//! Each block carries a 16-byte header with its total length, which is how `free` finds its slot.

use std::ffi::{c_char, c_int, c_void};
use std::ptr::{self, NonNull};

use zeroize::Zeroize;

use super::pool;
use crate::error::{Error, Result};

/// Keeps the payload 16-byte aligned, as malloc does.
const HEADER: usize = 16;

/// Installs the routing. Must run before the crypto library allocates anything, so first in
/// `main`; a block allocated earlier is still freed correctly (by libc), but is not locked.
pub fn route_crypto_library_allocations() -> Result<()> {
    // SAFETY: the three functions have the signatures AWS-LC expects and are safe to call from any
    // thread; they are installed before any other thread uses the library.
    let installed = unsafe {
        aws_lc_sys::CRYPTO_set_mem_functions(Some(locked_malloc), Some(locked_realloc), Some(locked_free))
    };
    if installed == 1 {
        Ok(())
    } else {
        Err(Error::LockedMemory("the crypto library refused a custom allocator".into()))
    }
}

fn allocate(size: usize) -> *mut c_void {
    let Some(total) = size.checked_add(HEADER) else { return ptr::null_mut() };
    let Ok((base, _slot)) = pool::allocate(total) else { return ptr::null_mut() };
    // SAFETY: the block is `total >= HEADER` bytes, slot-aligned (at least 16), and ours alone.
    unsafe {
        base.as_ptr().cast::<usize>().write(total);
        base.as_ptr().add(HEADER).cast()
    }
}

/// The block's base and total length, if the pool made it.
///
/// # Safety
/// `payload` must be a non-null pointer returned by `allocate` or by libc's malloc.
unsafe fn block_of(payload: *mut c_void) -> Option<(NonNull<u8>, usize)> {
    let base = payload.cast::<u8>().wrapping_sub(HEADER);
    if !pool::owns(base as usize) {
        return None;
    }
    // SAFETY: the pool owns `base`, so it is the header `allocate` wrote.
    let total = unsafe { base.cast::<usize>().read() };
    NonNull::new(base).map(|base| (base, total))
}

unsafe extern "C" fn locked_malloc(size: usize, _file: *const c_char, _line: c_int) -> *mut c_void {
    allocate(size)
}

unsafe extern "C" fn locked_free(payload: *mut c_void, _file: *const c_char, _line: c_int) {
    if payload.is_null() {
        return;
    }
    // SAFETY: AWS-LC only frees what its allocator returned.
    match unsafe { block_of(payload) } {
        Some((base, total)) => {
            // SAFETY: the block is `total` bytes owned by this allocation, which is ending.
            unsafe { std::slice::from_raw_parts_mut(base.as_ptr(), total) }.zeroize();
            pool::release(base, &pool::slot_for(total));
        }
        // SAFETY: not ours, so it came from libc before the routing was installed.
        None => unsafe { libc::free(payload) },
    }
}

unsafe extern "C" fn locked_realloc(
    payload: *mut c_void,
    new_size: usize,
    file: *const c_char,
    line: c_int,
) -> *mut c_void {
    if payload.is_null() {
        return allocate(new_size);
    }
    if new_size == 0 {
        // SAFETY: as in `locked_free`.
        unsafe { locked_free(payload, file, line) };
        return ptr::null_mut();
    }
    // SAFETY: `payload` came from AWS-LC's allocator.
    let old_size = match unsafe { block_of(payload) } {
        Some((_, total)) => total - HEADER,
        // A libc block of unknown size: let libc resize it.
        // SAFETY: it came from libc's malloc.
        None => return unsafe { libc::realloc(payload, new_size) },
    };
    let fresh = allocate(new_size);
    if !fresh.is_null() {
        // SAFETY: both blocks are valid for `min(old, new)` bytes and do not overlap.
        unsafe { ptr::copy_nonoverlapping(payload.cast::<u8>(), fresh.cast::<u8>(), old_size.min(new_size)) };
        // SAFETY: as in `locked_free`.
        unsafe { locked_free(payload, file, line) };
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_through_the_pool() {
        // Exercised directly: installing the hook inside a multi-threaded test run would race
        // with allocations AWS-LC makes for other tests.
        let block = allocate(100);
        assert!(!block.is_null());
        assert_eq!(block as usize % 16, 0);
        // SAFETY: 100 bytes were allocated.
        unsafe { ptr::write_bytes(block.cast::<u8>(), 0xAB, 100) };
        // SAFETY: from `allocate`.
        let grown = unsafe { locked_realloc(block, 20_000, ptr::null(), 0) };
        // SAFETY: the first 100 bytes were copied.
        assert_eq!(unsafe { *grown.cast::<u8>().add(99) }, 0xAB);
        assert!(pool::owns(grown as usize - HEADER));
        // SAFETY: from `locked_realloc`.
        unsafe { locked_free(grown, ptr::null(), 0) };
    }
}

//! The daemon's heap allocator: the system allocator, except that every block is wiped before it
//! goes back. Key bytes pass through buffers the daemon does not own (tonic's receive and encode
//! buffers, h2 frames, the protobuf fields of a request or a response); whatever holds them, the
//! copy is gone when the buffer is freed, instead of lingering in free heap until reused.
//!
//! Growing or shrinking a block always moves it (allocate, copy, wipe and free the old one), so a
//! `realloc` never leaves the old contents behind either.

use std::alloc::{GlobalAlloc, Layout, System};

/// The global allocator `arcad` installs (`#[global_allocator]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct WipingAllocator;

// SAFETY: every method forwards to `System` with the caller's layout; `dealloc` first overwrites the
// block, which the caller guarantees is `layout.size()` bytes allocated by this allocator and no
// longer used. `realloc` is the trait's default: `alloc`, copy, `dealloc`.
unsafe impl GlobalAlloc for WipingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` is a live block of `layout.size()` bytes that the caller is giving up;
        // `explicit_bzero` is a memset the compiler may not drop as a dead store before `free`.
        unsafe {
            libc::explicit_bzero(ptr.cast(), layout.size());
            System.dealloc(ptr, layout);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_blocks_are_wiped_and_moved_blocks_keep_their_contents() {
        let allocator = WipingAllocator;
        let layout = Layout::from_size_align(64, 8).unwrap();
        // SAFETY: a fresh block of 64 bytes, written, grown, read and freed once.
        unsafe {
            let block = allocator.alloc(layout);
            assert!(!block.is_null());
            std::ptr::write_bytes(block, 0xA5, 64);
            let grown = allocator.realloc(block, layout, 4096);
            assert!(!grown.is_null());
            assert_eq!(std::slice::from_raw_parts(grown, 64), [0xA5; 64]);
            allocator.dealloc(grown, Layout::from_size_align(4096, 8).unwrap());
        }
    }
}

//! The system calls behind locked memory and process hardening.

use std::ptr::NonNull;

use crate::error::{Error, Result};

/// Makes the process non-dumpable (no core file, no ptrace by other processes of the same user,
/// `/proc/<pid>` owned by root) and sets the core file size limit to zero.
pub fn harden_process() -> Result<()> {
    // SAFETY: PR_SET_DUMPABLE takes one integer argument and touches no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    if rc != 0 {
        return Err(Error::io("prctl(PR_SET_DUMPABLE, 0)")(std::io::Error::last_os_error()));
    }
    let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `no_core` is a valid rlimit that outlives the call.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
    if rc != 0 {
        return Err(Error::io("setrlimit(RLIMIT_CORE, 0)")(std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Raises the soft limit on open files to the hard limit (each client connection is a
/// descriptor; the usual soft limit of 1024 is far below what a busy daemon holds) and returns
/// the soft limit in force afterwards. Failing to raise it is not fatal: the connection cap is
/// fitted under whatever limit there is.
pub fn raise_open_files_limit() -> Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a valid, writable rlimit for the duration of the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(Error::io("getrlimit(RLIMIT_NOFILE)")(std::io::Error::last_os_error()));
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
        // SAFETY: `raised` is a valid rlimit that outlives the call.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        } else {
            let cause = std::io::Error::last_os_error();
            tracing::warn!(%cause, soft = limit.rlim_cur, "cannot raise RLIMIT_NOFILE to its hard limit");
        }
    }
    Ok(limit.rlim_cur)
}

/// The user the process runs as.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

pub(super) fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096).max(4096)
}

/// A fresh private anonymous mapping, excluded from core dumps and from children after fork.
pub(super) fn map_private(bytes: usize) -> Result<NonNull<u8>, super::MemoryError> {
    // SAFETY: an anonymous private mapping with a null hint aliases no existing memory.
    let address = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if address == libc::MAP_FAILED {
        let cause = std::io::Error::last_os_error();
        return Err(super::MemoryError::Exhausted(format!("mmap of {bytes} bytes failed: {cause}")));
    }
    for advice in [libc::MADV_DONTDUMP, libc::MADV_WIPEONFORK] {
        // SAFETY: `address` is the start of the mapping of `bytes` bytes made just above.
        let rc = unsafe { libc::madvise(address, bytes, advice) };
        if rc != 0 && advice == libc::MADV_DONTDUMP {
            let cause = std::io::Error::last_os_error();
            unmap_raw(address, bytes);
            return Err(super::MemoryError::Exhausted(format!("madvise(MADV_DONTDUMP) failed: {cause}")));
        }
    }
    NonNull::new(address.cast::<u8>())
        .ok_or_else(|| super::MemoryError::Exhausted("mmap returned a null mapping".into()))
}

/// Locks a mapping into RAM; the error names the limit an operator has to raise.
pub(super) fn lock(ptr: NonNull<u8>, bytes: usize) -> Result<(), String> {
    // SAFETY: `ptr..ptr+bytes` is a mapping this module made and still owns.
    let rc = unsafe { libc::mlock(ptr.as_ptr().cast(), bytes) };
    if rc == 0 {
        return Ok(());
    }
    let cause = std::io::Error::last_os_error();
    Err(format!(
        "mlock of {bytes} bytes failed ({cause}); RLIMIT_MEMLOCK is {}: raise it \
         (LimitMEMLOCK= in the systemd unit, `ulimit -l`, or memlock in limits.conf) \
         or start arcad with --allow-unlocked-memory",
        describe_memlock_limit()
    ))
}

pub(super) fn unmap(ptr: NonNull<u8>, bytes: usize) {
    unmap_raw(ptr.as_ptr().cast(), bytes);
}

fn unmap_raw(address: *mut libc::c_void, bytes: usize) {
    // SAFETY: the region is a whole mapping made by `map_private` that no reference points into
    // any more; munmap also drops its lock.
    unsafe {
        libc::munmap(address, bytes);
    }
}

fn describe_memlock_limit() -> String {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a valid, writable rlimit for the duration of the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) };
    match rc {
        0 if limit.rlim_cur == libc::RLIM_INFINITY => "unlimited".into(),
        0 => format!("{} bytes", limit.rlim_cur),
        _ => "unknown".into(),
    }
}

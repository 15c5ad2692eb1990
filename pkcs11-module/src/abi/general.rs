//! General-purpose functions (PKCS#11 3.0 §5.4): `C_Initialize`, `C_Finalize`, `C_GetInfo`.
//!
//! `C_GetInfo` reports the Cryptoki version of the table it was reached through: the exported
//! `C_GetInfo` (and the entry of the 2.40 `CK_FUNCTION_LIST`) says 2.40, the entry of the 3.0
//! `CK_FUNCTION_LIST_3_0` (from `C_GetInterface`) says 3.0.

use std::ffi::c_void;

use cryptoki_sys::*;

use super::{guard, guard_any, padded, read, write};
use crate::client::Module;
use crate::config;
use crate::error::Error;
use crate::state;

/// What the library calls itself in `CK_INFO.libraryDescription`.
const LIBRARY_DESCRIPTION: &str = "Arca PKCS#11 module";
/// `manufacturerID` everywhere.
pub const MANUFACTURER: &str = "Arca";

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Initialize(init_args: *mut c_void) -> CK_RV {
    guard_any(|| {
        let may_create_threads = if init_args.is_null() {
            true
        } else {
            // SAFETY: a non-NULL `pInitArgs` points to a CK_C_INITIALIZE_ARGS (PKCS#11 §5.4).
            let args = unsafe { read(init_args.cast::<CK_C_INITIALIZE_ARGS>()) }?;
            check_init_args(&args)?
        };
        state::initialize(|| {
            Module::start(
                config::endpoint_from_env()?,
                config::unix_transport_from_env()?,
                may_create_threads,
            )
        })
    })
}

/// The rules of `CK_C_INITIALIZE_ARGS`; the answer is whether the module may create threads.
/// Arca always uses the operating system's locking primitives (application callbacks are
/// accepted only together with `CKF_OS_LOCKING_OK`). With `CKF_LIBRARY_CANT_CREATE_OS_THREADS`
/// it creates no thread at all: the calling threads drive its runtime (see `crate::runtime`).
pub fn check_init_args(args: &CK_C_INITIALIZE_ARGS) -> Result<bool, Error> {
    if !args.pReserved.is_null() {
        return Err(Error::ArgumentsBad);
    }
    let given = [
        args.CreateMutex.is_some(),
        args.DestroyMutex.is_some(),
        args.LockMutex.is_some(),
        args.UnlockMutex.is_some(),
    ];
    let callbacks = given.iter().all(|&g| g);
    if !callbacks && given.iter().any(|&g| g) {
        return Err(Error::ArgumentsBad);
    }
    if callbacks && args.flags & CKF_OS_LOCKING_OK == 0 {
        return Err(Error::CantLock);
    }
    Ok(args.flags & CKF_LIBRARY_CANT_CREATE_OS_THREADS == 0)
}

/// On a thread that is ending (see `crate::runtime`) the module is let go of without touching its
/// runtime or its connection, which end with the process.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Finalize(reserved: *mut c_void) -> CK_RV {
    guard(|| {
        if !reserved.is_null() {
            return Err(Error::ArgumentsBad);
        }
        state::finalize()
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetInfo(info: *mut CK_INFO) -> CK_RV {
    // SAFETY: forwarded unchanged; the caller's contract for `info` holds.
    unsafe { get_info(info, CK_VERSION { major: 2, minor: 40 }) }
}

/// `C_GetInfo` of the 3.0 function list.
pub unsafe extern "C" fn C_GetInfo_v3(info: *mut CK_INFO) -> CK_RV {
    // SAFETY: forwarded unchanged; the caller's contract for `info` holds.
    unsafe { get_info(info, CK_VERSION { major: 3, minor: 0 }) }
}

unsafe fn get_info(info: *mut CK_INFO, cryptoki_version: CK_VERSION) -> CK_RV {
    guard(|| {
        let value = CK_INFO {
            cryptokiVersion: cryptoki_version,
            manufacturerID: padded(MANUFACTURER),
            flags: 0,
            libraryDescription: padded(LIBRARY_DESCRIPTION),
            libraryVersion: super::library_version(),
        };
        // SAFETY: the caller guarantees a writable CK_INFO at a non-NULL `info`.
        unsafe { write(info, value) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn create(_: *mut *mut c_void) -> CK_RV {
        CKR_OK
    }
    unsafe extern "C" fn other(_: *mut c_void) -> CK_RV {
        CKR_OK
    }

    fn args(flags: CK_FLAGS, callbacks: bool) -> CK_C_INITIALIZE_ARGS {
        CK_C_INITIALIZE_ARGS {
            CreateMutex: callbacks.then_some(create as unsafe extern "C" fn(_) -> _),
            DestroyMutex: callbacks.then_some(other as unsafe extern "C" fn(_) -> _),
            LockMutex: callbacks.then_some(other as unsafe extern "C" fn(_) -> _),
            UnlockMutex: callbacks.then_some(other as unsafe extern "C" fn(_) -> _),
            flags,
            pReserved: std::ptr::null_mut(),
        }
    }

    #[test]
    fn init_args_rules() {
        assert_eq!(check_init_args(&args(0, false)), Ok(true));
        assert_eq!(check_init_args(&args(CKF_OS_LOCKING_OK, false)), Ok(true));
        assert_eq!(check_init_args(&args(CKF_OS_LOCKING_OK, true)), Ok(true));
        assert_eq!(check_init_args(&args(0, true)), Err(Error::CantLock));
        let no_threads = CKF_LIBRARY_CANT_CREATE_OS_THREADS;
        assert_eq!(check_init_args(&args(no_threads | CKF_OS_LOCKING_OK, false)), Ok(false));
        assert_eq!(check_init_args(&args(no_threads, false)), Ok(false));
        assert_eq!(check_init_args(&args(no_threads, true)), Err(Error::CantLock));
        let mut partial = args(CKF_OS_LOCKING_OK, true);
        partial.UnlockMutex = None;
        assert_eq!(check_init_args(&partial), Err(Error::ArgumentsBad));
        let mut reserved = args(0, false);
        let mut byte = 0u8;
        reserved.pReserved = (&raw mut byte).cast();
        assert_eq!(check_init_args(&reserved), Err(Error::ArgumentsBad));
    }
}

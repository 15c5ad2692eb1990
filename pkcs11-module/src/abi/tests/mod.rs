//! Calls to the exported functions, made as a C caller makes them.
//!
//! The module's state is per process, so every test that initialises it holds [`serial`].

mod child;
mod failover;
mod function_lists;
mod no_daemon;
mod pieces;
mod with_daemon;

use std::ptr::null_mut;
use std::sync::{Mutex, MutexGuard, PoisonError};

use cryptoki_sys::*;

use super::general::{C_Finalize, C_Initialize};

static GLOBAL: Mutex<()> = Mutex::new(());

/// Serialises the tests that touch the process-wide state; finalises whatever a failed test left.
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    let guard = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    // SAFETY: C_Finalize takes a NULL pReserved; only tests holding this guard change the
    // environment.
    unsafe {
        C_Finalize(null_mut());
        std::env::remove_var("ARCA_PKCS11_TRANSPORT");
    }
    guard
}

/// The module's transports on a Unix socket, as `ARCA_PKCS11_TRANSPORT` names them.
const TRANSPORTS: [&str; 2] = ["wire", "grpc"];

/// Makes the next `C_Initialize` speak `transport` on Unix sockets (until `serial()` resets it).
fn use_transport(transport: &str) {
    // SAFETY: only tests holding `serial()` change the environment, and nothing else in this
    // process reads these variables concurrently.
    unsafe { std::env::set_var("ARCA_PKCS11_TRANSPORT", transport) };
}

/// Points the next `C_Initialize` at `socket`.
fn point_at(socket: &std::path::Path) {
    // SAFETY: only tests holding `serial()` change the environment, and nothing else in this
    // process reads these variables concurrently.
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    unsafe {
        std::env::remove_var("ARCA_ENDPOINT");
        std::env::set_var("ARCA_SOCKET", socket);
    }
}

/// Points the module at `socket` and initialises it.
fn initialize_with_socket(socket: &std::path::Path) -> CK_RV {
    point_at(socket);
    // SAFETY: C_Initialize takes a NULL pInitArgs.
    unsafe { C_Initialize(null_mut()) }
}

/// The ways an application can initialise the module, as `C_Initialize` flags (`None`: a NULL
/// `pInitArgs`): with threads of the module's own allowed or not (as GnuTLS and NSS ask).
const INIT_FLAGS: [Option<CK_FLAGS>; 2] =
    [None, Some(CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK)];

/// `C_Initialize` with `flags` (see [`INIT_FLAGS`]), with whatever `ARCA_SOCKET` says.
fn initialize_with_flags(flags: Option<CK_FLAGS>) -> CK_RV {
    let Some(flags) = flags else {
        // SAFETY: C_Initialize takes a NULL pInitArgs.
        return unsafe { C_Initialize(null_mut()) };
    };
    let mut args = CK_C_INITIALIZE_ARGS {
        CreateMutex: None,
        DestroyMutex: None,
        LockMutex: None,
        UnlockMutex: None,
        flags,
        pReserved: null_mut(),
    };
    // SAFETY: `args` is a live CK_C_INITIALIZE_ARGS.
    unsafe { C_Initialize((&raw mut args).cast()) }
}

/// Reads a blank-padded field.
fn text(field: &[u8]) -> &str {
    std::str::from_utf8(field).unwrap().trim_end()
}

//! The process-wide state: initialised or not, and the [`Module`] when it is.
//!
//! A forked child inherits the parent's state but not its runtime threads, so the state
//! remembers the process id that initialised it: in a child the library counts as not
//! initialised, and the child's own `C_Initialize` starts afresh (the parent's copy is leaked
//! rather than shut down, since its threads do not exist in the child).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::client::{Module, Reach};
use crate::error::Error;

struct Loaded {
    pid: u32,
    module: Arc<Module>,
}

static STATE: Mutex<Option<Loaded>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<Loaded>> {
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes the state of this process, leaking a state inherited across `fork`.
fn ours(state: &mut Option<Loaded>) -> Option<&Loaded> {
    if state.as_ref().is_some_and(|loaded| loaded.pid != std::process::id()) {
        std::mem::forget(state.take());
    }
    state.as_ref()
}

/// `C_Initialize`: builds the module with `start` unless it exists already.
///
/// The module is built outside the state lock: connecting takes up to the connect timeout, and
/// other threads' calls (and a `fork` in that window) must not wait on the lock meanwhile. Of two
/// concurrent initialisations the first to finish wins; the other's module is dropped.
pub fn initialize(start: impl FnOnce() -> Result<Module, Error>) -> Result<(), Error> {
    if ours(&mut lock()).is_some() {
        return Err(Error::AlreadyInitialized);
    }
    let module = Arc::new(start()?);
    let mut state = lock();
    if ours(&mut state).is_some() {
        drop(state);
        drop(module);
        return Err(Error::AlreadyInitialized);
    }
    *state = Some(Loaded { pid: std::process::id(), module });
    Ok(())
}

/// `C_Finalize`: drops the module, which ends the application and stops the runtime.
pub fn finalize() -> Result<(), Error> {
    let loaded = {
        let mut state = lock();
        ours(&mut state).ok_or(Error::NotInitialized)?;
        state.take()
    };
    drop(loaded);
    crate::lengths::clear();
    crate::messages::clear();
    Ok(())
}

/// The module, for any call made between `C_Initialize` and `C_Finalize`.
pub fn module() -> Result<Arc<Module>, Error> {
    let mut state = lock();
    ours(&mut state).map(|loaded| Arc::clone(&loaded.module)).ok_or(Error::NotInitialized)
}

/// Fails with `CKR_CRYPTOKI_NOT_INITIALIZED` outside `C_Initialize` … `C_Finalize`.
pub fn ensure_initialized() -> Result<(), Error> {
    module().map(drop)
}

/// The number of the live connection (see [`Module::generation`]); `None` without one.
pub fn generation() -> Option<u64> {
    module().ok()?.generation()
}

/// How many bytes of operation input one request may carry (see [`Module::piece_bytes`]).
pub fn piece_bytes() -> Result<usize, Error> {
    Ok(module()?.piece_bytes())
}

/// Runs one call through the module (see [`Module::call`]).
pub fn call<Req, Resp>(
    reach: Reach,
    method: arca_proto::wire::Method<Req, Resp>,
    request: Req,
) -> Result<Resp, Error>
where
    Req: prost::Message + Clone + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    module()?.call(reach, method, request)
}

/// Runs one Token method (a constant of `arca_proto::wire`) on a request:
/// `rpc!(Reach::Existing, LOGIN, LoginRequest { … })`.
macro_rules! rpc {
    ($reach:expr, $method:ident, $request:expr) => {
        $crate::state::call($reach, arca_proto::wire::$method, $request)
    };
}
pub(crate) use rpc;

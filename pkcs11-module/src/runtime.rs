//! The tokio runtime behind the blocking C calls, in one of two flavours.
//!
//! - [`Flavor::MultiThread`], for applications that let the module create threads (a NULL
//!   `pInitArgs`, or no `CKF_LIBRARY_CANT_CREATE_OS_THREADS`): a multi-thread runtime with two
//!   workers that drive the connection; application threads wait for their call's future with
//!   `block_on`. Measured against the other flavour with `arca-p11-bench` (see the README), it
//!   is as fast for one calling thread and faster for eight.
//! - [`Flavor::CurrentThread`], for applications that forbid it (GnuTLS, NSS): a current-thread
//!   runtime without threads of its own, driven by the application's threads inside each call
//!   (`Runtime::block_on`, which tokio lets several threads call at once: one drives the I/O,
//!   the timers and the tasks, the others wait for their own future and take the driver over
//!   when it is free). Between calls nothing of the module runs. The module never uses tokio's
//!   blocking pool (see `crate::connect`), so this flavour creates no thread at all.
//!
//! A thread already inside a tokio runtime of the same tokio (where `block_on` would panic) gets
//! its call spawned on the module's workers; without workers the call fails with
//! `CKR_FUNCTION_FAILED`. (This concerns Rust programs that link the module's crate; a program
//! that loads `libarca_pkcs11.so` has its own copy of tokio, which the module's cannot see.)
//!
//! A thread whose thread-local storage is being or has been destroyed (a call from a TLS
//! destructor, or from an `exit` handler such as `OPENSSL_cleanup` after the exiting thread's
//! TLS is gone) must not enter tokio, which keeps its state in thread-locals and would panic
//! (and print the panic). [`thread_alive`] tells, from a thread-local of the module's own, and
//! such a call is answered [`Error::ThreadEnding`] without touching the runtime.

use std::cell::Cell;
use std::future::Future;
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};

use crate::error::Error;

/// How long `C_Finalize` waits for the runtime's threads.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);
/// The name of every thread the module starts.
const THREAD_NAME: &str = "arca-pkcs11";

/// Which runtime drives the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// No threads of the module's own: the calling threads drive the runtime.
    CurrentThread,
    /// Two worker threads of the module's own.
    MultiThread,
}

/// The runtime.
#[derive(Debug)]
pub struct Bridge {
    runtime: Option<Runtime>,
    flavor: Flavor,
}

impl Bridge {
    /// A runtime for an application that does (or does not) let the module create threads.
    pub fn new(may_create_threads: bool) -> Result<Self, Error> {
        let flavor = if may_create_threads { Flavor::MultiThread } else { Flavor::CurrentThread };
        let mut builder = match flavor {
            Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
            Flavor::MultiThread => {
                let mut builder = tokio::runtime::Builder::new_multi_thread();
                builder.worker_threads(2);
                builder
            }
        };
        let runtime =
            builder.thread_name(THREAD_NAME).enable_all().build().map_err(|_| Error::FunctionFailed)?;
        Ok(Self { runtime: Some(runtime), flavor })
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// Runs `future` to completion for a blocking C call.
    pub fn block_on<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, Error> {
        if !thread_alive() {
            return Err(Error::ThreadEnding);
        }
        let runtime = self.runtime.as_ref().ok_or(Error::General)?;
        match Handle::try_current() {
            Err(outside) if outside.is_missing_context() => Ok(runtime.block_on(future)),
            Err(_destroyed) => Err(Error::ThreadEnding),
            Ok(_inside) => self.block_on_elsewhere(runtime, future),
        }
    }

    /// `block_on` for a thread inside a tokio runtime, where blocking on another runtime panics.
    fn block_on_elsewhere<T: Send + 'static>(
        &self,
        runtime: &Runtime,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, Error> {
        match self.flavor {
            Flavor::MultiThread => {
                let (sender, receiver) = std::sync::mpsc::sync_channel(1);
                runtime.spawn(async move {
                    let _receiver_gone = sender.send(future.await);
                });
                receiver.recv().map_err(|_| Error::General)
            }
            Flavor::CurrentThread => Err(Error::FunctionFailed),
        }
    }
}

impl Drop for Bridge {
    /// Stops the runtime so that nothing of the module still runs if the application unloads it
    /// after `C_Finalize`; on a thread that is ending the runtime is left alone (the process or
    /// thread is going away, and touching tokio there would panic).
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else { return };
        if !thread_alive() || Handle::try_current().is_err_and(|e| e.is_thread_local_destroyed()) {
            std::mem::forget(runtime);
            return;
        }
        let inside = Handle::try_current().is_ok();
        match self.flavor {
            // No threads to wait for; waiting is not allowed inside a runtime.
            Flavor::CurrentThread if inside => runtime.shutdown_background(),
            Flavor::CurrentThread => runtime.shutdown_timeout(SHUTDOWN_TIMEOUT),
            Flavor::MultiThread if inside => shut_down_elsewhere(runtime),
            Flavor::MultiThread => runtime.shutdown_timeout(SHUTDOWN_TIMEOUT),
        }
    }
}

/// Stops a multi-thread runtime from inside another runtime's context (where waiting is
/// forbidden): the wait happens on a helper thread.
fn shut_down_elsewhere(runtime: Runtime) {
    // The runtime goes to the helper only once it runs, so that if the thread cannot be made the
    // runtime is still here to be let go of without waiting.
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new().name(format!("{THREAD_NAME}-stop")).spawn(move || {
        if let Ok(runtime) = receiver.recv() {
            Runtime::shutdown_timeout(runtime, SHUTDOWN_TIMEOUT);
        }
    });
    match spawned {
        Ok(thread) => {
            let _sent = sender.send(runtime);
            let _joined = thread.join();
        }
        Err(_) => runtime.shutdown_background(),
    }
}

/// A thread-local with a destructor: it can be reached until the thread's thread-local storage
/// is destroyed, and not after.
#[derive(Debug)]
struct Alive;

impl Drop for Alive {
    fn drop(&mut self) {}
}

thread_local! {
    static ALIVE: Alive = const { Alive };
    /// Set once the thread-locals that tokio uses were created on this thread (no destructor,
    /// so it can always be read).
    static WARM: Cell<bool> = const { Cell::new(false) };
}

/// False on a thread whose thread-local storage is being or has been destroyed, where tokio
/// must not run.
///
/// On its first use on a thread it creates the thread-locals tokio and the standard library use
/// when driving a runtime, then [`ALIVE`]: thread-local destructors run in the reverse order of
/// creation, so `ALIVE` goes before any of them, and after an `exit` handler's thread has lost
/// its thread-locals `ALIVE` is gone too.
pub fn thread_alive() -> bool {
    if !WARM.get() {
        WARM.set(true);
        create_runtime_thread_locals();
    }
    ALIVE.try_with(|_| ()).is_ok()
}

/// Creates tokio's thread-locals (its context, and the parker that `block_on` waits with) and
/// the standard library's handle of the current thread, which tokio reads.
fn create_runtime_thread_locals() {
    drop(std::thread::current());
    if Handle::try_current().is_err_and(|e| e.is_missing_context()) {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let _sent = sender.send(());
        let _received = receiver.blocking_recv();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_thread_is_alive_and_one_past_its_thread_locals_is_not() {
        assert!(thread_alive());
        struct Probe(std::sync::mpsc::Sender<bool>);
        impl Drop for Probe {
            fn drop(&mut self) {
                let _ = self.0.send(thread_alive());
            }
        }
        thread_local! { static PROBE: Cell<Option<Probe>> = const { Cell::new(None) }; }
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Created before the module's thread-locals, so destroyed after them.
            PROBE.set(Some(Probe(sender)));
            assert!(thread_alive());
        })
        .join()
        .unwrap();
        assert_eq!(receiver.recv(), Ok(false));
    }

    #[test]
    fn both_flavours_run_calls() {
        for may_create_threads in [false, true] {
            let bridge = Bridge::new(may_create_threads).unwrap();
            assert_eq!(bridge.block_on(async { 7 }), Ok(7));
        }
        assert_eq!(Bridge::new(false).unwrap().flavor(), Flavor::CurrentThread);
        assert_eq!(Bridge::new(true).unwrap().flavor(), Flavor::MultiThread);
    }
}

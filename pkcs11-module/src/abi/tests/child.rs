//! Tests that need a process of their own, run as a child of this test binary against a fake
//! daemon in the parent: the threads of a process can only be counted where no other test runs,
//! and calls from thread-local destructors and `exit` handlers need a thread or a process that
//! ends. Each `child_*` test is ignored in a normal run and does its work only when the parent
//! test starts it (with `--ignored --exact`).

use std::io::Write as _;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd as _;
use std::process::{Command, Output};
use std::ptr::null_mut;
use std::sync::{Barrier, Mutex};

use cryptoki_sys::*;

use super::{initialize_with_flags, serial};
use crate::abi::{general::*, random::*, session::*, slot::*};
use crate::fake_daemon::FakeDaemon;

const SESSION: CK_SESSION_HANDLE = 0x1_0000_0007;
/// `C_Initialize` flags of GnuTLS and NSS.
const NO_THREADS: CK_FLAGS = CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK;

/// Runs `child_test` in a child process whose module talks to a fresh fake daemon over
/// `transport` (`ARCA_PKCS11_TRANSPORT`).
///
/// Holds [`serial`]: until the child execs it holds copies of every descriptor of this process,
/// the server ends of other tests' fake daemons among them, which would keep a connection open
/// that a test that just stopped its daemon expects closed.
fn run_child_on(child_test: &str, transport: &str) -> Output {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("arca.sock");
    let _daemon = FakeDaemon::start(&socket, 1);
    let name = format!("abi::tests::child::{child_test}");
    let output = Command::new(std::env::current_exe().unwrap())
        .args([name.as_str(), "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("ARCA_SOCKET", &socket)
        .env("ARCA_PKCS11_TRANSPORT", transport)
        .env_remove("ARCA_ENDPOINT")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{child_test}: {:?}\nstdout: {stdout}\nstderr: {stderr}", output.status);
    assert!(stdout.contains("running 1 test"), "{child_test} did not run: {stdout}");
    assert_eq!(stderr, "", "{child_test} wrote to stderr");
    output
}

/// The threads of this process.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn generate_random() -> CK_RV {
    let mut random = [0u8; 16];
    // SAFETY: `random` is a live buffer of the length given.
    unsafe { C_GenerateRandom(SESSION, random.as_mut_ptr(), 16) }
}

#[test]
fn no_thread_is_created_when_the_application_forbids_it() {
    for transport in ["wire", "grpc"] {
        let output = run_child_on("child_creates_no_thread", transport);
        assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"), "{transport}");
    }
}

#[test]
#[ignore = "run in a child process by no_thread_is_created_when_the_application_forbids_it"]
fn child_creates_no_thread() {
    let before = threads();
    assert_eq!(initialize_with_flags(Some(NO_THREADS)), CKR_OK);
    let mut count: CK_ULONG = 0;
    let mut session = 0;
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    unsafe {
        assert_eq!(C_GetSlotList(CK_TRUE, null_mut(), &mut count), CKR_OK);
        assert_eq!(count, 1);
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        assert_eq!(C_OpenSession(0, flags, null_mut(), None, &mut session), CKR_OK);
        assert_eq!(C_Login(session, CKU_USER, b"1234".as_ptr().cast_mut(), 4), CKR_OK);
    }
    assert_eq!(generate_random(), CKR_OK);
    assert_eq!(threads(), before, "after C_Initialize and the first calls");

    // Application threads calling at once drive the runtime in turn; while all of them are
    // alive, the process has them and nothing more.
    let barrier = Barrier::new(4);
    let during = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..50 {
                    assert_eq!(generate_random(), CKR_OK);
                }
                barrier.wait();
                during.lock().unwrap().push(threads());
                barrier.wait();
            });
        }
    });
    assert_eq!(*during.lock().unwrap(), [before + 4; 4]);

    // SAFETY: C_CloseSession takes any handle; C_Finalize takes a NULL pReserved.
    unsafe {
        assert_eq!(C_CloseSession(session), CKR_OK);
        assert_eq!(C_Finalize(null_mut()), CKR_OK);
    }
    // A joined thread can stay listed in /proc for a moment after it has exited: give the
    // kernel up to two seconds to reap the four application threads.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut after = threads();
    while after > before && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
        after = threads();
    }
    assert!(after <= before, "{after} threads after C_Finalize, {before} before C_Initialize");
}

/// Calls from a thread whose thread-locals are going or gone: gRPC's runtime cannot run there,
/// so such a call that needs the daemon fails quietly (`CKR_GENERAL_ERROR`), one that ends
/// something succeeds; the wire needs no thread-local and serves them all.
#[test]
fn calls_from_ending_threads_answer_quietly() {
    for (transport, random) in [("wire", "0x0"), ("grpc", "0x5")] {
        let output = run_child_on("child_calls_from_ending_threads", transport);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let expected = format!(
            "exit handler: C_CloseSession 0x0, C_CloseAllSessions 0x0, C_GenerateRandom {random}, \
             C_Logout 0x0, C_Finalize 0x0, C_Finalize 0x190\n"
        );
        assert!(stdout.contains(&expected), "{transport}: {stdout}");
    }
}

/// Calls the module from its destructor.
struct CallsOnDrop(std::sync::mpsc::Sender<[CK_RV; 2]>);

impl Drop for CallsOnDrop {
    fn drop(&mut self) {
        // SAFETY: C_CloseAllSessions takes a slot id.
        let closed = unsafe { C_CloseAllSessions(0) };
        let _ = self.0.send([closed, generate_random()]);
    }
}

thread_local! {
    static CALLS_ON_DROP: std::cell::Cell<Option<CallsOnDrop>> = const { std::cell::Cell::new(None) };
}

unsafe extern "C" {
    fn atexit(handler: extern "C" fn()) -> std::ffi::c_int;
}

/// Like `OPENSSL_cleanup`: runs after the exiting thread's thread-local storage is destroyed.
extern "C" fn exit_handler() {
    // SAFETY: the handles are any values; C_Finalize takes a NULL pReserved.
    let answers = unsafe {
        [
            ("C_CloseSession", C_CloseSession(SESSION)),
            ("C_CloseAllSessions", C_CloseAllSessions(0)),
            ("C_GenerateRandom", generate_random()),
            ("C_Logout", C_Logout(SESSION)),
            ("C_Finalize", C_Finalize(null_mut())),
            ("C_Finalize", C_Finalize(null_mut())),
        ]
    };
    let line: Vec<String> = answers.iter().map(|(name, rv)| format!("{name} {rv:#x}")).collect();
    // Straight to file descriptor 1: `println!` needs thread-local storage too.
    // SAFETY: descriptor 1 is open for the life of the process, and ManuallyDrop leaves it so.
    let mut stdout = ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
    let _ = stdout.write_all(format!("exit handler: {}\n", line.join(", ")).as_bytes());
}

#[test]
#[ignore = "run in a child process by calls_from_ending_threads_answer_quietly"]
fn child_calls_from_ending_threads() {
    assert_eq!(initialize_with_flags(None), CKR_OK);
    assert_eq!(generate_random(), CKR_OK);

    // A thread-local destructor of a thread that used the module: no round trip, no panic. The
    // exit handler below then meets the module as initialised by a NULL pInitArgs (as libp11).
    for flags in [Some(NO_THREADS), None] {
        // SAFETY: C_Finalize takes a NULL pReserved.
        assert_eq!(unsafe { C_Finalize(null_mut()) }, CKR_OK);
        assert_eq!(initialize_with_flags(flags), CKR_OK);
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            CALLS_ON_DROP.set(Some(CallsOnDrop(sender)));
            assert_eq!(generate_random(), CKR_OK);
        })
        .join()
        .unwrap();
        let over_grpc = std::env::var("ARCA_PKCS11_TRANSPORT").is_ok_and(|transport| transport == "grpc");
        let random = if over_grpc { CKR_GENERAL_ERROR } else { CKR_OK };
        assert_eq!(receiver.recv().unwrap(), [CKR_OK, random]);
        // The module goes on serving the threads that live.
        assert_eq!(generate_random(), CKR_OK);
    }

    // An exit handler after the exiting thread's thread-locals are gone (OpenSSL's
    // OPENSSL_cleanup calling libp11's C_CloseAllSessions): no round trip, no panic.
    // SAFETY: `exit_handler` is an `extern "C" fn()` that lives as long as the process.
    assert_eq!(unsafe { atexit(exit_handler) }, 0);
    std::process::exit(0);
}

unsafe extern "C" {
    fn fork() -> std::ffi::c_int;
    fn close(fd: std::ffi::c_int) -> std::ffi::c_int;
    fn _exit(status: std::ffi::c_int) -> !;
}

/// `C_Finalize` ends the application in the daemon at once, even while a child forked after
/// `C_Initialize` holds copies of the module's connections (it sleeps 3 s with them). On the
/// wire only: over gRPC the connection's socket is tonic's, and the child's copy keeps it open
/// (`pkcs11-module/README.md`, "Fork").
#[test]
fn finalize_ends_the_application_while_a_forked_child_holds_its_connections() {
    // As in `run_child_on`.
    let _serial = serial();
    let transport = "wire";
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("arca.sock");
    let daemon = FakeDaemon::start(&socket, 1);
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["abi::tests::child::child_forks_then_finalizes", "--exact", "--ignored", "--test-threads=1"])
        .env("ARCA_SOCKET", &socket)
        .env("ARCA_PKCS11_TRANSPORT", transport)
        .env_remove("ARCA_ENDPOINT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success() && stdout.contains("1 passed"), "{transport}: {stdout}");
    assert!(
        daemon.sees_a_detach_within(std::time::Duration::from_millis(1500)),
        "{transport}: the application outlived C_Finalize while a forked child held its connections"
    );
}

#[test]
#[ignore = "run in a child process by finalize_ends_the_application_while_a_forked_child_holds_its_connections"]
fn child_forks_then_finalizes() {
    assert_eq!(initialize_with_flags(None), CKR_OK);
    assert_eq!(generate_random(), CKR_OK);
    // SAFETY: the forked child touches nothing another thread may have held: it closes its
    // standard descriptors (so the parent test is not kept waiting on them), sleeps and leaves
    // with `_exit`.
    let pid = unsafe { fork() };
    if pid == 0 {
        // SAFETY: see above.
        unsafe {
            for fd in 0..3 {
                close(fd);
            }
        }
        std::thread::sleep(std::time::Duration::from_secs(3));
        // SAFETY: see above.
        unsafe { _exit(0) };
    }
    assert!(pid > 0, "fork failed");
    // SAFETY: C_Finalize takes a NULL pReserved.
    assert_eq!(unsafe { C_Finalize(null_mut()) }, CKR_OK);
}

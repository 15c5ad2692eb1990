//! The PKCS#11 conformance suite (`arca-p11-check`) against Arca's module and, as the reference
//! that validates the checks themselves, against SoftHSM2.
//!
//! The suite runs as a child process: a PKCS#11 module is process-global and finds the daemon
//! through `ARCA_SOCKET`. When it prints `RESTART-DAEMON` the test restarts arcad on the same
//! data directory and socket and answers `continue`, while the child keeps the module loaded.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arca_tests::{Daemon, Launch, bin_dir, binary};

const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const SUITE_TIMEOUT: Duration = Duration::from_secs(600);
const RESTART_REQUEST: &str = "RESTART-DAEMON";

/// Kills the child if the suite outlives `SUITE_TIMEOUT`, so a hung module fails the test
/// instead of hanging it.
fn watchdog(pid: u32, done: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let deadline = Instant::now() + SUITE_TIMEOUT;
        while !done.load(Ordering::SeqCst) {
            if Instant::now() > deadline {
                let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
}

/// Runs the suite, echoing its lines; `restart` is called for each restart request.
/// Returns whether it succeeded, and its whole output.
fn run_suite(mut command: Command, mut restart: impl FnMut()) -> (bool, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn arca-p11-check");
    let done = Arc::new(AtomicBool::new(false));
    watchdog(child.id(), done.clone());
    let mut stderr = child.stderr.take().expect("stderr");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut stdin = child.stdin.take().expect("stdin");
    let mut transcript = String::new();
    for line in BufReader::new(child.stdout.take().expect("stdout")).lines().map_while(Result::ok) {
        println!("{line}");
        transcript.push_str(&line);
        transcript.push('\n');
        if line == RESTART_REQUEST {
            restart();
            stdin.write_all(b"continue\n").and_then(|()| stdin.flush()).expect("answer the restart request");
        }
    }
    drop(stdin);
    let status = child.wait().expect("wait for arca-p11-check");
    done.store(true, Ordering::SeqCst);
    let stderr = stderr_reader.join().unwrap_or_default();
    if !stderr.trim().is_empty() {
        transcript.push_str("--- stderr ---\n");
        transcript.push_str(&stderr);
    }
    let closing = transcript.lines().rfind(|line| line.ends_with(" failed")).unwrap_or_default().to_owned();
    (status.success() && closing.ends_with(" 0 failed"), transcript)
}

#[test]
fn arca_module_passes_the_pkcs11_conformance_suite() {
    let (daemon, dir) = Daemon::start_dev();
    let module = bin_dir().join("libarca_pkcs11.so");
    assert!(module.exists(), "{} is missing: run `cargo build --workspace` first", module.display());
    let socket = daemon.socket.clone();
    let mut command = Command::new(binary("arca-p11-check"));
    command
        .env("ARCA_SOCKET", &socket)
        .arg("--module")
        .arg(&module)
        .args(["--profile", "arca", "--socket"])
        .arg(&socket);
    let mut daemon = Some(daemon);
    let (passed, transcript) = run_suite(command, || {
        if let Some(old) = daemon.take() {
            old.kill_hard();
        }
        daemon = Some(Launch::dev(dir.path()).start());
    });
    let stderr = daemon.as_mut().map(Daemon::stderr_text).unwrap_or_default();
    assert!(
        passed,
        "the conformance suite failed against Arca:\n{transcript}\n--- arcad stderr ---\n{stderr}"
    );
}

#[test]
fn softhsm2_passes_the_pkcs11_conformance_suite() {
    if !Path::new(SOFTHSM_MODULE).exists() {
        println!(
            "skipping: SoftHSM2 is not installed ({SOFTHSM_MODULE}); scripts/install-deps.sh installs it"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let config = dir.path().join("softhsm2.conf");
    let text = format!(
        "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
        tokens.display()
    );
    std::fs::write(&config, text).unwrap();
    let mut command = Command::new(binary("arca-p11-check"));
    command.env("SOFTHSM2_CONF", &config).args(["--module", SOFTHSM_MODULE, "--profile", "softhsm"]);
    let (passed, transcript) =
        run_suite(command, || panic!("the SoftHSM profile never asks for a daemon restart"));
    assert!(passed, "the conformance suite failed against SoftHSM2:\n{transcript}");
}

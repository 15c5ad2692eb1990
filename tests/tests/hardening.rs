//! The daemon process itself: locked secrets, no core dumps, refusal to run with swappable keys,
//! and no key bytes in what it logs.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use arca_tests::{Launch, create_key, pb};

fn proc_status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} missing"));
    line[field.len()..].trim().to_owned()
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// Runs arcad as an unprivileged user: as `nobody` via setpriv when the tests run as root
/// (root would bypass RLIMIT_MEMLOCK and own /proc entries anyway), as ourselves otherwise.
fn unprivileged(launch: &mut Launch, dir: &Path) {
    if running_as_root() {
        std::os::unix::fs::chown(dir, Some(65534), Some(65534)).unwrap();
        launch.wrapper.splice(
            0..0,
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"].map(String::from),
        );
    }
}

#[tokio::test]
async fn secrets_are_locked_and_the_process_is_not_dumpable() {
    let dir = tempfile::tempdir().unwrap();
    let mut launch = Launch::dev(dir.path());
    unprivileged(&mut launch, dir.path());
    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    for n in 0..3 {
        create_key(&mut kms, &format!("k{n}")).await;
    }
    let pid = daemon.pid();
    let locked_kib: u64 = proc_status_field(pid, "VmLck:").trim_end_matches("kB").trim().parse().unwrap();
    assert!(locked_kib > 0, "VmLck is {locked_kib} kB");

    // A non-dumpable process has its /proc entries owned by root even when it runs as another
    // user; a dumpable one owns them itself.
    let uid: u32 = proc_status_field(pid, "Uid:").split_whitespace().next().unwrap().parse().unwrap();
    assert_ne!(uid, 0, "the daemon under test must not run as root");
    let owner = std::fs::metadata(format!("/proc/{pid}/status")).unwrap().uid();
    assert_eq!(owner, 0, "/proc/{pid} is owned by uid {owner}: the process is dumpable");

    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits.lines().find(|l| l.starts_with("Max core file size")).unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(fields[4..6], ["0", "0"], "core limit: {core}");
}

#[test]
fn refuses_to_start_when_memory_cannot_be_locked() {
    let dir = tempfile::tempdir().unwrap();
    let mut launch = Launch::dev(dir.path());
    unprivileged(&mut launch, dir.path());
    launch.wrapper.splice(0..0, ["prlimit", "--memlock=0:0", "--"].map(String::from));
    let (code, stderr) = launch.run_to_exit();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("RLIMIT_MEMLOCK"), "the limit is named: {stderr}");
    assert!(stderr.contains("--allow-unlocked-memory"), "the way out is named: {stderr}");
    assert!(stderr.contains("LimitMEMLOCK"), "the setting to raise is named: {stderr}");
}

#[tokio::test]
async fn allow_unlocked_memory_is_an_explicit_choice() {
    let dir = tempfile::tempdir().unwrap();
    let mut launch = Launch::dev(dir.path());
    unprivileged(&mut launch, dir.path());
    launch.wrapper.splice(0..0, ["prlimit", "--memlock=0:0", "--"].map(String::from));
    launch.args.push("--allow-unlocked-memory".into());
    let mut daemon = launch.start();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "unlocked").await;
    let request = pb::EncryptRequest { key_id: key, plaintext: b"x".to_vec(), ..Default::default() };
    kms.encrypt(request).await.unwrap();
    assert!(daemon.stderr_shows("unlocked memory", std::time::Duration::from_secs(5)), "the daemon warns");
}

#[tokio::test]
async fn key_bytes_never_reach_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut launch = Launch::dev(dir.path());
    launch.args.extend(["--log".to_string(), "debug".to_string()]);
    let mut daemon = launch.start();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "logged").await;
    let mut secrets = Vec::new();
    for _ in 0..5 {
        let request = pb::GenerateDataKeyRequest {
            key_id: key.clone(),
            key_spec: pb::DataKeySpec::Aes256.into(),
            ..Default::default()
        };
        let response = kms.generate_data_key(request).await.unwrap().into_inner();
        let decrypt = pb::DecryptRequest { ciphertext_blob: response.ciphertext_blob, ..Default::default() };
        kms.decrypt(decrypt).await.unwrap();
        secrets.push(response.plaintext);
    }
    let master_key = std::fs::read(dir.path().join("master.key")).unwrap();
    secrets.push(master_key);
    // Give the log writer a moment, then search for every form a key could take in text.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = daemon.stderr_text();
    assert!(log.contains("GenerateDataKey"), "the calls are logged: {log}");
    for secret in secrets {
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        let debug = format!("{:?}", &secret[..8]);
        assert!(!log.contains(&hex), "hex key in log");
        assert!(!log.contains(&debug[1..debug.len() - 1]), "Debug-formatted key in log");
        assert!(!log.as_bytes().windows(secret.len()).any(|w| w == secret.as_slice()), "raw key in log");
    }
}

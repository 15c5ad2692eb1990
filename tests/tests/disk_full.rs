//! A full disk under the data directory: the daemon refuses new work before the disk fills (the
//! `min_free_disk_bytes` reserve), recovers by itself once space returns (the store opened again
//! after its I/O error, no torn audit record left behind), and a `kill -9` then a restart open
//! cleanly with every acknowledged record in a log `arcactl audit verify` passes.

use std::io::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use arca_tests::arcactl::Arcactl;
use arca_tests::{Daemon, Launch, assert_status, context, create_key, pb};
use tonic::Code;

/// A small tmpfs, unmounted (lazily, in case a process still holds it) when dropped.
struct SmallDisk {
    mount: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(bytes: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mount = dir.path().join("disk");
        std::fs::create_dir(&mount).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&mount)
            .status()
            .unwrap();
        assert!(status.success(), "cannot mount a tmpfs (the end-to-end tests run as root)");
        Self { mount, _dir: dir }
    }

    /// Writes zeros into `name` until the disk holds less than `leave` free bytes (or is full).
    fn fill(&self, name: &str, leave: u64) {
        let mut filler =
            std::fs::OpenOptions::new().create(true).append(true).open(self.mount.join(name)).unwrap();
        let chunk = vec![0u8; 4096];
        while free_bytes(&self.mount) >= leave.max(1) {
            if filler.write_all(&chunk).is_err() {
                break;
            }
        }
    }

    fn free(&self, name: &str) {
        std::fs::remove_file(self.mount.join(name)).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

fn free_bytes(path: &Path) -> u64 {
    let output = Command::new("stat").args(["-f", "-c", "%a %S"]).arg(path).output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let fields: Vec<u64> = text.split_whitespace().map(|f| f.parse().unwrap()).collect();
    fields[0] * fields[1]
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// The daemon reads the free space at most once a second.
async fn let_the_reading_expire() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

fn encrypt_request(key: &str, n: usize) -> pb::EncryptRequest {
    let n = n.to_string();
    pb::EncryptRequest {
        key_id: key.into(),
        plaintext: b"acknowledged".to_vec(),
        encryption_context: context(&[("n", &n)]),
        ..Default::default()
    }
}

/// The records of successful calls of `operation` in the daemon's log files.
fn ok_records(data: &Path, operation: &str) -> usize {
    let text = std::fs::read_to_string(data.join("audit.log")).unwrap();
    let needle = format!("\"operation\":\"{operation}\"");
    text.lines().filter(|l| l.contains(&needle) && l.contains("\"outcome\":\"OK\"")).count()
}

#[tokio::test]
async fn a_full_disk_refuses_work_recovers_by_itself_and_restarts_intact() {
    if !running_as_root() {
        eprintln!("skipped: needs root to mount a small filesystem");
        return;
    }
    let disk = SmallDisk::mount(8 * 1024 * 1024);
    // No reserve first, so the disk really fills under the store and the audit log.
    let launch = Launch::key_file_config(&disk.mount, "min_free_disk_bytes = 0\n");
    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    let mut keys = vec![create_key(&mut kms, "before the disk fills").await];
    let mut encrypted = 0;
    for n in 0..5 {
        kms.encrypt(encrypt_request(&keys[0], n)).await.unwrap();
        encrypted += 1;
    }

    disk.fill("filler", 0);
    for n in 0..5 {
        let created = kms.create_key(pb::CreateKeyRequest::default()).await;
        if let Ok(created) = created {
            keys.push(created.into_inner().key_metadata.unwrap().key_id);
        }
        if kms.encrypt(encrypt_request(&keys[0], n)).await.is_ok() {
            encrypted += 1;
        }
    }
    disk.free("filler");

    // The same daemon serves again: no restart, no hand edit.
    keys.push(create_key(&mut kms, "after space returned").await);
    kms.encrypt(encrypt_request(&keys[0], 10)).await.unwrap();
    encrypted += 1;
    daemon.kill_hard();
    check_restart(&launch, &keys, encrypted).await;

    // With a reserve, work is refused before the disk fills, and served again once it has room.
    let config = std::fs::read_to_string(disk.mount.join("arca.toml")).unwrap();
    let reserve = 2 * 1024 * 1024;
    let config = config.replace("min_free_disk_bytes = 0", &format!("min_free_disk_bytes = {reserve}"));
    std::fs::write(disk.mount.join("arca.toml"), config).unwrap();
    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    disk.fill("filler", reserve / 2);
    let_the_reading_expire().await;
    let refused = kms.encrypt(encrypt_request(&keys[0], 20)).await;
    assert_status(refused, Code::ResourceExhausted, &format!("min_free_disk_bytes reserve of {reserve}"));
    let refused = kms.create_key(pb::CreateKeyRequest::default()).await;
    assert_status(refused, Code::ResourceExhausted, "min_free_disk_bytes");
    let status = daemon.admin().await.status(pb::StatusRequest {}).await.unwrap().into_inner();
    assert_eq!(status.min_free_disk_bytes, reserve);
    assert!(status.disk_free_bytes < reserve, "{status:?}");
    disk.free("filler");
    let_the_reading_expire().await;
    kms.encrypt(encrypt_request(&keys[0], 21)).await.unwrap();
    encrypted += 1;
    daemon.kill_hard();
    check_restart(&launch, &keys, encrypted).await;
}

/// Restarts after `kill -9`: the daemon opens, every acknowledged key is there, the log verifies
/// and holds exactly the acknowledged Encrypt calls.
async fn check_restart(launch: &Launch, keys: &[String], encrypted: usize) {
    let daemon: Daemon = launch.start();
    let mut kms = daemon.kms().await;
    for key in keys {
        kms.describe_key(pb::DescribeKeyRequest { key_id: key.clone(), grant_tokens: Default::default() })
            .await
            .unwrap();
    }
    let verified = Arcactl::new(&daemon.socket).ok(&["audit", "verify"]);
    assert_eq!(verified["intact"], true, "{verified}");
    assert_eq!(ok_records(&launch.data_dir, "Encrypt"), encrypted);
    assert_eq!(ok_records(&launch.data_dir, "CreateKey"), keys.len());
    daemon.shutdown().await;
}

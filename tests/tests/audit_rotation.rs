//! Rotation of the audit log: on demand (`arcactl audit rotate`), past `audit_max_bytes`, and
//! under `kill -9`; the chain stays verifiable across the files and a damaged one is named.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use arca_proto::REQUEST_ID_HEADER;
use arca_tests::{Daemon, Launch, assert_status, binary, create_key, pb};
use serde_json::Value;
use tonic::Code;

/// `arcactl --output json ARGS`: (exit status, the JSON it printed).
fn arcactl(daemon: &Daemon, args: &[&str]) -> (i32, Value) {
    let output = Command::new(binary("arcactl"))
        .arg("--socket")
        .arg(&daemon.socket)
        .args(["--output", "json"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text:?} {stderr}"));
    (output.status.code().unwrap_or(-1), value)
}

/// The audit files in `dir`, sorted by name.
fn audit_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("audit.log"))
        .collect();
    names.sort();
    names
}

async fn encrypt(daemon: &Daemon, key: &str, times: usize) {
    let mut kms = daemon.kms().await;
    for _ in 0..times {
        let request =
            pb::EncryptRequest { key_id: key.into(), plaintext: b"p".to_vec(), ..Default::default() };
        kms.encrypt(request).await.unwrap();
    }
}

async fn verify(daemon: &Daemon) -> pb::VerifyAuditResponse {
    daemon.admin().await.verify_audit(pb::VerifyAuditRequest {}).await.unwrap().into_inner()
}

#[tokio::test]
async fn arcactl_audit_rotate_then_verify_passes_and_a_removed_file_is_named() {
    let (daemon, dir) = Daemon::start_dev();
    let key = create_key(&mut daemon.kms().await, "rotated-log").await;
    encrypt(&daemon, &key, 3).await;

    let (status, rotated) = arcactl(&daemon, &["audit", "rotate"]);
    assert_eq!(status, 0, "{rotated}");
    assert_eq!(rotated["rotated"], true);
    let file = rotated["file"].as_str().unwrap().to_owned();
    assert_eq!(file, format!("audit.log.0-{}", rotated["last_seq"]));
    assert!(dir.path().join(&file).exists());
    encrypt(&daemon, &key, 2).await;
    let (_, again) = arcactl(&daemon, &["audit", "rotate"]);
    assert_eq!(audit_files(dir.path()).len(), 3, "{again}");

    let (status, verified) = arcactl(&daemon, &["audit", "verify"]);
    assert_eq!((status, &verified["intact"], &verified["files"]), (0, &Value::Bool(true), &Value::from(3)));
    // The newest records, across the files, oldest first; filtered by source.
    let (_, tail) = arcactl(&daemon, &["audit", "tail", "--limit", "1000", "--source", "grpc/unix"]);
    let records: Vec<Value> = tail["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(r.as_str().unwrap()).unwrap())
        .collect();
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>(), "every record, in order");
    assert_eq!(records.iter().filter(|r| r["operation"] == "Encrypt").count(), 5);

    std::fs::remove_file(dir.path().join(&file)).unwrap();
    let (status, broken) = arcactl(&daemon, &["audit", "verify"]);
    assert_eq!(status, 3, "{broken}");
    assert_eq!(
        (&broken["first_bad_seq"], broken["first_bad_file"].as_str().unwrap()),
        (&Value::from(0), again["file"].as_str().unwrap())
    );
    assert!(broken["reason"].as_str().unwrap().contains("missing"), "{broken}");

    daemon.shutdown().await;
}

#[tokio::test]
async fn only_administrators_rotate_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::key_file_config(dir.path(), "administrators = [\"uid:4242\"]").start();
    let refused = daemon.admin().await.rotate_audit(pb::RotateAuditRequest {}).await;
    assert_status(refused, Code::PermissionDenied, "administrators only");
    let request = pb::ReadAuditRequest { limit: 1000, ..Default::default() };
    assert_status(
        daemon.admin().await.read_audit(request).await,
        Code::PermissionDenied,
        "administrators only",
    );
    assert_eq!(audit_files(&daemon.data_dir), ["audit.log"]);
    daemon.shutdown().await;
}

#[tokio::test]
async fn the_log_rotates_past_audit_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::key_file_config(dir.path(), "audit_max_bytes = 2048");
    let daemon = launch.start();
    let key = create_key(&mut daemon.kms().await, "small-files").await;
    encrypt(&daemon, &key, 30).await;

    let files = audit_files(&launch.data_dir);
    assert!(files.len() >= 4, "{files:?}");
    for name in files.iter().filter(|n| n.as_str() != "audit.log") {
        let size = std::fs::metadata(launch.data_dir.join(name)).unwrap().len();
        assert!((2048..2048 + 1024).contains(&size), "{name} is {size} bytes");
    }
    let verified = verify(&daemon).await;
    assert!(verified.intact, "{}", verified.reason);
    assert_eq!(verified.files as usize, files.len());
    let all = pb::ReadAuditRequest { limit: 1000, ..Default::default() };
    let records = daemon.admin().await.read_audit(all).await.unwrap().into_inner().records;
    assert_eq!(
        records.len() as u64,
        verified.records + 1,
        "ReadAudit reads every file (and VerifyAudit's record)"
    );

    // A rotated file cut short is named.
    daemon.shutdown().await;
    let victim = launch.data_dir.join(&files[1]);
    let text = std::fs::read_to_string(&victim).unwrap();
    let cut = text.trim_end_matches('\n').rfind('\n').unwrap() + 1;
    std::fs::write(&victim, &text[..cut]).unwrap();
    let daemon = launch.start();
    let verified = verify(&daemon).await;
    assert_eq!((verified.intact, verified.first_bad_file.as_str()), (false, files[1].as_str()));
    assert!(verified.reason.contains("truncated"), "{}", verified.reason);
}

/// Calls and rotations (on demand, and past a small size) race a `kill -9`; after each restart
/// the chain verifies across every file and no acknowledged call's record is missing.
#[tokio::test]
async fn kill_9_during_rotation_leaves_a_verifiable_chain() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::key_file_config(dir.path(), "audit_max_bytes = 4096");
    let daemon = launch.start();
    let key = create_key(&mut daemon.kms().await, "crash-log").await;
    daemon.shutdown().await;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut rotations = 0;
    for round in 0..8u64 {
        let daemon = launch.start();
        let (mut kms, mut admin) = (daemon.kms().await, daemon.admin().await);
        let calls = async {
            loop {
                let request = pb::EncryptRequest {
                    key_id: key.clone(),
                    plaintext: b"p".to_vec(),
                    ..Default::default()
                };
                let Ok(response) = kms.encrypt(request).await else { break };
                let id = response.metadata().get(REQUEST_ID_HEADER).unwrap().to_str().unwrap().to_owned();
                acknowledged.lock().unwrap().push(id);
            }
        };
        let rotate = async {
            while admin.rotate_audit(pb::RotateAuditRequest {}).await.is_ok() {
                rotations += 1;
            }
        };
        let killer = async {
            tokio::time::sleep(std::time::Duration::from_millis(100 + 37 * round)).await;
            daemon.send_sigkill();
        };
        tokio::join!(calls, rotate, killer);
        daemon.kill_hard();

        let daemon = launch.start();
        let verified = verify(&daemon).await;
        assert!(verified.intact, "round {round}: {} in {}", verified.reason, verified.first_bad_file);
        daemon.shutdown().await;
    }
    assert!(rotations > 3, "only {rotations} rotations ran");
    let mut log = String::new();
    for name in audit_files(&launch.data_dir) {
        log.push_str(&std::fs::read_to_string(launch.data_dir.join(name)).unwrap());
    }
    let acknowledged = acknowledged.lock().unwrap();
    assert!(acknowledged.len() > 10);
    for id in acknowledged.iter() {
        assert!(
            log.contains(&format!("\"request_id\":\"{id}\"")),
            "the record of acknowledged call {id} is lost"
        );
    }
}

//! The audit log against hostile hands: records cut from its end are seen by `arcactl audit
//! verify` and refused at start; a caller allowed nothing cannot grow it faster than a bounded
//! record per call and is throttled; a log and store written by an earlier release still verify.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use arca_tests::arcactl::Arcactl;
use arca_tests::{Launch, binary, context, create_key, pb};

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

fn audit_lines(data: &Path) -> Vec<String> {
    std::fs::read_to_string(data.join("audit.log")).unwrap().lines().map(str::to_owned).collect()
}

fn cut_last_lines(data: &Path, count: usize) {
    let mut lines = audit_lines(data);
    lines.truncate(lines.len() - count);
    std::fs::write(data.join("audit.log"), lines.iter().map(|l| format!("{l}\n")).collect::<String>())
        .unwrap();
}

/// `arcactl audit verify`: its exit status and what it printed.
fn verify_with_arcactl(socket: &Path) -> (Option<i32>, String) {
    let output = Arcactl::new(socket).run(&["audit", "verify"]);
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test]
async fn cutting_the_newest_records_fails_verify_and_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::dev(dir.path());
    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "cut").await;
    for _ in 0..3 {
        let request =
            pb::EncryptRequest { key_id: key.clone(), plaintext: b"x".to_vec(), ..Default::default() };
        kms.encrypt(request).await.unwrap();
    }
    // While the daemon runs: the file no longer reaches the records it wrote.
    cut_last_lines(dir.path(), 3);
    let (code, printed) = verify_with_arcactl(&daemon.socket);
    assert_eq!(code, Some(3), "{printed}");
    assert!(printed.contains("records were cut from its end"), "{printed}");
    daemon.shutdown().await;
    // The daemon went on after record 0 (its own VerifyAudit record, seq 4): a gap at start.
    let (code, stderr) = launch.run_to_exit();
    assert_ne!(code, Some(0));
    assert!(stderr.contains("integrity error") && stderr.contains("does not follow record 0"), "{stderr}");

    // After a clean stop, too: the anchor in the store names the newest record.
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::dev(dir.path());
    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "cut after stop").await;
    for _ in 0..4 {
        let request =
            pb::EncryptRequest { key_id: key.clone(), plaintext: b"x".to_vec(), ..Default::default() };
        kms.encrypt(request).await.unwrap();
    }
    daemon.shutdown().await;
    let records = audit_lines(dir.path()).len();
    cut_last_lines(dir.path(), 3);
    let (code, stderr) = launch.run_to_exit();
    assert_ne!(code, Some(0));
    let expected = format!("ends at record {}, but record {} was written", records - 4, records - 1);
    assert!(stderr.contains(&expected), "{stderr}");
}

/// `arcactl encrypt` as `nobody` with a 60 KB encryption context: its exit status and stderr.
fn encrypt_as_nobody(socket: &Path, key: &str, context: &str) -> (Option<i32>, String) {
    let output = arca_tests::as_nobody(binary("arcactl"))
        .arg("--socket")
        .arg(socket)
        .args(["encrypt", "--key-id", key, "--plaintext", "x", "--context", context])
        .output()
        .unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test]
async fn a_caller_allowed_nothing_is_throttled_and_grows_the_log_by_a_bounded_record_per_call() {
    if !running_as_root() {
        eprintln!("skipped: needs root to act as a second user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let launch = Launch::key_file_config(
        dir.path(),
        "administrators = [\"uid:0\"]\n[quotas]\nrefused_requests_per_second = 4\n",
    );
    let daemon = launch.start();
    std::fs::set_permissions(&daemon.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let data = &launch.data_dir;
    std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let key = create_key(&mut daemon.kms().await, "nobody may use this").await;

    let before = std::fs::metadata(data.join("audit.log")).unwrap().len();
    let flood = format!("tenant={}", "A".repeat(60_000));
    let calls = 12;
    let (mut denied, mut throttled) = (0, 0);
    for _ in 0..calls {
        let (code, stderr) = encrypt_as_nobody(&daemon.socket, &key, &flood);
        assert_eq!(code, Some(1), "{stderr}");
        if stderr.contains("PERMISSION_DENIED") {
            denied += 1;
        } else {
            assert!(stderr.contains("RESOURCE_EXHAUSTED") && stderr.contains("refused requests"), "{stderr}");
            throttled += 1;
        }
    }
    let grown = std::fs::metadata(data.join("audit.log")).unwrap().len() - before;
    let per_call = grown / calls;
    println!("audit bytes per refused call with a 60 KB context: {per_call}");
    assert!(per_call < 1024, "{per_call} bytes of audit log per refused call");
    assert!(denied >= 4 && throttled >= 1, "denied {denied}, throttled {throttled}");

    let records = audit_lines(data);
    let flooded: serde_json::Value = serde_json::from_str(&records[records.len() - 1]).unwrap();
    assert_eq!(flooded["principal"], "uid:65534");
    assert!(flooded["encryption_context_digest"]["len"].as_u64().unwrap() > 60_000, "{flooded}");
    let verified = daemon.admin().await.verify_audit(pb::VerifyAuditRequest {}).await.unwrap().into_inner();
    assert!(verified.intact, "{}", verified.reason);
    // Another caller is not throttled by nobody's refusals.
    let request = pb::EncryptRequest {
        key_id: key,
        plaintext: b"x".to_vec(),
        encryption_context: context(&[("tenant", "root")]),
        ..Default::default()
    };
    daemon.kms().await.encrypt(request).await.unwrap();
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_flood_past_the_quota_is_recorded_once_a_second_with_its_count() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::key_file_config(
        dir.path(),
        "administrators = [\"uid:0\"]\n[quotas]\nrefused_requests_per_second = 4\n",
    );
    let daemon = launch.start();
    let before = audit_lines(&launch.data_dir).len();
    let mut kms = daemon.kms().await;
    let calls = 400_u64;
    let started = std::time::Instant::now();
    let mut throttled = 0_u64;
    for _ in 0..calls {
        let request =
            pb::DescribeKeyRequest { key_id: "alias/missing".into(), grant_tokens: Default::default() };
        let status = kms.describe_key(request).await.unwrap_err();
        if status.code() == tonic::Code::ResourceExhausted {
            throttled += 1;
        }
    }
    let seconds = started.elapsed().as_secs() + 1;
    let records: Vec<serde_json::Value> = audit_lines(&launch.data_dir)[before..]
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|record: &serde_json::Value| record["operation"] == "DescribeKey")
        .collect();
    let throttled_records: Vec<_> = records.iter().filter(|r| r["error_code"] == "Throttled").collect();
    let counted: u64 =
        throttled_records.iter().map(|r| 1 + r["unrecorded_throttled"].as_u64().unwrap_or(0)).sum();
    // Every throttled call is counted once: by its own record or by the next one's count (the
    // calls after the last record are counted by the caller's next throttled record).
    let last_unrecorded = throttled - counted;
    assert!(throttled > calls / 2, "{throttled} of {calls} throttled");
    assert!(
        throttled_records.len() as u64 <= seconds + 1,
        "{} records in {seconds} s",
        throttled_records.len()
    );
    assert!(last_unrecorded < throttled, "{throttled} throttled, {counted} counted");
    // The next throttled record, a second later, counts the rest.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    // (The refusal bucket refilled meanwhile: a few calls are answered before one is throttled.)
    for _ in 0..20 {
        let request =
            pb::DescribeKeyRequest { key_id: "alias/missing".into(), grant_tokens: Default::default() };
        if kms.describe_key(request).await.unwrap_err().code() == tonic::Code::ResourceExhausted {
            break;
        }
    }
    let last: serde_json::Value =
        serde_json::from_str(audit_lines(&launch.data_dir).last().unwrap()).unwrap();
    assert_eq!(last["error_code"], "Throttled", "{last}");
    assert_eq!(last["unrecorded_throttled"].as_u64().unwrap_or(0), last_unrecorded, "{last}");
    // The caller's refusal bucket refills before it asks for anything else.
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let verified = daemon.admin().await.verify_audit(pb::VerifyAuditRequest {}).await.unwrap().into_inner();
    assert!(verified.intact, "{}", verified.reason);
    daemon.shutdown().await;
}

/// A data directory written by the previous release (`arcad --dev`): a key, encryptions with a
/// context, a refused call, a clean stop.
const PREVIOUS_RELEASE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/previous-release");

#[tokio::test]
async fn a_log_and_store_of_the_previous_release_open_verify_and_go_on() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(PREVIOUS_RELEASE).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    std::fs::set_permissions(dir.path().join("master.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let old_records = audit_lines(dir.path()).len();
    let launch = Launch::dev_on_redb(dir.path());
    let daemon = launch.start();
    let verified = Arcactl::new(&daemon.socket).ok(&["audit", "verify"]);
    assert_eq!(verified["intact"], true, "{verified}");
    assert_eq!(verified["records"], old_records, "every record of the previous release");
    let keys = daemon.kms().await.list_keys(pb::ListKeysRequest::default()).await.unwrap().into_inner();
    assert_eq!(keys.keys.len(), 1);
    let by_alias =
        || pb::DescribeKeyRequest { key_id: "alias/previous".into(), grant_tokens: Default::default() };
    let described = daemon.kms().await.describe_key(by_alias()).await.expect("the old alias row is taken");
    assert_eq!(described.into_inner().key_metadata.unwrap().key_id, keys.keys[0].key_id);
    create_key(&mut daemon.kms().await, "after the upgrade").await;
    daemon.shutdown().await;
    // The chain goes on from the old records and is anchored now; the alias, rewritten
    // authenticated at the first unseal, still resolves.
    let daemon = launch.start();
    let verified = Arcactl::new(&daemon.socket).ok(&["audit", "verify"]);
    assert_eq!(verified["intact"], true, "{verified}");
    daemon.kms().await.describe_key(by_alias()).await.expect("the rewritten alias row");
    daemon.shutdown().await;
}

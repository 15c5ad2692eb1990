//! Rotation and scheduled deletion, driven by the daemon's test clock instead of waiting.

use arca_tests::{Daemon, Launch, assert_status, create_key, pb};
use tonic::Code;

const DAY: i64 = 86_400;

fn with_test_clock(dir: &std::path::Path, offset: Option<i64>) -> Launch {
    let mut launch = Launch::dev(dir);
    match offset {
        Some(seconds) => launch.args.extend(["--test-clock-offset".to_string(), seconds.to_string()]),
        None => launch.args.push("--test-clock".into()),
    }
    launch
}

async fn describe(daemon: &Daemon, key_id: &str) -> Result<pb::KeyMetadata, tonic::Status> {
    let request = pb::DescribeKeyRequest { key_id: key_id.into(), grant_tokens: Default::default() };
    Ok(daemon.kms().await.describe_key(request).await?.into_inner().key_metadata.unwrap_or_default())
}

async fn advance(daemon: &Daemon, seconds: i64) -> pb::AdvanceClockResponse {
    daemon.admin().await.advance_clock(pb::AdvanceClockRequest { seconds }).await.unwrap().into_inner()
}

async fn encrypt(daemon: &Daemon, key_id: &str) -> Result<pb::EncryptResponse, tonic::Status> {
    let request =
        pb::EncryptRequest { key_id: key_id.into(), plaintext: b"versioned".to_vec(), ..Default::default() };
    Ok(daemon.kms().await.encrypt(request).await?.into_inner())
}

#[tokio::test]
async fn rotation_keeps_old_versions_decrypting() {
    let dir = tempfile::tempdir().unwrap();
    let launch = with_test_clock(dir.path(), None);
    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "rotating").await;
    let first = encrypt(&daemon, &key).await.unwrap();
    assert_eq!(first.key_version, 1);

    let rotated =
        kms.rotate_key_on_demand(pb::RotateKeyOnDemandRequest { key_id: key.clone() }).await.unwrap();
    assert_eq!(rotated.into_inner().key_version, 2);
    let second = encrypt(&daemon, &key).await.unwrap();
    assert_eq!(second.key_version, 2, "new work uses the new version");
    let metadata = describe(&daemon, &key).await.unwrap();
    assert_eq!((metadata.current_version, metadata.versions.clone()), (2, vec![1, 2]));

    let period = |days| pb::EnableKeyRotationRequest { key_id: key.clone(), rotation_period_in_days: days };
    assert_status(kms.enable_key_rotation(period(89)).await, Code::InvalidArgument, "90 to 2560");
    kms.enable_key_rotation(period(90)).await.unwrap();
    let status =
        kms.get_key_rotation_status(pb::GetKeyRotationStatusRequest { key_id: key.clone() }).await.unwrap();
    let status = status.into_inner();
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days, 90);

    assert_eq!(advance(&daemon, 89 * DAY).await.keys_changed, 0);
    assert_eq!(advance(&daemon, 2 * DAY).await.keys_changed, 1, "due after 90 days");
    assert_eq!(describe(&daemon, &key).await.unwrap().current_version, 3);
    let rotations =
        kms.list_key_rotations(pb::ListKeyRotationsRequest { key_id: key.clone() }).await.unwrap();
    let rotations = rotations.into_inner().rotations;
    assert_eq!(rotations.iter().map(|r| r.key_version).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(rotations[2].rotation_date >= rotations[1].rotation_date + 90 * DAY);
    daemon.shutdown().await;

    // Every version still decrypts after a restart; the key id never changed.
    let daemon = launch.start();
    for blob in [first.ciphertext_blob, second.ciphertext_blob] {
        let decrypt = pb::DecryptRequest { ciphertext_blob: blob, ..Default::default() };
        let opened = daemon.kms().await.decrypt(decrypt).await.unwrap().into_inner();
        assert_eq!((opened.key_id.as_str(), opened.plaintext.as_slice()), (key.as_str(), &b"versioned"[..]));
    }
    let signer = daemon
        .kms()
        .await
        .create_key(pb::CreateKeyRequest { key_spec: pb::KeySpec::EccNistP256.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .key_metadata
        .unwrap()
        .key_id;
    let request = pb::RotateKeyOnDemandRequest { key_id: signer };
    assert_status(daemon.kms().await.rotate_key_on_demand(request).await, Code::InvalidArgument, "AES_256");
}

#[tokio::test]
async fn scheduled_deletion_destroys_the_key_when_due() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = with_test_clock(dir.path(), None).start();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "doomed").await;
    let alias = pb::CreateAliasRequest { alias_name: "alias/doomed".into(), target_key_id: key.clone() };
    kms.create_alias(alias).await.unwrap();
    let schedule =
        |days| pb::ScheduleKeyDeletionRequest { key_id: key.clone(), pending_window_in_days: days };
    assert_status(kms.schedule_key_deletion(schedule(6)).await, Code::InvalidArgument, "7 to 30");

    let scheduled = kms.schedule_key_deletion(schedule(7)).await.unwrap().into_inner();
    let metadata = describe(&daemon, &key).await.unwrap();
    assert_eq!(metadata.key_state(), pb::KeyState::PendingDeletion);
    assert_eq!(metadata.deletion_date, scheduled.deletion_date);
    assert_status(encrypt(&daemon, &key).await, Code::FailedPrecondition, "PENDING_DELETION");

    kms.cancel_key_deletion(pb::CancelKeyDeletionRequest { key_id: key.clone() }).await.unwrap();
    assert_eq!(describe(&daemon, &key).await.unwrap().key_state(), pb::KeyState::Disabled);
    kms.schedule_key_deletion(schedule(7)).await.unwrap();

    assert_eq!(advance(&daemon, 6 * DAY).await.keys_changed, 0);
    assert!(describe(&daemon, &key).await.is_ok());
    assert_eq!(advance(&daemon, 2 * DAY).await.keys_changed, 1);
    assert_status(describe(&daemon, &key).await, Code::NotFound, &key);
    assert_status(encrypt(&daemon, "alias/doomed").await, Code::NotFound, "alias/doomed");
    let audit = pb::ReadAuditRequest { limit: 1000, key: key.clone(), ..Default::default() };
    let records = daemon.admin().await.read_audit(audit).await.unwrap().into_inner().records;
    assert!(
        records.iter().any(|r| r.contains("\"Encrypt\"") && r.contains("FAILED_PRECONDITION")),
        "{records:?}"
    );
}

#[tokio::test]
async fn a_deletion_due_while_the_daemon_was_down_happens_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::dev(dir.path()).start();
    let mut kms = daemon.kms().await;
    let (doomed, kept) = (create_key(&mut kms, "doomed").await, create_key(&mut kms, "kept").await);
    let request = pb::ScheduleKeyDeletionRequest { key_id: doomed.clone(), pending_window_in_days: 7 };
    kms.schedule_key_deletion(request).await.unwrap();
    assert_status(
        daemon.admin().await.advance_clock(pb::AdvanceClockRequest { seconds: DAY }).await,
        Code::FailedPrecondition,
        "--test-clock",
    );
    daemon.shutdown().await;

    let daemon = with_test_clock(dir.path(), Some(8 * DAY)).start();
    assert_status(describe(&daemon, &doomed).await, Code::NotFound, &doomed);
    assert!(describe(&daemon, &kept).await.is_ok());
}

#[tokio::test]
async fn kill_9_during_rotation_leaves_every_acknowledged_version_usable() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::dev(dir.path());
    let daemon = launch.start();
    let key = create_key(&mut daemon.kms().await, "crash-rotated").await;
    daemon.shutdown().await;
    let mut blobs = Vec::new();
    for round in 0..3u64 {
        let daemon = launch.start();
        let mut kms = daemon.kms().await;
        let rotations = async {
            loop {
                let rotated =
                    kms.rotate_key_on_demand(pb::RotateKeyOnDemandRequest { key_id: key.clone() }).await;
                let Ok(rotated) = rotated else { break };
                let request = pb::EncryptRequest {
                    key_id: key.clone(),
                    plaintext: b"v".to_vec(),
                    ..Default::default()
                };
                match kms.encrypt(request).await {
                    Ok(sealed) => blobs.push((rotated.into_inner().key_version, sealed.into_inner())),
                    Err(_) => break,
                }
            }
        };
        let killer = async {
            tokio::time::sleep(std::time::Duration::from_millis(100 + 60 * round)).await;
            daemon.send_sigkill();
        };
        tokio::join!(rotations, killer);
        daemon.kill_hard();
    }
    assert!(!blobs.is_empty());
    let daemon = launch.start();
    let metadata = describe(&daemon, &key).await.unwrap();
    let expected: Vec<u32> = (1..=metadata.current_version).collect();
    assert_eq!(metadata.versions, expected, "versions are contiguous: no half-written rotation");
    for (version, sealed) in blobs {
        assert!(sealed.key_version >= version);
        let decrypt = pb::DecryptRequest { ciphertext_blob: sealed.ciphertext_blob, ..Default::default() };
        assert_eq!(daemon.kms().await.decrypt(decrypt).await.unwrap().into_inner().plaintext, b"v");
    }
}

/// A key scheduled for deletion by the crash test, with what must live and die with it.
struct Doomed {
    key: String,
    alias: String,
    grant: String,
    blob: Vec<u8>,
}

const RETIRING: &str = "uid:4242";

async fn doom(daemon: &Daemon, name: &str) -> Doomed {
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, name).await;
    let alias = format!("alias/{name}");
    kms.create_alias(pb::CreateAliasRequest { alias_name: alias.clone(), target_key_id: key.clone() })
        .await
        .unwrap();
    let grant = pb::CreateGrantRequest {
        key_id: key.clone(),
        grantee_principal: "uid:4243".into(),
        operations: vec!["Decrypt".into()],
        retiring_principal: RETIRING.into(),
        ..Default::default()
    };
    let grant = kms.create_grant(grant).await.unwrap().into_inner().grant_id;
    let blob = encrypt(daemon, &key).await.unwrap().ciphertext_blob;
    let request = pb::ScheduleKeyDeletionRequest { key_id: key.clone(), pending_window_in_days: 7 };
    kms.schedule_key_deletion(request).await.unwrap();
    Doomed { key, alias, grant, blob }
}

/// Whether the key is whole (true) or wholly gone (false); panics on anything in between. A whole
/// key is made usable again and rescheduled.
async fn whole_or_gone(daemon: &Daemon, doomed: &Doomed, retirable: &[String], aliases: &[String]) -> bool {
    let mut kms = daemon.kms().await;
    let decrypt = || pb::DecryptRequest { ciphertext_blob: doomed.blob.clone(), ..Default::default() };
    let Ok(metadata) = describe(daemon, &doomed.key).await else {
        assert_status(describe(daemon, &doomed.alias).await, Code::NotFound, &doomed.alias);
        assert!(!aliases.contains(&doomed.alias), "alias {} outlived its key", doomed.alias);
        assert!(!retirable.contains(&doomed.grant), "grant {} outlived its key", doomed.grant);
        assert_status(kms.decrypt(decrypt()).await, Code::InvalidArgument, "does not exist");
        return false;
    };
    assert_eq!(metadata.key_state(), pb::KeyState::PendingDeletion);
    assert_eq!(metadata.versions, [1]);
    assert_eq!(describe(daemon, &doomed.alias).await.unwrap().key_id, doomed.key, "alias intact");
    assert!(retirable.contains(&doomed.grant), "grant {} lost", doomed.grant);
    kms.cancel_key_deletion(pb::CancelKeyDeletionRequest { key_id: doomed.key.clone() }).await.unwrap();
    kms.enable_key(pb::EnableKeyRequest { key_id: doomed.key.clone() }).await.unwrap();
    assert_eq!(kms.decrypt(decrypt()).await.unwrap().into_inner().plaintext, b"versioned");
    let request = pb::ScheduleKeyDeletionRequest { key_id: doomed.key.clone(), pending_window_in_days: 7 };
    kms.schedule_key_deletion(request).await.unwrap();
    true
}

#[tokio::test]
async fn kill_9_during_deletion_leaves_each_key_whole_or_gone() {
    const KEYS: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let launch = with_test_clock(dir.path(), None);
    let mut doomed: Vec<Doomed> = Vec::new();
    let mut made = 0;
    // Calibration: how long the daemon takes to delete KEYS keys when nothing interrupts it.
    let daemon = launch.start();
    for _ in 0..KEYS {
        doomed.push(doom(&daemon, &format!("crash-{made}")).await);
        made += 1;
    }
    let started = std::time::Instant::now();
    assert_eq!(advance(&daemon, 8 * DAY).await.keys_changed as usize, KEYS);
    let full = started.elapsed();
    doomed.clear();
    daemon.kill_hard();

    let mut interrupted = 0;
    for round in 0..10u32 {
        let daemon = launch.start();
        let kept = doom(&daemon, &format!("kept-{round}")).await;
        daemon
            .kms()
            .await
            .cancel_key_deletion(pb::CancelKeyDeletionRequest { key_id: kept.key.clone() })
            .await
            .unwrap();
        while doomed.len() < KEYS {
            doomed.push(doom(&daemon, &format!("crash-{made}")).await);
            made += 1;
        }
        let delay = full.mul_f64([0.15, 0.3, 0.05, 0.45][round as usize % 4]);
        let mut admin = daemon.admin().await;
        let deletion = async {
            let _ = admin.advance_clock(pb::AdvanceClockRequest { seconds: 8 * DAY }).await;
        };
        let killer = async {
            tokio::time::sleep(delay).await;
            daemon.send_sigkill();
        };
        tokio::join!(deletion, killer);
        daemon.kill_hard();

        let daemon = launch.start();
        let mut kms = daemon.kms().await;
        let request = pb::ListRetirableGrantsRequest { retiring_principal: RETIRING.into() };
        let grants = kms.list_retirable_grants(request).await.unwrap().into_inner().grants;
        let retirable: Vec<String> = grants.into_iter().map(|g| g.grant_id).collect();
        let request = pb::ListAliasesRequest { limit: 1000, ..Default::default() };
        let aliases = kms.list_aliases(request).await.unwrap().into_inner().aliases;
        let aliases: Vec<String> = aliases.into_iter().map(|a| a.alias_name).collect();
        assert!(describe(&daemon, &kept.key).await.is_ok() && retirable.contains(&kept.grant));
        let mut survivors = Vec::new();
        for key in doomed {
            if whole_or_gone(&daemon, &key, &retirable, &aliases).await {
                survivors.push(key);
            }
        }
        assert_eq!(retirable.len(), survivors.len() + round as usize + 1, "no grant without its key");
        if !survivors.is_empty() && survivors.len() < KEYS {
            interrupted += 1;
        }
        eprintln!("round {round}: delay {delay:?} of {full:?}, {} of {KEYS} survived", survivors.len());
        doomed = survivors;
        daemon.shutdown().await;
        if interrupted >= 2 {
            break;
        }
    }
    assert!(interrupted >= 1, "no kill landed in the middle of a deletion run (a full run took {full:?})");
}

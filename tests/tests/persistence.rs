//! Keys survive restarts and crashes; an edited record is caught without harming the others.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arca_tests::{Daemon, Launch, assert_status, context, create_key, pb};
use tonic::Code;

async fn encrypt(daemon: &Daemon, key_id: &str, plaintext: &[u8]) -> Vec<u8> {
    let request = pb::EncryptRequest {
        key_id: key_id.into(),
        plaintext: plaintext.to_vec(),
        encryption_context: context(&[("k", "v")]),
        ..Default::default()
    };
    daemon.kms().await.encrypt(request).await.unwrap().into_inner().ciphertext_blob
}

async fn decrypt(daemon: &Daemon, blob: Vec<u8>) -> Result<Vec<u8>, tonic::Status> {
    let request = pb::DecryptRequest {
        ciphertext_blob: blob,
        encryption_context: context(&[("k", "v")]),
        ..Default::default()
    };
    daemon.kms().await.decrypt(request).await.map(|r| r.into_inner().plaintext)
}

#[tokio::test]
async fn blobs_decrypt_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::dev(dir.path());
    let daemon = launch.start();
    let key = create_key(&mut daemon.kms().await, "durable").await;
    let blob = encrypt(&daemon, &key, b"kept across restarts").await;
    assert_eq!(daemon.shutdown().await, Some(0), "SIGTERM is a clean exit");

    let daemon = launch.start();
    assert_eq!(decrypt(&daemon, blob).await.unwrap(), b"kept across restarts");
    let status = daemon.admin().await.status(pb::StatusRequest {}).await.unwrap().into_inner();
    assert_eq!(status.key_count, 1);
}

#[tokio::test]
async fn an_edited_record_is_detected_and_the_rest_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    // The record is edited in the embedded file (the shared store has its own such test).
    let launch = Launch::dev_on_redb(dir.path());
    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    let victim = create_key(&mut kms, "TAMPER-TARGET-DESCRIPTION").await;
    let bystander = create_key(&mut kms, "bystander").await;
    let blob = encrypt(&daemon, &bystander, b"still fine").await;
    daemon.shutdown().await;

    let store = dir.path().join("arca.redb");
    let mut bytes = std::fs::read(&store).unwrap();
    let needle = b"TAMPER-TARGET-DESCRIPTION";
    let at = bytes.windows(needle.len()).position(|w| w == needle).expect("the record is in the file");
    bytes[at] = b'X';
    std::fs::write(&store, &bytes).unwrap();

    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    for outcome in [
        kms.describe_key(pb::DescribeKeyRequest { key_id: victim.clone(), grant_tokens: Default::default() })
            .await
            .map(|_| ()),
        kms.encrypt(pb::EncryptRequest {
            key_id: victim.clone(),
            plaintext: b"x".to_vec(),
            ..Default::default()
        })
        .await
        .map(|_| ()),
    ] {
        assert_status(outcome, Code::DataLoss, "integrity");
    }
    assert_eq!(decrypt(&daemon, blob).await.unwrap(), b"still fine");
    let listed = kms.list_keys(pb::ListKeysRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.keys.len(), 2, "the damaged key is still listed, so an operator can see it");
}

/// Creates keys from several callers until the daemon dies; returns the acknowledged ids.
async fn create_until_killed(daemon: &Daemon, acknowledged: Arc<Mutex<Vec<String>>>) {
    let mut callers = Vec::new();
    for caller in 0..4 {
        let mut kms = daemon.kms().await;
        let acknowledged = Arc::clone(&acknowledged);
        callers.push(tokio::spawn(async move {
            for n in 0.. {
                let request =
                    pb::CreateKeyRequest { description: format!("crash {caller}/{n}"), ..Default::default() };
                match kms.create_key(request).await {
                    Ok(response) => {
                        let id = response.into_inner().key_metadata.unwrap().key_id;
                        acknowledged.lock().unwrap().push(id);
                    }
                    Err(_) => break,
                }
            }
        }));
    }
    for caller in callers {
        caller.await.unwrap();
    }
}

#[tokio::test]
async fn kill_9_during_create_key_loses_no_acknowledged_key() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::dev(dir.path());
    let mut expected: Vec<String> = Vec::new();
    for round in 0..5u64 {
        let daemon = launch.start();
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let stream = create_until_killed(&daemon, Arc::clone(&acknowledged));
        let killer = async {
            tokio::time::sleep(Duration::from_millis(150 + 70 * round)).await;
            daemon.send_sigkill();
        };
        tokio::join!(stream, killer);
        daemon.kill_hard();
        let acknowledged = acknowledged.lock().unwrap().clone();
        assert!(!acknowledged.is_empty(), "round {round}: no key was created before the kill");
        expected.extend(acknowledged);

        let daemon = launch.start();
        let mut kms = daemon.kms().await;
        for key_id in &expected {
            let blob = encrypt(&daemon, key_id, b"usable").await;
            assert_eq!(decrypt(&daemon, blob).await.unwrap(), b"usable", "round {round}: key {key_id}");
        }
        let status = daemon.admin().await.status(pb::StatusRequest {}).await.unwrap().into_inner();
        assert!(status.key_count as usize >= expected.len());
        drop(kms.list_keys(pb::ListKeysRequest::default()).await.unwrap());
        daemon.kill_hard();
    }
}

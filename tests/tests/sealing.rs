//! A passphrase-sealed store: initialise, restart sealed, refuse a wrong passphrase untouched.

use std::path::Path;

use arca_tests::{Launch, assert_status, create_key, pb};
use tonic::Code;

fn write_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let config = dir.join("arca.toml");
    let text = format!(
        "data_dir = \"{data}\"\nsocket = \"{data}/arca.sock\"\n{extra}\n[seal]\nmode = \"passphrase\"\nargon2_memory_kib = 8192\nargon2_iterations = 1\n",
        data = dir.join("data").display()
    );
    std::fs::write(&config, text).unwrap();
    config
}

fn digest(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[tokio::test]
async fn passphrase_life_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let data = dir.path().join("data");
    let launch = Launch::config(&config, &data, &data.join("arca.sock"));

    let daemon = launch.start();
    let mut admin = daemon.admin().await;
    let mut kms = daemon.kms().await;
    let status = admin.status(pb::StatusRequest {}).await.unwrap().into_inner();
    assert!(!status.initialized && status.sealed);
    assert_eq!(status.seal_mode(), pb::SealMode::Passphrase);
    assert_status(
        kms.create_key(pb::CreateKeyRequest::default()).await,
        Code::FailedPrecondition,
        "not initialized",
    );
    assert_status(
        admin.unseal(pb::UnsealRequest { passphrase: "x".into() }).await,
        Code::FailedPrecondition,
        "initialize",
    );
    assert_status(
        admin.initialize(pb::InitializeRequest { passphrase: String::new(), ..Default::default() }).await,
        Code::InvalidArgument,
        "empty",
    );

    admin
        .initialize(pb::InitializeRequest { passphrase: "open sesame".into(), ..Default::default() })
        .await
        .unwrap();
    assert_status(
        admin.initialize(pb::InitializeRequest { passphrase: "again".into(), ..Default::default() }).await,
        Code::FailedPrecondition,
        "already initialized",
    );
    let key = create_key(&mut kms, "sealed store").await;
    let blob = kms
        .encrypt(pb::EncryptRequest {
            key_id: key.clone(),
            plaintext: b"secret".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .ciphertext_blob;
    daemon.shutdown().await;

    let daemon = launch.start();
    let mut admin = daemon.admin().await;
    let mut kms = daemon.kms().await;
    let status = admin.status(pb::StatusRequest {}).await.unwrap().into_inner();
    assert!(status.initialized && status.sealed);
    assert_eq!(status.key_count, 1);
    let decrypt = pb::DecryptRequest { ciphertext_blob: blob, ..Default::default() };
    assert_status(kms.decrypt(decrypt.clone()).await, Code::FailedPrecondition, "sealed");

    let store = data.join("arca.redb");
    let before = digest(&store);
    assert_status(
        admin.unseal(pb::UnsealRequest { passphrase: "open sesamE".into() }).await,
        Code::PermissionDenied,
        "wrong passphrase",
    );
    assert_eq!(digest(&store), before, "a wrong passphrase must leave the store untouched");
    assert!(admin.status(pb::StatusRequest {}).await.unwrap().into_inner().sealed);

    let unsealed =
        admin.unseal(pb::UnsealRequest { passphrase: "open sesame".into() }).await.unwrap().into_inner();
    assert!(!unsealed.sealed);
    let plaintext = kms.decrypt(decrypt).await.unwrap().into_inner().plaintext;
    assert_eq!(plaintext, b"secret");

    // Unsealed already: the passphrase is still checked, a wrong one refused and audited.
    assert_status(
        admin.unseal(pb::UnsealRequest { passphrase: "open sesamE".into() }).await,
        Code::PermissionDenied,
        "wrong passphrase",
    );
    let again = admin.unseal(pb::UnsealRequest { passphrase: "open sesame".into() }).await.unwrap();
    assert!(!again.into_inner().sealed);
    let request = pb::ReadAuditRequest { limit: 1000, ..Default::default() };
    let records = admin.read_audit(request).await.unwrap().into_inner().records;
    let refused = records
        .iter()
        .filter(|line| line.contains("\"Unseal\"") && line.contains("PERMISSION_DENIED"))
        .count();
    assert_eq!(refused, 2, "both wrong passphrases are audited: {records:#?}");
}

#[test]
fn configuration_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "max_request_bites = 1");
    let data = dir.path().join("data");
    let (code, stderr) = Launch::config(&config, &data, &data.join("arca.sock")).run_to_exit();
    assert_ne!(code, Some(0));
    assert!(stderr.contains("max_request_bites"), "{stderr}");
    assert!(stderr.contains("arca.toml"), "the file is named: {stderr}");
}

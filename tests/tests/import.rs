//! Imported key material (BYOK): wrapped by OpenSSL, used by Arca, expiring, re-importable.

use std::path::Path;
use std::process::Command;

use arca_tests::{Daemon, Launch, assert_status, pb};
use tonic::Code;

const DAY: i64 = 86_400;

async fn create_external(daemon: &Daemon, spec: pb::KeySpec) -> String {
    let request = pb::CreateKeyRequest {
        key_spec: spec.into(),
        origin: pb::KeyOrigin::External.into(),
        ..Default::default()
    };
    daemon.kms().await.create_key(request).await.unwrap().into_inner().key_metadata.unwrap().key_id
}

/// Wraps `material` for `key_id` with OpenSSL (RSAES-OAEP-SHA-256) and imports it.
async fn import(
    daemon: &Daemon,
    key_id: &str,
    material: &[u8],
    valid_to: i64,
    dir: &Path,
) -> Result<(), tonic::Status> {
    let request = pb::GetParametersForImportRequest {
        key_id: key_id.into(),
        wrapping_algorithm: "RSAES_OAEP_SHA_256".into(),
        wrapping_key_spec: "RSA_2048".into(),
    };
    let parameters = daemon.kms().await.get_parameters_for_import(request).await.unwrap().into_inner();
    let request = pb::ImportKeyMaterialRequest {
        key_id: key_id.into(),
        import_token: parameters.import_token,
        encrypted_key_material: arca_tests::wrap_for_import(&parameters.public_key, material, dir),
        valid_to,
    };
    daemon.kms().await.import_key_material(request).await.map(|_| ())
}

async fn state(daemon: &Daemon, key_id: &str) -> pb::KeyState {
    let request = pb::DescribeKeyRequest { key_id: key_id.into(), grant_tokens: Default::default() };
    daemon.kms().await.describe_key(request).await.unwrap().into_inner().key_metadata.unwrap().key_state()
}

#[tokio::test]
async fn imported_hmac_material_matches_openssl_and_can_only_come_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let mut launch = Launch::dev(&dir.path().join("data"));
    launch.args.push("--test-clock".into());
    let daemon = launch.start();
    let key = create_external(&daemon, pb::KeySpec::Hmac256).await;
    assert_eq!(state(&daemon, &key).await, pb::KeyState::PendingImport);
    let mac = |message: &[u8]| pb::GenerateMacRequest {
        key_id: key.clone(),
        message: message.to_vec(),
        mac_algorithm: pb::MacAlgorithm::HmacSha256.into(),
        grant_tokens: Default::default(),
    };
    assert_status(
        daemon.kms().await.generate_mac(mac(b"m")).await,
        Code::FailedPrecondition,
        "PENDING_IMPORT",
    );

    let material = [0x42u8; 32];
    import(&daemon, &key, &material, 0, dir.path()).await.unwrap();
    assert_eq!(state(&daemon, &key).await, pb::KeyState::Enabled);
    let tag = daemon.kms().await.generate_mac(mac(b"imported")).await.unwrap().into_inner().mac;
    std::fs::write(dir.path().join("message"), b"imported").unwrap();
    let output = Command::new("openssl")
        .args(["dgst", "-sha256", "-binary", "-mac", "HMAC", "-macopt"])
        .arg(format!("hexkey:{}", "42".repeat(32)))
        .arg(dir.path().join("message"))
        .output()
        .unwrap();
    assert_eq!(tag, output.stdout, "Arca uses exactly the imported material");

    assert_status(
        import(&daemon, &key, &[0x43; 32], 0, dir.path()).await,
        Code::InvalidArgument,
        "imported into it before",
    );
    assert_status(import(&daemon, &key, &[0x42; 16], 0, dir.path()).await, Code::InvalidArgument, "32");
    let delete = pb::DeleteImportedKeyMaterialRequest { key_id: key.clone() };
    daemon.kms().await.delete_imported_key_material(delete).await.unwrap();
    assert_eq!(state(&daemon, &key).await, pb::KeyState::PendingImport);
    assert_status(
        daemon.kms().await.generate_mac(mac(b"imported")).await,
        Code::FailedPrecondition,
        "PENDING_IMPORT",
    );

    // The same material, again, with an expiry: usable until the clock passes it.
    let now = daemon
        .admin()
        .await
        .advance_clock(pb::AdvanceClockRequest { seconds: 0 })
        .await
        .unwrap()
        .into_inner()
        .now;
    import(&daemon, &key, &material, now + DAY, dir.path()).await.unwrap();
    assert_eq!(daemon.kms().await.generate_mac(mac(b"imported")).await.unwrap().into_inner().mac, tag);
    let changed =
        daemon.admin().await.advance_clock(pb::AdvanceClockRequest { seconds: 2 * DAY }).await.unwrap();
    assert_eq!(changed.into_inner().keys_changed, 1);
    assert_eq!(state(&daemon, &key).await, pb::KeyState::PendingImport, "expired material is deleted");
}

#[tokio::test]
async fn import_tokens_are_single_use_and_bound_to_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::dev(&dir.path().join("data")).start();
    let (key, other) = (
        create_external(&daemon, pb::KeySpec::Aes256).await,
        create_external(&daemon, pb::KeySpec::Aes256).await,
    );
    let request = pb::GetParametersForImportRequest {
        key_id: key.clone(),
        wrapping_algorithm: "RSAES_OAEP_SHA_256".into(),
        wrapping_key_spec: "RSA_2048".into(),
    };
    let parameters =
        daemon.kms().await.get_parameters_for_import(request.clone()).await.unwrap().into_inner();
    let misuse = pb::ImportKeyMaterialRequest {
        key_id: other.clone(),
        import_token: parameters.import_token.clone(),
        encrypted_key_material: vec![0; 256],
        valid_to: 0,
    };
    assert_status(
        daemon.kms().await.import_key_material(misuse).await,
        Code::InvalidArgument,
        "import token",
    );
    let bad_algorithm =
        pb::GetParametersForImportRequest { wrapping_algorithm: "RSA_PKCS1".into(), ..request };
    assert_status(
        daemon.kms().await.get_parameters_for_import(bad_algorithm).await,
        Code::InvalidArgument,
        "RSAES_OAEP_SHA_256",
    );
    let generated = pb::CreateKeyRequest::default();
    let arca_key =
        daemon.kms().await.create_key(generated).await.unwrap().into_inner().key_metadata.unwrap().key_id;
    let not_external = pb::GetParametersForImportRequest {
        key_id: arca_key,
        wrapping_algorithm: "RSAES_OAEP_SHA_256".into(),
        wrapping_key_spec: "RSA_2048".into(),
    };
    assert_status(
        daemon.kms().await.get_parameters_for_import(not_external).await,
        Code::InvalidArgument,
        "Arca-generated",
    );

    import(&daemon, &key, &[7; 32], 0, dir.path()).await.unwrap();
    let request =
        pb::EncryptRequest { key_id: key.clone(), plaintext: b"byok".to_vec(), ..Default::default() };
    let blob = daemon.kms().await.encrypt(request).await.unwrap().into_inner().ciphertext_blob;
    let decrypt = pb::DecryptRequest { ciphertext_blob: blob, ..Default::default() };
    assert_eq!(daemon.kms().await.decrypt(decrypt).await.unwrap().into_inner().plaintext, b"byok");
}

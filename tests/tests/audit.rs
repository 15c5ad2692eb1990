//! Every call leaves one authenticated, hash-chained audit record, without payloads.

use arca_proto::{APPLICATION_HEADER, CKR_HEADER};
use arca_tests::{Launch, context, create_key, pb};

async fn read_audit(daemon: &arca_tests::Daemon, key: &str) -> Vec<serde_json::Value> {
    let request = pb::ReadAuditRequest { limit: 1000, key: key.into(), ..Default::default() };
    let records = daemon.admin().await.read_audit(request).await.unwrap().into_inner().records;
    records.iter().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[tokio::test]
async fn calls_are_recorded_verified_and_tampering_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::dev(dir.path());
    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "audited").await;
    let request = pb::GenerateDataKeyRequest {
        key_id: key.clone(),
        key_spec: pb::DataKeySpec::Aes256.into(),
        encryption_context: context(&[("tenant", "42")]),
        ..Default::default()
    };
    let data_key = kms.generate_data_key(request).await.unwrap().into_inner();
    let decrypt = pb::DecryptRequest {
        ciphertext_blob: data_key.ciphertext_blob.clone(),
        encryption_context: context(&[("tenant", "41")]),
        ..Default::default()
    };
    assert!(kms.decrypt(decrypt).await.is_err());

    let records = read_audit(&daemon, &key).await;
    let operations: Vec<&str> = records.iter().map(|r| r["operation"].as_str().unwrap()).collect();
    // The calls that named the key, and those that used it: Decrypt reads the key from the blob.
    assert_eq!(operations, ["GenerateDataKey", "Decrypt"], "{records:?}");
    let all = read_audit(&daemon, "").await;
    let find = |operation: &str| all.iter().find(|r| r["operation"] == operation).unwrap().clone();
    let generated = find("GenerateDataKey");
    assert_eq!(generated["encryption_context"]["tenant"], "42");
    assert_eq!(generated["outcome"], "OK");
    assert!(generated["principal"].as_str().unwrap().starts_with("uid:"));
    assert!(!generated["mac"].as_str().unwrap().is_empty(), "records are authenticated once unsealed");
    assert_eq!(find("Decrypt")["outcome"], "INVALID_ARGUMENT");
    assert_eq!(find("CreateKey")["outcome"], "OK");

    let log = std::fs::read(dir.path().join("audit.log")).unwrap();
    let hex: String = data_key.plaintext.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!String::from_utf8_lossy(&log).contains(&hex));
    assert!(!log.windows(data_key.plaintext.len()).any(|w| w == data_key.plaintext.as_slice()));

    let verified = daemon.admin().await.verify_audit(pb::VerifyAuditRequest {}).await.unwrap().into_inner();
    assert!(verified.intact, "{}", verified.reason);
    assert!(verified.records >= 4);
    daemon.shutdown().await;

    // Change the outcome of the GenerateDataKey record on disk (read again: the whole log, up to
    // the VerifyAudit record, or the start would refuse a log cut short).
    let text = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let target = lines.iter().position(|l| l.contains("\"GenerateDataKey\"")).unwrap();
    lines[target] = lines[target].replace("\"outcome\":\"OK\"", "\"outcome\":\"NOT_FOUND\"");
    std::fs::write(dir.path().join("audit.log"), lines.join("\n") + "\n").unwrap();

    let daemon = launch.start();
    let verified = daemon.admin().await.verify_audit(pb::VerifyAuditRequest {}).await.unwrap().into_inner();
    assert!(!verified.intact);
    assert_eq!(verified.first_bad_seq as usize, target, "{}", verified.reason);
    assert!(verified.reason.contains("changed"), "{}", verified.reason);

    let cli = std::process::Command::new(arca_tests::binary("arcactl"))
        .arg("--socket")
        .arg(&daemon.socket)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert_eq!(cli.status.code(), Some(3), "arcactl audit verify reports a broken chain");
    assert!(String::from_utf8_lossy(&cli.stdout).contains(&target.to_string()));
}

/// A Token service request of the attached application `app`.
fn with_app<T>(app: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(APPLICATION_HEADER, app.parse().unwrap());
    request
}

/// Records of the Token service (the PKCS#11 module's face) name their source and the exact
/// CK_RV; KMS records name the key version the call used and the daemon's finer error kind.
#[tokio::test]
async fn records_name_source_key_version_and_error_code() {
    let (daemon, _dir) = arca_tests::Daemon::start_dev();
    let mut token = pb::token_client::TokenClient::new(daemon.channel().await);
    let attach = pb::AttachRequest { application_name: "audit-test".into() };
    let mut events = token.attach(attach).await.unwrap().into_inner();
    let app = events.message().await.unwrap().unwrap().application_id;
    let init = pb::InitTokenRequest { so_pin: b"87654321".to_vec(), label: b"audit".to_vec() };
    token.init_token(init).await.unwrap();
    const CKF_RW_SESSION: u64 = 0x2;
    const CKF_SERIAL_SESSION: u64 = 0x4;
    let open = pb::OpenSessionRequest { flags: CKF_SERIAL_SESSION | CKF_RW_SESSION };
    let session = token.open_session(with_app(&app, open)).await.unwrap().into_inner().session;
    let wrong = pb::LoginRequest { session, user_type: 0, pin: b"00000000".to_vec() };
    let refused = token.login(with_app(&app, wrong)).await.unwrap_err();
    assert_eq!(refused.metadata().get(CKR_HEADER).unwrap(), "0x000000A0", "{refused:?}");

    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "versioned").await;
    let encrypt =
        || pb::EncryptRequest { key_id: key.clone(), plaintext: b"v".to_vec(), ..Default::default() };
    let first = kms.encrypt(encrypt()).await.unwrap().into_inner();
    kms.rotate_key_on_demand(pb::RotateKeyOnDemandRequest { key_id: key.clone() }).await.unwrap();
    kms.encrypt(encrypt()).await.unwrap();
    let decrypt = pb::DecryptRequest {
        ciphertext_blob: first.ciphertext_blob,
        encryption_context: context(&[("tenant", "1")]),
        ..Default::default()
    };
    assert!(kms.decrypt(decrypt).await.is_err(), "the context does not match");
    kms.disable_key(pb::DisableKeyRequest { key_id: key.clone() }).await.unwrap();
    assert!(kms.encrypt(encrypt()).await.is_err(), "a disabled key");

    let request = pb::ReadAuditRequest { limit: 1000, source: "pkcs11/unix".into(), ..Default::default() };
    let records = daemon.admin().await.read_audit(request).await.unwrap().into_inner().records;
    let records: Vec<serde_json::Value> = records.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(records.iter().all(|r| r["source"] == "pkcs11/unix"), "{records:#?}");
    let login = records.iter().find(|r| r["operation"] == "C_Login").expect("a C_Login record");
    assert_eq!(
        (&login["outcome"], &login["error_code"]),
        (&"PERMISSION_DENIED".into(), &"CKR_PIN_INCORRECT".into())
    );
    assert!(records.iter().any(|r| r["operation"] == "Attach"), "Attach is the module's call too");
    assert!(records.iter().all(|r| r["operation"] != "Encrypt"), "KMS calls are not PKCS#11 calls");

    let records = read_audit(&daemon, &key).await;
    let of = |operation: &str| -> Vec<&serde_json::Value> {
        records.iter().filter(|r| r["operation"] == operation).collect()
    };
    let encrypts = of("Encrypt");
    assert_eq!(encrypts.len(), 3, "{records:#?}");
    assert_eq!(encrypts[0]["key_version"], 1);
    assert_eq!(encrypts[1]["key_version"], 2, "the rotated key's current version");
    assert_eq!(
        (&encrypts[2]["outcome"], &encrypts[2]["error_code"]),
        (&"FAILED_PRECONDITION".into(), &"KeyNotEnabled".into())
    );
    assert!(encrypts[0].get("error_code").is_none(), "no error code on success: {}", encrypts[0]);
    assert_eq!(encrypts[0]["source"], "grpc/unix");
    let decrypt = of("Decrypt")[0];
    assert_eq!((&decrypt["key_version"], &decrypt["error_code"]), (&1.into(), &"DecryptionFailed".into()));
    assert_eq!(of("RotateKeyOnDemand")[0]["key_version"], 2, "the version the rotation made");
    assert!(of("DisableKey")[0].get("key_version").is_none(), "a call that uses no version names none");

    let verified = daemon.admin().await.verify_audit(pb::VerifyAuditRequest {}).await.unwrap().into_inner();
    assert!(verified.intact, "{}", verified.reason);
    drop(events);
    daemon.shutdown().await;
}

#[tokio::test]
async fn read_audit_takes_1_to_1000_records_and_names_the_limit_past_it() {
    let (daemon, _dir) = arca_tests::Daemon::start_dev();
    let mut admin = daemon.admin().await;
    for _ in 0..3 {
        admin.status(pb::StatusRequest {}).await.unwrap();
    }
    let at_most = pb::ReadAuditRequest { limit: 1000, ..Default::default() };
    assert!(!admin.read_audit(at_most).await.unwrap().into_inner().records.is_empty());
    let one = pb::ReadAuditRequest { limit: 1, ..Default::default() };
    assert_eq!(admin.read_audit(one).await.unwrap().into_inner().records.len(), 1);
    let past = pb::ReadAuditRequest { limit: 1001, ..Default::default() };
    let status = admin.read_audit(past).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("1 to 1000"), "{}", status.message());
}

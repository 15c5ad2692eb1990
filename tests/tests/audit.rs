//! Every call leaves one authenticated, hash-chained audit record, without payloads.

use arca_tests::{Launch, context, create_key, pb};

async fn read_audit(daemon: &arca_tests::Daemon, key: &str) -> Vec<serde_json::Value> {
    let request = pb::ReadAuditRequest { limit: 1000, key: key.into(), principal: String::new() };
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

    // Change the outcome of the GenerateDataKey record on disk.
    let text = String::from_utf8(log).unwrap();
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

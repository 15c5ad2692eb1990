//! The precise errors a KMS front maps to AWS's exceptions: IncorrectKey (a ciphertext made under
//! another key than the one named), InvalidAliasName, InvalidGrantToken; each INVALID_ARGUMENT on
//! gRPC, named in the message and in the audit record's error code. And grant tokens: at most 10,
//! each naming a grant that exists.

use arca_tests::{Daemon, Launch, assert_status, context, create_key, pb};
use tonic::Code;

/// (operation, error code) of the audit records naming `key`, oldest first.
async fn error_codes(daemon: &Daemon, key: &str) -> Vec<(String, String)> {
    let request = pb::ReadAuditRequest { limit: 1000, key: key.into(), ..Default::default() };
    let records = daemon.admin().await.read_audit(request).await.unwrap().into_inner().records;
    records
        .iter()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .map(|r| {
            (r["operation"].as_str().unwrap().to_owned(), r["error_code"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

fn has(codes: &[(String, String)], operation: &str, code: &str) -> bool {
    codes.iter().any(|(op, c)| op == operation && c == code)
}

#[tokio::test]
async fn a_ciphertext_named_with_another_key_is_incorrect_key() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::dev(dir.path()).start();
    let mut kms = daemon.kms().await;
    let (sealing, other) = (create_key(&mut kms, "sealing").await, create_key(&mut kms, "other").await);
    let encrypt = pb::EncryptRequest {
        key_id: sealing.clone(),
        plaintext: b"pay 100".to_vec(),
        encryption_context: context(&[("a", "1")]),
        ..Default::default()
    };
    let blob = kms.encrypt(encrypt).await.unwrap().into_inner().ciphertext_blob;
    let decrypt = |key_id: &str| pb::DecryptRequest {
        ciphertext_blob: blob.clone(),
        encryption_context: context(&[("a", "1")]),
        key_id: key_id.into(),
        ..Default::default()
    };
    let status = assert_status(kms.decrypt(decrypt(&other)).await, Code::InvalidArgument, "incorrect key");
    assert!(status.message().contains(&sealing) && status.message().contains(&other), "{}", status.message());
    let reencrypt = pb::ReEncryptRequest {
        ciphertext_blob: blob.clone(),
        source_encryption_context: context(&[("a", "1")]),
        source_key_id: other.clone(),
        destination_key_id: other.clone(),
        ..Default::default()
    };
    assert_status(kms.re_encrypt(reencrypt).await, Code::InvalidArgument, "incorrect key");
    assert_eq!(kms.decrypt(decrypt(&sealing)).await.unwrap().into_inner().plaintext, b"pay 100");

    let codes = error_codes(&daemon, &other).await;
    assert!(has(&codes, "Decrypt", "IncorrectKey"), "{codes:?}");
    assert!(has(&codes, "ReEncrypt", "IncorrectKey"), "{codes:?}");
    daemon.shutdown().await;
}

#[tokio::test]
async fn alias_names_that_break_the_rules_are_invalid_alias_names() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::dev(dir.path()).start();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "aliased").await;
    let create = |name: &str| pb::CreateAliasRequest { alias_name: name.into(), target_key_id: key.clone() };
    let too_long = format!("alias/{}", "a".repeat(251));
    for (name, needle) in [
        ("orders", "must start with"),
        ("alias/", "7 to 256"),
        (too_long.as_str(), "7 to 256"),
        ("alias/with space", "letters, digits"),
        ("alias/aws/s3", "reserved"),
        ("alias/arca/mine", "reserved"),
    ] {
        let status = assert_status(kms.create_alias(create(name)).await, Code::InvalidArgument, needle);
        assert!(status.message().starts_with("invalid alias name"), "{}", status.message());
    }
    let update = pb::UpdateAliasRequest { alias_name: "alias/aws/x".into(), target_key_id: key.clone() };
    assert_status(kms.update_alias(update).await, Code::InvalidArgument, "invalid alias name");
    let delete = pb::DeleteAliasRequest { alias_name: "no-prefix".into() };
    assert_status(kms.delete_alias(delete).await, Code::InvalidArgument, "invalid alias name");
    kms.create_alias(create(&format!("alias/{}", "a".repeat(250)))).await.unwrap();
    // Pointing at another alias is a bad target, not a bad name.
    let chained =
        pb::CreateAliasRequest { alias_name: "alias/chain".into(), target_key_id: "alias/x".into() };
    let status = assert_status(kms.create_alias(chained).await, Code::InvalidArgument, "key id");
    assert!(!status.message().contains("invalid alias name"), "{}", status.message());

    let codes = error_codes(&daemon, &key).await;
    let named = codes.iter().filter(|(op, c)| op == "CreateAlias" && c == "InvalidAliasName").count();
    assert_eq!(named, 6, "{codes:?}");
    assert!(has(&codes, "UpdateAlias", "InvalidAliasName"), "{codes:?}");
    daemon.shutdown().await;
}

#[tokio::test]
async fn grant_tokens_must_name_existing_grants_and_number_at_most_ten() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::dev(dir.path()).start();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "granted").await;
    let grant = pb::CreateGrantRequest {
        key_id: key.clone(),
        grantee_principal: "uid:4242".into(),
        operations: vec!["Encrypt".into(), "Decrypt".into()],
        ..Default::default()
    };
    let token = kms.create_grant(grant.clone()).await.unwrap().into_inner().grant_token;
    let encrypt = |tokens: Vec<String>| pb::EncryptRequest {
        key_id: key.clone(),
        plaintext: b"x".to_vec(),
        grant_tokens: tokens,
        ..Default::default()
    };
    let blob = kms.encrypt(encrypt(vec![token.clone(); 10])).await.unwrap().into_inner().ciphertext_blob;
    assert_status(kms.encrypt(encrypt(vec![token.clone(); 11])).await, Code::InvalidArgument, "at most 10");
    let unknown = "0123456789abcdef0123456789abcdef".to_string();
    for bogus in ["bogus".to_string(), unknown.clone(), token.to_uppercase()] {
        let outcome = kms.encrypt(encrypt(vec![token.clone(), bogus])).await;
        assert_status(outcome, Code::InvalidArgument, "invalid grant token");
    }

    // Every call that takes grant tokens checks them.
    let bad = || vec![unknown.clone()];
    let decrypt =
        pb::DecryptRequest { ciphertext_blob: blob.clone(), grant_tokens: bad(), ..Default::default() };
    assert_status(kms.decrypt(decrypt).await, Code::InvalidArgument, "invalid grant token");
    let data_key = pb::GenerateDataKeyRequest {
        key_id: key.clone(),
        number_of_bytes: 32,
        grant_tokens: bad(),
        ..Default::default()
    };
    assert_status(kms.generate_data_key(data_key).await, Code::InvalidArgument, "invalid grant token");
    let describe = pb::DescribeKeyRequest { key_id: key.clone(), grant_tokens: bad() };
    assert_status(kms.describe_key(describe).await, Code::InvalidArgument, "invalid grant token");
    let again = pb::CreateGrantRequest { grant_tokens: bad(), ..grant.clone() };
    assert_status(kms.create_grant(again).await, Code::InvalidArgument, "invalid grant token");
    let grant_id = kms.create_grant(grant).await.unwrap().into_inner().grant_id;
    let retire = pb::RetireGrantRequest { grant_id: grant_id.clone(), grant_tokens: bad() };
    assert_status(kms.retire_grant(retire).await, Code::InvalidArgument, "invalid grant token");
    kms.retire_grant(pb::RetireGrantRequest { grant_id, grant_tokens: vec![token.clone()] }).await.unwrap();

    // A token whose grant was revoked is no longer one.
    let revoke = pb::RevokeGrantRequest { key_id: key.clone(), grant_id: token.clone() };
    kms.revoke_grant(revoke).await.unwrap();
    assert_status(kms.encrypt(encrypt(vec![token.clone()])).await, Code::InvalidArgument, "names no grant");
    kms.encrypt(encrypt(Vec::new())).await.unwrap();

    let codes = error_codes(&daemon, &key).await;
    for operation in ["Encrypt", "Decrypt", "GenerateDataKey", "DescribeKey", "CreateGrant"] {
        assert!(has(&codes, operation, "InvalidGrantToken"), "{operation}: {codes:?}");
    }
    assert!(has(&codes, "Encrypt", "InvalidArgument"), "11 tokens: {codes:?}");
    daemon.shutdown().await;
}

//! Key policies are enforced, not merely stored: a caller outside the policy is refused.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use arca_tests::{Launch, assert_status, binary, create_key, pb};
use tonic::Code;

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// arcactl as `nobody` (uid 65534): another principal than the test's root.
fn arcactl_as_nobody(socket: &Path, args: &[&str]) -> (i32, String) {
    let output =
        arca_tests::as_nobody(binary("arcactl")).arg("--socket").arg(socket).args(args).output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test]
async fn policies_admit_only_whom_they_name() {
    if !running_as_root() {
        eprintln!("skipped: needs root to act as a second user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("data");
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = run.join("arca.sock");
    let config = dir.path().join("arca.toml");
    std::fs::write(dir.path().join("master.key"), [4u8; 32]).unwrap();
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{d}\"\nsocket = \"{s}\"\nadministrators = [\"uid:0\"]\n\
             [seal]\nmode = \"key_file\"\nkey_file = \"{k}\"\n",
            d = data.display(),
            s = socket.display(),
            k = dir.path().join("master.key").display()
        ),
    )
    .unwrap();
    let daemon = Launch::config(&config, &data, &socket).start();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let mut kms = daemon.kms().await;

    let private = create_key(&mut kms, "root only").await;
    let shared = create_key(&mut kms, "shared with nobody for tenant 7").await;
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Admins", "Effect": "Allow", "Principal": {"Arca": "uid:0"}, "Action": "arca:*", "Resource": "*"},
            {"Sid": "Tenant7", "Effect": "Allow", "Principal": {"Arca": "uid:65534"},
             "Action": ["arca:Encrypt", "arca:Decrypt"], "Resource": "*",
             "Condition": {"StringEquals": {"arca:EncryptionContext:tenant": "7"}}}
        ]
    });
    let put = pb::PutKeyPolicyRequest { key_id: shared.clone(), policy: policy.to_string() };
    kms.put_key_policy(put).await.unwrap();
    let stored = kms.get_key_policy(pb::GetKeyPolicyRequest { key_id: shared.clone() }).await.unwrap();
    assert!(stored.into_inner().policy.contains("uid:65534"));

    let (code, stderr) = arcactl_as_nobody(&socket, &["encrypt", "--key-id", &private, "--plaintext", "x"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("PERMISSION_DENIED") && stderr.contains("uid:65534"), "{stderr}");
    let (code, stderr) = arcactl_as_nobody(&socket, &["create-key"]);
    assert!(code == 1 && stderr.contains("administrators only"), "{stderr}");
    let allowed = ["encrypt", "--key-id", &shared, "--plaintext", "x", "--context", "tenant=7"];
    let (code, stderr) = arcactl_as_nobody(&socket, &allowed);
    assert_eq!(code, 0, "the policy admits tenant 7: {stderr}");
    let other_tenant = ["encrypt", "--key-id", &shared, "--plaintext", "x", "--context", "tenant=8"];
    let (code, stderr) = arcactl_as_nobody(&socket, &other_tenant);
    assert!(code == 1 && stderr.contains("PERMISSION_DENIED"), "{stderr}");
    let (code, _) = arcactl_as_nobody(&socket, &["describe-key", &shared]);
    assert_eq!(code, 1, "DescribeKey is not in the policy");

    let lockout = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Arca": "uid:65534"}, "Action": "arca:*", "Resource": "*"}]
    });
    let put = pb::PutKeyPolicyRequest { key_id: shared.clone(), policy: lockout.to_string() };
    assert_status(kms.put_key_policy(put).await, Code::InvalidArgument, "lockout");
    let malformed =
        pb::PutKeyPolicyRequest { key_id: shared.clone(), policy: "{\"Version\":\"2012-10-17\"}".into() };
    assert_status(kms.put_key_policy(malformed).await, Code::InvalidArgument, "Statement");

    // A grant adds what the policy does not mention, within its constraints, until revoked.
    let granted = create_key(&mut kms, "granted").await;
    let grant = pb::CreateGrantRequest {
        key_id: granted.clone(),
        grantee_principal: "uid:65534".into(),
        operations: vec!["Encrypt".into()],
        retiring_principal: "uid:65534".into(),
        constraints: Some(pb::GrantConstraints {
            encryption_context_subset: [("tenant".to_string(), "9".to_string())].into_iter().collect(),
            ..Default::default()
        }),
        name: "tenant-9-writer".into(),
        grant_tokens: Default::default(),
    };
    let grant_id = kms.create_grant(grant.clone()).await.unwrap().into_inner().grant_id;
    let with_tenant = |tenant: &str| {
        let context = format!("tenant={tenant}");
        arcactl_as_nobody(
            &socket,
            &["encrypt", "--key-id", &granted, "--plaintext", "x", "--context", &context],
        )
    };
    assert_eq!(with_tenant("9").0, 0, "the grant admits tenant 9");
    assert_eq!(with_tenant("1").0, 1, "outside the grant's constraint");
    let listed =
        kms.list_grants(pb::ListGrantsRequest { key_id: granted.clone() }).await.unwrap().into_inner();
    assert_eq!(listed.grants.len(), 1);
    assert_eq!(listed.grants[0].name, "tenant-9-writer");
    let invalid = pb::CreateGrantRequest { operations: vec!["PutKeyPolicy".into()], ..grant.clone() };
    assert_status(kms.create_grant(invalid).await, Code::InvalidArgument, "cannot be granted");
    kms.revoke_grant(pb::RevokeGrantRequest { key_id: granted.clone(), grant_id }).await.unwrap();
    assert_eq!(with_tenant("9").0, 1, "a revoked grant admits nothing");

    // An explicit Deny in the policy beats any grant.
    kms.create_grant(grant).await.unwrap();
    let deny = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Admins", "Effect": "Allow", "Principal": {"Arca": "uid:0"}, "Action": "arca:*", "Resource": "*"},
            {"Sid": "NoNobody", "Effect": "Deny", "Principal": {"Arca": "uid:65534"}, "Action": "arca:*", "Resource": "*"}
        ]
    });
    kms.put_key_policy(pb::PutKeyPolicyRequest { key_id: granted.clone(), policy: deny.to_string() })
        .await
        .unwrap();
    assert_eq!(with_tenant("9").0, 1, "Deny overrides the grant");

    let audit = pb::ReadAuditRequest { limit: 100, principal: "uid:65534".into(), ..Default::default() };
    let records = daemon.admin().await.read_audit(audit).await.unwrap().into_inner().records;
    assert!(records.iter().filter(|r| r.contains("PERMISSION_DENIED")).count() >= 3, "{records:?}");
}

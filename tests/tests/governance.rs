//! Aliases and enabling/disabling keys, enforced on every key-taking call; ListKeys filters.

use std::collections::BTreeSet;

use arca_tests::{Daemon, Launch, assert_status, create_key, pb};
use tonic::Code;

fn alias(name: &str, target: &str) -> pb::CreateAliasRequest {
    pb::CreateAliasRequest { alias_name: name.into(), target_key_id: target.into() }
}

fn encrypt(key_id: &str) -> pb::EncryptRequest {
    pb::EncryptRequest { key_id: key_id.into(), plaintext: b"aliased".to_vec(), ..Default::default() }
}

#[tokio::test]
async fn aliases_name_keys_everywhere_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::dev(dir.path());
    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    let (first, second) = (create_key(&mut kms, "first").await, create_key(&mut kms, "second").await);
    kms.create_alias(alias("alias/orders", &first)).await.unwrap();
    kms.create_alias(alias("alias/team/billing", &first)).await.unwrap();
    kms.create_alias(alias("alias/other", &second)).await.unwrap();

    let sealed = kms.encrypt(encrypt("alias/orders")).await.unwrap().into_inner();
    assert_eq!(sealed.key_id, first, "the response names the key, not the alias");
    let described = kms
        .describe_key(pb::DescribeKeyRequest {
            key_id: "alias/orders".into(),
            grant_tokens: Default::default(),
        })
        .await
        .unwrap();
    assert_eq!(described.into_inner().key_metadata.unwrap().key_id, first);
    let decrypt = pb::DecryptRequest {
        ciphertext_blob: sealed.ciphertext_blob.clone(),
        key_id: "alias/orders".into(),
        ..Default::default()
    };
    kms.decrypt(decrypt).await.unwrap();

    assert_status(
        kms.create_alias(alias("alias/orders", &second)).await,
        Code::AlreadyExists,
        "alias/orders",
    );
    assert_status(
        kms.create_alias(alias("alias/arca/mine", &second)).await,
        Code::InvalidArgument,
        "reserved",
    );
    assert_status(kms.create_alias(alias("orders", &second)).await, Code::InvalidArgument, "alias/");
    assert_status(
        kms.create_alias(alias("alias/chain", "alias/orders")).await,
        Code::InvalidArgument,
        "key id",
    );
    let absent = "00000000-0000-4000-8000-000000000000";
    assert_status(kms.create_alias(alias("alias/ghost", absent)).await, Code::NotFound, absent);
    assert_status(kms.encrypt(encrypt("alias/nowhere")).await, Code::NotFound, "alias/nowhere");

    let list = |key_id: &str, limit: u32, token: &str| pb::ListAliasesRequest {
        key_id: key_id.into(),
        limit,
        page_token: token.into(),
    };
    let of_first = kms.list_aliases(list(&first, 0, "")).await.unwrap().into_inner();
    let names: Vec<_> = of_first.aliases.iter().map(|a| a.alias_name.as_str()).collect();
    assert_eq!(names, ["alias/orders", "alias/team/billing"]);
    let page = kms.list_aliases(list("", 2, "")).await.unwrap().into_inner();
    assert!(page.truncated && page.aliases.len() == 2);
    let rest = kms.list_aliases(list("", 2, &page.next_page_token)).await.unwrap().into_inner();
    assert_eq!(rest.aliases.len(), 1);
    assert!(!rest.truncated);

    // Moving an alias moves new work; old ciphertext still names its own key.
    let update = pb::UpdateAliasRequest { alias_name: "alias/orders".into(), target_key_id: second.clone() };
    kms.update_alias(update).await.unwrap();
    assert_eq!(kms.encrypt(encrypt("alias/orders")).await.unwrap().into_inner().key_id, second);
    let missing = pb::UpdateAliasRequest { alias_name: "alias/none".into(), target_key_id: second.clone() };
    assert_status(kms.update_alias(missing).await, Code::NotFound, "alias/none");
    kms.delete_alias(pb::DeleteAliasRequest { alias_name: "alias/other".into() }).await.unwrap();
    assert_status(kms.encrypt(encrypt("alias/other")).await, Code::NotFound, "alias/other");
    daemon.shutdown().await;

    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    assert_eq!(kms.encrypt(encrypt("alias/orders")).await.unwrap().into_inner().key_id, second);
    assert_eq!(kms.encrypt(encrypt("alias/team/billing")).await.unwrap().into_inner().key_id, first);
    assert_status(kms.encrypt(encrypt("alias/other")).await, Code::NotFound, "alias/other");
}

#[tokio::test]
async fn a_disabled_key_refuses_crypto_until_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::dev(dir.path());
    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "switchable").await;
    let blob = kms.encrypt(encrypt(&key)).await.unwrap().into_inner().ciphertext_blob;
    let signer = kms
        .create_key(pb::CreateKeyRequest { key_spec: pb::KeySpec::EccNistP256.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .key_metadata
        .unwrap()
        .key_id;
    kms.disable_key(pb::DisableKeyRequest { key_id: key.clone() }).await.unwrap();
    kms.disable_key(pb::DisableKeyRequest { key_id: signer.clone() }).await.unwrap();

    let decrypt = pb::DecryptRequest { ciphertext_blob: blob, ..Default::default() };
    let data_key = pb::GenerateDataKeyRequest {
        key_id: key.clone(),
        key_spec: pb::DataKeySpec::Aes256.into(),
        ..Default::default()
    };
    let sign = pb::SignRequest {
        key_id: signer.clone(),
        message: b"m".to_vec(),
        signing_algorithm: pb::SigningAlgorithm::EcdsaSha256.into(),
        ..Default::default()
    };
    assert_status(kms.encrypt(encrypt(&key)).await, Code::FailedPrecondition, "DISABLED");
    assert_status(kms.decrypt(decrypt.clone()).await, Code::FailedPrecondition, "DISABLED");
    assert_status(kms.generate_data_key(data_key).await, Code::FailedPrecondition, "DISABLED");
    assert_status(kms.sign(sign.clone()).await, Code::FailedPrecondition, "DISABLED");
    let described = kms
        .describe_key(pb::DescribeKeyRequest { key_id: key.clone(), grant_tokens: Default::default() })
        .await
        .unwrap();
    assert_eq!(described.into_inner().key_metadata.unwrap().key_state(), pb::KeyState::Disabled);
    daemon.shutdown().await;

    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    assert_status(kms.decrypt(decrypt.clone()).await, Code::FailedPrecondition, "DISABLED");
    kms.enable_key(pb::EnableKeyRequest { key_id: key.clone() }).await.unwrap();
    kms.enable_key(pb::EnableKeyRequest { key_id: signer }).await.unwrap();
    assert_eq!(kms.decrypt(decrypt).await.unwrap().into_inner().plaintext, b"aliased");
    kms.sign(sign).await.unwrap();
}

#[tokio::test]
async fn callers_past_their_quota_are_throttled_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::key_file_config(dir.path(), "[quotas]\ncrypto_requests_per_second = 5").start();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "metered").await;
    let mut outcomes = Vec::new();
    for _ in 0..8 {
        outcomes.push(kms.encrypt(encrypt(&key)).await.map(|_| ()));
    }
    let admitted = outcomes.iter().filter(|o| o.is_ok()).count();
    assert!((5..=6).contains(&admitted), "{admitted} of 8 admitted at 5 per second");
    let throttled = outcomes.into_iter().find(|o| o.is_err()).unwrap();
    assert_status(throttled, Code::ResourceExhausted, "throttled");
    // Management calls are not metered by the crypto quota.
    create_key(&mut kms, "unmetered").await;
    let audit = pb::ReadAuditRequest { limit: 100, key: key.clone(), ..Default::default() };
    let records = daemon.admin().await.read_audit(audit).await.unwrap().into_inner().records;
    let refusal = "\"outcome\":\"RESOURCE_EXHAUSTED\",\"error_code\":\"Throttled\"";
    assert!(records.iter().any(|r| r.contains(refusal)), "the refusal is audited: {records:#?}");
}

async fn create(daemon: &Daemon, spec: pb::KeySpec, origin: pb::KeyOrigin, tags: &[(&str, &str)]) -> String {
    let request = pb::CreateKeyRequest {
        key_spec: spec.into(),
        origin: origin.into(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Default::default()
    };
    daemon.kms().await.create_key(request).await.unwrap().into_inner().key_metadata.unwrap().key_id
}

/// Every matching key id, one page of `limit` at a time; checks that no page is empty but the
/// last and that no key comes twice.
async fn list(daemon: &Daemon, filter: &pb::ListKeysRequest, limit: u32) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut token = String::new();
    loop {
        let request = pb::ListKeysRequest { limit, page_token: token.clone(), ..filter.clone() };
        let page = daemon.kms().await.list_keys(request).await.unwrap().into_inner();
        assert!(page.keys.len() <= limit as usize);
        assert_eq!(page.truncated, !page.next_page_token.is_empty());
        if page.truncated {
            assert_eq!(page.keys.len(), limit as usize, "a full page before every token");
        }
        for key in page.keys {
            assert!(ids.insert(key.key_id), "a key listed twice");
        }
        if !page.truncated {
            return ids;
        }
        token = page.next_page_token;
    }
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

fn tag(key: &str, value: Option<&str>) -> Option<pb::TagFilter> {
    Some(pb::TagFilter { tag_key: key.into(), tag_value: value.map(str::to_owned) })
}

#[tokio::test]
async fn list_keys_filters_before_paging() {
    let (daemon, _dir) = Daemon::start_dev();
    use pb::KeyOrigin::{Arca, External};
    let aes = create(&daemon, pb::KeySpec::Aes256, Arca, &[("team", "a")]).await;
    let aes_b = create(&daemon, pb::KeySpec::Aes256, Arca, &[("team", "b")]).await;
    let ecc = create(&daemon, pb::KeySpec::EccNistP256, Arca, &[("team", "a"), ("env", "prod")]).await;
    let hmac = create(&daemon, pb::KeySpec::Hmac256, External, &[]).await;
    let disabled = create(&daemon, pb::KeySpec::Aes256, Arca, &[("team", "a")]).await;
    daemon.kms().await.disable_key(pb::DisableKeyRequest { key_id: disabled.clone() }).await.unwrap();
    let doomed = create(&daemon, pb::KeySpec::Aes256, Arca, &[]).await;
    let schedule = pb::ScheduleKeyDeletionRequest { key_id: doomed.clone(), pending_window_in_days: 7 };
    daemon.kms().await.schedule_key_deletion(schedule).await.unwrap();
    let all = set(&[&aes, &aes_b, &ecc, &hmac, &disabled, &doomed]);

    let none = pb::ListKeysRequest::default();
    for limit in [1, 2, 100] {
        assert_eq!(list(&daemon, &none, limit).await, all);
    }
    let cases = [
        (
            pb::ListKeysRequest { key_spec: pb::KeySpec::Aes256.into(), ..none.clone() },
            set(&[&aes, &aes_b, &disabled, &doomed]),
        ),
        (pb::ListKeysRequest { key_usage: pb::KeyUsage::SignVerify.into(), ..none.clone() }, set(&[&ecc])),
        (pb::ListKeysRequest { key_state: pb::KeyState::Disabled.into(), ..none.clone() }, set(&[&disabled])),
        (
            pb::ListKeysRequest { key_state: pb::KeyState::PendingDeletion.into(), ..none.clone() },
            set(&[&doomed]),
        ),
        (
            pb::ListKeysRequest { key_state: pb::KeyState::PendingImport.into(), ..none.clone() },
            set(&[&hmac]),
        ),
        (pb::ListKeysRequest { key_state: pb::KeyState::Unavailable.into(), ..none.clone() }, set(&[])),
        (pb::ListKeysRequest { origin: External.into(), ..none.clone() }, set(&[&hmac])),
        (
            pb::ListKeysRequest { origin: Arca.into(), ..none.clone() },
            set(&[&aes, &aes_b, &ecc, &disabled, &doomed]),
        ),
        (pb::ListKeysRequest { tag: tag("team", Some("a")), ..none.clone() }, set(&[&aes, &ecc, &disabled])),
        (
            pb::ListKeysRequest { tag: tag("team", None), ..none.clone() },
            set(&[&aes, &aes_b, &ecc, &disabled]),
        ),
        (pb::ListKeysRequest { tag: tag("env", Some("dev")), ..none.clone() }, set(&[])),
        (
            pb::ListKeysRequest {
                key_spec: pb::KeySpec::Aes256.into(),
                key_state: pb::KeyState::Enabled.into(),
                tag: tag("team", Some("a")),
                ..none.clone()
            },
            set(&[&aes]),
        ),
    ];
    for (filter, expected) in cases {
        for limit in [1, 2, 1000] {
            assert_eq!(list(&daemon, &filter, limit).await, expected, "{filter:?} limit {limit}");
        }
    }

    let bad = |request: pb::ListKeysRequest| async { daemon.kms().await.list_keys(request).await };
    assert_status(
        bad(pb::ListKeysRequest { key_state: 99, ..none.clone() }).await,
        Code::InvalidArgument,
        "key_state",
    );
    assert_status(
        bad(pb::ListKeysRequest { key_spec: 99, ..none.clone() }).await,
        Code::InvalidArgument,
        "key_spec",
    );
    assert_status(
        bad(pb::ListKeysRequest { tag: tag("", None), ..none.clone() }).await,
        Code::InvalidArgument,
        "tag key",
    );
}

//! Every symmetric RPC, round trip, against a real arcad.

use arca_proto::REQUEST_ID_HEADER;
use arca_tests::{Daemon, context, create_key, pb};
use tonic::Request;

#[tokio::test]
async fn create_describe_and_list_keys() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let created = kms
        .create_key(pb::CreateKeyRequest {
            description: "orders".into(),
            key_spec: pb::KeySpec::Aes256.into(),
            key_usage: pb::KeyUsage::EncryptDecrypt.into(),
            tags: context(&[("team", "payments")]),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .key_metadata
        .unwrap();
    assert_eq!(created.description, "orders");
    assert_eq!(created.key_spec(), pb::KeySpec::Aes256);
    assert_eq!(created.key_usage(), pb::KeyUsage::EncryptDecrypt);
    assert_eq!(created.key_state(), pb::KeyState::Enabled);
    assert_eq!(created.origin(), pb::KeyOrigin::Arca);
    assert_eq!(created.current_version, 1);
    assert!(created.creation_date > 1_700_000_000);

    let described = kms
        .describe_key(pb::DescribeKeyRequest {
            key_id: created.key_id.clone(),
            grant_tokens: Default::default(),
        })
        .await
        .unwrap()
        .into_inner()
        .key_metadata
        .unwrap();
    assert_eq!(described, created);

    let mut all = vec![created.key_id.clone()];
    for n in 0..4 {
        all.push(create_key(&mut kms, &format!("key {n}")).await);
    }
    all.sort();
    let mut listed = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = kms
            .list_keys(pb::ListKeysRequest { limit: 2, page_token: token.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.keys.len() <= 2);
        listed.extend(page.keys.into_iter().map(|k| k.key_id));
        if !page.truncated {
            assert!(page.next_page_token.is_empty());
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(listed, all, "paging must return every key once, in order");

    let status = daemon.admin().await.status(pb::StatusRequest {}).await.unwrap().into_inner();
    assert_eq!(status.key_count, 5);
    assert!(!status.sealed && status.initialized);
    assert_eq!(status.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(status.seal_mode(), pb::SealMode::KeyFile);
}

#[tokio::test]
async fn encrypt_decrypt_and_reencrypt() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let (first, second) = (create_key(&mut kms, "a").await, create_key(&mut kms, "b").await);
    let ctx = context(&[("tenant", "42"), ("purpose", "test")]);
    let plaintext = vec![0x5Cu8; 4096];
    let encrypted = kms
        .encrypt(pb::EncryptRequest {
            key_id: first.clone(),
            plaintext: plaintext.clone(),
            encryption_context: ctx.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(encrypted.key_id, first);
    assert_eq!(encrypted.key_version, 1);
    assert_eq!(encrypted.ciphertext_blob.len(), 4096 + 49, "header 33 + tag 16");
    assert!(!encrypted.ciphertext_blob.windows(64).any(|w| w == &plaintext[..64]));

    // Decrypt needs no key id: the blob names it. Given, it must match.
    for key_id in [String::new(), first.clone()] {
        let decrypted = kms
            .decrypt(pb::DecryptRequest {
                ciphertext_blob: encrypted.ciphertext_blob.clone(),
                encryption_context: ctx.clone(),
                key_id,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(decrypted.plaintext, plaintext);
        assert_eq!(decrypted.key_id, first);
        assert_eq!(decrypted.key_version, 1);
    }

    let new_ctx = context(&[("tenant", "43")]);
    let re = kms
        .re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: encrypted.ciphertext_blob.clone(),
            source_encryption_context: ctx.clone(),
            source_key_id: String::new(),
            destination_key_id: second.clone(),
            destination_encryption_context: new_ctx.clone(),
            grant_tokens: Default::default(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((re.source_key_id.as_str(), re.key_id.as_str()), (first.as_str(), second.as_str()));
    let decrypted = kms
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: re.ciphertext_blob,
            encryption_context: new_ctx,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(decrypted.plaintext, plaintext);
    assert_eq!(decrypted.key_id, second);
}

#[tokio::test]
async fn data_keys_and_random() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let key_id = create_key(&mut kms, "envelope").await;
    let ctx = context(&[("bucket", "logs")]);
    for (spec, bytes, expected_len) in [
        (pb::DataKeySpec::Aes256, 0, 32),
        (pb::DataKeySpec::Aes128, 0, 16),
        (pb::DataKeySpec::Unspecified, 1, 1),
        (pb::DataKeySpec::Unspecified, 1024, 1024),
    ] {
        let request = pb::GenerateDataKeyRequest {
            key_id: key_id.clone(),
            encryption_context: ctx.clone(),
            key_spec: spec.into(),
            number_of_bytes: bytes,
            grant_tokens: Default::default(),
        };
        let with = kms.generate_data_key(request.clone()).await.unwrap().into_inner();
        assert_eq!(with.plaintext.len(), expected_len);
        assert_eq!(with.key_id, key_id);
        let decrypted = kms
            .decrypt(pb::DecryptRequest {
                ciphertext_blob: with.ciphertext_blob,
                encryption_context: ctx.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(decrypted.plaintext, with.plaintext, "the blob must hold the data key returned");

        let without = kms.generate_data_key_without_plaintext(request).await.unwrap().into_inner();
        let decrypted = kms
            .decrypt(pb::DecryptRequest {
                ciphertext_blob: without.ciphertext_blob,
                encryption_context: ctx.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(decrypted.plaintext.len(), expected_len);
        assert_ne!(decrypted.plaintext, with.plaintext, "each data key is fresh");
    }

    let a =
        kms.generate_random(pb::GenerateRandomRequest { number_of_bytes: 32 }).await.unwrap().into_inner();
    let b =
        kms.generate_random(pb::GenerateRandomRequest { number_of_bytes: 1024 }).await.unwrap().into_inner();
    assert_eq!((a.plaintext.len(), b.plaintext.len()), (32, 1024));
    assert_ne!(a.plaintext, b.plaintext[..32]);
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let mut request = Request::new(pb::GenerateRandomRequest { number_of_bytes: 8 });
    request.metadata_mut().insert(REQUEST_ID_HEADER, "trace-1234".parse().unwrap());
    let response = kms.generate_random(request).await.unwrap();
    assert_eq!(response.metadata().get(REQUEST_ID_HEADER).unwrap(), "trace-1234");

    let failed = kms
        .describe_key(pb::DescribeKeyRequest { key_id: uuid_like(), grant_tokens: Default::default() })
        .await
        .unwrap_err();
    let generated = failed.metadata().get(REQUEST_ID_HEADER).expect("a generated request id");
    assert!(!generated.is_empty());
}

fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".into()
}

//! Bad input gets a precise status and a message naming the cause, never "internal".

use arca_tests::{Daemon, assert_status, context, create_key, pb};
use tonic::Code;

const ABSENT_KEY: &str = "00000000-0000-4000-8000-000000000000";

fn encrypt_request(key_id: &str, plaintext: Vec<u8>) -> pb::EncryptRequest {
    pb::EncryptRequest { key_id: key_id.into(), plaintext, ..Default::default() }
}

#[tokio::test]
async fn unknown_and_malformed_keys() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    assert_status(
        kms.describe_key(pb::DescribeKeyRequest {
            key_id: ABSENT_KEY.into(),
            grant_tokens: Default::default(),
        })
        .await,
        Code::NotFound,
        ABSENT_KEY,
    );
    assert_status(kms.encrypt(encrypt_request(ABSENT_KEY, b"x".to_vec())).await, Code::NotFound, "not found");
    assert_status(
        kms.describe_key(pb::DescribeKeyRequest { key_id: "nope".into(), grant_tokens: Default::default() })
            .await,
        Code::InvalidArgument,
        "nope",
    );
    assert_status(
        kms.describe_key(pb::DescribeKeyRequest { key_id: String::new(), grant_tokens: Default::default() })
            .await,
        Code::InvalidArgument,
        "required",
    );
    let request = pb::GenerateDataKeyRequest {
        key_id: ABSENT_KEY.into(),
        key_spec: pb::DataKeySpec::Aes256.into(),
        ..Default::default()
    };
    assert_status(kms.generate_data_key(request).await, Code::NotFound, ABSENT_KEY);
}

#[tokio::test]
async fn plaintext_limits() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "limits").await;
    assert_status(kms.encrypt(encrypt_request(&key, vec![1; 4097])).await, Code::InvalidArgument, "4096");
    assert_status(kms.encrypt(encrypt_request(&key, Vec::new())).await, Code::InvalidArgument, "empty");
    // Past the configured request size cap (64 KiB) the transport refuses before the service.
    let oversized = kms.encrypt(encrypt_request(&key, vec![1; 100 * 1024])).await.unwrap_err();
    assert_eq!(oversized.code(), Code::OutOfRange, "oversized message: {oversized:?}");
    assert!(oversized.message().contains("too large"), "{}", oversized.message());
    // The daemon is still serving after refusing it.
    kms.encrypt(encrypt_request(&key, vec![1; 4096])).await.unwrap();
}

#[tokio::test]
async fn data_key_and_random_sizes() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "sizes").await;
    let request = |spec: pb::DataKeySpec, bytes: u32| pb::GenerateDataKeyRequest {
        key_id: key.clone(),
        key_spec: spec.into(),
        number_of_bytes: bytes,
        ..Default::default()
    };
    let cases = [
        (request(pb::DataKeySpec::Unspecified, 0), "required"),
        (request(pb::DataKeySpec::Unspecified, 1025), "1 to 1024"),
        (request(pb::DataKeySpec::Aes256, 32), "not both"),
        (pb::GenerateDataKeyRequest { key_spec: 99, ..request(pb::DataKeySpec::Unspecified, 0) }, "99"),
    ];
    for (case, needle) in cases {
        assert_status(kms.generate_data_key(case.clone()).await, Code::InvalidArgument, needle);
        assert_status(kms.generate_data_key_without_plaintext(case).await, Code::InvalidArgument, needle);
    }
    for bytes in [0, 1025] {
        let outcome = kms.generate_random(pb::GenerateRandomRequest { number_of_bytes: bytes }).await;
        assert_status(outcome, Code::InvalidArgument, "1 to 1024");
    }
}

#[tokio::test]
async fn ciphertext_problems() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let (key, other) = (create_key(&mut kms, "a").await, create_key(&mut kms, "b").await);
    let ctx = context(&[("order", "17")]);
    let blob = kms
        .encrypt(pb::EncryptRequest {
            key_id: key.clone(),
            plaintext: b"attack at dawn".to_vec(),
            encryption_context: ctx.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .ciphertext_blob;
    let decrypt =
        |blob: Vec<u8>, ctx: std::collections::HashMap<String, String>, key_id: &str| pb::DecryptRequest {
            ciphertext_blob: blob,
            encryption_context: ctx,
            key_id: key_id.into(),
            ..Default::default()
        };

    assert_status(
        kms.decrypt(decrypt(blob.clone(), context(&[("order", "18")]), "")).await,
        Code::InvalidArgument,
        "encryption context",
    );
    assert_status(
        kms.decrypt(decrypt(blob.clone(), Default::default(), "")).await,
        Code::InvalidArgument,
        "encryption context",
    );
    assert_status(
        kms.decrypt(decrypt(blob.clone(), ctx.clone(), &other)).await,
        Code::InvalidArgument,
        &other,
    );
    assert_status(
        kms.decrypt(decrypt(blob[..40].to_vec(), ctx.clone(), "")).await,
        Code::InvalidArgument,
        "truncated",
    );
    assert_status(
        kms.decrypt(decrypt(Vec::new(), ctx.clone(), "")).await,
        Code::InvalidArgument,
        "truncated",
    );

    // One flipped bit anywhere (format, key id, version, nonce, body, tag) is refused.
    for index in 0..blob.len() {
        let mut tampered = blob.clone();
        tampered[index] ^= 0x01;
        let status = kms.decrypt(decrypt(tampered, ctx.clone(), "")).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "byte {index}: {}", status.message());
        assert!(!status.message().to_lowercase().contains("internal"));
    }
    let reencrypt = pb::ReEncryptRequest {
        ciphertext_blob: blob[..blob.len() - 1].to_vec(),
        source_encryption_context: ctx.clone(),
        destination_key_id: other.clone(),
        ..Default::default()
    };
    assert_status(kms.re_encrypt(reencrypt).await, Code::InvalidArgument, "");
    // The untouched blob still opens.
    let plain = kms.decrypt(decrypt(blob, ctx, &key)).await.unwrap().into_inner().plaintext;
    assert_eq!(plain, b"attack at dawn");
}

#[tokio::test]
async fn listing_and_creation_arguments() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let list = |limit: u32, token: &str| pb::ListKeysRequest {
        limit,
        page_token: token.into(),
        ..Default::default()
    };
    assert_status(kms.list_keys(list(1001, "")).await, Code::InvalidArgument, "1000");
    assert_status(kms.list_keys(list(10, "garbage")).await, Code::InvalidArgument, "page_token");
    let ecc_encrypt = pb::CreateKeyRequest {
        key_spec: pb::KeySpec::EccNistP256.into(),
        key_usage: pb::KeyUsage::EncryptDecrypt.into(),
        ..Default::default()
    };
    assert_status(kms.create_key(ecc_encrypt).await, Code::InvalidArgument, "SIGN_VERIFY");
    let unknown = pb::CreateKeyRequest { key_spec: 77, ..Default::default() };
    assert_status(kms.create_key(unknown).await, Code::InvalidArgument, "77");
    let tags = (0..51).map(|n| (format!("k{n}"), "v".to_string())).collect();
    let many = pb::CreateKeyRequest { tags, ..Default::default() };
    assert_status(kms.create_key(many).await, Code::InvalidArgument, "tags");
}

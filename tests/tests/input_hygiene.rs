//! Hostile input at the edges: bytes that are not a protobuf message, huge key ids and aliases
//! echoed back, control characters in stored free text, and arcactl writing to a device.

use std::os::unix::fs::FileTypeExt;

use arca_tests::arcactl::Arcactl;
use arca_tests::{Daemon, assert_status, pb};
use prost::bytes::{Buf, BufMut};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};

/// Sends and receives the bytes of a gRPC message as they are, unparsed.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

#[tokio::test]
async fn a_frame_that_is_not_a_message_is_invalid_argument() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut grpc = tonic::client::Grpc::new(daemon.channel().await);
    for (path, garbage) in [
        ("/arca.v1.KeyManagement/CreateKey", vec![0xFF; 12]),
        ("/arca.v1.Admin/Status", vec![0x0A, 0x80]),
        ("/arca.v1.Token/GetTokenInfo", vec![0x08]),
    ] {
        grpc.ready().await.unwrap();
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
        let answer = grpc.unary(tonic::Request::new(garbage), path.clone(), RawCodec).await;
        let status = answer.expect_err("garbage must be refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{path}: {status:?}");
        assert!(status.message().contains("malformed message"), "{path}: {status:?}");
    }
    let status = daemon.admin().await.status(pb::StatusRequest {}).await;
    assert!(status.is_ok(), "the daemon serves on: {status:?}");
    daemon.shutdown().await;
}

#[tokio::test]
async fn huge_key_ids_and_aliases_are_echoed_bounded() {
    let (mut daemon, _dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let huge = "k".repeat(60_000);
    let describe = pb::DescribeKeyRequest { key_id: huge.clone(), grant_tokens: Default::default() };
    let status = kms.describe_key(describe).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().len() < 300, "{} bytes echoed", status.message().len());
    assert!(status.message().contains("(60000 bytes)"), "{}", status.message());
    let alias = format!("alias/{}", "a".repeat(60_000));
    let describe = pb::DescribeKeyRequest { key_id: alias, grant_tokens: Default::default() };
    let status = kms.describe_key(describe).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().len() < 300, "{} bytes echoed", status.message().len());
    let key_id = arca_tests::create_key(&mut kms, "target").await;
    let create = pb::CreateAliasRequest {
        alias_name: format!("alias/{}!", "b".repeat(60_000)),
        target_key_id: key_id,
    };
    let status = kms.create_alias(create).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().len() < 300, "{} bytes echoed", status.message().len());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !daemon.stderr_text().contains("(60000 bytes)") && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let log = daemon.stderr_text();
    assert!(log.contains("(60000 bytes)"), "the log line names the length");
    assert!(!log.contains(&"k".repeat(1000)), "the log holds the huge key id whole");
    daemon.shutdown().await;
}

#[tokio::test]
async fn control_characters_in_stored_text_are_refused_with_the_field_named() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    for (description, tags, field) in [
        ("line\nbreak", vec![], "description"),
        ("bell\u{7}", vec![], "description"),
        ("c1\u{85}", vec![], "description"),
        ("ok", vec![("team\t".to_owned(), "x".to_owned())], "tag key"),
        ("ok", vec![("team".to_owned(), "a\u{1b}[31m".to_owned())], "the value of tag \"team\""),
    ] {
        let request = pb::CreateKeyRequest {
            description: description.into(),
            tags: tags.into_iter().collect(),
            ..Default::default()
        };
        assert_status(kms.create_key(request).await, Code::InvalidArgument, field);
    }
    let printable =
        pb::CreateKeyRequest { description: "Ünïcode — fine ✓".into(), ..Default::default() };
    kms.create_key(printable).await.unwrap();
    let keys = kms.list_keys(pb::ListKeysRequest::default()).await.unwrap().into_inner().keys;
    assert_eq!(keys.len(), 1, "only the printable description was stored");
    let mut token = pb::token_client::TokenClient::new(daemon.channel().await);
    let init = pb::InitTokenRequest { so_pin: b"87654321".to_vec(), label: b"tab\tlabel".to_vec() };
    assert_status(token.init_token(init).await, Code::InvalidArgument, "token label");
    daemon.shutdown().await;
}

#[test]
fn arcactl_writes_to_dev_null_and_other_devices() {
    let (daemon, _dir) = Daemon::start_dev();
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    let arcactl = Arcactl::new(&daemon.socket);
    let key = arcactl.ok(&["create-key"])["key_metadata"]["key_id"].as_str().unwrap().to_owned();
    arcactl.ok(&["encrypt", "--key-id", &key, "--plaintext", "x", "--out", "/dev/null"]);
    arcactl.ok(&["backup", "--out", "/dev/null"]);
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device(), "/dev/null is intact");
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("blob.bin");
    arcactl.ok(&["encrypt", "--key-id", &key, "--plaintext", "x", "--out", blob.to_str().unwrap()]);
    assert!(std::fs::metadata(&blob).unwrap().len() > 0, "regular files are still written");
}

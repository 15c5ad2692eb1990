//! Running under a supervisor: systemd notification, graceful shutdown, health, reflection,
//! metrics, backup and restore.

use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arca_tests::{Launch, binary, create_key, pb};
use tokio_stream::StreamExt;

fn launch(dir: &Path, extra: &str) -> Launch {
    Launch::key_file_config(dir, extra)
}

fn receive(socket: &UnixDatagram) -> String {
    let mut buffer = [0u8; 512];
    let n = socket.recv(&mut buffer).expect("a notification");
    String::from_utf8_lossy(&buffer[..n]).into_owned()
}

#[tokio::test]
async fn systemd_hears_ready_only_once_listening_then_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let notify_path = dir.path().join("notify.sock");
    let notifications = UnixDatagram::bind(&notify_path).unwrap();
    notifications.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut launch = launch(dir.path(), "");
    launch.env.push(("NOTIFY_SOCKET".into(), notify_path.display().to_string()));
    let socket = launch.socket.clone();
    let daemon = launch.start();

    let first = receive(&notifications);
    assert_eq!(first, "READY=1");
    assert!(std::os::unix::net::UnixStream::connect(&socket).is_ok(), "READY before listening");
    let status = receive(&notifications);
    assert!(status.starts_with("STATUS=unsealed"), "{status}");
    assert_eq!(daemon.shutdown().await, Some(0));
    assert_eq!(receive(&notifications), "STOPPING=1");
}

#[tokio::test]
async fn sigterm_under_load_loses_no_acknowledged_request() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(dir.path(), "");
    let daemon = launch.start();
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut callers = Vec::new();
    for _ in 0..4 {
        let mut kms = daemon.kms().await;
        let acknowledged = Arc::clone(&acknowledged);
        callers.push(tokio::spawn(async move {
            while let Ok(response) = kms.create_key(pb::CreateKeyRequest::default()).await {
                acknowledged.lock().unwrap().push(response.into_inner().key_metadata.unwrap().key_id);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let code = tokio::task::spawn_blocking(move || daemon.stop()).await.unwrap();
    assert_eq!(code, Some(0), "a graceful stop exits 0");
    for caller in callers {
        caller.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(!acknowledged.is_empty());

    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    for key_id in &acknowledged {
        kms.describe_key(pb::DescribeKeyRequest { key_id: key_id.clone(), grant_tokens: Default::default() })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn backup_restores_into_a_fresh_directory() {
    let dir = tempfile::tempdir().unwrap();
    let source = Launch::dev(&dir.path().join("source"));
    let daemon = source.start();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "backed up").await;
    let encrypt = pb::EncryptRequest { key_id: key, plaintext: b"old secret".to_vec(), ..Default::default() };
    let blob = kms.encrypt(encrypt).await.unwrap().into_inner().ciphertext_blob;
    let mut chunks = daemon.admin().await.backup(pb::BackupRequest {}).await.unwrap().into_inner();
    let mut archive = Vec::new();
    while let Some(chunk) = chunks.next().await {
        archive.extend(chunk.unwrap().data);
    }
    assert!(!archive.windows(10).any(|w| w == b"old secret"));
    let archive_file = dir.path().join("backup.arca");
    std::fs::write(&archive_file, &archive).unwrap();
    drop(daemon);

    let target = dir.path().join("target");
    let restore = |target: &Path| {
        Command::new(binary("arcad"))
            .args(["restore", "--data-dir", target.to_str().unwrap(), archive_file.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let restored = restore(&target);
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    let again = restore(&target);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));

    // Without the key file the restored store is useless; with it, old blobs open.
    std::fs::copy(dir.path().join("source/master.key"), target.join("master.key")).unwrap();
    // `arcad restore` makes an embedded store, whatever store the backup was taken from.
    let daemon = Launch::dev_on_redb(&target).start();
    let decrypt = pb::DecryptRequest { ciphertext_blob: blob, ..Default::default() };
    let plaintext = daemon.kms().await.decrypt(decrypt).await.unwrap().into_inner().plaintext;
    assert_eq!(plaintext, b"old secret");
}

#[tokio::test]
async fn health_and_reflection_answer() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = launch(dir.path(), "").start();
    let mut health = tonic_health::pb::health_client::HealthClient::new(daemon.channel().await);
    let check = tonic_health::pb::HealthCheckRequest { service: "arca.v1.KeyManagement".into() };
    let mut serving = false;
    for _ in 0..20 {
        let status = health.check(check.clone()).await.unwrap().into_inner().status;
        if status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 {
            serving = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(serving, "an unsealed daemon serves KeyManagement");

    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut reflection = ServerReflectionClient::new(daemon.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses =
        reflection.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let response = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in ["arca.v1.KeyManagement", "arca.v1.Admin", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
}

fn scrape(url: &str) -> String {
    let address = url.trim_start_matches("http://").trim_end_matches("/metrics");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"), "{response}");
    response.split("\r\n\r\n").nth(1).unwrap().to_owned()
}

#[tokio::test]
async fn metrics_scrape_parses_and_counts_requests() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = launch(dir.path(), "metrics_listen = \"127.0.0.1:0\"").start();
    let url = daemon.addresses.iter().find(|a| a.starts_with("http://")).unwrap().clone();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "metered").await;
    for _ in 0..3 {
        let request =
            pb::EncryptRequest { key_id: key.clone(), plaintext: b"x".to_vec(), ..Default::default() };
        kms.encrypt(request).await.unwrap();
    }
    let absent = pb::DescribeKeyRequest {
        key_id: "00000000-0000-4000-8000-000000000000".into(),
        grant_tokens: Default::default(),
    };
    let _ = kms.describe_key(absent).await;

    let text = scrape(&url);
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {line:?}"));
        assert!(value.parse::<f64>().is_ok(), "bad value in {line:?}");
        assert!(series.starts_with("arca_"), "{line:?}");
    }
    assert!(text.contains("arca_requests_total{operation=\"Encrypt\",code=\"OK\"} 3"), "{text}");
    assert!(text.contains("arca_requests_total{operation=\"DescribeKey\",code=\"NOT_FOUND\"} 1"));
    assert!(text.contains("arca_request_duration_seconds_count{operation=\"Encrypt\"} 3"));
    assert!(text.contains("arca_sealed 0") && text.contains("arca_keys 1"));
    // CreateKey, three Encrypts and the DescribeKey each appended one audit record.
    let audit_writes = text
        .lines()
        .find_map(|line| line.strip_prefix("arca_audit_write_duration_seconds_count "))
        .unwrap_or_else(|| panic!("no audit write latency in {text}"));
    assert!(audit_writes.parse::<u64>().unwrap() >= 5, "{audit_writes}");
}

#[tokio::test]
async fn sighup_re_reads_the_configuration_without_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = launch(dir.path(), "").start();
    let _ = Command::new("kill").arg("-HUP").arg(daemon.pid().to_string()).status();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = daemon.admin().await.status(pb::StatusRequest {}).await.unwrap().into_inner();
    assert!(!status.sealed);
    assert!(daemon.stderr_shows("SIGHUP", Duration::from_secs(5)), "the reload is logged");
}

//! The two transports and the caller identity each one establishes.

use std::os::unix::fs::MetadataExt;

use arca_proto::{DaemonEndpoint, TlsClientFiles};
use arca_tests::pki::make_pki;
use arca_tests::{Launch, pb};
use pb::admin_client::AdminClient;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

#[tokio::test]
async fn mutual_tls_identifies_the_client_by_certificate_subject() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path();
    make_pki(pki);
    let data = pki.join("data");
    let config = pki.join("arca.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{d}\"\nsocket = \"{d}/arca.sock\"\n[seal]\nmode = \"key_file\"\nkey_file = \"{p}/master.key\"\n\
             [tls]\nlisten = \"127.0.0.1:0\"\ncert = \"{p}/server.pem\"\nkey = \"{p}/server.key\"\nclient_ca = \"{p}/ca.pem\"\n",
            d = data.display(),
            p = pki.display()
        ),
    )
    .unwrap();
    std::fs::write(pki.join("master.key"), [7u8; 32]).unwrap();
    let daemon = Launch::config(&config, &data, &data.join("arca.sock")).start();
    let url = daemon.addresses.iter().find(|a| a.starts_with("https://")).expect("a TLS address").clone();

    let files = TlsClientFiles {
        ca_cert: pki.join("ca.pem"),
        client_cert: pki.join("client.pem"),
        client_key: pki.join("client.key"),
    };
    let channel = DaemonEndpoint::parse(&url, Some(files)).unwrap().connect().await.unwrap();
    let status = AdminClient::new(channel).status(pb::StatusRequest {}).await.unwrap().into_inner();
    assert!(status.caller.starts_with("cert:"), "{}", status.caller);
    assert!(status.caller.contains("CN=app-1") && status.caller.contains("O=Payments"), "{}", status.caller);

    // Without a client certificate the daemon serves nothing.
    let ca = Certificate::from_pem(std::fs::read(pki.join("ca.pem")).unwrap());
    let anonymous =
        Endpoint::from_shared(url).unwrap().tls_config(ClientTlsConfig::new().ca_certificate(ca)).unwrap();
    let refused = match anonymous.connect().await {
        Ok(channel) => AdminClient::new(channel).status(pb::StatusRequest {}).await.is_err(),
        Err(_) => true,
    };
    assert!(refused, "a client without a certificate was served");
}

#[tokio::test]
async fn the_unix_socket_identifies_the_peer_uid() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = arca_tests::Launch::dev_on_redb(dir.path()).start();
    let status = daemon.admin().await.status(pb::StatusRequest {}).await.unwrap().into_inner();
    let my_uid = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(status.caller, format!("uid:{my_uid}"));
    let mode = std::fs::metadata(&daemon.socket).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o660, "the socket is not world-accessible");
    let store_mode = std::fs::metadata(daemon.data_dir.join("arca.redb")).unwrap().mode() & 0o777;
    assert_eq!(store_mode, 0o600);
}

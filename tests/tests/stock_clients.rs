//! Stock gRPC clients with their default options: Python's grpcio (grpc-core, which sends the
//! socket path as the `:authority` of Unix-socket calls) and Node's @grpc/grpc-js, each calling
//! CreateKey, Encrypt and Decrypt over the Unix socket and over mutual TLS, with stubs made from
//! `proto/` by grpcio-tools and @grpc/proto-loader. `scripts/install-client-deps.sh` installs the
//! pinned clients into `.venv/` and `tests/clients/node/node_modules/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use arca_tests::pki::make_pki;
use arca_tests::{Daemon, Launch};
use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Installs the clients once per test binary, and generates the Python stubs.
fn python_stubs() -> &'static Path {
    static STUBS: OnceLock<(tempfile::TempDir, ())> = OnceLock::new();
    let (dir, ()) = STUBS.get_or_init(|| {
        let status = Command::new(workspace().join("scripts/install-client-deps.sh")).status().unwrap();
        assert!(status.success(), "scripts/install-client-deps.sh failed");
        let dir = tempfile::tempdir().unwrap();
        let protos = workspace().join("proto/proto");
        let output = Command::new(workspace().join(".venv/bin/python"))
            .args(["-m", "grpc_tools.protoc", "-I"])
            .arg(&protos)
            .arg(format!("--python_out={}", dir.path().display()))
            .arg(format!("--grpc_python_out={}", dir.path().display()))
            .args(["arca/v1/kms.proto", "arca/v1/admin.proto", "arca/v1/token.proto"])
            .output()
            .unwrap();
        assert!(output.status.success(), "protoc: {}", String::from_utf8_lossy(&output.stderr));
        (dir, ())
    });
    dir.path()
}

/// How a client reaches the daemon: a gRPC target and, for TLS, the CA and client files.
struct Target {
    address: String,
    tls: Option<[PathBuf; 3]>,
}

impl Target {
    fn args(&self) -> Vec<String> {
        let files = self.tls.iter().flatten().map(|p| p.display().to_string());
        std::iter::once(self.address.clone()).chain(files).collect()
    }
}

fn python(target: &Target) -> Output {
    let stubs = python_stubs();
    Command::new(workspace().join(".venv/bin/python"))
        .arg(workspace().join("tests/clients/python/kms_round_trip.py"))
        .args(target.args())
        .env("PYTHONPATH", stubs)
        .output()
        .unwrap()
}

fn node(target: &Target) -> Output {
    python_stubs();
    Command::new("node")
        .arg(workspace().join("tests/clients/node/kms_round_trip.js"))
        .arg(workspace().join("proto/proto"))
        .args(target.args())
        .output()
        .unwrap()
}

#[track_caller]
fn assert_round_trip(client: &str, output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{client} failed: {stderr}{stdout}");
    let answer: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(answer["plaintext"], "attack at dawn", "{client}: {stdout}");
    assert_eq!(answer["key_id"], answer["decrypted_key_id"], "{client}: {stdout}");
}

#[test]
fn python_and_node_clients_call_over_the_unix_socket() {
    let (daemon, _dir) = Daemon::start_dev();
    let target = Target { address: format!("unix:{}", daemon.socket.display()), tls: None };
    assert_round_trip("grpcio", &python(&target));
    assert_round_trip("grpc-js", &node(&target));
    // The absolute-path form grpc-core also accepts.
    let absolute = Target { address: format!("unix://{}", daemon.socket.display()), tls: None };
    assert_round_trip("grpcio unix://", &python(&absolute));
}

#[test]
fn python_and_node_clients_call_over_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    make_pki(dir.path());
    let p = dir.path().display();
    // The client certificate's subject may create keys.
    let administrators = "administrators = [\"uid:0\", \"cert:CN=app-1,O=Payments\"]\n";
    let tls = format!(
        "{administrators}[tls]\nlisten = \"127.0.0.1:0\"\ncert = \"{p}/server.pem\"\nkey = \"{p}/server.key\"\nclient_ca = \"{p}/ca.pem\"\n"
    );
    let daemon = Launch::key_file_config(dir.path(), &tls).start();
    let url = daemon.addresses.iter().find(|a| a.starts_with("https://")).unwrap();
    let files = ["ca.pem", "client.pem", "client.key"].map(|name| dir.path().join(name));
    let target = Target { address: url.trim_start_matches("https://").to_owned(), tls: Some(files) };
    assert_round_trip("grpcio over TLS", &python(&target));
    assert_round_trip("grpc-js over TLS", &node(&target));
}

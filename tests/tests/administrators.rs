//! The first administrators: `arcactl init --administrator` stores them with the new master key;
//! they administer the store beside the configuration's, across restarts, and `status` names them.
//! A second user is `nobody` (uid 65534) through setpriv, so most of these tests need root.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use arca_tests::{Daemon, Launch, assert_status, binary, pb};
use serde_json::Value;
use tonic::Code;

const PASSPHRASE: &str = "first administrators";
const NOBODY: u32 = 65534;

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// A passphrase store whose socket (in `dir/run`) any user may reach; `administrators` is the
/// configuration's list.
struct Host {
    dir: tempfile::TempDir,
    launch: Launch,
}

impl Host {
    fn new(administrators: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir(&run).unwrap();
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.path().join("data");
        let config = dir.path().join("arca.toml");
        let launch = Launch::config(&config, &data, &run.join("arca.sock"));
        let host = Self { dir, launch };
        host.configure(administrators);
        host
    }

    fn configure(&self, administrators: &[&str]) {
        let list: Vec<String> = administrators.iter().map(|a| format!("{a:?}")).collect();
        let text = format!(
            "data_dir = \"{d}\"\nsocket = \"{s}\"\nadministrators = [{a}]\n\
             [seal]\nmode = \"passphrase\"\nargon2_memory_kib = 8192\nargon2_iterations = 1\n",
            d = self.launch.data_dir.display(),
            s = self.launch.socket.display(),
            a = list.join(", ")
        );
        std::fs::write(self.dir.path().join("arca.toml"), text).unwrap();
    }

    fn start(&self) -> Daemon {
        let daemon = self.launch.start();
        std::fs::set_permissions(&daemon.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
        daemon
    }
}

/// arcactl with JSON output as `uid` (through setpriv unless it is root), the test passphrase in
/// its environment.
fn arcactl(socket: &Path, uid: u32, args: &[&str]) -> Output {
    let mut command = if uid == 0 {
        Command::new(binary("arcactl"))
    } else {
        let mut command = Command::new("setpriv");
        command.args([format!("--reuid={uid}"), format!("--regid={uid}"), "--clear-groups".into()]);
        command.arg("--").arg(binary("arcactl"));
        command
    };
    command.arg("--socket").arg(socket).args(["--output", "json"]).args(args);
    command.env("ARCA_PASSPHRASE", PASSPHRASE).output().unwrap()
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn ok(socket: &Path, uid: u32, args: &[&str]) -> Value {
    let output = arcactl(socket, uid, args);
    assert!(output.status.success(), "arcactl {args:?} as uid {uid}: {}", describe(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[track_caller]
fn fails(socket: &Path, uid: u32, args: &[&str], code: i32, needle: &str) {
    let output = arcactl(socket, uid, args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.code() == Some(code) && stderr.contains(needle), "{}", describe(&output));
}

fn administrators(value: &Value) -> Vec<&str> {
    value["administrators"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect()
}

async fn status(daemon: &Daemon) -> pb::StatusResponse {
    daemon.admin().await.status(pb::StatusRequest {}).await.unwrap().into_inner()
}

fn initialize(administrators: &[&str]) -> pb::InitializeRequest {
    pb::InitializeRequest {
        passphrase: PASSPHRASE.into(),
        administrators: administrators.iter().map(|a| (*a).to_owned()).collect(),
    }
}

#[tokio::test]
async fn named_administrators_administer_the_store_across_restarts() {
    if !running_as_root() {
        eprintln!("skipped: needs root to act as a second user");
        return;
    }
    let host = Host::new(&["uid:0"]);
    let daemon = host.start();
    let socket = daemon.socket.clone();
    let mut admin = daemon.admin().await;

    // Only an administrator may initialise, and malformed principals are refused untouched.
    fails(&socket, NOBODY, &["init"], 1, "administrators only");
    assert_status(admin.initialize(initialize(&["1000"])).await, Code::InvalidArgument, "not a principal");
    let mixed = initialize(&["uid:7", "cert:"]);
    assert_status(admin.initialize(mixed).await, Code::InvalidArgument, "subject is empty");
    fails(&socket, 0, &["init", "--administrator", "uid:01"], 2, "leading zeros");
    assert!(!status(&daemon).await.initialized, "a refused Initialize creates nothing");

    let created = ok(&socket, 0, &["init", "--administrator", "uid:65534"]);
    assert_eq!(administrators(&created), ["uid:0", "uid:65534"], "{created}");
    let key = ok(&socket, NOBODY, &["create-key"])["key_metadata"]["key_id"].as_str().unwrap().to_owned();
    ok(&socket, NOBODY, &["encrypt", "--key-id", &key, "--plaintext", "mine"]);
    let shown = ok(&socket, NOBODY, &["status"]);
    assert_eq!(
        (shown["caller"].as_str(), administrators(&shown)),
        (Some("uid:65534"), vec!["uid:0", "uid:65534"])
    );
    fails(&socket, NOBODY - 1, &["create-key"], 1, "administrators only");

    // A second Initialize is refused and changes nothing, however it asks. (The store file itself
    // may change: it anchors the audit log's head, which these refusals extend.)
    assert_status(admin.initialize(initialize(&["uid:4242"])).await, Code::FailedPrecondition, "already");
    assert_status(admin.initialize(initialize(&[])).await, Code::FailedPrecondition, "already");
    fails(&socket, NOBODY, &["init", "--administrator", "uid:4242"], 1, "already initialized");
    assert_eq!(status(&daemon).await.administrators, ["uid:0", "uid:65534"]);
    daemon.shutdown().await;

    // After a restart the stored administrator may unseal (the passphrase still decides) and
    // administer again.
    let daemon = host.start();
    let sealed = status(&daemon).await;
    assert!(sealed.sealed);
    assert_eq!(sealed.administrators, ["uid:0", "uid:65534"], "known while sealed");
    fails(&socket, NOBODY - 1, &["unseal"], 1, "administrators only");
    assert_eq!(ok(&socket, NOBODY, &["unseal"])["sealed"], false);
    ok(&socket, NOBODY, &["create-key"]);
    ok(&socket, NOBODY, &["encrypt", "--key-id", &key, "--plaintext", "still mine"]);
    assert_eq!(status(&daemon).await.key_count, 2);
}

#[tokio::test]
async fn without_administrators_init_makes_its_caller_one() {
    if !running_as_root() {
        eprintln!("skipped: needs root to act as a second user");
        return;
    }
    let host = Host::new(&["uid:0", "uid:65534"]);
    let daemon = host.start();
    let created = ok(&daemon.socket, NOBODY, &["init"]);
    assert_eq!(administrators(&created), ["uid:0", "uid:65534"], "{created}");
    daemon.shutdown().await;

    // The configuration no longer names nobody; the store still does.
    host.configure(&["uid:0"]);
    let daemon = host.start();
    assert_eq!(status(&daemon).await.administrators, ["uid:0", "uid:65534"]);
    let unsealed = daemon.admin().await.unseal(pb::UnsealRequest { passphrase: PASSPHRASE.into() }).await;
    assert!(!unsealed.unwrap().into_inner().sealed);
    ok(&daemon.socket, NOBODY, &["create-key"]);
}

#[tokio::test]
async fn root_initialising_stores_root_only() {
    let host = Host::new(&["uid:0"]);
    let daemon = host.start();
    let mut admin = daemon.admin().await;
    let caller = status(&daemon).await.caller;
    let answer = admin.initialize(initialize(&[])).await;
    if caller != "uid:0" {
        assert_status(answer, Code::PermissionDenied, "administrators only");
        return;
    }
    assert_eq!(answer.unwrap().into_inner().administrators, ["uid:0"], "the caller, once");
}

#[tokio::test]
async fn key_file_stores_have_the_configured_administrators_only() {
    let dir = tempfile::tempdir().unwrap();
    let launch =
        Launch::key_file_config(dir.path(), "administrators = [\"uid:0\", \"cert:CN=ops,O=Example\"]");
    let daemon = launch.start();
    let mut admin = daemon.admin().await;
    let shown = admin.status(pb::StatusRequest {}).await.unwrap().into_inner();
    assert!(shown.initialized && !shown.sealed);
    assert_eq!(shown.administrators, ["uid:0", "cert:CN=ops,O=Example"]);
    assert_status(admin.initialize(initialize(&["uid:1000"])).await, Code::FailedPrecondition, "key file");
    daemon.shutdown().await;

    let daemon = launch.start();
    let shown = daemon.admin().await.status(pb::StatusRequest {}).await.unwrap().into_inner();
    assert_eq!(shown.administrators, ["uid:0", "cert:CN=ops,O=Example"]);
}

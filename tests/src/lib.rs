//! A harness that starts a real `arcad` in a temporary directory and hands out gRPC clients.
#![forbid(unsafe_code)]

pub mod arcactl;
pub mod pki;
pub mod postgres;
mod token_app;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use arca_proto::DaemonEndpoint;
use arca_proto::v1::admin_client::AdminClient;
use arca_proto::v1::key_management_client::KeyManagementClient;
use tonic::transport::Channel;

pub use arca_proto::v1 as pb;
pub use token_app::{TokenApp, TokenClient};

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The directory holding the workspace's binaries (`target/debug` when run by `cargo test`).
/// The uid of `nobody`, the second user of the tests that need one (they run as root).
pub const NOBODY: u32 = 65534;

/// `program` as `nobody`, through setpriv (uid and gid 65534, no supplementary groups); the
/// tests that use it need root.
pub fn as_nobody(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new("setpriv");
    command.args([
        format!("--reuid={NOBODY}"),
        format!("--regid={NOBODY}"),
        "--clear-groups".into(),
        "--".into(),
    ]);
    command.arg(program);
    command
}

pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> -> target/debug
    exe.parent().and_then(Path::parent).expect("target directory").to_path_buf()
}

/// Path to a workspace binary; `scripts/test.sh` builds them before the tests run.
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(path.exists(), "{} is missing: run `cargo build --workspace --bins` first", path.display());
    path
}

/// A running daemon; killed when dropped.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    pub data_dir: PathBuf,
    pub socket: PathBuf,
    /// Every address the daemon announced (`unix:…`, `https://…`).
    pub addresses: Vec<String>,
    stderr: mpsc::Receiver<String>,
    captured_stderr: String,
}

/// How to start a daemon.
#[derive(Debug, Clone)]
pub struct Launch {
    pub args: Vec<String>,
    pub data_dir: PathBuf,
    pub socket: PathBuf,
    /// A wrapper command (e.g. `setpriv …`, `prlimit …`) placed before arcad.
    pub wrapper: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

impl Launch {
    /// `arcad --dev` on `data_dir`; with `ARCA_TEST_STORE=postgres`, its store is a database of
    /// the test binary's PostgreSQL cluster instead of the embedded file.
    pub fn dev(data_dir: &Path) -> Self {
        let launch = Self::dev_on_redb(data_dir);
        if postgres::parametrised() {
            launch.on_postgres(&postgres::database_for(data_dir), "node-1")
        } else {
            launch
        }
    }

    /// `arcad --dev` on `data_dir` with the embedded store, whatever `ARCA_TEST_STORE` says.
    pub fn dev_on_redb(data_dir: &Path) -> Self {
        Self {
            // Any free port: tests run many daemons side by side.
            args: vec![
                "--dev".into(),
                "--data-dir".into(),
                data_dir.display().to_string(),
                "--aws-listen".into(),
                "127.0.0.1:0".into(),
            ],
            data_dir: data_dir.to_path_buf(),
            socket: data_dir.join("arca.sock"),
            wrapper: Vec::new(),
            env: Vec::new(),
        }
    }

    /// The same daemon with its store in PostgreSQL (`url`), as node `node`.
    pub fn on_postgres(mut self, url: &str, node: &str) -> Self {
        self.args.extend(["--store".into(), format!("postgres:{url}"), "--node-name".into(), node.into()]);
        self
    }

    pub fn config(config: &Path, data_dir: &Path, socket: &Path) -> Self {
        Self {
            args: vec!["--config".into(), config.display().to_string()],
            data_dir: data_dir.to_path_buf(),
            socket: socket.to_path_buf(),
            wrapper: Vec::new(),
            env: Vec::new(),
        }
    }

    /// `arcad --config` with a key-file seal, the store in `dir/data` and `extra` TOML lines
    /// (top-level settings, then any sections).
    pub fn key_file_config(dir: &Path, extra: &str) -> Self {
        let data = dir.join("data");
        let (settings, sections) = match extra.find("\n[") {
            Some(at) => extra.split_at(at),
            None if extra.trim_start().starts_with('[') => ("", extra),
            None => (extra, ""),
        };
        std::fs::write(dir.join("master.key"), [5u8; 32]).expect("write key file");
        let config = dir.join("arca.toml");
        let text = format!(
            "data_dir = \"{d}\"\nsocket = \"{d}/arca.sock\"\n{settings}\n[seal]\nmode = \"key_file\"\nkey_file = \"{k}\"\n{sections}\n",
            d = data.display(),
            k = dir.join("master.key").display()
        );
        std::fs::write(&config, text).expect("write config");
        Self::config(&config, &data, &data.join("arca.sock"))
    }

    fn command(&self) -> Command {
        let arcad = binary("arcad");
        let mut command = match self.wrapper.split_first() {
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(&arcad);
                command
            }
            None => Command::new(&arcad),
        };
        command.args(&self.args).env("RUST_LOG", "info");
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Runs arcad expecting it to exit; returns (exit code, stderr).
    pub fn run_to_exit(&self) -> (Option<i32>, String) {
        let output = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("run arcad");
        (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
    }

    /// Starts arcad and waits until it announces its Unix socket.
    pub fn start(&self) -> Daemon {
        let mut child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn arcad");
        let (stderr_tx, stderr_rx) = mpsc::channel();
        let mut stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buffer) {
                if n == 0 || stderr_tx.send(String::from_utf8_lossy(&buffer[..n]).into_owned()).is_err() {
                    break;
                }
            }
        });
        let (line_tx, line_rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut daemon = Daemon {
            child,
            data_dir: self.data_dir.clone(),
            socket: self.socket.clone(),
            addresses: Vec::new(),
            stderr: stderr_rx,
            captured_stderr: String::new(),
        };
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        loop {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            match line_rx.recv_timeout(remaining.min(Duration::from_millis(200))) {
                Ok(line) => {
                    if let Some(address) = line.strip_prefix("arcad listening on ") {
                        daemon.addresses.push(address.to_owned());
                        if daemon.addresses.len() == self.expected_addresses() {
                            return daemon;
                        }
                    }
                }
                Err(_) if remaining.is_zero() => panic!("arcad did not start: {}", daemon.stderr_text()),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("arcad exited before listening: {}", daemon.stderr_text())
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    fn expected_addresses(&self) -> usize {
        let config = self.args.iter().position(|a| a == "--config").and_then(|i| self.args.get(i + 1));
        let text = config.and_then(|path| std::fs::read_to_string(path).ok()).unwrap_or_default();
        let text: String =
            text.lines().filter(|line| !line.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
        let dev = self.args.iter().any(|a| a == "--dev");
        1 + usize::from(text.contains("[tls]"))
            + usize::from(text.contains("metrics_listen"))
            + usize::from(dev || text.contains("[aws]"))
    }
}

impl Daemon {
    /// `arcad --dev` in a fresh temporary directory (kept by the returned guard).
    pub fn start_dev() -> (Self, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        (Launch::dev(dir.path()).start(), dir)
    }

    /// The AWS KMS front's endpoint URL (`http://127.0.0.1:PORT` under `--dev`).
    pub fn aws_endpoint(&self) -> Option<String> {
        self.addresses.iter().find_map(|a| a.strip_suffix(" (AWS KMS)")).map(str::to_owned)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn endpoint(&self) -> DaemonEndpoint {
        DaemonEndpoint::Unix(self.socket.clone())
    }

    pub async fn channel(&self) -> Channel {
        self.endpoint().connect().await.expect("connect to arcad")
    }

    pub async fn kms(&self) -> KeyManagementClient<Channel> {
        KeyManagementClient::new(self.channel().await)
    }

    pub async fn admin(&self) -> AdminClient<Channel> {
        AdminClient::new(self.channel().await)
    }

    /// Everything the daemon wrote to stderr so far.
    pub fn stderr_text(&mut self) -> String {
        while let Ok(chunk) = self.stderr.try_recv() {
            self.captured_stderr.push_str(&chunk);
        }
        self.captured_stderr.clone()
    }

    /// Whether the daemon writes `needle` to stderr within `timeout` (its stderr reaches the test
    /// through a reader thread, which a loaded machine may run late).
    pub fn stderr_shows(&mut self, needle: &str, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.stderr_text().contains(needle) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGKILL without taking the daemon, for killing it while calls to it are in flight.
    pub fn send_sigkill(&self) {
        let _ = Command::new("kill").arg("-KILL").arg(self.child.id().to_string()).status();
    }

    /// SIGTERM and wait for a clean exit, from async code: the wait runs off the runtime so the
    /// test's own client connections can answer the daemon's GOAWAY while it drains.
    pub async fn shutdown(self) -> Option<i32> {
        tokio::task::spawn_blocking(move || self.stop()).await.ok().flatten()
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) -> Option<i32> {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.child.wait().ok().and_then(|status| status.code())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates an AES_256 ENCRYPT_DECRYPT key and returns its id.
pub async fn create_key(kms: &mut KeyManagementClient<Channel>, description: &str) -> String {
    let response = kms
        .create_key(pb::CreateKeyRequest { description: description.into(), ..Default::default() })
        .await
        .expect("CreateKey")
        .into_inner();
    response.key_metadata.expect("metadata").key_id
}

/// An encryption context from pairs.
pub fn context(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Asserts a call failed with `code` and a message containing `needle`.
#[track_caller]
pub fn assert_status<T: std::fmt::Debug>(
    outcome: Result<T, tonic::Status>,
    code: tonic::Code,
    needle: &str,
) -> tonic::Status {
    let status = outcome.expect_err("the call should have failed");
    assert_eq!(status.code(), code, "unexpected code; message: {}", status.message());
    assert!(
        status.message().to_lowercase().contains(&needle.to_lowercase()),
        "message {:?} does not mention {needle:?}",
        status.message()
    );
    status
}

/// `material` wrapped for ImportKeyMaterial by OpenSSL with RSAES_OAEP_SHA_256 under the DER
/// public key GetParametersForImport returned (`dir` holds the files, the plaintext removed).
pub fn wrap_for_import(public_key_der: &[u8], material: &[u8], dir: &Path) -> Vec<u8> {
    let (public, plain, wrapped) = (dir.join("wrap.der"), dir.join("material"), dir.join("wrapped"));
    std::fs::write(&public, public_key_der).expect("write the wrapping key");
    std::fs::write(&plain, material).expect("write the material");
    let status = Command::new("openssl")
        .args(["pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey"])
        .arg(&public)
        .args(["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256"])
        .args(["-pkeyopt", "rsa_mgf1_md:sha256", "-in"])
        .arg(&plain)
        .arg("-out")
        .arg(&wrapped)
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl pkeyutl -encrypt");
    std::fs::remove_file(&plain).expect("remove the material");
    std::fs::read(&wrapped).expect("read the wrapped material")
}

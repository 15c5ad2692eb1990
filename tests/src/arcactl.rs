//! Running the real `arcactl` binary against a daemon's socket, JSON output parsed back.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::{Launch, binary};

/// `arcactl --socket SOCKET --output json …`, with no passphrase from the environment and an
/// empty stdin unless a test pipes one.
#[derive(Debug, Clone)]
pub struct Arcactl {
    socket: PathBuf,
}

impl Arcactl {
    pub fn new(socket: &Path) -> Self {
        Self { socket: socket.to_path_buf() }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary("arcactl"));
        command
            .arg("--socket")
            .arg(&self.socket)
            .args(["--output", "json"])
            .args(args)
            .env_remove("ARCA_PASSPHRASE")
            .stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run arcactl")
    }

    /// Runs arcactl with `stdin` piped in.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn arcactl");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
        child.wait_with_output().expect("wait for arcactl")
    }

    /// Runs arcactl, expects success and parses the JSON object it printed.
    pub fn ok(&self, args: &[&str]) -> Value {
        parse(&self.run(args), args)
    }
}

/// Exit status, stdout and stderr of a run, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Expects exit status 0 and parses the JSON object printed.
#[track_caller]
pub fn parse(output: &Output, args: &[&str]) -> Value {
    assert!(output.status.success(), "arcactl {args:?}: {}", describe(output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(output)))
}

/// `arcad --config` with a passphrase seal (cheap Argon2id, for tests) and the store in `dir/data`.
pub fn passphrase_launch(dir: &Path) -> Launch {
    let data = dir.join("data");
    let config = dir.join("arca.toml");
    let text = format!(
        "data_dir = \"{data}\"\nsocket = \"{data}/arca.sock\"\n[seal]\nmode = \"passphrase\"\nargon2_memory_kib = 8192\nargon2_iterations = 1\n",
        data = data.display()
    );
    std::fs::write(&config, text).expect("write config");
    Launch::config(&config, &data, &data.join("arca.sock"))
}

/// A passphrase `arcactl init --generate-passphrase` makes: six groups of five lowercase letters
/// and digits.
#[track_caller]
pub fn assert_generated(passphrase: &str) {
    let groups: Vec<&str> = passphrase.split('-').collect();
    assert_eq!(groups.len(), 6, "{passphrase}");
    for group in groups {
        assert_eq!(group.len(), 5, "{passphrase}");
        assert!(group.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{passphrase}");
    }
}

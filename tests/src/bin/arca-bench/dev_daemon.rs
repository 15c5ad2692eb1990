//! `--start-dev`: an `arcad --dev` of our own in a temporary directory, killed when dropped.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{BenchError, io_error};

/// Longest `--start-dev` waits for arcad to announce its socket.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of arcad's stderr is kept to explain a failed start (the rest is discarded).
const KEPT_STDERR_BYTES: usize = 4096;

/// A daemon started for the run; killed (and its directory removed) on drop.
#[derive(Debug)]
pub struct DevDaemon {
    child: Child,
    pub socket: PathBuf,
    /// The AWS KMS front's endpoint (`http://127.0.0.1:PORT`).
    pub aws_endpoint: String,
    dir: tempfile::TempDir,
}

impl DevDaemon {
    /// Starts arcad and waits for its `arcad listening on unix:PATH` line.
    pub async fn start(arcad: &Path) -> Result<Self, BenchError> {
        let dir = tempfile::Builder::new()
            .prefix("arca-bench.")
            .tempdir()
            .map_err(io_error("cannot create a temporary directory"))?;
        let mut child = Command::new(arcad)
            .arg("--dev")
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--aws-listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io_error(format!("cannot start {}", arcad.display())))?;
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let mut daemon = Self { child, socket: PathBuf::new(), aws_endpoint: String::new(), dir };
        let (Some(stdout), Some(stderr)) = (stdout, stderr) else {
            return Err(BenchError::Setup("arcad's output is not captured".to_owned()));
        };
        // Drained for the whole run so that arcad's per-call log lines never block it.
        let early_stderr = std::thread::spawn(move || drain(stderr));
        let announced = tokio::task::spawn_blocking(move || listening_line(BufReader::new(stdout)));
        let socket = match tokio::time::timeout(START_TIMEOUT, announced).await {
            Ok(joined) => joined?.map_err(io_error("cannot read arcad's output"))?,
            Err(_) => return Err(BenchError::Setup(format!("arcad did not start within {START_TIMEOUT:?}"))),
        };
        let Some((socket, aws_endpoint)) = socket else {
            let status = daemon.exit_status();
            let said = early_stderr.join().unwrap_or_default();
            let reason = failure_line(&said);
            return Err(BenchError::Setup(format!("arcad exited before listening ({status}): {reason}")));
        };
        daemon.socket = socket;
        daemon.aws_endpoint = aws_endpoint;
        Ok(daemon)
    }

    /// The dev access key arcad wrote for its AWS front (an AWS shared-credentials file).
    pub fn aws_credentials(&self) -> Result<String, BenchError> {
        let path = self.dir.path().join("aws-credentials");
        std::fs::read_to_string(&path).map_err(io_error(format!("cannot read {}", path.display())))
    }

    fn exit_status(&mut self) -> String {
        match self.child.wait() {
            Ok(status) => status.to_string(),
            Err(error) => error.to_string(),
        }
    }
}

impl Drop for DevDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The socket of the `arcad listening on unix:PATH` line and the AWS front's endpoint of the
/// `arcad listening on URL (AWS KMS)` line; `None` at end of output before both.
pub fn listening_line(mut reader: impl BufRead) -> std::io::Result<Option<(PathBuf, String)>> {
    let (mut socket, mut aws) = (None, None);
    let mut line = String::new();
    while socket.is_none() || aws.is_none() {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let Some(address) = line.trim_end().strip_prefix("arcad listening on ") else { continue };
        if let Some(path) = address.strip_prefix("unix:") {
            socket = Some(PathBuf::from(path));
        } else if let Some(url) = address.strip_suffix(" (AWS KMS)") {
            aws = Some(url.to_owned());
        }
    }
    Ok(socket.zip(aws))
}

/// The line of arcad's stderr that says why it stopped: its own or clap's error, else the last.
fn failure_line(stderr: &str) -> &str {
    let mut lines = stderr.lines().map(str::trim).filter(|line| !line.is_empty());
    let last = lines.clone().next_back().unwrap_or("it said nothing");
    lines.rfind(|line| line.starts_with("arcad: ") || line.starts_with("error: ")).unwrap_or(last)
}

/// Reads until end of file and returns the start of what was read.
fn drain(mut reader: impl Read) -> String {
    let mut kept = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                let room = KEPT_STDERR_BYTES.saturating_sub(kept.len());
                kept.extend(buffer.iter().take(read.min(room)));
            }
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// `arcad` in the directory of this executable.
pub fn default_arcad() -> Result<PathBuf, BenchError> {
    let exe = std::env::current_exe().map_err(io_error("cannot find this executable"))?;
    let dir = exe.parent().ok_or_else(|| BenchError::Setup("this executable has no directory".to_owned()))?;
    Ok(dir.join("arcad"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_comes_from_the_listening_line() {
        let output = "noise\narcad listening on unix:/tmp/x/arca.sock\narcad listening on http://127.0.0.1:9 (AWS KMS)\n";
        let expected = (PathBuf::from("/tmp/x/arca.sock"), "http://127.0.0.1:9".to_owned());
        assert_eq!(listening_line(output.as_bytes()).unwrap(), Some(expected));
        assert_eq!(listening_line("arcad listening on unix:/tmp/x/arca.sock\n".as_bytes()).unwrap(), None);
        assert_eq!(listening_line("".as_bytes()).unwrap(), None);
    }

    #[test]
    fn the_failure_line_is_the_error() {
        let usage = "error: bad flag\n\nUsage: arcad\n\nFor more information, try '--help'.\n";
        assert_eq!(failure_line(usage), "error: bad flag");
        assert_eq!(failure_line("INFO opened\narcad: cannot bind\n"), "arcad: cannot bind");
        assert_eq!(failure_line("panicked\n"), "panicked");
        assert_eq!(failure_line(""), "it said nothing");
    }

    #[test]
    fn drain_keeps_the_start() {
        let text = "a".repeat(KEPT_STDERR_BYTES) + "tail";
        assert_eq!(drain(text.as_bytes()).len(), KEPT_STDERR_BYTES);
    }
}

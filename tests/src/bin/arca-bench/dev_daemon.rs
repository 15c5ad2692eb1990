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
    _dir: tempfile::TempDir,
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
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io_error(format!("cannot start {}", arcad.display())))?;
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let mut daemon = Self { child, socket: PathBuf::new(), _dir: dir };
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
        let Some(socket) = socket else {
            let status = daemon.exit_status();
            let said = early_stderr.join().unwrap_or_default();
            let reason = failure_line(&said);
            return Err(BenchError::Setup(format!("arcad exited before listening ({status}): {reason}")));
        };
        daemon.socket = socket;
        Ok(daemon)
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

/// The socket of the first `arcad listening on unix:PATH` line; `None` at end of output.
pub fn listening_line(mut reader: impl BufRead) -> std::io::Result<Option<PathBuf>> {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if let Some(path) = line.trim_end().strip_prefix("arcad listening on unix:") {
            return Ok(Some(PathBuf::from(path)));
        }
    }
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
        let output = "noise\narcad listening on unix:/tmp/x/arca.sock\n".as_bytes();
        assert_eq!(listening_line(output).unwrap(), Some(PathBuf::from("/tmp/x/arca.sock")));
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

//! Progress on stderr for long work, shown only when stderr is a terminal: a spinner while a slow
//! call runs, a byte count while an archive streams in. Either is one line, redrawn in place and
//! erased when the work ends, whichever way it ends.

use std::future::Future;
use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use arca_proto::v1 as pb;
use tokio::time::Instant;

/// Back to the start of the line and erase it.
const ERASE: &str = "\r\x1b[2K";
const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
/// Work that ends sooner than this shows nothing.
const DELAY: Duration = Duration::from_millis(250);
/// How often the line is redrawn at most.
const PERIOD: Duration = Duration::from_millis(100);

/// One status line on stderr; erased when dropped.
#[derive(Debug)]
struct Line {
    enabled: bool,
    drawn: bool,
}

impl Line {
    fn new() -> Self {
        Self { enabled: std::io::stderr().is_terminal(), drawn: false }
    }

    /// A failure to draw is ignored: progress is a courtesy, never a reason to fail.
    fn draw(&mut self, text: &str) {
        if self.enabled {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "{ERASE}{text}").and_then(|()| stderr.flush());
            self.drawn = true;
        }
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if self.drawn {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "{ERASE}").and_then(|()| stderr.flush());
        }
    }
}

/// Awaits `work`, showing `label` after a spinner while it runs when there is a label and stderr
/// is a terminal.
pub(crate) async fn spin<F: Future>(label: Option<String>, work: F) -> F::Output {
    let mut line = Line::new();
    let Some(label) = label.filter(|_| line.enabled) else { return work.await };
    let mut work = std::pin::pin!(work);
    let mut ticks = tokio::time::interval_at(Instant::now() + DELAY, PERIOD);
    let mut frames = FRAMES.iter().cycle();
    loop {
        tokio::select! {
            biased;
            output = &mut work => return output,
            _ = ticks.tick() => {
                if let Some(frame) = frames.next() {
                    line.draw(&format!("{frame} {label}"));
                }
            }
        }
    }
}

/// What the spinner says while the daemon generates a key of `spec`: RSA keys of `min_bits` bits
/// or more are slow enough to deserve one.
pub(crate) fn rsa_generation(spec: pb::KeySpec, min_bits: u32) -> Option<String> {
    let bits = match spec {
        pb::KeySpec::Rsa2048 => 2048,
        pb::KeySpec::Rsa3072 => 3072,
        pb::KeySpec::Rsa4096 => 4096,
        _ => return None,
    };
    (bits >= min_bits).then(|| format!("generating RSA-{bits} key…"))
}

/// A running count of bytes received.
#[derive(Debug)]
pub(crate) struct ByteCount {
    line: Line,
    label: &'static str,
    next_draw: Instant,
}

impl ByteCount {
    pub(crate) fn new(label: &'static str) -> Self {
        Self { line: Line::new(), label, next_draw: Instant::now() + DELAY }
    }

    pub(crate) fn update(&mut self, total: u64) {
        let now = Instant::now();
        if self.line.enabled && now >= self.next_draw {
            self.next_draw = now + PERIOD;
            self.line.draw(&format!("{}: {} received", self.label, human_bytes(total)));
        }
    }
}

/// `512 B`, `12.3 KiB`, `4.0 MiB`, `1.2 GiB`.
fn human_bytes(count: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut value = count as f64;
    let mut unit = None;
    for next in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = Some(next);
    }
    unit.map_or_else(|| format!("{count} B"), |unit| format!("{value:.1} {unit}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_are_readable() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(human_bytes(3 << 40), "3.0 TiB");
    }

    #[test]
    fn only_slow_rsa_key_generation_spins() {
        assert_eq!(rsa_generation(pb::KeySpec::Rsa4096, 3072).as_deref(), Some("generating RSA-4096 key…"));
        assert_eq!(rsa_generation(pb::KeySpec::Rsa2048, 3072), None);
        assert!(rsa_generation(pb::KeySpec::Rsa2048, 2048).is_some());
        assert_eq!(rsa_generation(pb::KeySpec::EccNistP256, 2048), None);
    }

    #[tokio::test]
    async fn spinning_returns_the_work_output() {
        let label = Some("working…".to_owned());
        assert_eq!(spin(label, async { 7 }).await, 7);
    }
}

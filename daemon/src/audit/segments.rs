//! The files of the log: the current one (`audit.log`) and the rotated ones, each named after the
//! records it holds (`audit.log.<first-seq>-<last-seq>`), so the chain's order and any gap can
//! be read off the directory listing.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::record::Stored;
use crate::error::{Error, Result};

pub(super) fn audit_error(action: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::Storage(format!("audit log: {action}: {e}"))
}

/// Opens (or creates) the current file for appending, readable by the daemon only.
pub(super) fn open_current(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(audit_error("open"))
}

/// The directory holding the log, and the current file's name (`audit.log`).
pub(super) fn split(path: &Path) -> (PathBuf, String) {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    (dir.to_path_buf(), name)
}

/// The name a rotated file holding records `first..=last` gets.
pub(super) fn rotated_name(base: &str, first: u64, last: u64) -> String {
    format!("{base}.{first}-{last}")
}

/// `audit.log.<first>-<last>` → `(first, last)`; any other name is not a rotated file.
fn parse_rotated_name(base: &str, name: &str) -> Option<(u64, u64)> {
    let range = name.strip_prefix(base)?.strip_prefix('.')?;
    let (first, last) = range.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(first) || !digits(last) {
        return None;
    }
    let range = (first.parse().ok()?, last.parse().ok()?);
    (range.0 <= range.1).then_some(range)
}

/// Makes a rename or a new file in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(audit_error("sync the directory"))
}

/// One file of the log as a reader sees it.
#[derive(Debug)]
pub(super) struct Segment {
    pub name: String,
    /// The records its name promises (rotated files); `None` for the current file.
    pub range: Option<(u64, u64)>,
    source: Source,
}

#[derive(Debug)]
enum Source {
    Rotated(PathBuf),
    /// The current file, opened while appends were held off: a rotation after that renames the
    /// file this descriptor reads, so the reading never jumps to the next file.
    Current(Option<File>),
}

impl Segment {
    /// The file's complete lines; a rotated file that cannot be opened is reported with its name.
    pub(super) fn lines(self) -> Result<CompleteLines> {
        let reader: Box<dyn Read> = match self.source {
            Source::Rotated(path) => Box::new(
                File::open(&path)
                    .map_err(|e| Error::Storage(format!("audit log: cannot open {}: {e}", self.name)))?,
            ),
            Source::Current(Some(file)) => Box::new(file),
            Source::Current(None) => Box::new(std::io::empty()),
        };
        Ok(CompleteLines { reader: BufReader::new(reader) })
    }
}

/// The lines of a file without their `\n`, up to the last complete one: a record being
/// appended while the file is read is left for the next reading.
pub(super) struct CompleteLines {
    reader: BufReader<Box<dyn Read>>,
}

impl Iterator for CompleteLines {
    type Item = std::io::Result<String>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => line.strip_suffix('\n').map(|complete| Ok(complete.to_owned())),
            Err(error) => Some(Err(error)),
        }
    }
}

/// The rotated files in `dir`, oldest first.
pub(super) fn rotated(dir: &Path, base: &str) -> Result<Vec<Segment>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(audit_error("list the directory"))? {
        let entry = entry.map_err(audit_error("list the directory"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(range) = parse_rotated_name(base, &name) {
            found.push(Segment { name, range: Some(range), source: Source::Rotated(entry.path()) });
        }
    }
    found.sort_by_key(|segment| segment.range);
    Ok(found)
}

/// Every file of the log, oldest first, the current one last (`current` is opened by the caller
/// while it holds off appends and rotations).
pub(super) fn all(path: &Path, current: Option<File>) -> Result<Vec<Segment>> {
    let (dir, base) = split(path);
    let mut segments = rotated(&dir, &base)?;
    segments.push(Segment { name: base, range: None, source: Source::Current(current) });
    Ok(segments)
}

/// The last record of a rotated file: where the chain goes on when the current file is empty.
pub(super) fn last_record(segment: Segment) -> Result<Option<Stored>> {
    let name = segment.name.clone();
    let mut last = None;
    for line in segment.lines()? {
        let line = line.map_err(audit_error("read"))?;
        if !line.is_empty() {
            last = Some(line);
        }
    }
    last.map(|line| {
        serde_json::from_str(&line)
            .map_err(|e| Error::Integrity(format!("audit log: the last record of {name} is unreadable: {e}")))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names_round_trip_and_others_are_ignored() {
        assert_eq!(parse_rotated_name("audit.log", &rotated_name("audit.log", 0, 99)), Some((0, 99)));
        assert_eq!(parse_rotated_name("audit.log", "audit.log.100-100"), Some((100, 100)));
        for other in ["audit.log", "audit.log.gz", "audit.log.5-3", "audit.log.1-", "audit.log.-1", "x.1-2"] {
            assert_eq!(parse_rotated_name("audit.log", other), None, "{other}");
        }
        assert_eq!(parse_rotated_name("audit.log", "audit.log.+1-2"), None);
    }
}

//! Helpers for the crypto unit tests: hex literals, the error of a failed result, and a scratch directory in which
//! to run the `openssl` command line as an independent implementation.

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// The error of a result that must have failed.
pub(crate) fn err<T: std::fmt::Debug>(result: crate::crypto::Result<T>) -> crate::crypto::Error {
    match result {
        Err(error) => error,
        Ok(value) => panic!("expected an error, got {value:?}"),
    }
}

/// A scratch directory in which to run the `openssl` command line.
pub(crate) struct Openssl {
    dir: tempfile::TempDir,
}

impl Openssl {
    pub(crate) fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.path(name), bytes).unwrap();
    }

    pub(crate) fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    /// Runs openssl and returns whether it succeeded, with its stdout.
    pub(crate) fn try_run(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("openssl").current_dir(self.dir()).args(args).output().unwrap();
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    pub(crate) fn run(&self, args: &[&str]) -> String {
        let (ok, text) = self.try_run(args);
        assert!(ok, "openssl {args:?}: {text}");
        text
    }
}

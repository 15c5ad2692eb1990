//! The audit log as the daemon reads it back: the input is the log file. Opening finds where the
//! chain ends (cutting a torn last line) or refuses the file with an error; verification names
//! the first bad record rather than failing; a log that verifies stays valid, one record longer,
//! after an append; a tail read returns at most what was asked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use arca_daemon::audit::{AuditLog, Event, Filter};
use arca_daemon::secure_mem::SecretBuf;
use tempfile::TempDir;

/// The MAC key of the seed logs (not a secret: it exists to make seeds whose MACs check).
pub const MAC_KEY: [u8; 32] = [0xa5; 32];

fn log_path() -> PathBuf {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    DIR.get_or_init(|| TempDir::new().expect("a temporary directory")).path().join("audit.log")
}

pub fn check(data: &[u8]) {
    crate::setup();
    let path = log_path();
    std::fs::write(&path, data).expect("writing the log file");
    let Ok(log) = AuditLog::open(&path, 0) else { return };
    if let Ok(key) = SecretBuf::copy_from(&MAC_KEY) {
        log.set_mac_key(key);
    }
    let Ok(before) = log.verify() else { return };
    if let Ok(tail) = log.tail_records(3, &Filter::default()) {
        assert!(tail.len() <= 3, "asked for 3 records, got {}", tail.len());
    }
    if before.first_bad.is_some() {
        return;
    }
    log.append(event()).expect("appending to a valid log");
    let after = log.verify().expect("verifying after an append");
    assert_eq!(after.first_bad, None, "an append broke a valid chain");
    assert_eq!(after.records, before.records + 1);
}

fn event() -> Event<'static> {
    Event {
        request_id: "fuzz-1",
        principal: "uid:0",
        source: "grpc/unix",
        operation: "Encrypt",
        key: "alias/fuzz",
        key_version: Some(1),
        encryption_context: BTreeMap::from([("purpose".to_owned(), "fuzzing".to_owned())]),
        request_metadata: BTreeMap::new(),
        outcome: "OK",
        error_code: "",
        durable: false,
        unrecorded_throttled: 0,
    }
}

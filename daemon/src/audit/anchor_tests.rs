//! The anchored head: records cut from the end of the log are seen at opening and verifying,
//! and the anchor never gets ahead of what is durable.

use std::sync::{Arc, Mutex};

use super::tests::{append, event, lines, open_log, rewrite};
use super::*;

/// The store's meta record, in memory.
#[derive(Clone, Default)]
struct MemoryAnchor(Arc<Mutex<Option<Head>>>);

impl AnchorStore for MemoryAnchor {
    fn load(&self) -> Result<Option<Head>> {
        Ok(self.0.lock().unwrap().clone())
    }

    fn save(&self, head: &Head) -> Result<()> {
        *self.0.lock().unwrap() = Some(head.clone());
        Ok(())
    }
}

fn anchored_log(path: &Path, anchor: &MemoryAnchor) -> Result<AuditLog> {
    let log = open_log(path, 0);
    log.attach_anchor(Box::new(anchor.clone()))?;
    Ok(log)
}

fn durable(log: &AuditLog, operation: &str) {
    let mut change = event(operation);
    change.durable = true;
    log.append(change).unwrap();
}

#[test]
fn cutting_the_newest_records_fails_verification_and_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let anchor = MemoryAnchor::default();
    let log = anchored_log(&path, &anchor).unwrap();
    append(&log, 0, 3);
    durable(&log, "CreateKey");
    append(&log, 4, 2);
    assert_eq!(anchor.0.lock().unwrap().as_ref().map(|h| h.seq), Some(3), "a state change anchors at once");
    let mut kept = lines(&path);
    kept.truncate(kept.len() - 3);
    rewrite(&path, &kept);

    let bad = log.verify().unwrap().first_bad.expect("the cut is seen");
    assert_eq!((bad.seq, bad.file.as_str()), (3, "audit.log"));
    assert!(bad.reason.contains("ends at record 2, but record 5 was written"), "{}", bad.reason);
    drop(log);
    let Err(Error::Integrity(message)) = anchored_log(&path, &anchor) else { panic!("opened a cut log") };
    assert!(
        message.contains(
            "ends at record 2, but record 3 was written: records were cut from its end (the store anchors"
        ),
        "{message}"
    );
}

#[test]
fn a_replaced_log_is_refused_even_when_long_enough() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let anchor = MemoryAnchor::default();
    let log = anchored_log(&path, &anchor).unwrap();
    append(&log, 0, 2);
    durable(&log, "CreateKey");
    drop(log);
    std::fs::remove_file(&path).unwrap();
    let log = open_log(&path, 0);
    append(&log, 0, 5);
    drop(log);
    let Err(Error::Integrity(message)) = anchored_log(&path, &anchor) else { panic!("opened") };
    assert!(message.contains("record 2 is not the one anchored"), "{message}");
}

#[test]
fn a_log_ahead_of_its_anchor_opens_as_after_a_crash_before_anchoring() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let anchor = MemoryAnchor::default();
    let log = anchored_log(&path, &anchor).unwrap();
    durable(&log, "CreateKey");
    // Records written but not yet anchored (the interval has not passed): a crash here leaves
    // the anchor behind the log, which is fine.
    append(&log, 1, 3);
    assert_eq!(anchor.0.lock().unwrap().as_ref().map(|h| h.seq), Some(0));
    drop(log);
    let log = anchored_log(&path, &anchor).unwrap();
    append(&log, 4, 1);
    assert_eq!(log.verify().unwrap().first_bad, None);
    // A clean stop syncs and anchors everything.
    log.sync().unwrap();
    assert_eq!(anchor.0.lock().unwrap().as_ref().map(|h| h.seq), Some(4));
}

#[test]
fn records_that_change_nothing_are_anchored_once_the_interval_passed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let anchor = MemoryAnchor::default();
    let log = anchored_log(&path, &anchor).unwrap();
    append(&log, 0, 1);
    assert_eq!(*anchor.0.lock().unwrap(), None);
    std::thread::sleep(anchor::ANCHOR_INTERVAL);
    append(&log, 1, 1);
    assert_eq!(anchor.0.lock().unwrap().as_ref().map(|h| h.seq), Some(1));
}

#[test]
fn the_anchor_is_found_in_a_rotated_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let anchor = MemoryAnchor::default();
    let log = anchored_log(&path, &anchor).unwrap();
    append(&log, 0, 2);
    durable(&log, "CreateKey");
    log.rotate().unwrap();
    append(&log, 3, 2);
    drop(log);
    let log = anchored_log(&path, &anchor).unwrap();
    assert_eq!(log.verify().unwrap().first_bad, None);
}

//! Rotation: the chain runs on across files, and every way of damaging a rotated file is named.

use super::tests::{append, event, lines, open_log, rewrite};
use super::*;

/// Records 0–4 in `audit.log.0-4`, 5–7 in `audit.log.5-7`, 8–9 in `audit.log`.
fn rotated_log() -> (tempfile::TempDir, AuditLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(&dir.path().join("audit.log"), 0);
    append(&log, 0, 5);
    let first = log.rotate().unwrap().unwrap();
    assert_eq!(first, Rotated { file: "audit.log.0-4".into(), first_seq: 0, last_seq: 4 });
    append(&log, 5, 3);
    assert_eq!(log.rotate().unwrap().unwrap().file, "audit.log.5-7");
    append(&log, 8, 2);
    (dir, log)
}

type Damage = fn(&mut Vec<String>);

fn bad(log: &AuditLog) -> BadRecord {
    log.verify().unwrap().first_bad.expect("the damage is found")
}

fn seq_of(line: &str) -> u64 {
    serde_json::from_str::<Stored>(line).unwrap().body.seq
}

#[test]
fn the_chain_runs_across_rotated_files() {
    let (dir, log) = rotated_log();
    let verified = log.verify().unwrap();
    assert_eq!((verified.records, verified.authenticated, verified.files), (10, 10, 3));
    assert_eq!(verified.first_bad, None);

    let rotated: Stored =
        serde_json::from_str(lines(&dir.path().join("audit.log.5-7")).last().unwrap()).unwrap();
    let current: Stored = serde_json::from_str(&lines(&dir.path().join("audit.log"))[0]).unwrap();
    assert_eq!((current.body.seq, current.body.prev), (8, rotated.hash));

    // Reading the newest records crosses the boundaries and keeps the order.
    let newest = log.tail_records(4, &Filter::default()).unwrap();
    assert_eq!(newest.iter().map(|l| seq_of(l)).collect::<Vec<_>>(), [6, 7, 8, 9]);
    assert_eq!(log.tail_records(100, &Filter::default()).unwrap().len(), 10);

    // Nothing to set aside in an empty current file; the chain goes on after a restart.
    assert_eq!(log.rotate().unwrap().map(|r| r.file), Some("audit.log.8-9".into()));
    assert_eq!(log.rotate().unwrap(), None);
    drop(log);
    let log = open_log(&dir.path().join("audit.log"), 0);
    append(&log, 10, 1);
    assert_eq!(seq_of(&lines(&dir.path().join("audit.log"))[0]), 10);
    let verified = log.verify().unwrap();
    assert_eq!((verified.records, verified.files, verified.first_bad), (11, 4, None));
}

#[test]
fn edited_deleted_and_reordered_records_in_a_rotated_file_are_named() {
    let (dir, log) = rotated_log();
    let path = dir.path().join("audit.log.0-4");
    let original = lines(&path);
    let cases: [(&str, Damage, u64); 5] = [
        ("edited", |l| l[2] = l[2].replace("Op2", "Op7"), 2),
        ("deleted", |l| drop(l.remove(3)), 3),
        ("first deleted", |l| drop(l.remove(0)), 0),
        ("reordered", |l| l.swap(1, 2), 1),
        ("inserted", |l| l.insert(4, l[3].clone()), 4),
    ];
    for (what, damage, seq) in cases {
        let mut damaged = original.clone();
        damage(&mut damaged);
        rewrite(&path, &damaged);
        let found = bad(&log);
        assert_eq!((found.seq, found.file.as_str()), (seq, "audit.log.0-4"), "{what}: {}", found.reason);
    }
    rewrite(&path, &original);
    assert_eq!(log.verify().unwrap().first_bad, None);
}

#[test]
fn missing_truncated_and_extended_files_are_named() {
    let (dir, log) = rotated_log();
    let first = dir.path().join("audit.log.0-4");
    let middle = dir.path().join("audit.log.5-7");
    let kept = std::fs::read(&middle).unwrap();

    std::fs::remove_file(&middle).unwrap();
    let found = bad(&log);
    assert_eq!((found.seq, found.file.as_str()), (5, "audit.log"), "{}", found.reason);
    assert!(found.reason.contains("records 5 to 7 are missing"), "{}", found.reason);

    std::fs::write(&middle, &kept).unwrap();
    let oldest = std::fs::read(&first).unwrap();
    std::fs::remove_file(&first).unwrap();
    let found = bad(&log);
    assert_eq!((found.seq, found.file.as_str()), (0, "audit.log.5-7"), "{}", found.reason);
    assert!(found.reason.contains("records 0 to 4 are missing"), "{}", found.reason);
    std::fs::write(&first, &oldest).unwrap();

    // The last record cut off: the name still promises it.
    let mut truncated = lines(&middle);
    truncated.pop();
    rewrite(&middle, &truncated);
    let found = bad(&log);
    assert_eq!((found.seq, found.file.as_str()), (7, "audit.log.5-7"), "{}", found.reason);
    assert!(found.reason.contains("truncated"), "{}", found.reason);

    // The current file's first record copied onto the end of the rotated one.
    std::fs::write(&middle, &kept).unwrap();
    let mut appended = lines(&middle);
    appended.push(lines(&dir.path().join("audit.log"))[0].clone());
    rewrite(&middle, &appended);
    let found = bad(&log);
    assert_eq!((found.seq, found.file.as_str()), (8, "audit.log.5-7"), "{}", found.reason);

    // A rotated file duplicated under another name.
    std::fs::write(&middle, &kept).unwrap();
    std::fs::write(dir.path().join("audit.log.5-9"), &kept).unwrap();
    let found = bad(&log);
    assert_eq!((found.seq, found.file.as_str()), (8, "audit.log.5-9"), "{}", found.reason);
    assert!(found.reason.contains("overlapping"), "{}", found.reason);
}

#[test]
fn a_crash_between_rename_and_new_file_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = open_log(&path, 0);
    append(&log, 0, 4);
    drop(log);
    // What a kill -9 right after the rename leaves: no current file.
    std::fs::rename(&path, dir.path().join("audit.log.0-3")).unwrap();
    let log = open_log(&path, 0);
    append(&log, 4, 2);
    assert_eq!(seq_of(&lines(&path)[0]), 4);
    assert_eq!(log.verify().unwrap().first_bad, None);
    drop(log);
    // Or an empty one, created before the crash.
    std::fs::rename(&path, dir.path().join("audit.log.4-5")).unwrap();
    std::fs::write(&path, b"").unwrap();
    let log = open_log(&path, 0);
    append(&log, 6, 1);
    let verified = log.verify().unwrap();
    assert_eq!((verified.records, verified.files, verified.first_bad), (7, 3, None));
}

#[test]
fn the_file_rotates_past_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let one = {
        let probe = tempfile::tempdir().unwrap();
        let log = open_log(&probe.path().join("audit.log"), 0);
        log.append(event("Op0")).unwrap();
        std::fs::metadata(probe.path().join("audit.log")).unwrap().len()
    };
    let log = open_log(&path, one * 3);
    append(&log, 0, 10);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["audit.log", "audit.log.0-2", "audit.log.3-5", "audit.log.6-8"]);
    assert_eq!(lines(&path).len(), 1);
    let verified = log.verify().unwrap();
    assert_eq!((verified.records, verified.files, verified.first_bad), (10, 4, None));
}

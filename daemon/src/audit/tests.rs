use std::fs::OpenOptions;

use sha2::Digest as _;

use super::record::{self, chain_hash};
use super::*;

pub(super) fn event(operation: &str) -> Event<'_> {
    Event {
        request_id: "r",
        principal: "uid:1000",
        source: "grpc/unix",
        operation,
        key: "alias/orders",
        key_version: None,
        encryption_context: [("tenant".to_string(), "7".to_string())].into_iter().collect(),
        request_metadata: std::collections::BTreeMap::new(),
        outcome: "OK",
        error_code: "",
        unrecorded_throttled: 0,
        durable: false,
    }
}

fn mac_key() -> SecretBuf {
    SecretBuf::copy_from(&[3; 32]).unwrap()
}

pub(super) fn open_log(path: &Path, max_bytes: u64) -> AuditLog {
    let log = AuditLog::open(path, max_bytes).unwrap();
    log.set_mac_key(mac_key());
    log
}

pub(super) fn append(log: &AuditLog, from: usize, count: usize) {
    for n in from..from + count {
        log.append(event(&format!("Op{n}"))).unwrap();
    }
}

fn log_with(records: usize) -> (tempfile::TempDir, AuditLog, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = open_log(&path, 0);
    append(&log, 0, records);
    (dir, log, path)
}

pub(super) fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

pub(super) fn rewrite(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

fn first_bad(log: &AuditLog) -> Option<u64> {
    log.verify().unwrap().first_bad.map(|b| b.seq)
}

#[test]
fn an_intact_log_verifies() {
    let (_dir, log, _) = log_with(5);
    let verified = log.verify().unwrap();
    assert_eq!((verified.records, verified.authenticated, verified.first_bad), (5, 5, None));
    assert_eq!(verified.files, 1);
}

#[test]
fn changed_deleted_reordered_and_inserted_records_are_named() {
    let (_dir, log, path) = log_with(5);
    let original = lines(&path);

    let mut changed = original.clone();
    changed[2] = changed[2].replace("Op2", "Op9");
    rewrite(&path, &changed);
    assert_eq!(first_bad(&log), Some(2));

    let mut deleted = original.clone();
    deleted.remove(1);
    rewrite(&path, &deleted);
    assert_eq!(first_bad(&log), Some(1));

    let mut reordered = original.clone();
    reordered.swap(3, 4);
    rewrite(&path, &reordered);
    assert_eq!(first_bad(&log), Some(3));

    let mut inserted = original.clone();
    inserted.insert(2, original[1].clone());
    rewrite(&path, &inserted);
    assert_eq!(first_bad(&log), Some(2));

    // Recomputing the hashes of an edited record does not help without the MAC key.
    let mut forged: Stored = serde_json::from_str(&original[4]).unwrap();
    forged.body.outcome = "NOT_FOUND".into();
    let previous: [u8; 32] = unhex(&forged.body.prev).unwrap().try_into().unwrap();
    forged.hash = hex(&chain_hash(&previous, &forged.body));
    let mut edited = original.clone();
    edited[4] = serde_json::to_string(&forged).unwrap();
    rewrite(&path, &edited);
    let bad = log.verify().unwrap().first_bad.unwrap();
    assert_eq!((bad.seq, bad.file.as_str()), (4, "audit.log"));
    assert!(bad.reason.contains("MAC"), "{}", bad.reason);
}

#[test]
fn a_torn_last_record_is_cut_and_the_chain_continues() {
    let (_dir, log, path) = log_with(3);
    drop(log);
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"{\"seq\":3,\"time_ms\":1,\"requ").unwrap();
    drop(file);
    let log = open_log(&path, 0);
    log.append(event("After")).unwrap();
    let verified = log.verify().unwrap();
    assert_eq!((verified.records, verified.first_bad), (4, None));
    assert!(lines(&path)[3].contains("\"operation\":\"After\""));

    // Under another key, the first authenticated record is named.
    log.set_mac_key(SecretBuf::copy_from(&[4; 32]).unwrap());
    assert_eq!(first_bad(&log), Some(0));
}

#[test]
fn records_hold_no_payloads_and_tail_filters() {
    let (_dir, log, path) = log_with(3);
    let mut other = event("Sign");
    other.principal = "cert:CN=app";
    log.append(other).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"tenant\":\"7\""));
    let by_principal = Filter { principal: "cert:CN=app", ..Filter::default() };
    assert_eq!(log.tail_records(10, &by_principal).unwrap().len(), 1);
    let by_key = Filter { key: "alias/orders", ..Filter::default() };
    assert_eq!(log.tail_records(2, &by_key).unwrap().len(), 2);
    let by_source = Filter { source: "pkcs11/unix", ..Filter::default() };
    assert!(log.tail_records(10, &by_source).unwrap().is_empty());
}

#[test]
fn new_fields_are_written_only_when_set_and_are_hashed() {
    let (_dir, log, path) = log_with(1);
    let mut failed = event("C_Login");
    (failed.source, failed.outcome, failed.error_code) =
        ("pkcs11/unix", "PERMISSION_DENIED", "CKR_PIN_INCORRECT");
    log.append(failed).unwrap();
    let mut encrypt = event("Encrypt");
    encrypt.key_version = Some(3);
    log.append(encrypt).unwrap();
    let original = lines(&path);
    assert!(!original[0].contains("key_version") && !original[0].contains("error_code"), "{}", original[0]);
    assert!(original[1].contains("\"source\":\"pkcs11/unix\",\"operation\":\"C_Login\""), "{}", original[1]);
    assert!(original[1].contains("\"error_code\":\"CKR_PIN_INCORRECT\""), "{}", original[1]);
    assert!(original[2].contains("\"key\":\"alias/orders\",\"key_version\":3,"), "{}", original[2]);
    let pkcs11 = Filter { source: "pkcs11/unix", ..Filter::default() };
    assert_eq!(log.tail_records(10, &pkcs11).unwrap(), vec![original[1].clone()]);

    for (line, from, to) in [
        (1, "CKR_PIN_INCORRECT", "CKR_OK"),
        (1, "pkcs11/unix", "grpc/unix"),
        (2, "\"key_version\":3", "\"key_version\":2"),
        (2, "\"key_version\":3,", ""),
    ] {
        let mut edited = original.clone();
        edited[line] = edited[line].replace(from, to);
        rewrite(&path, &edited);
        let bad = log.verify().unwrap().first_bad.unwrap();
        assert_eq!(bad.seq, line as u64, "{from} -> {to}");
        assert!(bad.reason.contains("changed"), "{}", bad.reason);
    }
}

/// Two records as the daemon wrote them before `source`, `key_version` and `error_code` existed
/// (MAC key `[3; 32]`).
const OLD_FORMAT: &str = concat!(
    r#"{"seq":0,"time_ms":1700000000000,"request_id":"0000abcd-00000001","principal":"uid:1000","operation":"Encrypt","key":"alias/orders","encryption_context":{"tenant":"7"},"outcome":"OK","prev":"0000000000000000000000000000000000000000000000000000000000000000","hash":"0699f90abe10b3f67faf4855d5731aab8344613086ad67c6f56f969a60481b76","mac":"1d878a928ec9f780778cef3bfb8e44fdc744dc0ef0b7d426654e435bfed869dc"}"#,
    "\n",
    r#"{"seq":1,"time_ms":1700000000001,"request_id":"0000abcd-00000002","principal":"uid:0","operation":"Status","key":"","encryption_context":{},"outcome":"PERMISSION_DENIED","prev":"0699f90abe10b3f67faf4855d5731aab8344613086ad67c6f56f969a60481b76","hash":"286f04b061bf287c2bd20c214b64fdf1fbc79ac32d952c0dd0e0fafaa9b0b134","mac":"522cad18a1eabc4a4e61f00fc0d5a88c696332a96d39b063bd996d84dbda4d44"}"#,
    "\n",
);

#[test]
fn records_in_the_old_format_still_verify_and_the_chain_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    std::fs::write(&path, OLD_FORMAT).unwrap();
    let log = open_log(&path, 0);
    let mut new = event("C_Sign");
    new.source = "pkcs11/unix";
    log.append(new).unwrap();
    let verified = log.verify().unwrap();
    assert_eq!((verified.records, verified.authenticated, verified.first_bad), (3, 3, None));
    assert_eq!(log.tail_records(10, &Filter::default()).unwrap()[..2].join("\n") + "\n", OLD_FORMAT);

    // The old records are really checked: an edit in one is still found.
    let mut edited = lines(&path);
    edited[1] = edited[1].replace("PERMISSION_DENIED", "OK");
    rewrite(&path, &edited);
    assert_eq!(first_bad(&log), Some(1));
}

#[test]
fn a_failed_write_leaves_no_torn_record_and_appends_resume() {
    let (_dir, log, path) = log_with(2);
    // A descriptor that cannot write (nor be cut): the write fails like one on a full disk.
    log.locked().unwrap().file = Some(File::open(&path).unwrap());
    assert!(log.append(event("Lost")).is_err());
    // What a full disk leaves behind a failed write: part of a record.
    OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"seq\":2,\"time_ms\":1,\"re").unwrap();
    append(&log, 2, 2);
    let verified = log.verify().unwrap();
    assert_eq!((verified.records, verified.first_bad), (4, None));
    assert_eq!(lines(&path).len(), 4);
    assert!(lines(&path)[2].starts_with("{\"seq\":2,") && lines(&path)[2].contains("\"Op2\""));
    drop(log);
    assert_eq!(open_log(&path, 0).verify().unwrap().records, 4, "a restart opens cleanly");
}

#[test]
fn a_bad_record_in_the_middle_stops_the_daemon_from_opening() {
    let (_dir, log, path) = log_with(4);
    drop(log);
    let mut edited = lines(&path);
    edited[1].truncate(30);
    rewrite(&path, &edited);
    let Err(Error::Integrity(message)) = AuditLog::open(&path, 0) else { panic!("opened") };
    assert!(message.contains("record 1 is unreadable"), "{message}");
    // Records removed from the middle (the end kept) are refused too.
    edited.remove(1);
    edited.remove(1);
    rewrite(&path, &edited);
    let Err(Error::Integrity(message)) = AuditLog::open(&path, 0) else { panic!("opened") };
    assert!(message.contains("record 3 does not follow record 0"), "{message}");
}

#[test]
fn long_keys_and_contexts_are_recorded_by_length_and_digest() {
    let (_dir, log, path) = log_with(0);
    let long_key = "k".repeat(10_000);
    let mut flood = event("Encrypt");
    flood.key = &long_key;
    flood.encryption_context = [("ctx".to_string(), "v".repeat(60_000))].into_iter().collect();
    (flood.outcome, flood.error_code) = ("PERMISSION_DENIED", "AccessDenied");
    log.append(flood).unwrap();
    let mut at_limit = event("Decrypt");
    let key_at_limit = "k".repeat(record::MAX_FIELD_BYTES);
    at_limit.key = &key_at_limit;
    log.append(at_limit).unwrap();
    let written = lines(&path);
    assert!(written[0].len() < 700, "{} bytes: {}", written[0].len(), written[0]);
    let record: serde_json::Value = serde_json::from_str(&written[0]).unwrap();
    assert_eq!(record["key"], "");
    assert_eq!(record["key_digest"]["len"], 10_000);
    assert_eq!(record["key_digest"]["sha256"], hex(&sha2::Sha256::digest(long_key.as_bytes())));
    assert_eq!(record["encryption_context"], serde_json::json!({}));
    assert!(record["encryption_context_digest"]["len"].as_u64().unwrap() > 60_000);
    assert!(written[1].contains(&format!("\"key\":\"{key_at_limit}\"")) && !written[1].contains("digest"));
    let by_key = Filter { key: &key_at_limit, ..Filter::default() };
    assert_eq!(log.tail_records(10, &by_key).unwrap().len(), 1);
    assert_eq!(log.verify().unwrap().first_bad, None);
}

#[test]
fn a_record_with_every_field_at_its_bound_fits_the_hard_cap() {
    let (_dir, log, path) = log_with(0);
    let key = "k".repeat(record::MAX_FIELD_BYTES);
    let request_id = "r".repeat(128);
    let mut widest = event("GenerateDataKeyPairWithoutPlaintext");
    (widest.key, widest.request_id, widest.key_version) = (&key, &request_id, Some(u32::MAX));
    // The widest context still recorded as given: its JSON just at the limit.
    let value = "v".repeat(record::MAX_CONTEXT_BYTES - "{\"c\":\"\"}".len());
    widest.encryption_context = [("c".to_string(), value)].into_iter().collect();
    (widest.outcome, widest.error_code) = ("FAILED_PRECONDITION", "CKR_OPERATION_NOT_INITIALIZED");
    log.append(widest).unwrap();
    let line = &lines(&path)[0];
    assert!(!line.contains("digest"), "{line}");
    assert!(line.len() < MAX_RECORD_BYTES, "{} bytes", line.len());
}

#[test]
fn a_record_with_the_last_sequence_number_is_refused_at_open_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    // The input the audit_log fuzz target found (fuzz/corpus/audit_log/seed-max-seq).
    let line = format!(
        r#"{{"seq":{},"time_ms":0,"request_id":"r","principal":"uid:0","operation":"Encrypt","key":"","encryption_context":{{}},"outcome":"OK","prev":"{}","hash":"{}","mac":""}}"#,
        u64::MAX,
        "0".repeat(64),
        "1".repeat(64)
    );
    std::fs::write(&path, format!("{line}\n")).unwrap();
    match AuditLog::open(&path, 0) {
        Err(Error::Integrity(message)) => assert!(message.contains("last sequence number"), "{message}"),
        Err(other) => panic!("expected an integrity error, got {other:?}"),
        Ok(_) => panic!("a log whose last record leaves no next sequence number was opened"),
    }
}

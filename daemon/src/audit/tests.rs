use super::*;

fn event(operation: &str) -> Event<'_> {
    Event {
        request_id: "r",
        principal: "uid:1000",
        operation,
        key: "alias/orders",
        encryption_context: [("tenant".to_string(), "7".to_string())].into_iter().collect(),
        outcome: "OK",
        durable: false,
    }
}

fn mac_key() -> SecretBuf {
    SecretBuf::copy_from(&[3; 32]).unwrap()
}

fn log_with(records: usize) -> (tempfile::TempDir, AuditLog, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(&path).unwrap();
    log.set_mac_key(mac_key());
    for n in 0..records {
        log.append(event(&format!("Op{n}"))).unwrap();
    }
    (dir, log, path)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

fn rewrite(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

#[test]
fn an_intact_log_verifies() {
    let (_dir, log, _) = log_with(5);
    let verified = log.verify().unwrap();
    assert_eq!((verified.records, verified.authenticated, verified.first_bad), (5, 5, None));
}

#[test]
fn changed_deleted_reordered_and_inserted_records_are_named() {
    let (_dir, log, path) = log_with(5);
    let original = lines(&path);

    let mut changed = original.clone();
    changed[2] = changed[2].replace("Op2", "Op9");
    rewrite(&path, &changed);
    assert_eq!(log.verify().unwrap().first_bad.map(|b| b.0), Some(2));

    let mut deleted = original.clone();
    deleted.remove(1);
    rewrite(&path, &deleted);
    assert_eq!(log.verify().unwrap().first_bad.map(|b| b.0), Some(1));

    let mut reordered = original.clone();
    reordered.swap(3, 4);
    rewrite(&path, &reordered);
    assert_eq!(log.verify().unwrap().first_bad.map(|b| b.0), Some(3));

    let mut inserted = original.clone();
    inserted.insert(2, original[1].clone());
    rewrite(&path, &inserted);
    assert_eq!(log.verify().unwrap().first_bad.map(|b| b.0), Some(2));

    // Recomputing the hashes of an edited record does not help without the MAC key.
    let mut forged: Stored = serde_json::from_str(&original[4]).unwrap();
    forged.body.outcome = "NOT_FOUND".into();
    let previous: [u8; 32] = unhex(&forged.body.prev).unwrap().try_into().unwrap();
    forged.hash = hex(&chain_hash(&previous, &forged.body));
    let mut edited = original.clone();
    edited[4] = serde_json::to_string(&forged).unwrap();
    rewrite(&path, &edited);
    let bad = log.verify().unwrap().first_bad.unwrap();
    assert_eq!(bad.0, 4);
    assert!(bad.1.contains("MAC"), "{}", bad.1);
}

#[test]
fn a_torn_last_record_is_cut_and_the_chain_continues() {
    let (_dir, log, path) = log_with(3);
    drop(log);
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"{\"seq\":3,\"time_ms\":1,\"requ").unwrap();
    drop(file);
    let log = AuditLog::open(&path).unwrap();
    log.set_mac_key(mac_key());
    log.append(event("After")).unwrap();
    let verified = log.verify().unwrap();
    assert_eq!((verified.records, verified.first_bad), (4, None));
    assert!(lines(&path)[3].contains("\"operation\":\"After\""));

    // Under another key, the first authenticated record is named.
    log.set_mac_key(SecretBuf::copy_from(&[4; 32]).unwrap());
    assert_eq!(log.verify().unwrap().first_bad.map(|b| b.0), Some(0));
}

#[test]
fn records_hold_no_payloads_and_tail_filters() {
    let (_dir, log, path) = log_with(3);
    let mut other = event("Sign");
    other.principal = "cert:CN=app";
    log.append(other).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"tenant\":\"7\""));
    assert_eq!(log.tail(10, "", "cert:CN=app").unwrap().len(), 1);
    assert_eq!(log.tail(2, "alias/orders", "").unwrap().len(), 2);
}

//! `arcad migrate`: copies every record of one store into another, empty one (redb into
//! PostgreSQL, or back), then reads the copy back and compares it with the source, record by
//! record. Records are copied as they are stored, sealed: no passphrase is needed and nothing is
//! unsealed. A store is named `redb:PATH` or `postgres:CONNECTION-STRING`.
//!
//! A shared store accepts only authenticated alias and grant rows: a redb store whose rows an
//! earlier release wrote is refused until this release has unsealed it once (which rewrites them).
//!
//! A single host anchors its audit log under `audit_head`, a node of a shared store under
//! `audit_head/<node>`: `--node` moves the one host's anchor to the node name (into PostgreSQL)
//! or that node's anchor back to the host's (into redb, where other nodes' anchors are left out).

use std::path::PathBuf;

use super::{
    AUDIT_HEAD_RECORD_KEY, Expect, PostgresBackend, PostgresSettings, RedbBackend, Row, StoreBackend, Table,
    Write, audit_head_record_key, is_audit_head_record,
};
use crate::error::{Error, Result};

/// Where a store is.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    Redb(PathBuf),
    Postgres(PostgresSettings),
}

impl StoreLocation {
    /// Parses `redb:PATH` or `postgres:CONNECTION-STRING` (TLS to the database from `ca_cert`).
    pub fn parse(text: &str, ca_cert: Option<PathBuf>) -> Result<Self> {
        if let Some(path) = text.strip_prefix("redb:") {
            return Ok(Self::Redb(PathBuf::from(path)));
        }
        if let Some(url) = text.strip_prefix("postgres:") {
            return Ok(Self::Postgres(PostgresSettings {
                url: url.to_owned(),
                ca_cert,
                client_cert: None,
                pool_size: 2,
                node_name: None,
                // One transaction copies the whole store.
                operation_deadline: std::time::Duration::from_secs(3600),
            }));
        }
        Err(Error::Config("a store is named redb:PATH or postgres:CONNECTION-STRING".into()))
    }

    fn open(&self, must_exist: bool) -> Result<Box<dyn StoreBackend>> {
        match self {
            Self::Redb(path) if must_exist && !path.exists() => {
                Err(Error::Config(format!("no store at {}", path.display())))
            }
            Self::Redb(path) => Ok(Box::new(RedbBackend::open(path)?)),
            Self::Postgres(settings) => Ok(Box::new(PostgresBackend::open(settings)?)),
        }
    }
}

/// Copies `source` into the empty `target` and verifies the copy; returns how many records.
pub fn migrate(source: &StoreLocation, target: &StoreLocation, node: Option<&str>) -> Result<usize> {
    let from = source.open(true)?;
    let to = target.open(false)?;
    if !to.snapshot()?.is_empty() {
        return Err(Error::Config("the target store is not empty; migrate only into a new store".into()));
    }
    let into_shared = matches!(target, StoreLocation::Postgres(_));
    let rows = renamed_anchors(from.snapshot()?, node, into_shared);
    let legacy = rows.iter().filter(|(table, _, value)| !super::is_authenticated_form(*table, value)).count();
    if into_shared && legacy > 0 {
        return Err(Error::Config(format!(
            "{legacy} alias or grant records of an earlier release are not authenticated, and a shared store \
             refuses them: start arcad once on this store (its unseal rewrites them), then migrate"
        )));
    }
    let writes = rows
        .iter()
        .map(|(table, key, value)| Write::put(*table, key.clone(), value.clone()).expecting(Expect::Absent))
        .collect();
    to.commit(writes)?;
    let mut expected = rows;
    expected.sort();
    let mut copied = to.snapshot()?;
    copied.sort();
    if copied != expected {
        return Err(Error::Integrity("the copy differs from the source store".into()));
    }
    Ok(copied.len())
}

/// The rows with the audit anchor moved between the host's key and `node`'s.
fn renamed_anchors(rows: Vec<Row>, node: Option<&str>, into_shared: bool) -> Vec<Row> {
    let Some(node) = node else { return rows };
    let node_key = audit_head_record_key(Some(node));
    rows.into_iter()
        .filter_map(|(table, key, value)| {
            if table != Table::Meta || !is_audit_head_record(&key) {
                return Some((table, key, value));
            }
            match (into_shared, key == AUDIT_HEAD_RECORD_KEY, key == node_key) {
                (true, true, _) => Some((table, node_key.clone(), value)),
                (false, _, true) => Some((table, AUDIT_HEAD_RECORD_KEY.to_vec(), value)),
                (true, false, _) => Some((table, key, value)),
                (false, _, false) => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redb_store_copies_into_another_and_refuses_a_non_empty_target() {
        let dir = tempfile::tempdir().unwrap();
        let source = StoreLocation::Redb(dir.path().join("a.redb"));
        {
            let backend = source.open(false).unwrap();
            backend.commit(vec![Write::put(Table::Keys, vec![1; 16], b"sealed".to_vec())]).unwrap();
            backend
                .commit(vec![Write::put(Table::Meta, AUDIT_HEAD_RECORD_KEY.to_vec(), b"{}".to_vec())])
                .unwrap();
        }
        let target = StoreLocation::Redb(dir.path().join("b.redb"));
        assert_eq!(migrate(&source, &target, None).unwrap(), 2);
        assert!(matches!(migrate(&source, &target, None), Err(Error::Config(_))));
        let missing = StoreLocation::Redb(dir.path().join("missing.redb"));
        assert!(matches!(migrate(&missing, &target, None), Err(Error::Config(_))));
    }

    #[test]
    fn the_anchor_moves_to_the_node_and_back() {
        let rows = vec![(Table::Meta, AUDIT_HEAD_RECORD_KEY.to_vec(), b"h".to_vec())];
        let shared = renamed_anchors(rows, Some("a"), true);
        assert_eq!(shared, vec![(Table::Meta, b"audit_head/a".to_vec(), b"h".to_vec())]);
        let mut both = shared.clone();
        both.push((Table::Meta, b"audit_head/b".to_vec(), b"g".to_vec()));
        let single = renamed_anchors(both, Some("a"), false);
        assert_eq!(single, vec![(Table::Meta, AUDIT_HEAD_RECORD_KEY.to_vec(), b"h".to_vec())]);
    }
}

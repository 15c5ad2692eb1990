//! The embedded backend: one redb file, copy-on-write B-trees with an fsync per commit.
//!
//! After an I/O error (a full disk) redb refuses every later call ("Previous I/O error") until the
//! database is opened again; the backend then drops it and opens it afresh at the next call, which
//! recovers to the last committed transaction, so the daemon serves again once space returns.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Row, StoreBackend, Table, Write};
use crate::error::{Error, Result};

const META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("meta");
const KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("keys");
const ALIASES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("aliases");
const GRANTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("grants");
const OBJECTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("objects");
const ACCESS_KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("access_keys");
const IMPORT_TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("import_tokens");

fn definition(table: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    match table {
        Table::Meta => META,
        Table::Keys => KEYS,
        Table::Aliases => ALIASES,
        Table::Grants => GRANTS,
        Table::Objects => OBJECTS,
        Table::AccessKeys => ACCESS_KEYS,
        Table::ImportTokens => IMPORT_TOKENS,
    }
}

#[derive(Debug)]
pub struct RedbBackend {
    path: PathBuf,
    /// `None` once an I/O error poisoned the database: the next call opens it again.
    db: RwLock<Option<Arc<Database>>>,
}

/// Whether redb must be opened again before it can serve after this error.
fn poisons(error: &redb::Error) -> bool {
    matches!(error, redb::Error::Io(_) | redb::Error::PreviousIo)
}

impl RedbBackend {
    /// Opens the store file, creating it (and its tables) if missing. After a crash redb
    /// recovers to the last committed transaction.
    pub fn open(path: &Path) -> Result<Self> {
        // Create the file owner-only before redb opens it.
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(Error::io(format!("cannot create the store {}", path.display())))?;
        let db = open_database(path)?;
        let backend = Self { path: path.to_path_buf(), db: RwLock::new(Some(Arc::new(db))) };
        backend.commit(Vec::new())?;
        Ok(backend)
    }

    /// The open database, opened again first if an I/O error dropped it.
    fn database(&self) -> Result<Arc<Database>> {
        let poisoned = || Error::Storage("store lock poisoned".into());
        if let Some(db) = &*self.db.read().map_err(|_| poisoned())? {
            return Ok(Arc::clone(db));
        }
        let mut slot = self.db.write().map_err(|_| poisoned())?;
        if let Some(db) = &*slot {
            return Ok(Arc::clone(db));
        }
        let db = Arc::new(open_database(&self.path)?);
        tracing::info!(path = %self.path.display(), "store opened again after an I/O error");
        *slot = Some(Arc::clone(&db));
        Ok(db)
    }

    /// Runs `work` on the database; an I/O error drops it so the next call opens it again.
    fn with_db<T>(
        &self,
        action: &'static str,
        work: impl FnOnce(&Database) -> Result<T, redb::Error>,
    ) -> Result<T> {
        let db = self.database()?;
        work(&db).map_err(|error| {
            if poisons(&error)
                && let Ok(mut slot) = self.db.write()
                && slot.as_ref().is_some_and(|current| Arc::ptr_eq(current, &db))
            {
                tracing::warn!(%error, "store I/O error: the store will be opened again");
                *slot = None;
            }
            Error::Storage(format!("{action}: {error}"))
        })
    }
}

fn open_database(path: &Path) -> Result<Database> {
    Database::create(path)
        .map_err(|e| Error::Storage(format!("cannot open the store {}: {e}", path.display())))
}

fn write_txn(db: &Database) -> Result<redb::WriteTransaction, redb::Error> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    Ok(txn)
}

impl StoreBackend for RedbBackend {
    fn commit(&self, writes: Vec<Write>) -> Result<()> {
        let unmet = self.with_db("commit", |db| {
            let txn = write_txn(db)?;
            for table in Table::ALL {
                let mut opened = txn.open_table(definition(table))?;
                for write in writes.iter().filter(|w| w.table == table) {
                    let current = opened.get(write.key.as_slice())?.map(|guard| guard.value().to_vec());
                    if !write.expect.is_met_by(current.as_deref()) {
                        // Dropping the transaction aborts it: nothing of the batch is applied.
                        return Ok(Some((write.table, write.key.clone())));
                    }
                    match &write.value {
                        Some(value) => opened.insert(write.key.as_slice(), value.as_slice()).map(drop)?,
                        None => opened.remove(write.key.as_slice()).map(drop)?,
                    }
                }
            }
            txn.commit()?;
            Ok(None)
        })?;
        match unmet {
            Some((table, key)) => Err(super::stale_write(table, &key)),
            None => Ok(()),
        }
    }

    fn insert_new(&self, table: Table, key: &[u8], value: &[u8]) -> Result<bool> {
        self.insert_new_all(table, &[(key, value)])
    }

    fn insert_new_all(&self, table: Table, entries: &[(&[u8], &[u8])]) -> Result<bool> {
        self.with_db("insert", |db| {
            let txn = write_txn(db)?;
            {
                let mut opened = txn.open_table(definition(table))?;
                for (key, _) in entries {
                    if opened.get(*key)?.is_some() {
                        return Ok(false);
                    }
                }
                for (key, value) in entries {
                    opened.insert(*key, *value)?;
                }
            }
            txn.commit()?;
            Ok(true)
        })
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with_db("read", |db| {
            let txn = db.begin_read()?;
            let opened = txn.open_table(definition(table))?;
            let value = opened.get(key)?;
            Ok(value.map(|guard| guard.value().to_vec()))
        })
    }

    fn scan(&self, table: Table) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.with_db("scan", |db| scan_in(&db.begin_read()?, table))
    }

    fn snapshot(&self) -> Result<Vec<Row>> {
        self.with_db("snapshot", |db| {
            let txn = db.begin_read()?;
            let mut rows = Vec::new();
            for table in Table::ALL {
                rows.extend(scan_in(&txn, table)?.into_iter().map(|(k, v)| (table, k, v)));
            }
            Ok(rows)
        })
    }
}

/// A table's records, in key order.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

fn scan_in(txn: &redb::ReadTransaction, table: Table) -> Result<Entries, redb::Error> {
    let opened = txn.open_table(definition(table))?;
    let mut rows = Vec::new();
    for entry in opened.iter()? {
        let (key, value) = entry?;
        rows.push((key.value().to_vec(), value.value().to_vec()));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Expect;

    #[test]
    fn writes_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        {
            let backend = RedbBackend::open(&path).unwrap();
            assert!(backend.insert_new(Table::Meta, b"seal", b"v1").unwrap());
            assert!(!backend.insert_new(Table::Meta, b"seal", b"v2").unwrap());
            let write = Write::put(Table::Keys, b"k".to_vec(), b"r".to_vec());
            backend.commit(vec![write]).unwrap();
        }
        let backend = RedbBackend::open(&path).unwrap();
        assert_eq!(backend.get(Table::Meta, b"seal").unwrap(), Some(b"v1".to_vec()));
        assert_eq!(backend.scan(Table::Keys).unwrap(), vec![(b"k".to_vec(), b"r".to_vec())]);
    }

    #[test]
    fn a_write_whose_requirement_fails_applies_nothing_of_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let backend = RedbBackend::open(&dir.path().join("store.redb")).unwrap();
        backend.commit(vec![Write::put(Table::Keys, b"k".to_vec(), b"v1".to_vec())]).unwrap();
        let stale = vec![
            Write::put(Table::Aliases, b"alias/a".to_vec(), b"k".to_vec()),
            Write::put(Table::Keys, b"k".to_vec(), b"v2".to_vec()).expecting(Expect::Stored(b"v0".to_vec())),
        ];
        assert!(matches!(backend.commit(stale), Err(Error::Conflict(_))));
        assert_eq!(backend.get(Table::Aliases, b"alias/a").unwrap(), None);
        let fresh =
            Write::put(Table::Keys, b"k".to_vec(), b"v2".to_vec()).expecting(Expect::Stored(b"v1".to_vec()));
        backend.commit(vec![fresh]).unwrap();
        let absent = Write::put(Table::Keys, b"k".to_vec(), b"v3".to_vec()).expecting(Expect::Absent);
        assert!(matches!(backend.commit(vec![absent]), Err(Error::Conflict(_))));
        assert_eq!(backend.get(Table::Keys, b"k").unwrap(), Some(b"v2".to_vec()));
    }

    #[test]
    fn insert_new_all_writes_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let backend = RedbBackend::open(&dir.path().join("store.redb")).unwrap();
        assert!(backend.insert_new(Table::Meta, b"b", b"old").unwrap());
        let entries: [(&[u8], &[u8]); 2] = [(b"a", b"1"), (b"b", b"2")];
        assert!(!backend.insert_new_all(Table::Meta, &entries).unwrap());
        assert_eq!(backend.scan(Table::Meta).unwrap(), vec![(b"b".to_vec(), b"old".to_vec())]);
        let entries: [(&[u8], &[u8]); 2] = [(b"a", b"1"), (b"c", b"3")];
        assert!(backend.insert_new_all(Table::Meta, &entries).unwrap());
        assert_eq!(backend.scan(Table::Meta).unwrap().len(), 3);
    }
}

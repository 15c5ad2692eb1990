//! The embedded backend: one redb file, copy-on-write B-trees with an fsync per commit.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Row, StoreBackend, Table, Write};
use crate::error::{Error, Result};

const META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("meta");
const KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("keys");
const ALIASES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("aliases");
const GRANTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("grants");
const OBJECTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("objects");

fn definition(table: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    match table {
        Table::Meta => META,
        Table::Keys => KEYS,
        Table::Aliases => ALIASES,
        Table::Grants => GRANTS,
        Table::Objects => OBJECTS,
    }
}

fn storage<E: std::fmt::Display>(action: &'static str) -> impl Fn(E) -> Error {
    move |e| Error::Storage(format!("{action}: {e}"))
}

#[derive(Debug)]
pub struct RedbBackend {
    db: Database,
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
        let db = Database::create(path)
            .map_err(|e| Error::Storage(format!("cannot open the store {}: {e}", path.display())))?;
        let backend = Self { db };
        backend.commit(Vec::new())?;
        Ok(backend)
    }

    fn write_txn(&self) -> Result<redb::WriteTransaction> {
        let mut txn = self.db.begin_write().map_err(storage("begin transaction"))?;
        txn.set_durability(Durability::Immediate).map_err(storage("set durability"))?;
        Ok(txn)
    }
}

impl StoreBackend for RedbBackend {
    fn commit(&self, writes: Vec<Write>) -> Result<()> {
        let txn = self.write_txn()?;
        for table in Table::ALL {
            let mut opened = txn.open_table(definition(table)).map_err(storage("open table"))?;
            for write in writes.iter().filter(|w| w.table == table) {
                match &write.value {
                    Some(value) => {
                        opened.insert(write.key.as_slice(), value.as_slice()).map_err(storage("insert"))?;
                    }
                    None => {
                        opened.remove(write.key.as_slice()).map_err(storage("remove"))?;
                    }
                }
            }
        }
        txn.commit().map_err(storage("commit"))
    }

    fn insert_new(&self, table: Table, key: &[u8], value: &[u8]) -> Result<bool> {
        self.insert_new_all(table, &[(key, value)])
    }

    fn insert_new_all(&self, table: Table, entries: &[(&[u8], &[u8])]) -> Result<bool> {
        let txn = self.write_txn()?;
        {
            let mut opened = txn.open_table(definition(table)).map_err(storage("open table"))?;
            for (key, _) in entries {
                if opened.get(*key).map_err(storage("read"))?.is_some() {
                    return Ok(false);
                }
            }
            for (key, value) in entries {
                opened.insert(*key, *value).map_err(storage("insert"))?;
            }
        }
        txn.commit().map_err(storage("commit"))?;
        Ok(true)
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read().map_err(storage("begin read"))?;
        let opened = txn.open_table(definition(table)).map_err(storage("open table"))?;
        let value = opened.get(key).map_err(storage("read"))?;
        Ok(value.map(|guard| guard.value().to_vec()))
    }

    fn scan(&self, table: Table) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let txn = self.db.begin_read().map_err(storage("begin read"))?;
        scan_in(&txn, table)
    }

    fn snapshot(&self) -> Result<Vec<Row>> {
        let txn = self.db.begin_read().map_err(storage("begin read"))?;
        let mut rows = Vec::new();
        for table in Table::ALL {
            rows.extend(scan_in(&txn, table)?.into_iter().map(|(k, v)| (table, k, v)));
        }
        Ok(rows)
    }
}

fn scan_in(txn: &redb::ReadTransaction, table: Table) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let opened = txn.open_table(definition(table)).map_err(storage("open table"))?;
    let mut rows = Vec::new();
    for entry in opened.iter().map_err(storage("scan"))? {
        let (key, value) = entry.map_err(storage("scan"))?;
        rows.push((key.value().to_vec(), value.value().to_vec()));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        {
            let backend = RedbBackend::open(&path).unwrap();
            assert!(backend.insert_new(Table::Meta, b"seal", b"v1").unwrap());
            assert!(!backend.insert_new(Table::Meta, b"seal", b"v2").unwrap());
            let write = Write { table: Table::Keys, key: b"k".to_vec(), value: Some(b"r".to_vec()) };
            backend.commit(vec![write]).unwrap();
        }
        let backend = RedbBackend::open(&path).unwrap();
        assert_eq!(backend.get(Table::Meta, b"seal").unwrap(), Some(b"v1".to_vec()));
        assert_eq!(backend.scan(Table::Keys).unwrap(), vec![(b"k".to_vec(), b"r".to_vec())]);
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

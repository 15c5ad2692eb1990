//! Backup archives: every sealed record of a store, as stored. An archive holds no plaintext key
//! material and the master key only sealed, so it is useless without the passphrase or key file.

use super::{StoreBackend, Table, Write};
use crate::error::{Error, Result};

const MAGIC: &str = "arca-backup";
const FORMAT: u32 = 1;

#[derive(Clone, PartialEq, prost::Message)]
struct Archive {
    #[prost(string, tag = "1")]
    magic: String,
    #[prost(uint32, tag = "2")]
    format: u32,
    /// Seconds since the Unix epoch.
    #[prost(int64, tag = "3")]
    created_at: i64,
    #[prost(message, repeated, tag = "4")]
    records: Vec<Record>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Record {
    #[prost(string, tag = "1")]
    table: String,
    #[prost(bytes = "vec", tag = "2")]
    key: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    value: Vec<u8>,
}

/// The audit log's anchor names records of this host's log: a store restored elsewhere starts a
/// log of its own.
fn is_audit_head(table: Table, key: &[u8]) -> bool {
    table == Table::Meta && super::is_audit_head_record(key)
}

/// A consistent archive of the whole store.
pub fn create(backend: &dyn StoreBackend, created_at: i64) -> Result<Vec<u8>> {
    let records = backend
        .snapshot()?
        .into_iter()
        .filter(|(table, key, _)| !is_audit_head(*table, key))
        .map(|(table, key, value)| Record { table: table.name().to_owned(), key, value })
        .collect();
    let archive = Archive { magic: MAGIC.into(), format: FORMAT, created_at, records };
    Ok(prost::Message::encode_to_vec(&archive))
}

/// Writes an archive into an empty store in one transaction; refuses a store that has anything.
/// Returns how many records were restored.
pub fn restore(backend: &dyn StoreBackend, bytes: &[u8]) -> Result<usize> {
    let archive: Archive = prost::Message::decode(bytes)
        .map_err(|e| Error::invalid(format!("not an Arca backup archive: {e}")))?;
    if archive.magic != MAGIC || archive.format != FORMAT {
        return Err(Error::invalid(format!(
            "not an Arca backup archive of format {FORMAT} (magic {:?}, format {})",
            archive.magic, archive.format
        )));
    }
    if Table::ALL
        .into_iter()
        .try_fold(false, |found, table| Ok::<_, Error>(found || !backend.scan(table)?.is_empty()))?
    {
        return Err(Error::AlreadyInitialized);
    }
    let mut writes = Vec::with_capacity(archive.records.len());
    for record in archive.records {
        let table = Table::from_name(&record.table).ok_or_else(|| {
            Error::invalid(format!("the archive names an unknown table {:?}", record.table))
        })?;
        if is_audit_head(table, &record.key) {
            continue;
        }
        writes.push(Write::put(table, record.key, record.value));
    }
    let count = writes.len();
    backend.commit(writes)?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RedbBackend;

    #[test]
    fn archives_restore_into_an_empty_store_only() {
        let dir = tempfile::tempdir().unwrap();
        let source = RedbBackend::open(&dir.path().join("a.redb")).unwrap();
        source.insert_new(Table::Meta, b"seal", b"sealed master key").unwrap();
        let write = Write::put(Table::Keys, vec![1; 16], b"record".to_vec());
        source.commit(vec![write]).unwrap();
        let archive = create(&source, 1).unwrap();

        let target = RedbBackend::open(&dir.path().join("b.redb")).unwrap();
        assert_eq!(restore(&target, &archive).unwrap(), 2);
        assert_eq!(target.snapshot().unwrap(), source.snapshot().unwrap());
        assert!(matches!(restore(&target, &archive), Err(Error::AlreadyInitialized)));
        assert!(matches!(restore(&target, b"garbage"), Err(Error::InvalidArgument(_))));
    }
}

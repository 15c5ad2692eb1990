//! Persistence. A [`StoreBackend`] is a durable, transactional map of opaque records in a few
//! tables; everything above it (sealing, record integrity) is backend-independent, so a replicated
//! database can replace the embedded one without touching the key model.

mod access_keys;
mod administrators;
pub mod backup;
mod records;
mod redb_backend;
mod seal;

pub use access_keys::{AccessKeyEntry, open_access_key, seal_access_key};
pub use administrators::{
    ADMINISTRATORS_RECORD_KEY, open_administrators, peek_administrators, seal_administrators,
};
pub use records::KeyRecordCodec;
pub use redb_backend::RedbBackend;
pub use seal::{
    MasterKey, SealConfig, SealMode, SealRecord, create_key_file, read_key_file, write_new_secret_file,
};

use crate::error::Result;

/// The meta record holding the audit log's anchored head (sequence number and hash). It belongs
/// to this host's log, so backups leave it out.
pub const AUDIT_HEAD_RECORD_KEY: &[u8] = b"audit_head";

/// The tables a backend provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Store-wide records (the sealed master key, the administrators named at initialisation).
    Meta,
    /// One record per key, keyed by the 16 bytes of its id.
    Keys,
    /// Alias name (`alias/…`) -> the 16 bytes of a key id.
    Aliases,
    /// Grant id (16 bytes) -> a grant record.
    Grants,
    /// PKCS#11 token objects that are not keys (public keys, certificates, data), by 16-byte id.
    Objects,
    /// AWS-style access keys of the KMS front, by access key id (`AKIA…`, ASCII): a record
    /// binding the id to a principal, its secret sealed. A store of an earlier release has none;
    /// the table is created empty when such a store is opened.
    AccessKeys,
}

impl Table {
    pub const ALL: [Self; 6] =
        [Self::Meta, Self::Keys, Self::Aliases, Self::Grants, Self::Objects, Self::AccessKeys];

    pub fn name(self) -> &'static str {
        match self {
            Self::Meta => "meta",
            Self::Keys => "keys",
            Self::Aliases => "aliases",
            Self::Grants => "grants",
            Self::Objects => "objects",
            Self::AccessKeys => "access_keys",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|table| table.name() == name)
    }
}

/// One stored record: its table, key and value.
pub type Row = (Table, Vec<u8>, Vec<u8>);

/// One write in a batch: `Some` puts, `None` deletes.
#[derive(Debug)]
pub struct Write {
    pub table: Table,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// A durable, transactional key-value backend.
pub trait StoreBackend: Send + Sync + 'static {
    /// Applies every write atomically; returns only once the transaction is durable (fsync).
    fn commit(&self, writes: Vec<Write>) -> Result<()>;

    /// Puts `value` at `key` unless one is there; returns whether it wrote. Durable on return.
    fn insert_new(&self, table: Table, key: &[u8], value: &[u8]) -> Result<bool>;

    /// Puts every entry in one transaction unless any of their keys is present; returns whether
    /// it wrote. Durable on return.
    fn insert_new_all(&self, table: Table, entries: &[(&[u8], &[u8])]) -> Result<bool>;

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Every record of a table, in key order.
    fn scan(&self, table: Table) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// Every record of every table, read in one transaction (a consistent backup).
    fn snapshot(&self) -> Result<Vec<Row>>;
}

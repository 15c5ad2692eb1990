//! Persistence. A [`StoreBackend`] is a durable, transactional map of opaque records in a few
//! tables; everything above it (sealing, record integrity) is backend-independent. Two backends:
//! the embedded redb file of one host, and a PostgreSQL database several nodes share, which also
//! reports what the other nodes changed ([`Changes`]) and which node runs the scheduled work.

mod access_keys;
mod administrators;
mod authenticated;
pub mod backup;
mod import_tokens;
pub mod migrate;
mod postgres;
mod postgres_tls;
mod records;
mod redb_backend;
mod seal;

pub use access_keys::{AccessKeyEntry, open_access_key, seal_access_key};
pub use administrators::{
    ADMINISTRATORS_RECORD_KEY, open_administrators, peek_administrators, seal_administrators,
};
pub use authenticated::{Opened, is_authenticated_form};
pub use import_tokens::{PendingImport, import_token_valid_to, open_import_token, seal_import_token};
pub use postgres::{OPERATION_DEADLINE, PostgresBackend, PostgresSettings};
pub use records::KeyRecordCodec;
pub use redb_backend::RedbBackend;
pub use seal::{
    MasterKey, SealConfig, SealMode, SealRecord, create_key_file, read_key_file, write_new_secret_file,
};

use crate::error::Result;

/// The meta record holding the audit log's anchored head (sequence number and hash). It belongs
/// to this host's log, so backups leave it out. A node of a shared store keeps its own head under
/// `audit_head/<node name>` ([`audit_head_record_key`]).
pub const AUDIT_HEAD_RECORD_KEY: &[u8] = b"audit_head";

/// The meta record of one node's audit head: the plain key for a single host (as every earlier
/// release wrote it), one key per named node of a shared store.
pub fn audit_head_record_key(node: Option<&str>) -> Vec<u8> {
    match node {
        None => AUDIT_HEAD_RECORD_KEY.to_vec(),
        Some(name) => [AUDIT_HEAD_RECORD_KEY, b"/", name.as_bytes()].concat(),
    }
}

/// Whether a meta record is some node's audit head.
pub fn is_audit_head_record(key: &[u8]) -> bool {
    key == AUDIT_HEAD_RECORD_KEY || key.starts_with(b"audit_head/")
}

/// Where the store is.
#[derive(Debug, Clone)]
pub enum StoreSettings {
    /// The embedded redb file in the data directory.
    Redb,
    /// The embedded redb file at another path (`arcad --store redb:PATH`).
    RedbAt(std::path::PathBuf),
    /// A PostgreSQL database that several nodes may share.
    Postgres(PostgresSettings),
}

/// The tables a backend provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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
    /// Outstanding import tokens (GetParametersForImport), by token: the wrapping key sealed,
    /// until used or expired. Created empty in a store of an earlier release.
    ImportTokens,
}

impl Table {
    pub const ALL: [Self; 7] = [
        Self::Meta,
        Self::Keys,
        Self::Aliases,
        Self::Grants,
        Self::Objects,
        Self::AccessKeys,
        Self::ImportTokens,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Meta => "meta",
            Self::Keys => "keys",
            Self::Aliases => "aliases",
            Self::Grants => "grants",
            Self::Objects => "objects",
            Self::AccessKeys => "access_keys",
            Self::ImportTokens => "import_tokens",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|table| table.name() == name)
    }
}

/// One stored record: its table, key and value.
pub type Row = (Table, Vec<u8>, Vec<u8>);

/// What a write requires of the record it replaces. A batch with one unmet requirement is not
/// applied at all (`Error::Conflict`): a change made from a stale read, on this node or another,
/// is refused rather than allowed to undo a newer one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Expect {
    #[default]
    Anything,
    Absent,
    /// Exactly these stored bytes (sealed records carry fresh nonces, so equal bytes mean the
    /// very record that was read).
    Stored(Vec<u8>),
}

impl Expect {
    /// Whether `current` (the stored value, if any) meets the requirement.
    pub fn is_met_by(&self, current: Option<&[u8]>) -> bool {
        match self {
            Self::Anything => true,
            Self::Absent => current.is_none(),
            Self::Stored(expected) => current == Some(expected.as_slice()),
        }
    }
}

/// One write in a batch: `Some` puts, `None` deletes.
#[derive(Debug)]
pub struct Write {
    pub table: Table,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
    pub expect: Expect,
}

impl Write {
    pub fn put(table: Table, key: impl Into<Vec<u8>>, value: Vec<u8>) -> Self {
        Self { table, key: key.into(), value: Some(value), expect: Expect::Anything }
    }

    pub fn delete(table: Table, key: impl Into<Vec<u8>>) -> Self {
        Self { table, key: key.into(), value: None, expect: Expect::Anything }
    }

    pub fn expecting(self, expect: Expect) -> Self {
        Self { expect, ..self }
    }
}

/// The conflict of a batch whose requirement was not met.
pub(crate) fn stale_write(table: Table, key: &[u8]) -> crate::error::Error {
    let what = match table {
        Table::Keys => "the key",
        Table::Aliases => "the alias",
        Table::Grants => "the grant",
        Table::Objects => "the token object",
        Table::AccessKeys => "the access key",
        Table::ImportTokens => "the import token",
        Table::Meta => std::str::from_utf8(key).unwrap_or("a store record"),
    };
    crate::error::Error::Conflict(format!("{what} changed during the request; retry it"))
}

/// What other nodes committed to a shared store since a given generation.
#[derive(Debug)]
pub struct Changes {
    /// The store's generation these changes bring a node up to.
    pub generation: u64,
    pub rows: ChangedRows,
}

/// A changed record: its table, key and value now (`None`: deleted).
pub type ChangedRow = (Table, Vec<u8>, Option<Vec<u8>>);

#[derive(Debug)]
pub enum ChangedRows {
    /// Each changed record with its value now (`None`: deleted), oldest change first.
    Listed(Vec<ChangedRow>),
    /// The changes since then were pruned: everything must be read again.
    Pruned,
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

    /// Whether other processes (nodes) write this store too. Such a store accepts only records
    /// authenticated under the master key (no alias or grant row of an earlier release).
    fn shared(&self) -> bool {
        false
    }

    /// For a store several nodes share: its generation and what the other nodes changed after
    /// `since`. `None` for a store only this process writes, whose caches are never stale.
    fn changes_since(&self, since: u64) -> Result<Option<Changes>> {
        let _ = since;
        Ok(None)
    }

    /// Whether this node runs the store's scheduled work (rotations, deletions that fall due)
    /// now: always for a store of one process; for a shared one, the node holding its lease.
    fn holds_schedule_lease(&self) -> Result<bool> {
        Ok(true)
    }

    /// Housekeeping of a shared store, run by the lease holder (old change records pruned).
    fn prune(&self) -> Result<()> {
        Ok(())
    }
}

//! The unsealed keys: an in-memory map over the store, written through before it changes.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use crate::error::{Error, Result};
use crate::keys::{Key, KeyId, KeyMetadata};
use crate::store::{KeyRecordCodec, StoreBackend, Table, Write};

/// What DescribeKey shows of a key.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub metadata: KeyMetadata,
    pub current_version: u32,
}

enum Entry {
    Usable(Arc<Key>),
    /// The stored record failed its integrity check; nothing of it is trusted.
    Unavailable,
}

pub(super) struct Keyring {
    backend: Arc<dyn StoreBackend>,
    codec: KeyRecordCodec,
    keys: RwLock<BTreeMap<KeyId, Entry>>,
}

impl Keyring {
    /// Loads every stored key; a record that fails its check makes only that key unavailable.
    pub(super) fn load(backend: Arc<dyn StoreBackend>, codec: KeyRecordCodec) -> Result<Self> {
        let mut keys = BTreeMap::new();
        for (raw_id, stored) in backend.scan(Table::Keys)? {
            let Ok(id_bytes) = <[u8; 16]>::try_from(raw_id.as_slice()) else {
                tracing::error!("the store holds a key record with a malformed id; skipped");
                continue;
            };
            let id = KeyId::from_bytes(id_bytes);
            let entry = match codec.decode(id, &stored) {
                Ok(key) => Entry::Usable(Arc::new(key)),
                Err(error) => {
                    tracing::error!(key_id = %id, %error, "key record failed its integrity check");
                    Entry::Unavailable
                }
            };
            keys.insert(id, entry);
        }
        Ok(Self { backend, codec, keys: RwLock::new(keys) })
    }

    pub(super) fn len(&self) -> Result<usize> {
        Ok(self.read()?.len())
    }

    pub(super) fn get(&self, id: KeyId) -> Result<Arc<Key>> {
        match self.read()?.get(&id) {
            Some(Entry::Usable(key)) => Ok(Arc::clone(key)),
            Some(Entry::Unavailable) => Err(Error::KeyIntegrity(id)),
            None => Err(Error::KeyNotFound(id.to_string())),
        }
    }

    /// Stores a new key durably, then makes it visible.
    pub(super) async fn insert(&self, key: Key) -> Result<Arc<Key>> {
        let id = key.metadata.id;
        let write =
            Write { table: Table::Keys, key: id.as_bytes().to_vec(), value: Some(self.codec.encode(&key)?) };
        let backend = Arc::clone(&self.backend);
        super::blocking(move || backend.commit(vec![write])).await?;
        let key = Arc::new(key);
        self.write()?.insert(id, Entry::Usable(Arc::clone(&key)));
        Ok(key)
    }

    /// Up to `limit` ids after `after`, in id order, and whether more follow.
    pub(super) fn list(&self, after: Option<KeyId>, limit: usize) -> Result<(Vec<KeyId>, bool)> {
        let keys = self.read()?;
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut ids = keys.range((start, Bound::Unbounded)).map(|(id, _)| *id);
        let page: Vec<KeyId> = ids.by_ref().take(limit).collect();
        Ok((page, ids.next().is_some()))
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, BTreeMap<KeyId, Entry>>> {
        self.keys.read().map_err(|_| super::poisoned())
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, BTreeMap<KeyId, Entry>>> {
        self.keys.write().map_err(|_| super::poisoned())
    }
}

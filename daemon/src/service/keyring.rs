//! The unsealed keys: an in-memory map over the store, written through before it changes.
//!
//! Every write names what it expects to replace ([`Expect`]): the exact stored record it read,
//! or nothing. The store refuses a write whose expectation another request (on this node or
//! another node of a shared store) has already broken, so a change made from a stale read is
//! refused with `Conflict`, never lost. Writes, and the application of other nodes' changes
//! ([`Keyring::refresh`]), hold one lock, so a record never goes back to an older value.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use super::grants::Grant;
use crate::error::{Error, Result};
use crate::keys::{Key, KeyId, KeyMetadata};
use crate::store::{Expect, KeyRecordCodec, Opened, StoreBackend, Table, Write};

/// What DescribeKey shows of a key.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub metadata: KeyMetadata,
    pub current_version: u32,
    /// Every retained version, oldest first.
    pub versions: Vec<u32>,
}

enum Entry {
    /// The key and the stored record it was opened from (what a change of it expects).
    Usable { key: Arc<Key>, stored: Arc<[u8]> },
    /// The stored record failed its integrity check; nothing of it is trusted.
    Unavailable,
}

/// An alias as held: its target and its stored row (what a change of it expects).
struct AliasEntry {
    target: KeyId,
    stored: Vec<u8>,
}

/// The lock that writes and the application of other nodes' changes hold (one per keystore).
pub(super) type WriteLock = Arc<tokio::sync::Mutex<()>>;

pub(super) struct Keyring {
    backend: Arc<dyn StoreBackend>,
    codec: KeyRecordCodec,
    keys: RwLock<BTreeMap<KeyId, Entry>>,
    aliases: RwLock<BTreeMap<String, AliasEntry>>,
    /// Grant id (hex) -> grant.
    grants: RwLock<BTreeMap<String, Grant>>,
    /// PKCS#11 token objects that are not keys, by id.
    objects: RwLock<BTreeMap<[u8; 16], Arc<StoredObject>>>,
    writes: WriteLock,
    /// Whether alias and grant rows of an earlier release (not authenticated) are taken: only
    /// from a store this process alone writes, which rewrites them at load.
    accepts_legacy: bool,
    /// Those rows, authenticated, to be written back once the load is done.
    legacy_rewrites: std::sync::Mutex<Vec<Write>>,
}

/// The attributes of a token object that is not a key (CKA_* type -> canonical value).
pub(super) type StoredObject = BTreeMap<u64, Vec<u8>>;

impl Keyring {
    /// Loads every stored key; a record that fails its check makes only that key unavailable.
    pub(super) fn load(
        backend: Arc<dyn StoreBackend>,
        codec: KeyRecordCodec,
        writes: WriteLock,
    ) -> Result<Self> {
        let keyring = Self {
            backend: Arc::clone(&backend),
            codec,
            keys: RwLock::new(BTreeMap::new()),
            aliases: RwLock::new(BTreeMap::new()),
            grants: RwLock::new(BTreeMap::new()),
            objects: RwLock::new(BTreeMap::new()),
            writes,
            accepts_legacy: !backend.shared(),
            legacy_rewrites: std::sync::Mutex::new(Vec::new()),
        };
        for table in [Table::Keys, Table::Aliases, Table::Grants, Table::Objects] {
            for (key, value) in backend.scan(table)? {
                keyring.refresh(table, &key, Some(&value))?;
            }
        }
        keyring.rewrite_legacy_rows()?;
        Ok(keyring)
    }

    /// Writes back, authenticated, the alias and grant rows an earlier release stored bare.
    fn rewrite_legacy_rows(&self) -> Result<()> {
        let writes =
            std::mem::take(&mut *self.legacy_rewrites.lock().map_err(|_| super::threads::poisoned())?);
        if writes.is_empty() {
            return Ok(());
        }
        let count = writes.len();
        self.backend.commit(writes)?;
        tracing::info!(count, "alias and grant records of an earlier release rewritten authenticated");
        Ok(())
    }

    /// Takes a row of an earlier release as `stored` if this store accepts such rows, keeping its
    /// authenticated form to write back; refuses it otherwise.
    fn take_legacy(&self, table: Table, key: &[u8], old: &[u8], stored: Vec<u8>) -> Result<bool> {
        if !self.accepts_legacy {
            tracing::error!(table = table.name(), "a shared store holds an unauthenticated record; refused");
            return Ok(false);
        }
        let write = Write::put(table, key.to_vec(), stored).expecting(Expect::Stored(old.to_vec()));
        self.legacy_rewrites.lock().map_err(|_| super::threads::poisoned())?.push(write);
        Ok(true)
    }

    /// Takes in a record as it now stands in the store (`None`: deleted). Other tables are not
    /// the keyring's and are ignored. The caller holds the write lock.
    pub(super) fn refresh(&self, table: Table, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        match table {
            Table::Keys => self.refresh_key(key, value),
            Table::Aliases => self.refresh_alias(key, value),
            Table::Grants => self.refresh_grant(key, value),
            Table::Objects => self.refresh_object(key, value),
            Table::Meta | Table::AccessKeys | Table::ImportTokens => Ok(()),
        }
    }

    fn refresh_key(&self, raw_id: &[u8], stored: Option<&[u8]>) -> Result<()> {
        let Ok(id_bytes) = <[u8; 16]>::try_from(raw_id) else {
            tracing::error!("the store holds a key record with a malformed id; skipped");
            return Ok(());
        };
        let id = KeyId::from_bytes(id_bytes);
        let Some(stored) = stored else {
            self.write()?.remove(&id);
            return Ok(());
        };
        // The record this node holds already (its own write coming back): the live `Arc` stays,
        // so a change a request is making from it is not refused for nothing.
        if matches!(self.read()?.get(&id), Some(Entry::Usable { stored: held, .. }) if held.as_ref() == stored)
        {
            return Ok(());
        }
        let entry = match self.codec.decode(id, stored) {
            Ok(key) => Entry::Usable { key: Arc::new(key), stored: Arc::from(stored) },
            Err(error) => {
                tracing::error!(key_id = %id, %error, "key record failed its integrity check");
                Entry::Unavailable
            }
        };
        self.write()?.insert(id, entry);
        Ok(())
    }

    fn refresh_alias(&self, name: &[u8], stored: Option<&[u8]>) -> Result<()> {
        let Ok(name) = String::from_utf8(name.to_vec()) else {
            tracing::error!("the store holds a malformed alias record; skipped");
            return Ok(());
        };
        let Some(stored) = stored else {
            self.aliases.write().map_err(|_| super::threads::poisoned())?.remove(&name);
            return Ok(());
        };
        if self.alias_row(&name)?.is_some_and(|held| held == stored) {
            return Ok(());
        }
        let entry = match self.codec.decode_alias(&name, stored) {
            Ok(Opened::Authenticated(target)) => AliasEntry { target, stored: stored.to_vec() },
            Ok(Opened::Legacy(target)) => {
                let authenticated = self.codec.encode_alias(&name, target)?;
                if !self.take_legacy(Table::Aliases, name.as_bytes(), stored, authenticated.clone())? {
                    return Ok(());
                }
                AliasEntry { target, stored: authenticated }
            }
            Err(error) => {
                tracing::error!(alias = %crate::error::Echo(&name), %error, "alias refused");
                self.aliases.write().map_err(|_| super::threads::poisoned())?.remove(&name);
                return Ok(());
            }
        };
        self.aliases.write().map_err(|_| super::threads::poisoned())?.insert(name, entry);
        Ok(())
    }

    fn refresh_grant(&self, raw_id: &[u8], stored: Option<&[u8]>) -> Result<()> {
        let grant_id: String = raw_id.iter().map(|b| format!("{b:02x}")).collect();
        let body = match stored.map(|stored| (stored, self.codec.decode_grant(raw_id, stored))) {
            None => None,
            Some((_, Ok(Opened::Authenticated(body)))) => Some(body),
            Some((old, Ok(Opened::Legacy(body)))) => {
                let authenticated = self.codec.encode_grant(raw_id, &body)?;
                self.take_legacy(Table::Grants, raw_id, old, authenticated)?.then_some(body)
            }
            Some((_, Err(error))) => {
                tracing::error!(grant_id, %error, "grant refused");
                None
            }
        };
        let mut grants = self.grants.write().map_err(|_| super::threads::poisoned())?;
        match body.map(|body| <Grant as prost::Message>::decode(body.as_slice())) {
            None => drop(grants.remove(&grant_id)),
            Some(Ok(grant)) if grant.id == raw_id => drop(grants.insert(grant_id, grant)),
            Some(_) => {
                tracing::error!(grant_id, "the store holds a malformed grant record; skipped");
                grants.remove(&grant_id);
            }
        }
        Ok(())
    }

    fn refresh_object(&self, raw_id: &[u8], record: Option<&[u8]>) -> Result<()> {
        let Ok(id) = <[u8; 16]>::try_from(raw_id) else { return Ok(()) };
        let mut objects = self.objects.write().map_err(|_| super::threads::poisoned())?;
        let Some(record) = record else {
            objects.remove(&id);
            return Ok(());
        };
        match self.codec.decode_object(&id, record) {
            Ok(attributes) => drop(objects.insert(id, Arc::new(attributes))),
            Err(error) => tracing::error!(%error, "token object skipped"),
        }
        Ok(())
    }

    /// The keyring read again from the store.
    pub(super) fn reloaded(&self) -> Result<Self> {
        Self::load(Arc::clone(&self.backend), self.codec.clone(), Arc::clone(&self.writes))
    }

    /// Commits a batch on the blocking pool.
    async fn commit(&self, writes: Vec<Write>) -> Result<()> {
        let backend = Arc::clone(&self.backend);
        super::threads::blocking(move || backend.commit(writes)).await
    }

    pub(super) fn object(&self, id: &[u8; 16]) -> Result<Option<Arc<StoredObject>>> {
        Ok(self.objects.read().map_err(|_| super::threads::poisoned())?.get(id).cloned())
    }

    pub(super) fn objects(&self) -> Result<Vec<([u8; 16], Arc<StoredObject>)>> {
        Ok(self
            .objects
            .read()
            .map_err(|_| super::threads::poisoned())?
            .iter()
            .map(|(k, v)| (*k, Arc::clone(v)))
            .collect())
    }

    /// Stores a token object durably, then makes it visible.
    pub(super) async fn put_object(&self, id: [u8; 16], attributes: StoredObject) -> Result<()> {
        let _writes = self.writes.lock().await;
        self.commit(vec![Write::put(
            Table::Objects,
            id.to_vec(),
            self.codec.encode_object(&id, &attributes)?,
        )])
        .await?;
        self.objects.write().map_err(|_| super::threads::poisoned())?.insert(id, Arc::new(attributes));
        Ok(())
    }

    pub(super) async fn delete_object(&self, id: [u8; 16]) -> Result<()> {
        let _writes = self.writes.lock().await;
        self.commit(vec![Write::delete(Table::Objects, id.to_vec())]).await?;
        self.objects.write().map_err(|_| super::threads::poisoned())?.remove(&id);
        Ok(())
    }

    /// The unsealed master key (for records sealed outside the keyring, such as access keys).
    pub(super) fn master_key(&self) -> Arc<crate::store::MasterKey> {
        Arc::clone(self.codec.master_key())
    }

    pub(super) fn len(&self) -> Result<usize> {
        Ok(self.read()?.len())
    }

    pub(super) fn get(&self, id: KeyId) -> Result<Arc<Key>> {
        match self.read()?.get(&id) {
            Some(Entry::Usable { key, .. }) => Ok(Arc::clone(key)),
            Some(Entry::Unavailable) => Err(Error::KeyIntegrity(id)),
            None => Err(Error::KeyNotFound(id.to_string())),
        }
    }

    /// Stores a new key durably; then makes it visible.
    pub(super) async fn insert(&self, key: Key) -> Result<Arc<Key>> {
        let _writes = self.writes.lock().await;
        self.store(key, Expect::Absent).await
    }

    /// Stores `key` in place of `current`, the version the caller read. If another request
    /// changed or destroyed the key since, nothing is written (`Conflict`): two read-modify-write
    /// requests (DisableKey and a PKCS#11 attribute change, say) never undo each other.
    pub(super) async fn replace(&self, current: &Key, key: Key) -> Result<Arc<Key>> {
        let _writes = self.writes.lock().await;
        let stored = self.stored_record_of(current)?;
        self.store(key, Expect::Stored(stored.to_vec())).await
    }

    /// The stored record `current` was opened from, if it is still the live one.
    fn stored_record_of(&self, current: &Key) -> Result<Arc<[u8]>> {
        let id = current.metadata.id;
        match self.read()?.get(&id) {
            Some(Entry::Usable { key, stored }) if std::ptr::eq(key.as_ref(), current) => {
                Ok(Arc::clone(stored))
            }
            _ => Err(Error::Conflict(format!("key {id} changed during the request; retry it"))),
        }
    }

    async fn store(&self, key: Key, expect: Expect) -> Result<Arc<Key>> {
        let id = key.metadata.id;
        let stored: Arc<[u8]> = Arc::from(self.codec.encode(&key)?);
        self.commit(vec![Write::put(Table::Keys, id.as_bytes().to_vec(), stored.to_vec()).expecting(expect)])
            .await?;
        let key = Arc::new(key);
        self.write()?.insert(id, Entry::Usable { key: Arc::clone(&key), stored });
        Ok(key)
    }

    pub(super) fn alias(&self, name: &str) -> Result<Option<KeyId>> {
        Ok(self.aliases.read().map_err(|_| super::threads::poisoned())?.get(name).map(|entry| entry.target))
    }

    /// The stored row of alias `name`, if there is one.
    fn alias_row(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .aliases
            .read()
            .map_err(|_| super::threads::poisoned())?
            .get(name)
            .map(|entry| entry.stored.clone()))
    }

    /// Points `name` at `target` durably. `create` refuses an existing name, otherwise a missing one.
    pub(super) async fn put_alias(&self, name: &str, target: KeyId, create: bool) -> Result<()> {
        let _writes = self.writes.lock().await;
        let expect = match (create, self.alias_row(name)?) {
            (true, Some(_)) => return Err(Error::AlreadyExists(format!("alias {name}"))),
            (false, None) => return Err(Error::KeyNotFound(name.to_owned())),
            (true, None) => Expect::Absent,
            (false, Some(old)) => Expect::Stored(old),
        };
        let stored = self.codec.encode_alias(name, target)?;
        let write = Write::put(Table::Aliases, name.as_bytes().to_vec(), stored.clone());
        match self.commit(vec![write.expecting(expect)]).await {
            // Another node created the name first: as if it had been there all along.
            Err(Error::Conflict(_)) if create => return Err(Error::AlreadyExists(format!("alias {name}"))),
            outcome => outcome?,
        }
        let entry = AliasEntry { target, stored };
        self.aliases.write().map_err(|_| super::threads::poisoned())?.insert(name.to_owned(), entry);
        Ok(())
    }

    pub(super) async fn delete_alias(&self, name: &str) -> Result<()> {
        let _writes = self.writes.lock().await;
        let Some(old) = self.alias_row(name)? else { return Err(Error::KeyNotFound(name.to_owned())) };
        let write = Write::delete(Table::Aliases, name.as_bytes().to_vec());
        self.commit(vec![write.expecting(Expect::Stored(old))]).await?;
        self.aliases.write().map_err(|_| super::threads::poisoned())?.remove(name);
        Ok(())
    }

    /// Aliases in name order after `after`, optionally only those of one key, and whether more follow.
    pub(super) fn list_aliases(
        &self,
        target: Option<KeyId>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<super::keys::Alias>, bool)> {
        let aliases = self.aliases.read().map_err(|_| super::threads::poisoned())?;
        let start = after.map_or(Bound::Unbounded, |name| Bound::Excluded(name.to_owned()));
        let mut matching = aliases
            .range((start, Bound::Unbounded))
            .filter(|(_, entry)| target.is_none_or(|t| t == entry.target))
            .map(|(name, entry)| (name.clone(), entry.target));
        let page: Vec<_> = matching.by_ref().take(limit).collect();
        Ok((page, matching.next().is_some()))
    }

    /// Every usable key.
    pub(super) fn all(&self) -> Result<Vec<Arc<Key>>> {
        Ok(self
            .read()?
            .values()
            .filter_map(|entry| match entry {
                Entry::Usable { key, .. } => Some(Arc::clone(key)),
                Entry::Unavailable => None,
            })
            .collect())
    }

    pub(super) async fn put_grant(&self, grant: Grant) -> Result<()> {
        let _writes = self.writes.lock().await;
        let stored = self.codec.encode_grant(&grant.id, &prost::Message::encode_to_vec(&grant))?;
        let write = Write::put(Table::Grants, grant.id.clone(), stored);
        self.commit(vec![write.expecting(Expect::Absent)]).await?;
        self.grants.write().map_err(|_| super::threads::poisoned())?.insert(grant.grant_id(), grant);
        Ok(())
    }

    pub(super) fn grant(&self, grant_id: &str) -> Result<Grant> {
        self.grants
            .read()
            .map_err(|_| super::threads::poisoned())?
            .get(grant_id)
            .cloned()
            .ok_or_else(|| Error::KeyNotFound(format!("grant {grant_id}")))
    }

    pub(super) fn grants(&self, keep: impl Fn(&Grant) -> bool) -> Result<Vec<Grant>> {
        Ok(self
            .grants
            .read()
            .map_err(|_| super::threads::poisoned())?
            .values()
            .filter(|g| keep(g))
            .cloned()
            .collect())
    }

    pub(super) fn any_grant(&self, allows: impl Fn(&Grant) -> bool) -> Result<bool> {
        Ok(self.grants.read().map_err(|_| super::threads::poisoned())?.values().any(allows))
    }

    pub(super) async fn delete_grant(&self, grant: &Grant) -> Result<()> {
        let _writes = self.writes.lock().await;
        self.commit(vec![Write::delete(Table::Grants, grant.id.clone())]).await?;
        self.grants.write().map_err(|_| super::threads::poisoned())?.remove(&grant.grant_id());
        Ok(())
    }

    /// Deletes a key and the aliases and grants that name it in one transaction, provided the key
    /// is still the record this node holds (a deletion cancelled on another node is not undone).
    /// Its material is zeroized when the last call still using it finishes.
    pub(super) async fn destroy(&self, id: KeyId) -> Result<()> {
        let _writes = self.writes.lock().await;
        let expect = match self.read()?.get(&id) {
            Some(Entry::Usable { stored, .. }) => Expect::Stored(stored.to_vec()),
            Some(Entry::Unavailable) | None => Expect::Anything,
        };
        let mut writes = vec![Write::delete(Table::Keys, id.as_bytes().to_vec()).expecting(expect)];
        let names: Vec<String> = {
            let aliases = self.aliases.read().map_err(|_| super::threads::poisoned())?;
            aliases.iter().filter(|(_, entry)| entry.target == id).map(|(name, _)| name.clone()).collect()
        };
        // Each alias as this node holds it: one another node has just pointed elsewhere stays.
        let rows: Vec<(String, Vec<u8>)> = {
            let aliases = self.aliases.read().map_err(|_| super::threads::poisoned())?;
            names
                .iter()
                .filter_map(|name| aliases.get(name).map(|entry| (name.clone(), entry.stored.clone())))
                .collect()
        };
        writes.extend(rows.into_iter().map(|(name, stored)| {
            Write::delete(Table::Aliases, name.into_bytes()).expecting(Expect::Stored(stored))
        }));
        let grants = self.grants(|grant| grant.key_id == id.as_bytes())?;
        writes.extend(grants.iter().map(|grant| Write::delete(Table::Grants, grant.id.clone())));
        self.commit(writes).await?;
        self.write()?.remove(&id);
        let mut aliases = self.aliases.write().map_err(|_| super::threads::poisoned())?;
        for name in names {
            aliases.remove(&name);
        }
        let mut live_grants = self.grants.write().map_err(|_| super::threads::poisoned())?;
        for grant in grants {
            live_grants.remove(&grant.grant_id());
        }
        Ok(())
    }

    /// Up to `limit` ids of keys that `keep` (given the metadata, `None` for an unavailable key)
    /// after `after`, in id order, and whether more such follow.
    pub(super) fn list(
        &self,
        after: Option<KeyId>,
        limit: usize,
        keep: impl Fn(Option<&KeyMetadata>) -> bool,
    ) -> Result<(Vec<KeyId>, bool)> {
        let keys = self.read()?;
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut ids = keys
            .range((start, Bound::Unbounded))
            .filter(|(_, entry)| match entry {
                Entry::Usable { key, .. } => keep(Some(&key.metadata)),
                Entry::Unavailable => keep(None),
            })
            .map(|(id, _)| *id);
        let page: Vec<KeyId> = ids.by_ref().take(limit).collect();
        Ok((page, ids.next().is_some()))
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, BTreeMap<KeyId, Entry>>> {
        self.keys.read().map_err(|_| super::threads::poisoned())
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, BTreeMap<KeyId, Entry>>> {
        self.keys.write().map_err(|_| super::threads::poisoned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyOrigin, KeySpec, KeyState, KeyUsage, KeyVersion};
    use crate::secure_mem::SecretBuf;
    use crate::store::{MasterKey, RedbBackend};

    fn keyring(dir: &std::path::Path) -> Keyring {
        let backend = Arc::new(RedbBackend::open(&dir.join("arca.redb")).unwrap());
        Keyring::load(backend, KeyRecordCodec::new(Arc::new(MasterKey::random())), WriteLock::default())
            .unwrap()
    }

    fn key() -> Key {
        let metadata = KeyMetadata {
            id: KeyId::generate(),
            description: "raced".into(),
            spec: KeySpec::Aes256,
            usage: KeyUsage::EncryptDecrypt,
            origin: KeyOrigin::Arca,
            state: KeyState::Enabled,
            created_at: 0,
            tags: BTreeMap::new(),
            rotation: None,
            policy: crate::policy::Policy::default_for("uid:0", &[]),
            imported: None,
            token: Default::default(),
        };
        let version = KeyVersion::new(KeySpec::Aes256, 1, 0, SecretBuf::random(32).unwrap()).unwrap();
        Key { metadata, versions: vec![version] }
    }

    #[tokio::test]
    async fn a_change_made_from_a_stale_read_is_refused_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = keyring(dir.path());
        let id = keyring.insert(key()).await.unwrap().metadata.id;
        let first_read = keyring.get(id).unwrap();
        let second_read = keyring.get(id).unwrap();
        let disabled = keyring.replace(&first_read, first_read.with_state(KeyState::Disabled).unwrap()).await;
        assert_eq!(disabled.unwrap().metadata.state, KeyState::Disabled);
        // The second request read the key before the first wrote: its change would re-enable it.
        let relabelled = KeyMetadata { description: "renamed".into(), ..second_read.metadata.clone() };
        let stale = keyring.replace(&second_read, second_read.with_metadata(relabelled).unwrap()).await;
        assert!(matches!(stale, Err(Error::Conflict(_))), "{stale:?}");
        assert_eq!(keyring.get(id).unwrap().metadata.state, KeyState::Disabled);
        // A destroyed key is not brought back by a write from before its destruction.
        let before = keyring.get(id).unwrap();
        keyring.destroy(id).await.unwrap();
        let revived = keyring.replace(&before, before.with_state(KeyState::Enabled).unwrap()).await;
        assert!(matches!(revived, Err(Error::Conflict(_))), "{revived:?}");
        assert!(matches!(keyring.get(id), Err(Error::KeyNotFound(_))));
        let reopened =
            Keyring::load(Arc::clone(&keyring.backend), keyring.codec.clone(), WriteLock::default()).unwrap();
        assert!(matches!(reopened.get(id), Err(Error::KeyNotFound(_))), "nothing was written");
    }
}

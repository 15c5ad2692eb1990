//! The keystore: what every service of the daemon shares. The store and its seal, the unsealed
//! keyring, the audit log, quotas, the disk reserve, the clock and the administrators; and, in
//! `access.rs` and `authz.rs`, key access (resolve, authorise, check state and usage).

use std::sync::{Arc, Mutex, RwLock};

use super::Call;
use super::coherence::Coherence;
use super::keyring::{Keyring, WriteLock};
use super::{administrators, audit_anchor, clock, threads};
use crate::audit::AuditLog;
use crate::disk::{DEFAULT_MIN_FREE_DISK_BYTES, DiskReserve};
use crate::error::{Error, Result};
use crate::operation::Operation;
use crate::quota::{QuotaConfig, Quotas};
use crate::secure_mem::SecretBuf;
use crate::store::{
    ADMINISTRATORS_RECORD_KEY, KeyRecordCodec, MasterKey, SealConfig, SealMode, SealRecord, StoreBackend,
    Table,
};

const SEAL_RECORD_KEY: &[u8] = b"seal";

/// Takes in a store-wide record a service caches, as another node changed it (`None`: deleted).
pub(super) type MetaFollower = Box<dyn Fn(Option<&[u8]>) -> Result<()> + Send + Sync>;

/// What `Status` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    pub initialized: bool,
    pub sealed: bool,
    pub key_count: u64,
    pub seal_mode: SealMode,
}

enum SealState {
    Uninitialized,
    Sealed(SealRecord),
    Unsealed(Arc<Keyring>),
}

/// Tunables of the service.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// How long CreateKey and GenerateDataKeyPair wait for key generation.
    pub key_generation_timeout: std::time::Duration,
    /// Lets Admin.AdvanceClock move time forward (tests only).
    pub test_clock: bool,
    /// Seconds the test clock starts ahead of the system clock.
    pub test_clock_offset: i64,
    pub quotas: QuotaConfig,
    /// New work is refused while the data directory's filesystem has less free; 0 turns it off.
    pub min_free_disk_bytes: u64,
    /// Principals of the crypto-officer role from the configuration (`uid:N`, `cert:SUBJECT`);
    /// those named at initialisation are added (see [`Keystore::administrators`]).
    pub administrators: Vec<String>,
    /// This node's name in a store several nodes share: its audit log's head is anchored under
    /// it. `None` on a single host.
    pub node_name: Option<String>,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        Self {
            key_generation_timeout: std::time::Duration::from_secs(30),
            test_clock: false,
            test_clock_offset: 0,
            quotas: QuotaConfig::default(),
            min_free_disk_bytes: DEFAULT_MIN_FREE_DISK_BYTES,
            administrators: default_administrators(),
            node_name: None,
        }
    }
}

/// root, and the user the daemon runs as.
pub fn default_administrators() -> Vec<String> {
    let mut administrators = vec!["uid:0".to_owned()];
    let me = crate::secure_mem::effective_uid();
    if me != 0 {
        administrators.push(format!("uid:{me}"));
    }
    administrators
}

/// What every service shares: the store, its seal, the keyring and the request guards.
pub struct Keystore {
    pub(super) backend: Arc<dyn StoreBackend>,
    audit: Arc<AuditLog>,
    quotas: Quotas,
    disk_reserve: DiskReserve,
    pub(super) clock: clock::Clock,
    seal_config: SealConfig,
    pub(super) options: ServiceOptions,
    /// The administrators named at initialisation (read unchecked while sealed, checked by unseal).
    pub(super) stored_administrators: RwLock<Vec<String>>,
    state: RwLock<SealState>,
    /// Held by every write and by the application of other nodes' changes.
    pub(super) writes: WriteLock,
    pub(super) coherence: Coherence,
    /// Store-wide records other services cache (the token record), by record key.
    meta_followers: Mutex<Vec<(Vec<u8>, MetaFollower)>>,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystore").field("seal_mode", &self.seal_config.mode).finish_non_exhaustive()
    }
}

impl Keystore {
    /// Opens the service over a store. With a key file the store is initialised if new and
    /// unsealed at once; with a passphrase it waits for Initialize or Unseal.
    pub async fn open(
        backend: Arc<dyn StoreBackend>,
        audit: Arc<AuditLog>,
        seal_config: SealConfig,
        options: ServiceOptions,
    ) -> Result<Self> {
        // The generation first: whatever is read below is at least this new.
        let generation = backend.changes_since(u64::MAX)?.map(|changes| changes.generation);
        let record = match backend.get(Table::Meta, SEAL_RECORD_KEY)? {
            Some(bytes) => Some(
                <SealRecord as prost::Message>::decode(bytes.as_slice())
                    .map_err(|e| Error::Integrity(format!("the seal record is unreadable: {e}")))?,
            ),
            None => None,
        };
        let state = match record {
            Some(record) => SealState::Sealed(record),
            None => SealState::Uninitialized,
        };
        let stored_administrators = match backend.get(Table::Meta, ADMINISTRATORS_RECORD_KEY)? {
            Some(bytes) => crate::store::peek_administrators(&bytes)?,
            None => Vec::new(),
        };
        // Before any call is served, so a log cut short is refused rather than continued.
        let anchor_key = crate::store::audit_head_record_key(options.node_name.as_deref());
        audit.attach_anchor(Box::new(audit_anchor::StoreAnchor {
            backend: Arc::clone(&backend),
            key: anchor_key,
        }))?;
        let clock = clock::Clock::new(options.test_clock, options.test_clock_offset);
        let quotas = Quotas::new(options.quotas);
        let disk_reserve = DiskReserve::new(audit.directory(), options.min_free_disk_bytes);
        let service = Self {
            backend,
            audit,
            quotas,
            disk_reserve,
            clock,
            seal_config,
            options,
            stored_administrators: RwLock::new(stored_administrators),
            state: RwLock::new(state),
            writes: WriteLock::default(),
            coherence: Coherence::new(generation),
            meta_followers: Mutex::new(Vec::new()),
        };
        if matches!(service.seal_config.mode, SealMode::KeyFile(_)) {
            service.open_with_key_file().await?;
        }
        Ok(service)
    }

    /// A key-file store is initialised if new, then unsealed. Of nodes sharing a new store and
    /// starting together, one initialises it; the others unseal what it stored.
    async fn open_with_key_file(&self) -> Result<()> {
        if !self.status()?.initialized {
            match self.initialize_store(None, Vec::new()).await {
                Err(Error::AlreadyInitialized) => {
                    let stored = self.backend.get(Table::Meta, SEAL_RECORD_KEY)?;
                    self.refresh_meta(SEAL_RECORD_KEY, stored.as_deref())?;
                }
                outcome => return outcome,
            }
        }
        self.unseal_store(None).await
    }

    /// Registers a service's cache of the store-wide record `key`, kept current across nodes.
    pub(super) fn follow_meta(&self, key: &[u8], follower: MetaFollower) -> Result<()> {
        self.meta_followers.lock().map_err(|_| threads::poisoned())?.push((key.to_vec(), follower));
        Ok(())
    }

    /// Takes in a store-wide record as it now stands (another node changed it).
    pub(super) fn refresh_meta(&self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        if key == SEAL_RECORD_KEY {
            return self.refresh_seal(value);
        }
        if key == ADMINISTRATORS_RECORD_KEY {
            return self.refresh_administrators(value);
        }
        for (followed, follower) in self.meta_followers.lock().map_err(|_| threads::poisoned())?.iter() {
            if followed == key {
                follower(value)?;
            }
        }
        Ok(())
    }

    /// Another node initialised the store: this one is now sealed, waiting for its Unseal.
    fn refresh_seal(&self, value: Option<&[u8]>) -> Result<()> {
        let Some(bytes) = value else { return Ok(()) };
        let record = <SealRecord as prost::Message>::decode(bytes)
            .map_err(|e| Error::Integrity(format!("the seal record is unreadable: {e}")))?;
        let mut state = self.state.write().map_err(|_| threads::poisoned())?;
        if !matches!(*state, SealState::Unsealed(_)) {
            *state = SealState::Sealed(record);
        }
        Ok(())
    }

    /// The administrators record changed: checked under the master key when unsealed. One that
    /// fails its check names no administrator (the configured ones remain).
    fn refresh_administrators(&self, value: Option<&[u8]>) -> Result<()> {
        let stored = match (value, self.keyring()) {
            (None, _) => Ok(Vec::new()),
            (Some(bytes), Ok(keyring)) => crate::store::open_administrators(&keyring.master_key(), bytes),
            (Some(bytes), Err(_)) => crate::store::peek_administrators(bytes),
        };
        let stored = stored.unwrap_or_else(|error| {
            tracing::error!(%error, "the stored administrators record failed its check; ignored");
            Vec::new()
        });
        self.set_stored_administrators(stored)
    }

    /// Reads every cached record again (the changes since this node last looked were pruned).
    pub(super) fn reload_everything(&self) -> Result<()> {
        let mut keys = vec![SEAL_RECORD_KEY.to_vec(), ADMINISTRATORS_RECORD_KEY.to_vec()];
        let followed = self.meta_followers.lock().map_err(|_| threads::poisoned())?;
        keys.extend(followed.iter().map(|(key, _)| key.clone()));
        drop(followed);
        for key in keys {
            let value = self.backend.get(Table::Meta, &key)?;
            self.refresh_meta(&key, value.as_deref())?;
        }
        if let Ok(keyring) = self.keyring() {
            let fresh = Arc::new(keyring.reloaded()?);
            *self.state.write().map_err(|_| threads::poisoned())? = SealState::Unsealed(fresh);
        }
        tracing::info!("every cached record read again from the shared store");
        Ok(())
    }

    /// Holds the write lock (for writes of records a service caches outside the keyring).
    pub(super) async fn lock_writes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writes.lock().await
    }

    pub fn status(&self) -> Result<ServiceStatus> {
        let state = self.state.read().map_err(|_| threads::poisoned())?;
        let (initialized, sealed, key_count) = match &*state {
            SealState::Uninitialized => (false, true, 0),
            SealState::Sealed(_) => (true, true, self.backend.scan(Table::Keys)?.len() as u64),
            SealState::Unsealed(keyring) => (true, false, keyring.len()? as u64),
        };
        Ok(ServiceStatus { initialized, sealed, key_count, seal_mode: self.seal_config.mode.clone() })
    }

    /// Creates and stores the master key of a new store, then unseals it. The `requested`
    /// administrators (default: the caller) are stored in the same transaction and administer the
    /// store from then on, beside the configured ones. A store that exists is left untouched.
    pub async fn initialize(
        &self,
        call: &Call,
        passphrase: Option<String>,
        requested: &[String],
    ) -> Result<()> {
        self.require_administrator(call, Operation::Initialize)?;
        if !matches!(*self.state.read().map_err(|_| threads::poisoned())?, SealState::Uninitialized) {
            return Err(Error::AlreadyInitialized);
        }
        let administrators = administrators::initial_administrators(call, requested)?;
        self.initialize_store(passphrase, administrators).await
    }

    /// Initialize's work, also done by the daemon itself for a new key-file store.
    async fn initialize_store(&self, passphrase: Option<String>, administrators: Vec<String>) -> Result<()> {
        if !matches!(*self.state.read().map_err(|_| threads::poisoned())?, SealState::Uninitialized) {
            return Err(Error::AlreadyInitialized);
        }
        let stored = administrators.clone();
        let config = self.seal_config.clone();
        let backend = Arc::clone(&self.backend);
        let master = threads::blocking(move || {
            let (record, master) = SealRecord::create(&config, passphrase.as_deref())?;
            let seal = prost::Message::encode_to_vec(&record);
            let admins = if stored.is_empty() {
                None
            } else {
                Some(crate::store::seal_administrators(&master, &stored)?)
            };
            let mut entries: Vec<(&[u8], &[u8])> = vec![(SEAL_RECORD_KEY, &seal)];
            if let Some(admins) = &admins {
                entries.push((ADMINISTRATORS_RECORD_KEY, admins));
            }
            if !backend.insert_new_all(Table::Meta, &entries)? {
                return Err(Error::AlreadyInitialized);
            }
            Ok(master)
        })
        .await?;
        self.set_stored_administrators(administrators)?;
        // Under the write lock: another node's change cannot be skipped by a look while sealed
        // and missed by the load.
        let _writes = self.writes.lock().await;
        let keyring = self.load_keyring(master)?;
        *self.state.write().map_err(|_| threads::poisoned())? = SealState::Unsealed(Arc::new(keyring));
        tracing::info!("store initialized and unsealed");
        Ok(())
    }

    /// Unseals the master key and loads every key. A wrong passphrase changes nothing.
    pub async fn unseal(&self, call: &Call, passphrase: Option<String>) -> Result<()> {
        self.require_administrator(call, Operation::Unseal)?;
        self.unseal_store(passphrase).await
    }

    /// Unseal's work, also done by the daemon itself for a key-file store.
    async fn unseal_store(&self, passphrase: Option<String>) -> Result<()> {
        let record = match &*self.state.read().map_err(|_| threads::poisoned())? {
            SealState::Uninitialized => return Err(Error::NotInitialized),
            SealState::Unsealed(_) => None,
            SealState::Sealed(record) => Some(record.clone()),
        };
        let Some(record) = record else { return self.check_passphrase(passphrase).await };
        let mode = self.seal_config.mode.clone();
        let master = threads::blocking(move || record.unseal(&mode, passphrase.as_deref())).await?;
        self.check_stored_administrators(&master)?;
        // Under the write lock: another node's change cannot be skipped by a look while sealed
        // and missed by the load.
        let _writes = self.writes.lock().await;
        let keyring = self.load_keyring(master)?;
        let mut state = self.state.write().map_err(|_| threads::poisoned())?;
        if matches!(*state, SealState::Sealed(_)) {
            *state = SealState::Unsealed(Arc::new(keyring));
            tracing::info!("store unsealed");
        }
        Ok(())
    }

    /// Unseal on an unsealed store: nothing to do, but the passphrase is still checked against
    /// the stored seal, so a wrong one is refused as when sealed rather than acknowledged.
    async fn check_passphrase(&self, passphrase: Option<String>) -> Result<()> {
        let bytes = self
            .backend
            .get(Table::Meta, SEAL_RECORD_KEY)?
            .ok_or_else(|| Error::Integrity("the seal record of an unsealed store is missing".into()))?;
        let record = <SealRecord as prost::Message>::decode(bytes.as_slice())
            .map_err(|e| Error::Integrity(format!("the seal record is unreadable: {e}")))?;
        let mode = self.seal_config.mode.clone();
        threads::blocking(move || record.unseal(&mode, passphrase.as_deref()).map(drop)).await
    }

    /// Checks the administrators record under the master key: one that was edited while sealed
    /// fails the unseal rather than grant anything.
    fn check_stored_administrators(&self, master: &MasterKey) -> Result<()> {
        let stored = match self.backend.get(Table::Meta, ADMINISTRATORS_RECORD_KEY)? {
            Some(bytes) => crate::store::open_administrators(master, &bytes)?,
            None => Vec::new(),
        };
        self.set_stored_administrators(stored)
    }

    /// Loads every key under an unsealed master key; from now on audit records are authenticated.
    fn load_keyring(&self, master: MasterKey) -> Result<Keyring> {
        self.audit.set_mac_key(SecretBuf::copy_from(master.audit_mac_key.as_slice())?);
        Keyring::load(
            Arc::clone(&self.backend),
            KeyRecordCodec::new(Arc::new(master)),
            Arc::clone(&self.writes),
        )
    }

    /// Seconds since the Unix epoch, by the service's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    pub fn disk_reserve(&self) -> &DiskReserve {
        &self.disk_reserve
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Runs slow CPU work (RSA key generation) on the blocking pool, so it never stalls other
    /// requests, and gives up waiting after the configured deadline.
    pub(super) async fn off_reactor_with_deadline<T: Send + 'static>(
        &self,
        what: &'static str,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let deadline = self.options.key_generation_timeout;
        match tokio::time::timeout(deadline, threads::blocking(work)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::DeadlineExceeded(format!("{what} took longer than {deadline:?}"))),
        }
    }

    /// A consistent archive of the sealed store (see `store::backup`).
    pub async fn backup(&self, call: &Call) -> Result<Vec<u8>> {
        self.require_administrator(call, Operation::Backup)?;
        let backend = Arc::clone(&self.backend);
        let now = self.now();
        threads::blocking(move || crate::store::backup::create(backend.as_ref(), now)).await
    }

    pub(super) fn keyring(&self) -> Result<Arc<Keyring>> {
        match &*self.state.read().map_err(|_| threads::poisoned())? {
            SealState::Unsealed(keyring) => Ok(Arc::clone(keyring)),
            SealState::Uninitialized => Err(Error::NotInitialized),
            SealState::Sealed(_) => Err(Error::Sealed),
        }
    }
}

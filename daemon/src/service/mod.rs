//! The key management operations as plain async Rust: no protobuf types, no transport.

mod administrators;
mod aliases;
mod asymmetric;
mod audit_anchor;
mod authz;
mod clock;
mod grants;
mod import;
mod keyring;
mod lifecycle;
mod limits;
mod listing;
mod schedule;
mod symmetric;
pub mod token;

use std::sync::{Arc, RwLock};

pub use administrators::{parse_principal, parse_principals};
pub use asymmetric::{DataKeyPair, PublicKey, Verification, mac_algorithm, signing_algorithms};
pub use authz::{Used, as_caller};
pub use grants::{Grant, NewGrant};
pub use import::ImportParameters;
pub use keyring::KeyInfo;
pub use lifecycle::NewKey;
pub use limits::*;
pub use listing::{KeyFilter, StateFilter};
pub use schedule::{RotationEntry, RotationStatus};
pub use symmetric::{DataKeySize, Opened, Sealed};

use crate::audit::AuditLog;
use crate::disk::{DEFAULT_MIN_FREE_DISK_BYTES, DiskReserve};
use crate::error::{Error, Result};
use crate::quota::{QuotaConfig, Quotas};
use crate::secure_mem::SecretBuf;
use crate::store::{
    ADMINISTRATORS_RECORD_KEY, KeyRecordCodec, MasterKey, SealConfig, SealMode, SealRecord, StoreBackend,
    Table,
};
use keyring::Keyring;

const SEAL_RECORD_KEY: &[u8] = b"seal";

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
    /// those named at initialisation are added (see [`KmsService::administrators`]).
    pub administrators: Vec<String>,
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

/// The daemon's key management service.
pub struct KmsService {
    backend: Arc<dyn StoreBackend>,
    audit: Arc<AuditLog>,
    quotas: Quotas,
    disk_reserve: DiskReserve,
    imports: import::ImportTokens,
    clock: clock::Clock,
    seal_config: SealConfig,
    options: ServiceOptions,
    /// The administrators named at initialisation (read unchecked while sealed, checked by unseal).
    stored_administrators: RwLock<Vec<String>>,
    state: RwLock<SealState>,
}

impl std::fmt::Debug for KmsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsService").field("seal_mode", &self.seal_config.mode).finish_non_exhaustive()
    }
}

impl KmsService {
    /// Opens the service over a store. With a key file the store is initialised if new and
    /// unsealed at once; with a passphrase it waits for Initialize or Unseal.
    pub async fn open(
        backend: Arc<dyn StoreBackend>,
        audit: Arc<AuditLog>,
        seal_config: SealConfig,
        options: ServiceOptions,
    ) -> Result<Self> {
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
        audit.attach_anchor(Box::new(audit_anchor::StoreAnchor(Arc::clone(&backend))))?;
        let clock = clock::Clock::new(options.test_clock, options.test_clock_offset);
        let quotas = Quotas::new(options.quotas);
        let disk_reserve = DiskReserve::new(audit.directory(), options.min_free_disk_bytes);
        let service = Self {
            backend,
            audit,
            quotas,
            disk_reserve,
            imports: import::ImportTokens::default(),
            clock,
            seal_config,
            options,
            stored_administrators: RwLock::new(stored_administrators),
            state: RwLock::new(state),
        };
        if matches!(service.seal_config.mode, SealMode::KeyFile(_)) {
            if !service.status()?.initialized {
                service.initialize(None, &[]).await?;
            } else {
                service.unseal(None).await?;
            }
        }
        Ok(service)
    }

    pub fn status(&self) -> Result<ServiceStatus> {
        let state = self.state.read().map_err(|_| poisoned())?;
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
    pub async fn initialize(&self, passphrase: Option<String>, requested: &[String]) -> Result<()> {
        if !matches!(*self.state.read().map_err(|_| poisoned())?, SealState::Uninitialized) {
            return Err(Error::AlreadyInitialized);
        }
        let administrators = administrators::initial_administrators(requested)?;
        let stored = administrators.clone();
        let config = self.seal_config.clone();
        let backend = Arc::clone(&self.backend);
        let master = blocking(move || {
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
        let keyring = self.load_keyring(master)?;
        *self.state.write().map_err(|_| poisoned())? = SealState::Unsealed(Arc::new(keyring));
        tracing::info!("store initialized and unsealed");
        Ok(())
    }

    /// Unseals the master key and loads every key. A wrong passphrase changes nothing.
    pub async fn unseal(&self, passphrase: Option<String>) -> Result<()> {
        let record = match &*self.state.read().map_err(|_| poisoned())? {
            SealState::Uninitialized => return Err(Error::NotInitialized),
            SealState::Unsealed(_) => None,
            SealState::Sealed(record) => Some(record.clone()),
        };
        let Some(record) = record else { return self.check_passphrase(passphrase).await };
        let mode = self.seal_config.mode.clone();
        let master = blocking(move || record.unseal(&mode, passphrase.as_deref())).await?;
        self.check_stored_administrators(&master)?;
        let keyring = self.load_keyring(master)?;
        let mut state = self.state.write().map_err(|_| poisoned())?;
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
        blocking(move || record.unseal(&mode, passphrase.as_deref()).map(drop)).await
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
        Keyring::load(Arc::clone(&self.backend), KeyRecordCodec::new(Arc::new(master)))
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

    /// A consistent archive of the sealed store (see `store::backup`).
    pub async fn backup(&self) -> Result<Vec<u8>> {
        let backend = Arc::clone(&self.backend);
        let now = self.now();
        blocking(move || crate::store::backup::create(backend.as_ref(), now)).await
    }

    fn keyring(&self) -> Result<Arc<Keyring>> {
        match &*self.state.read().map_err(|_| poisoned())? {
            SealState::Unsealed(keyring) => Ok(Arc::clone(keyring)),
            SealState::Uninitialized => Err(Error::NotInitialized),
            SealState::Sealed(_) => Err(Error::Sealed),
        }
    }
}

/// Runs blocking work (fsync, Argon2id) off the async reactor.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Storage(format!("a blocking task failed: {e}")))?
}

fn poisoned() -> Error {
    Error::Storage("service state lock poisoned".into())
}

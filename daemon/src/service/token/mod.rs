//! The PKCS#11 face of the service: one token whose objects are the keyring's keys (and the
//! public keys, certificates and data objects stored beside them), applications with their
//! sessions and login state, and the operations PKCS#11 runs in a session. Every rule is
//! enforced here, in the daemon: the module only translates.

mod app;
pub mod attributes;
mod create;
mod crypto_rv;
mod defaults;
mod derive;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod key_access;
mod keygen;
mod login;
pub mod mechanisms;
mod object;
mod object_calls;
mod object_creation;
pub mod operation;
mod operation_calls;
mod pin;
mod schema;
mod stored_forms;
mod wrap;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use cryptoki_sys::*;

pub use app::{App, AppCall, Login};
pub use mechanisms::{HkdfParameter, Mechanism, Parameter, PrfData, Sp800108Parameter};
pub use object::Lookup;
pub use operation::{Kind as OperationKind, Output, Space};

use super::Keystore;
use crate::error::{Error, Result};
use crate::store::Table;
use pin::{TOKEN_RECORD_KEY, TokenRecord};

/// What C_GetTokenInfo reports beyond what the module fills in.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub label: Vec<u8>,
    pub serial: String,
    pub flags: CK_FLAGS,
    pub sessions: u64,
    pub rw_sessions: u64,
}

/// The token and its applications: what the PKCS#11 calls share (the keystore, the attached
/// applications with their sessions, the token record), with key access (`key_access.rs`) and
/// object creation (`create.rs`). The calls themselves are the feature services below.
pub struct TokenService {
    keystore: Arc<Keystore>,
    apps: Mutex<HashMap<String, Arc<App>>>,
    record: Arc<RwLock<TokenRecordRead>>,
    /// Serialises PIN and token changes (each is a read, an Argon2id check and a durable write).
    changes: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService").finish_non_exhaustive()
    }
}

fn poisoned() -> Error {
    Error::Storage("token state lock poisoned".into())
}

impl TokenService {
    pub fn new(keystore: Arc<Keystore>) -> Result<Self> {
        let stored = keystore.backend.get(Table::Meta, TOKEN_RECORD_KEY)?;
        let record = Arc::new(RwLock::new(TokenRecordRead::from_stored(stored.as_deref())?));
        // Another node's PIN change or failed login is taken in before this node's next call.
        let followed = Arc::clone(&record);
        keystore.follow_meta(
            TOKEN_RECORD_KEY,
            Box::new(move |stored| {
                let mut held = followed.write().map_err(|_| poisoned())?;
                if held.stored.as_deref() != stored {
                    *held = TokenRecordRead::from_stored(stored)?;
                }
                Ok(())
            }),
        )?;
        Ok(Self { keystore, apps: Mutex::new(HashMap::new()), record, changes: tokio::sync::Mutex::new(()) })
    }

    pub fn keystore(&self) -> &Keystore {
        &self.keystore
    }

    /// Registers an application; it lives until `detach`.
    pub fn attach(&self, name: &str, owner: &str) -> Result<Arc<App>> {
        let mut bytes = [0u8; 16];
        crate::secure_mem::fill_random(&mut bytes)?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let name: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
        let app = Arc::new(App::new(id.clone(), name, owner.to_owned()));
        self.apps.lock().map_err(|_| poisoned())?.insert(id, Arc::clone(&app));
        tracing::info!(application = %app.id, name = %app.name, "PKCS#11 application attached");
        Ok(app)
    }

    /// Keeps the application's Attach stream open (`keep_alive` is its sender) until it ends.
    pub fn keep_until_closed(&self, id: &str, keep_alive: impl std::any::Any + Send) {
        if let Ok(Some(app)) = self.apps.lock().map(|apps| apps.get(id).cloned()) {
            app.hold(Box::new(keep_alive));
        }
    }

    /// Ends an application: its sessions close, its session objects are destroyed.
    pub fn detach(&self, id: &str) {
        let removed = self.apps.lock().ok().and_then(|mut apps| apps.remove(id));
        if let Some(app) = removed {
            app.release();
            let _ = app.close_all_sessions();
            tracing::info!(application = %id, "PKCS#11 application detached");
        }
    }

    /// Ends every application (shutdown).
    pub fn detach_all(&self) {
        let ids: Vec<String> =
            self.apps.lock().map(|apps| apps.keys().cloned().collect()).unwrap_or_default();
        for id in ids {
            self.detach(&id);
        }
    }

    /// The application `id` names, if `principal` attached it: an id is no use to another
    /// caller (who gets the answer for an id that names nothing).
    pub fn app(&self, id: &str, principal: &str) -> Result<Arc<App>> {
        let app = self.apps.lock().map_err(|_| poisoned())?.get(id).cloned();
        app.filter(|app| app.owner == principal).ok_or_else(|| {
            Error::p11(
                CKR_SESSION_HANDLE_INVALID,
                "unknown application: the daemon restarted or the application ended; attach again",
            )
        })
    }

    fn all_apps(&self) -> Result<Vec<Arc<App>>> {
        Ok(self.apps.lock().map_err(|_| poisoned())?.values().cloned().collect())
    }

    pub fn token_info(&self) -> Result<TokenInfo> {
        self.keystore.keyring()?;
        let record = self.record.read().map_err(|_| poisoned())?;
        let (mut sessions, mut rw_sessions) = (0, 0);
        for app in self.all_apps()? {
            let (all, rw) = app.session_counts()?;
            sessions += all;
            rw_sessions += rw;
        }
        Ok(TokenInfo {
            label: record.label.clone(),
            serial: record.serial.clone(),
            flags: record.flags(),
            sessions,
            rw_sessions,
        })
    }

    /// The token record as this node holds it, with the stored bytes it was read from.
    fn record(&self) -> Result<TokenRecordRead> {
        self.record.read().map(|r| r.clone()).map_err(|_| poisoned())
    }

    /// Stores the token record changed from `read` durably, then makes it current. If the record
    /// changed since it was read (a failed login counted on another node), nothing is written
    /// (`Conflict`): no PIN failure is ever lost.
    async fn put_record(&self, read: TokenRecordRead) -> Result<()> {
        let _writes = self.keystore.lock_writes().await;
        let bytes = prost::Message::encode_to_vec(&read.record);
        let expect = match &read.stored {
            Some(stored) => crate::store::Expect::Stored(stored.to_vec()),
            None => crate::store::Expect::Absent,
        };
        let write =
            crate::store::Write::put(Table::Meta, TOKEN_RECORD_KEY.to_vec(), bytes.clone()).expecting(expect);
        let backend = Arc::clone(&self.keystore.backend);
        super::threads::blocking(move || backend.commit(vec![write])).await?;
        *self.record.write().map_err(|_| poisoned())? =
            TokenRecordRead { record: read.record, stored: Some(Arc::from(bytes)) };
        Ok(())
    }

    pub fn open_session(&self, app: &App, flags: CK_FLAGS) -> Result<u64> {
        self.keystore.keyring()?;
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(Error::p11(CKR_SESSION_PARALLEL_NOT_SUPPORTED, "CKF_SERIAL_SESSION must be set"));
        }
        let rw = flags & CKF_RW_SESSION != 0;
        if !rw && app.login()? == Login::SecurityOfficer {
            return Err(Error::p11(
                CKR_SESSION_READ_WRITE_SO_EXISTS,
                "the SO is logged in: only read/write sessions may be opened",
            ));
        }
        app.open_session(rw)
    }

    /// (state, flags) of a session.
    pub fn session_info(&self, app: &App, session: u64) -> Result<(CK_STATE, CK_FLAGS)> {
        let rw = app.session(session)?.lock().map_err(|_| poisoned())?.rw;
        let state = match (app.login()?, rw) {
            (Login::Public, false) => CKS_RO_PUBLIC_SESSION,
            (Login::Public, true) => CKS_RW_PUBLIC_SESSION,
            (Login::User, false) => CKS_RO_USER_FUNCTIONS,
            (Login::User, true) => CKS_RW_USER_FUNCTIONS,
            (Login::SecurityOfficer, _) => CKS_RW_SO_FUNCTIONS,
        };
        let flags = CKF_SERIAL_SESSION | if rw { CKF_RW_SESSION } else { 0 };
        Ok((state, flags))
    }

    pub fn generate_random(&self, app: &App, session: u64, len: usize) -> Result<Vec<u8>> {
        app.session(session)?;
        if len > 1 << 20 {
            return Err(Error::p11(CKR_DATA_LEN_RANGE, "at most 1 MiB of random data per call"));
        }
        crate::crypto::random_vec(len).map_err(crypto_rv::p11)
    }
}

macro_rules! token_feature {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            token: Arc<TokenService>,
        }

        impl $name {
            pub fn new(token: Arc<TokenService>) -> Self {
                Self { token }
            }
        }
    )*};
}

token_feature! {
    /// C_InitToken, C_InitPIN, C_SetPIN, C_Login (CKU_CONTEXT_SPECIFIC too), C_Logout, and the SO
    /// PIN's unlock (`login.rs`).
    TokenLogin;
    /// C_FindObjects*, C_GetAttributeValue, C_SetAttributeValue, C_DestroyObject (`object_calls.rs`),
    /// C_CreateObject and C_CopyObject (`object_creation.rs`).
    TokenObjects;
    /// C_GenerateKey, C_GenerateKeyPair (`keygen.rs`), C_WrapKey, C_UnwrapKey (`wrap.rs`),
    /// C_DeriveKey (`derive.rs`).
    TokenKeys;
    /// C_*Init, C_Encrypt … C_VerifyFinal, C_Digest*, C_DigestKey (`operation_calls.rs`).
    TokenOperations;
}

/// The token record and the stored bytes it was opened from (`None`: none stored yet), which a
/// change of it expects to replace. It reads and changes as the record itself.
#[derive(Debug, Clone, Default)]
struct TokenRecordRead {
    record: TokenRecord,
    stored: Option<Arc<[u8]>>,
}

impl TokenRecordRead {
    fn from_stored(stored: Option<&[u8]>) -> Result<Self> {
        let Some(bytes) = stored else { return Ok(Self::default()) };
        let record = <TokenRecord as prost::Message>::decode(bytes)
            .map_err(|e| Error::Integrity(format!("the token record is unreadable: {e}")))?;
        Ok(Self { record, stored: Some(Arc::from(bytes)) })
    }

    /// A whole new record in place of this one's stored bytes.
    fn replaced_by(self, record: TokenRecord) -> Self {
        Self { record, ..self }
    }
}

impl std::ops::Deref for TokenRecordRead {
    type Target = TokenRecord;

    fn deref(&self) -> &TokenRecord {
        &self.record
    }
}

impl std::ops::DerefMut for TokenRecordRead {
    fn deref_mut(&mut self) -> &mut TokenRecord {
        &mut self.record
    }
}

//! One PKCS#11 application (a process that loaded the module): its login state, its sessions,
//! its session objects and its object handles. Handles start at a random base per application,
//! so a handle from before a daemon restart almost never names an object of the new life.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::object::Object;
use super::operation::Operation;
use crate::error::{Error, Result};
use crate::keys::KeyId;
use crate::service::Call;

/// One PKCS#11 call as the token sees it: the application it comes from, and the front's
/// [`Call`] (who is calling, and what the call used, for its audit record).
#[derive(Debug, Clone, Copy)]
pub struct AppCall<'a> {
    pub app: &'a App,
    pub call: &'a Call,
}

/// Who is logged in, for the whole application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    Public,
    User,
    SecurityOfficer,
}

/// A token object an application holds a handle to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenRef {
    Key { id: KeyId, public: bool },
    Stored([u8; 16]),
}

/// What a handle names.
#[derive(Debug, Clone)]
pub enum Handle {
    Token(TokenRef),
    /// A session object and the session that owns it.
    Session {
        owner: u64,
        object: Object,
    },
}

/// An active C_FindObjects search: the handles still to hand out.
pub(super) type Search = std::collections::VecDeque<u64>;

#[derive(Debug)]
pub struct Session {
    pub rw: bool,
    pub search: Option<Search>,
    pub operations: HashMap<super::operation::Kind, Operation>,
    /// The pieces of a data call's input received so far (see `OperationDataRequest.more`); the
    /// input may be plaintext, so it is wiped when dropped.
    pub staged: HashMap<super::operation::Kind, Staged>,
}

/// Input held for a data call until its last piece; wiped when dropped, shown by length only.
#[derive(Default)]
pub struct Staged(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Staged({} bytes)", self.0.len())
    }
}

impl std::ops::Deref for Staged {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for Staged {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

#[derive(Debug, Default)]
struct Handles {
    by_handle: HashMap<u64, Handle>,
    by_token: HashMap<TokenRef, u64>,
}

#[derive(Debug)]
pub struct App {
    pub id: String,
    pub name: String,
    /// The principal that attached it: the only one its id serves.
    pub owner: String,
    login: Mutex<Login>,
    sessions: Mutex<HashMap<u64, Arc<Mutex<Session>>>>,
    handles: Mutex<Handles>,
    next_session: AtomicU64,
    next_object: AtomicU64,
    /// What keeps the application's Attach stream open; dropped when the application ends.
    keep_alive: Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

fn poisoned() -> Error {
    Error::Storage("application state lock poisoned".into())
}

fn random_base() -> u64 {
    let mut bytes = [0u8; 2];
    let _ = crate::secure_mem::fill_random(&mut bytes);
    (u64::from(u16::from_le_bytes(bytes)) << 16) | 1
}

impl App {
    pub fn new(id: String, name: String, owner: String) -> Self {
        Self {
            id,
            name,
            owner,
            login: Mutex::new(Login::Public),
            sessions: Mutex::new(HashMap::new()),
            handles: Mutex::new(Handles::default()),
            next_session: AtomicU64::new(random_base()),
            next_object: AtomicU64::new(random_base() << 8),
            keep_alive: Mutex::new(None),
        }
    }

    pub fn hold(&self, keep_alive: Box<dyn std::any::Any + Send>) {
        if let Ok(mut slot) = self.keep_alive.lock() {
            *slot = Some(keep_alive);
        }
    }

    /// Ends the Attach stream.
    pub fn release(&self) {
        if let Ok(mut slot) = self.keep_alive.lock() {
            slot.take();
        }
    }

    pub fn login(&self) -> Result<Login> {
        self.login.lock().map(|l| *l).map_err(|_| poisoned())
    }

    pub fn set_login(&self, login: Login) -> Result<()> {
        *self.login.lock().map_err(|_| poisoned())? = login;
        Ok(())
    }

    pub fn open_session(&self, rw: bool) -> Result<u64> {
        let handle = self.next_session.fetch_add(1, Ordering::Relaxed);
        let session = Session { rw, search: None, operations: HashMap::new(), staged: HashMap::new() };
        self.sessions.lock().map_err(|_| poisoned())?.insert(handle, Arc::new(Mutex::new(session)));
        Ok(handle)
    }

    pub fn session(&self, handle: u64) -> Result<Arc<Mutex<Session>>> {
        self.sessions
            .lock()
            .map_err(|_| poisoned())?
            .get(&handle)
            .cloned()
            .ok_or_else(|| Error::p11(CKR_SESSION_HANDLE_INVALID, format!("no session {handle}")))
    }

    /// (sessions, read/write sessions).
    pub fn session_counts(&self) -> Result<(u64, u64)> {
        let sessions = self.sessions.lock().map_err(|_| poisoned())?;
        let rw = sessions.values().filter(|s| s.lock().is_ok_and(|s| s.rw)).count();
        Ok((sessions.len() as u64, rw as u64))
    }

    /// Closes a session and destroys its session objects; the last close logs the application out.
    pub fn close_session(&self, handle: u64) -> Result<()> {
        let remaining = {
            let mut sessions = self.sessions.lock().map_err(|_| poisoned())?;
            if sessions.remove(&handle).is_none() {
                return Err(Error::p11(CKR_SESSION_HANDLE_INVALID, format!("no session {handle}")));
            }
            sessions.len()
        };
        self.handles()?
            .by_handle
            .retain(|_, h| !matches!(h, Handle::Session { owner, .. } if *owner == handle));
        if remaining == 0 {
            self.set_login(Login::Public)?;
        }
        Ok(())
    }

    pub fn close_all_sessions(&self) -> Result<()> {
        self.sessions.lock().map_err(|_| poisoned())?.clear();
        self.handles()?.by_handle.retain(|_, h| matches!(h, Handle::Token(_)));
        self.set_login(Login::Public)
    }

    /// Destroys the private session objects (at logout).
    pub fn drop_private_session_objects(&self) -> Result<()> {
        self.handles()?
            .by_handle
            .retain(|_, h| !matches!(h, Handle::Session { object, .. } if object.is_private()));
        for session in self.sessions.lock().map_err(|_| poisoned())?.values() {
            if let Ok(mut session) = session.lock() {
                session.operations.clear();
                session.staged.clear();
                session.search = None;
            }
        }
        Ok(())
    }

    pub fn has_read_only_session(&self) -> Result<bool> {
        let sessions = self.sessions.lock().map_err(|_| poisoned())?;
        Ok(sessions.values().any(|s| s.lock().is_ok_and(|s| !s.rw)))
    }

    fn handles(&self) -> Result<MutexGuard<'_, Handles>> {
        self.handles.lock().map_err(|_| poisoned())
    }

    /// The handle of a token object, made on first sight and stable for the application's life.
    pub fn token_handle(&self, token: TokenRef) -> Result<u64> {
        let mut handles = self.handles()?;
        if let Some(handle) = handles.by_token.get(&token) {
            return Ok(*handle);
        }
        let handle = self.next_object.fetch_add(1, Ordering::Relaxed);
        handles.by_token.insert(token, handle);
        handles.by_handle.insert(handle, Handle::Token(token));
        Ok(handle)
    }

    /// Makes the handle of `from` name `to` instead (the same object in a new place: the public
    /// half of a key pair stored on its own once its private half is destroyed), so a handle
    /// stays the same for the object's whole life.
    pub fn rebind(&self, from: TokenRef, to: TokenRef) -> Result<()> {
        let mut handles = self.handles()?;
        if let Some(handle) = handles.by_token.remove(&from) {
            handles.by_token.insert(to, handle);
            handles.by_handle.insert(handle, Handle::Token(to));
        }
        Ok(())
    }

    pub fn add_session_object(&self, owner: u64, object: Object) -> Result<u64> {
        let handle = self.next_object.fetch_add(1, Ordering::Relaxed);
        self.handles()?.by_handle.insert(handle, Handle::Session { owner, object });
        Ok(handle)
    }

    pub fn replace_session_object(&self, handle: u64, object: Object) -> Result<()> {
        if let Some(Handle::Session { object: slot, .. }) = self.handles()?.by_handle.get_mut(&handle) {
            *slot = object;
        }
        Ok(())
    }

    pub fn handle(&self, handle: u64) -> Result<Handle> {
        self.handles()?
            .by_handle
            .get(&handle)
            .cloned()
            .ok_or_else(|| Error::p11(CKR_OBJECT_HANDLE_INVALID, format!("no object {handle}")))
    }

    pub fn forget(&self, handle: u64) -> Result<()> {
        let mut handles = self.handles()?;
        if let Some(Handle::Token(token)) = handles.by_handle.remove(&handle) {
            handles.by_token.remove(&token);
        }
        Ok(())
    }

    /// Every session object: (handle, object).
    pub fn session_objects(&self) -> Result<Vec<(u64, Object)>> {
        Ok(self
            .handles()?
            .by_handle
            .iter()
            .filter_map(|(handle, h)| match h {
                Handle::Session { object, .. } => Some((*handle, object.clone())),
                Handle::Token(_) => None,
            })
            .collect())
    }
}

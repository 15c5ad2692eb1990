//! One request as the service sees it, and the proof that it may use a key.
//!
//! A front authenticates the caller, makes a [`Call`] and passes it to every service function it
//! calls: there is no ambient caller, and no call without one. [`Keystore::authorize`] is the
//! only maker of [`Authorized`], and the functions that use key material take one, so a code path
//! that skipped the policy check does not compile. What the request used (the key, the version)
//! is written into the `Call` by the proof as it is used, and the front reads it back with the
//! outcome for the audit record.
//!
//! A front that took KMS grant tokens with the request hands them over with
//! [`Call::with_grant_tokens`]; `Keystore::authorize` checks them wherever a key is authorised,
//! so no service function takes them as an argument and no front can forget them on one path.
//!
//! [`Keystore::authorize`]: super::Keystore::authorize

use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::keys::{Key, KeyId, KeyVersion};
use crate::policy::Action;

/// Who makes a request: the principal a front authenticated (`uid:N`, `cert:SUBJECT`, or
/// `unknown`, who is refused every key), and what the request has used so far.
#[derive(Debug)]
pub struct Call {
    principal: String,
    /// The alias the request named its key by (for `arca:RequestAlias`).
    alias: Mutex<Option<String>>,
    /// The KMS grant tokens the request carried (CreateGrant's `grant_token`s).
    grant_tokens: Vec<String>,
    used: Mutex<Used>,
}

/// What a request's work used, for its audit record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Used {
    pub key: Option<String>,
    pub key_version: Option<u32>,
}

impl Call {
    pub fn new(principal: impl Into<String>) -> Self {
        Self {
            principal: principal.into(),
            alias: Mutex::new(None),
            grant_tokens: Vec::new(),
            used: Mutex::new(Used::default()),
        }
    }

    /// The call with the grant tokens its request carried; each is checked (at most
    /// [`MAX_GRANT_TOKENS`](super::MAX_GRANT_TOKENS), each naming an existing grant) when the
    /// call's key is authorised.
    pub fn with_grant_tokens(self, grant_tokens: Vec<String>) -> Self {
        Self { grant_tokens, ..self }
    }

    pub fn grant_tokens(&self) -> &[String] {
        &self.grant_tokens
    }

    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// The key and version the request used (the last version used wins: ReEncrypt's
    /// destination).
    pub fn used(&self) -> Used {
        self.used.lock().map(|used| used.clone()).unwrap_or_default()
    }

    pub(super) fn name_alias(&self, alias: &str) {
        if let Ok(mut named) = self.alias.lock() {
            *named = Some(alias.to_owned());
        }
    }

    pub(super) fn alias(&self) -> Option<String> {
        self.alias.lock().ok().and_then(|alias| alias.clone())
    }

    /// Records the key the request works on (also for a refused one).
    pub(super) fn use_key(&self, key: KeyId) {
        if let Ok(mut used) = self.used.lock() {
            used.key = Some(key.to_string());
        }
    }

    /// Records the access key an administrator's call made or names (its id: never its secret).
    pub(super) fn use_access_key(&self, access_key_id: &str) {
        if let Ok(mut used) = self.used.lock() {
            used.key = Some(access_key_id.to_owned());
        }
    }

    pub(super) fn use_version(&self, version: u32) {
        if let Ok(mut used) = self.used.lock() {
            used.key_version = Some(version);
        }
    }
}

/// Proof that a call's principal may do `action` with `key`: its policy or a grant allowed it.
/// Made only by `Keystore::authorize`; key material is reached through it.
#[derive(Debug, Clone)]
pub struct Authorized {
    key: Arc<Key>,
    action: Action,
}

impl std::ops::Deref for Authorized {
    type Target = Key;

    fn deref(&self) -> &Key {
        &self.key
    }
}

impl Authorized {
    pub(super) fn new(key: Arc<Key>, action: Action) -> Self {
        Self { key, action }
    }

    pub fn shared_key(&self) -> &Arc<Key> {
        &self.key
    }

    pub fn action(&self) -> Action {
        self.action
    }

    /// The version used for new work, recorded in the call.
    pub fn current(&self, call: &Call) -> Result<&KeyVersion> {
        let version = self.key.current().ok_or(Error::KeyIntegrity(self.key.metadata.id))?;
        call.use_version(version.version);
        Ok(version)
    }

    /// A version named by a ciphertext, recorded in the call.
    pub fn version(&self, call: &Call, version: u32) -> Option<&KeyVersion> {
        let found = self.key.version(version)?;
        call.use_version(found.version);
        Some(found)
    }
}

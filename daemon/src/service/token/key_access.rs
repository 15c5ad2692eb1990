//! Key access for the PKCS#11 face: the object a handle names (if the application may use it
//! now), its key policy checked through the keystore's one authorisation, and the checks a key
//! must pass before a mechanism runs with it (capability, allowed mechanisms, state).

use std::sync::Arc;

use cryptoki_sys::*;

use super::app::{AppCall, Handle, TokenRef};
use super::mechanisms::{self, Mechanism};
use super::object::{Body, Object};
use super::{App, Login, TokenService};
use crate::crypto::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::policy::Action;
use crate::service::{Authorized, Call};

fn handle_invalid(handle: u64) -> Error {
    Error::p11(CKR_OBJECT_HANDLE_INVALID, format!("no object {handle}"))
}

/// C_*Init, C_WrapKey, C_DigestKey …: a bad key handle is CKR_KEY_HANDLE_INVALID.
pub(super) fn key_handle_invalid(error: Error) -> Error {
    match error {
        Error::Pkcs11 { rv: CKR_OBJECT_HANDLE_INVALID, message } => {
            Error::p11(CKR_KEY_HANDLE_INVALID, message)
        }
        other => other,
    }
}

/// A token key that is disabled or pending deletion does no PKCS#11 work, nor leaves wrapped,
/// digested or copied.
pub(super) fn require_enabled(object: &Object) -> Result<()> {
    if let Some(key) = object.key().filter(|_| object.token)
        && key.metadata.state != crate::keys::KeyState::Enabled
    {
        return Err(Error::p11(
            CKR_KEY_FUNCTION_NOT_PERMITTED,
            format!("key {} is {}", key.metadata.id, key.metadata.state.name()),
        ));
    }
    Ok(())
}

impl TokenService {
    /// The object a handle names, if the application may use it now.
    pub(super) fn object(&self, app: &App, handle: u64) -> Result<(Object, Handle)> {
        let named = app.handle(handle)?;
        let object = match &named {
            Handle::Session { object, .. } => object.clone(),
            Handle::Token(TokenRef::Key { id, public }) => {
                let key = match self.keystore.keyring()?.get(*id) {
                    Err(Error::KeyNotFound(_)) => return Err(handle_invalid(handle)),
                    other => other?,
                };
                if *public && (key.metadata.spec.is_secret() || key.metadata.token.public_destroyed) {
                    return Err(handle_invalid(handle));
                }
                Object { body: Body::Key { key, public: *public }, token: true }
            }
            Handle::Token(TokenRef::Stored(id)) => {
                let attributes =
                    self.keystore.keyring()?.object(id)?.ok_or_else(|| handle_invalid(handle))?;
                Object { body: Body::Plain(attributes), token: true }
            }
        };
        if object.is_private() && app.login()? != Login::User {
            return Err(Error::p11(CKR_USER_NOT_LOGGED_IN, "private objects need the user logged in"));
        }
        Ok((object, named))
    }

    /// Checks the key policy of a key for `action`. Session keys have one too: the default for
    /// the principal that made them, or the policy of the token key they were copied from.
    /// The proof is `None` for a plain object (certificate, data, stored public key), which has
    /// no key policy and no key material.
    pub(super) fn authorize(
        &self,
        call: &Call,
        object: &Object,
        action: Action,
    ) -> Result<Option<Authorized>> {
        match &object.body {
            Body::Key { key, .. } => {
                self.keystore.authorize(call, Arc::clone(key), action, &EncryptionContext::new()).map(Some)
            }
            Body::Plain(_) => Ok(None),
        }
    }

    /// A key for a mechanism and a use, with every check: login, type, capability, allowed
    /// mechanisms, state and key policy.
    pub(super) fn usable_key(
        &self,
        at: AppCall<'_>,
        handle: u64,
        mechanism: &Mechanism,
        capability: CK_ATTRIBUTE_TYPE,
        action: Action,
    ) -> Result<(Object, Option<Authorized>)> {
        let AppCall { app, call } = at;
        let (object, _) = self.object(app, handle).map_err(key_handle_invalid)?;
        // The policy first, as for KMS calls: the audit record then names the key (and the
        // version PKCS#11 uses, the current one).
        let authorized = self.authorize(call, &object, action)?;
        if let Some(key) = object.key().filter(|_| object.token)
            && let Some(current) = key.current()
        {
            call.use_version(current.version);
        }
        mechanisms::check_key(&object, mechanism.kind, capability)?;
        require_enabled(&object)?;
        // `None` for a stored public key, which verifies and encrypts from its public half alone.
        Ok((object, authorized))
    }

    /// Token objects may only change in a R/W session.
    pub(super) fn require_writable(&self, app: &App, session: u64, token: bool) -> Result<()> {
        let rw = app.session(session)?.lock().map_err(|_| super::poisoned())?.rw;
        if token && !rw {
            return Err(Error::p11(CKR_SESSION_READ_ONLY, "token objects change only in a R/W session"));
        }
        Ok(())
    }
}

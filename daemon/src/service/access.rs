//! Key access, shared by every service function that works on one key: resolve what the caller
//! wrote (a key id or an alias), authorise the call for the action, then check the key's state
//! and usage. Each step's refusal is the same whichever front the call came from.

use super::Keystore;
use super::call::{Authorized, Call};
use crate::crypto::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::keys::{KeyId, KeyState, KeyUsage};
use crate::policy::Action;

impl Keystore {
    /// A key id from what a caller wrote: a key UUID or an alias (`alias/…`), which the call
    /// then names for `arca:RequestAlias`.
    pub fn resolve(&self, call: &Call, key_ref: &str) -> Result<KeyId> {
        if key_ref.is_empty() {
            return Err(Error::invalid("key_id is required"));
        }
        if key_ref.starts_with(super::keys::ALIAS_PREFIX) {
            call.name_alias(key_ref);
            return self.keyring()?.alias(key_ref)?.ok_or_else(|| Error::KeyNotFound(key_ref.to_owned()));
        }
        key_ref.parse()
    }

    /// The key `key_ref` names, authorised for `action` (in any state).
    pub(super) fn authorized_key(&self, call: &Call, key_ref: &str, action: Action) -> Result<Authorized> {
        let id = self.resolve(call, key_ref)?;
        self.authorized_id(call, id, action, &EncryptionContext::new())
    }

    /// The key `id`, authorised for `action` with `context` (in any state).
    pub(super) fn authorized_id(
        &self,
        call: &Call,
        id: KeyId,
        action: Action,
        context: &EncryptionContext,
    ) -> Result<Authorized> {
        let key = self.keyring()?.get(id)?;
        self.authorize(call, key, action, context)
    }

    /// A key that exists, that the call may use for `action`, that is enabled, and that has the
    /// usage the action needs.
    pub(super) fn usable_for(
        &self,
        call: &Call,
        id: KeyId,
        action: Action,
        usage: KeyUsage,
        context: &EncryptionContext,
    ) -> Result<Authorized> {
        let key = self.authorized_id(call, id, action, context)?;
        let operation = action.name();
        if key.metadata.state != KeyState::Enabled {
            return Err(Error::KeyNotEnabled { key: id, state: key.metadata.state.name(), operation });
        }
        if key.metadata.usage != usage {
            return Err(Error::WrongKeyUsage { key: id, operation, usage: key.metadata.usage.name() });
        }
        Ok(key)
    }
}

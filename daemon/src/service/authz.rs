//! Authorization: every call that uses or manages a key is checked against the key's policy,
//! whichever front end it came from; store-wide administration is for the administrators (the
//! crypto-officer role: the configuration's and those named at initialisation).
//!
//! The caller is the [`Call`] each front passes in; a check that passes returns the
//! [`Authorized`] proof that key-using functions require. Work the daemon does on its own
//! (scheduled rotation and deletion) does not go through here: it is not a call.

use std::sync::Arc;

use super::Keystore;
use super::call::{Authorized, Call};
use super::limits::MAX_GRANT_TOKENS;
use crate::crypto::context::EncryptionContext;
use crate::error::{Echo, Error, Result};
use crate::keys::{Key, KeyId};
use crate::operation::Operation;
use crate::policy::{self, Action, Decision, Policy, RequestContext};

fn denied(principal: &str, action: &str, what: &str) -> Error {
    Error::AccessDenied(format!("{principal} is not allowed {action} on {what}"))
}

impl Keystore {
    /// The policy a new key gets: full control for its creator and the administrators.
    pub(super) fn default_policy(&self, call: &Call) -> Policy {
        Policy::default_for(call.principal(), &self.administrators())
    }

    /// Checks `action` on `key` for the call's principal; the audit record of the call names the
    /// key, allowed or not.
    pub(super) fn authorize(
        &self,
        call: &Call,
        key: Arc<Key>,
        action: Action,
        context: &EncryptionContext,
    ) -> Result<Authorized> {
        call.use_key(key.metadata.id);
        self.check_grant_tokens(call)?;
        self.evaluate(call, &key, action, context)?;
        Ok(Authorized::new(key, action))
    }

    /// The grant tokens the call carries: at most [`MAX_GRANT_TOKENS`], each one this daemon
    /// handed out (a grant id) naming a grant that still exists. Grants take effect at once, so a
    /// valid token adds nothing `evaluate` does not already see: the grant it names is one of the
    /// grants every authorisation consults.
    pub(super) fn check_grant_tokens(&self, call: &Call) -> Result<()> {
        let tokens = call.grant_tokens();
        if tokens.len() > MAX_GRANT_TOKENS {
            return Err(Error::invalid(format!(
                "{} grant tokens given; a request carries at most {MAX_GRANT_TOKENS}",
                tokens.len()
            )));
        }
        tokens.iter().try_for_each(|token| self.check_grant_token(token))
    }

    /// One grant token: a grant id (32 lowercase hex digits, as CreateGrant hands them out)
    /// naming a grant that exists.
    fn check_grant_token(&self, token: &str) -> Result<()> {
        let ours = token.len() == 32 && token.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !ours {
            return Err(Error::InvalidGrantToken(format!(
                "{:?} is not a grant token this daemon handed out",
                Echo(token)
            )));
        }
        match self.keyring()?.grant(token) {
            Ok(_) => Ok(()),
            Err(Error::KeyNotFound(_)) => Err(Error::InvalidGrantToken(format!(
                "grant token {token} names no grant (retired, revoked or never made)"
            ))),
            Err(other) => Err(other),
        }
    }

    /// Whether the call's principal may `action` on `key`, leaving the audit record alone (for
    /// filtering many keys, as C_FindObjectsInit does).
    pub(super) fn permits(&self, call: &Call, key: &Key, action: Action) -> bool {
        self.evaluate(call, key, action, &EncryptionContext::new()).is_ok()
    }

    fn evaluate(&self, call: &Call, key: &Key, action: Action, context: &EncryptionContext) -> Result<()> {
        let principal = call.principal();
        let resource = key.metadata.id.to_string();
        if principal == "unknown" {
            return Err(denied(principal, &action.to_string(), &format!("key {resource}")));
        }
        let alias = call.alias();
        let action_name = action.to_string();
        let request = RequestContext {
            principal,
            action: &action_name,
            resource: &resource,
            encryption_context: context,
            request_alias: alias.as_deref(),
        };
        match policy::evaluate(&key.metadata.policy, &request) {
            Decision::Allow => Ok(()),
            // A grant can add what the policy does not mention, never undo a Deny.
            Decision::ImplicitDeny
                if self.keyring()?.any_grant(|grant| {
                    grant.key_id == key.metadata.id.as_bytes() && grant.allows(principal, action, context)
                })? =>
            {
                Ok(())
            }
            Decision::ExplicitDeny | Decision::ImplicitDeny => {
                Err(denied(principal, &action_name, &format!("key {resource}")))
            }
        }
    }

    /// Store-wide administration (creating keys, backups, audit, the token, the test clock).
    pub fn require_administrator(&self, call: &Call, operation: Operation) -> Result<()> {
        if self.is_administrator(call.principal()) {
            return Ok(());
        }
        Err(denied(call.principal(), &format!("arca:{operation}"), "this daemon (administrators only)"))
    }
    /// A new policy for a key, refused if it would leave no administrator able to change it.
    pub(super) fn check_policy_document(&self, key: KeyId, document: &str) -> Result<Policy> {
        let policy = Policy::parse(document)?;
        let key_id = key.to_string();
        if policy::locks_out_every_administrator(&policy, &key_id, &self.administrators()) {
            return Err(Error::invalid(
                "the key policy would leave no administrator allowed arca:PutKeyPolicy (lockout refused)",
            ));
        }
        Ok(policy)
    }
}

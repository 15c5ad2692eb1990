//! Authorization: every call that uses or manages a key is checked against the key's policy,
//! whichever front end it came from; store-wide administration is for the administrators (the
//! crypto-officer role: the configuration's and those named at initialisation).
//!
//! The caller travels with the request as task-local state set by the request layer, so the
//! service's methods keep their shape; work the daemon does on its own (scheduled rotation and
//! deletion) runs with no caller and is not subject to policies.

use std::cell::RefCell;
use std::future::Future;

use super::KmsService;
use crate::crypto::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::keys::{Key, KeyId};
use crate::policy::{self, Decision, Policy, RequestContext};

struct CurrentCall {
    principal: String,
    /// The alias the request named its key by, recorded by `resolve`.
    alias: RefCell<Option<String>>,
    /// The key the request used, recorded by `authorize` (for the audit record of calls that
    /// name keys by handle, such as PKCS#11's).
    key: RefCell<Option<String>>,
    /// The key version the request used, recorded where the service picks it.
    key_version: RefCell<Option<u32>>,
}

/// What a request's work used, for its audit record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Used {
    pub key: Option<String>,
    pub key_version: Option<u32>,
}

tokio::task_local! {
    static CURRENT_CALL: CurrentCall;
}

/// Runs one request's work as `principal`; also returns the key the work was authorised on and
/// the key version it used.
pub async fn as_caller<F: Future>(principal: String, work: F) -> (F::Output, Used) {
    let call = CurrentCall {
        principal,
        alias: RefCell::new(None),
        key: RefCell::new(None),
        key_version: RefCell::new(None),
    };
    CURRENT_CALL
        .scope(call, async {
            let output = work.await;
            let used = CURRENT_CALL
                .try_with(|call| Used {
                    key: call.key.borrow().clone(),
                    key_version: *call.key_version.borrow(),
                })
                .unwrap_or_default();
            (output, used)
        })
        .await
}

/// The principal of the request being served, if any.
pub(super) fn current_principal() -> Option<String> {
    CURRENT_CALL.try_with(|call| call.principal.clone()).ok()
}

/// Records the key a request works on, for its audit record (calls that name no key id).
pub(super) fn note_key(key: &str) {
    let _ = CURRENT_CALL.try_with(|call| call.key.replace(Some(key.to_owned())));
}

/// Records the key version a request uses (the last one noted wins: ReEncrypt's destination).
pub(super) fn note_key_version(version: u32) {
    let _ = CURRENT_CALL.try_with(|call| call.key_version.replace(Some(version)));
}

pub(super) fn note_alias(alias: &str) {
    let _ = CURRENT_CALL.try_with(|call| call.alias.replace(Some(alias.to_owned())));
}

fn current_alias() -> Option<String> {
    CURRENT_CALL.try_with(|call| call.alias.borrow().clone()).ok().flatten()
}

fn denied(principal: &str, action: &str, what: &str) -> Error {
    Error::AccessDenied(format!("{principal} is not allowed {action} on {what}"))
}

impl KmsService {
    /// The policy a new key gets: full control for its creator and the administrators.
    pub(super) fn default_policy(&self) -> Policy {
        let creator = current_principal().unwrap_or_default();
        Policy::default_for(&creator, &self.administrators())
    }

    /// Checks `arca:<operation>` on `key` for the current caller; the audit record of the call
    /// names the key.
    pub(super) fn authorize(&self, key: &Key, operation: &str, context: &EncryptionContext) -> Result<()> {
        let _ = CURRENT_CALL.try_with(|call| call.key.replace(Some(key.metadata.id.to_string())));
        self.evaluate(key, operation, context)
    }

    /// Whether the current caller may `arca:<operation>` on `key`, leaving the audit record alone
    /// (for filtering many keys, as C_FindObjectsInit does).
    pub(super) fn permits(&self, key: &Key, operation: &str) -> bool {
        self.evaluate(key, operation, &EncryptionContext::new()).is_ok()
    }

    fn evaluate(&self, key: &Key, operation: &str, context: &EncryptionContext) -> Result<()> {
        let Some(principal) = current_principal() else { return Ok(()) };
        let action = format!("arca:{operation}");
        let resource = key.metadata.id.to_string();
        if principal == "unknown" {
            return Err(denied(&principal, &action, &format!("key {resource}")));
        }
        let alias = current_alias();
        let request = RequestContext {
            principal: &principal,
            action: &action,
            resource: &resource,
            encryption_context: context,
            request_alias: alias.as_deref(),
        };
        match policy::evaluate(&key.metadata.policy, &request) {
            Decision::Allow => Ok(()),
            // A grant can add what the policy does not mention, never undo a Deny.
            Decision::ImplicitDeny
                if self.keyring()?.any_grant(|grant| {
                    grant.key_id == key.metadata.id.as_bytes() && grant.allows(&principal, operation, context)
                })? =>
            {
                Ok(())
            }
            Decision::ExplicitDeny | Decision::ImplicitDeny => {
                Err(denied(&principal, &action, &format!("key {resource}")))
            }
        }
    }

    /// Store-wide administration (creating keys, backups, audit, the test clock).
    pub fn require_administrator(&self, operation: &str) -> Result<()> {
        let Some(principal) = current_principal() else { return Ok(()) };
        if self.is_administrator(&principal) {
            return Ok(());
        }
        Err(denied(&principal, &format!("arca:{operation}"), "this daemon (administrators only)"))
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

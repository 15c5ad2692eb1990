//! Grants: durable, per-key permissions for a grantee, optionally constrained by encryption
//! context, that a key policy need not mention. Effective as soon as CreateGrant answers (the
//! store is strongly consistent), so grant tokens are never needed; those a request carries are
//! checked (`Keystore::check_grant_tokens`) and the grant a token names authorises like any
//! other.

use std::collections::BTreeMap;

use std::sync::Arc;

use super::{Call, Keystore};
use crate::crypto::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::keys::KeyId;
use crate::operation::Operation;
use crate::policy::Action;

/// A stored grant.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Grant {
    #[prost(bytes = "vec", tag = "1")]
    pub id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub key_id: Vec<u8>,
    #[prost(string, tag = "3")]
    pub grantee: String,
    #[prost(string, tag = "4")]
    pub retiring_principal: String,
    #[prost(string, repeated, tag = "5")]
    pub operations: Vec<String>,
    #[prost(string, tag = "6")]
    pub name: String,
    /// The request's context must contain these pairs.
    #[prost(btree_map = "string, string", tag = "7")]
    pub context_subset: BTreeMap<String, String>,
    /// The request's context must be exactly these pairs.
    #[prost(btree_map = "string, string", tag = "8")]
    pub context_equals: BTreeMap<String, String>,
    #[prost(string, tag = "9")]
    pub creator: String,
    #[prost(int64, tag = "10")]
    pub created_at: i64,
}

impl Grant {
    pub fn grant_id(&self) -> String {
        self.id.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether this grant lets `principal` do `action` with `context`.
    pub fn allows(&self, principal: &str, action: Action, context: &EncryptionContext) -> bool {
        self.grantee == principal
            && self.operations.iter().any(|o| o == action.name())
            && self.context_subset.iter().all(|(k, v)| context.get(k) == Some(v))
            && (self.context_equals.is_empty() || self.context_equals == *context)
    }
}

/// The parameters of CreateGrant.
#[derive(Debug, Clone)]
pub struct NewGrant {
    pub grantee: String,
    pub retiring_principal: String,
    pub operations: Vec<String>,
    pub name: String,
    pub context_subset: BTreeMap<String, String>,
    pub context_equals: BTreeMap<String, String>,
}

fn check(new: &NewGrant) -> Result<()> {
    if new.grantee.is_empty() {
        return Err(Error::invalid("grantee_principal is required"));
    }
    if new.operations.is_empty() {
        return Err(Error::invalid("a grant needs at least one operation"));
    }
    if let Some(bad) = new.operations.iter().find(|o| Action::grantable_named(o).is_none()) {
        return Err(Error::invalid(format!(
            "operation {bad:?} cannot be granted; grantable: {}",
            Action::grantable_names()
        )));
    }
    if !new.context_subset.is_empty() && !new.context_equals.is_empty() {
        return Err(Error::invalid("give EncryptionContextSubset or EncryptionContextEquals, not both"));
    }
    Ok(())
}

/// The grant calls.
#[derive(Debug)]
pub struct GrantService {
    keystore: Arc<Keystore>,
}

impl GrantService {
    pub fn new(keystore: Arc<Keystore>) -> Self {
        Self { keystore }
    }

    /// Returns the grant id (also its token).
    pub async fn create_grant(&self, call: &Call, key_ref: &str, new: NewGrant) -> Result<String> {
        check(&new)?;
        let keyring = self.keystore.keyring()?;
        let key = self.keystore.authorized_key(call, key_ref, Action::CreateGrant)?;
        let grant = Grant {
            id: KeyId::generate().as_bytes().to_vec(),
            key_id: key.metadata.id.as_bytes().to_vec(),
            grantee: new.grantee,
            retiring_principal: new.retiring_principal,
            operations: new.operations,
            name: new.name,
            context_subset: new.context_subset,
            context_equals: new.context_equals,
            creator: call.principal().to_owned(),
            created_at: self.keystore.now(),
        };
        let id = grant.grant_id();
        keyring.put_grant(grant).await?;
        Ok(id)
    }

    pub fn list_grants(&self, call: &Call, key_ref: &str) -> Result<Vec<Grant>> {
        let keyring = self.keystore.keyring()?;
        let key = self.keystore.authorized_key(call, key_ref, Action::ListGrants)?;
        keyring.grants(|grant| grant.key_id == key.metadata.id.as_bytes())
    }

    /// Grants the given principal may retire.
    pub fn list_retirable_grants(&self, call: &Call, retiring_principal: &str) -> Result<Vec<Grant>> {
        if call.principal() != retiring_principal {
            self.keystore.require_administrator(call, Operation::ListRetirableGrants)?;
        }
        self.keystore.keyring()?.grants(|grant| grant.retiring_principal == retiring_principal)
    }

    /// By its retiring principal, its grantee when the grant allows RetireGrant, or anyone the key
    /// policy allows arca:RetireGrant.
    pub async fn retire_grant(&self, call: &Call, grant_id: &str) -> Result<()> {
        // The grantee's own retirement is not authorised through the key: check the tokens here.
        self.keystore.check_grant_tokens(call)?;
        let keyring = self.keystore.keyring()?;
        let grant = keyring.grant(grant_id)?;
        let caller = call.principal();
        let own = caller == grant.retiring_principal
            || (caller == grant.grantee && grant.operations.iter().any(|o| o == Action::RetireGrant.name()));
        if !own {
            let key = keyring.get(grant_key(&grant)?)?;
            self.keystore.authorize(call, key, Action::RetireGrant, &EncryptionContext::new())?;
        }
        keyring.delete_grant(&grant).await
    }

    /// By anyone the key policy allows arca:RevokeGrant.
    pub async fn revoke_grant(&self, call: &Call, key_ref: &str, grant_id: &str) -> Result<()> {
        let keyring = self.keystore.keyring()?;
        let key = self.keystore.authorized_key(call, key_ref, Action::RevokeGrant)?;
        let grant = keyring.grant(grant_id)?;
        if grant.key_id != key.metadata.id.as_bytes() {
            return Err(Error::KeyNotFound(format!("grant {grant_id} of key {}", key.metadata.id)));
        }
        keyring.delete_grant(&grant).await
    }
}

pub(super) fn grant_key(grant: &Grant) -> Result<KeyId> {
    <[u8; 16]>::try_from(grant.key_id.as_slice())
        .map(KeyId::from_bytes)
        .map_err(|_| Error::Integrity("a grant names a malformed key id".into()))
}

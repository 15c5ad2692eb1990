//! Key policies: an AWS KMS-style policy language, parsed, validated and evaluated without I/O.
//!
//! A document is `{"Version":"2012-10-17","Statement":[…]}`; each statement has an `Effect`
//! (`Allow`/`Deny`), a `Principal` (`"*"` or `{"Arca": "uid:1000" | ["cert:CN=app,O=Payments", …]}`),
//! `Action` (`arca:<Operation>`, case-insensitive), `Resource` (key ids, `"*"` for this key) and an
//! optional `Condition`. Evaluation is AWS's: an applicable Deny wins over any Allow, and without
//! an applicable Allow the answer is an implicit deny. `*` and `?` are wildcards in principals,
//! actions, resources and `StringLike` values; `${*}`, `${?}` and `${$}` write them literally.
//!
//! Condition keys: `arca:CallerPrincipal`, `arca:RequestAlias` (absent when the request named the
//! key by id), `arca:EncryptionContext:<key>` and the multivalued `arca:EncryptionContextKeys`.

mod action;
mod condition;
mod document;
mod json;
mod parse;
mod pattern;

#[cfg(test)]
mod decision_tests;
#[cfg(test)]
mod parse_tests;

use std::collections::BTreeMap;

pub use action::Action;
use document::{Effect, Principals, Statement};
use pattern::Pattern;

use crate::error::Result;

/// The largest document accepted, in bytes (the AWS KMS key policy limit).
pub const MAX_POLICY_BYTES: usize = 32 * 1024;

/// The action that lets a principal replace a key's policy, and so administer the key.
pub const ADMIN_ACTION: &str = "arca:PutKeyPolicy";

/// A parsed and validated key policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    id: Option<String>,
    statements: Vec<Statement>,
}

/// What a request is: who asks to do what to which key, with what context.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The caller as `auth::Caller` displays it: `uid:<n>` or `cert:<subject>`. Refuse callers of
    /// unknown identity before evaluating: `"Principal": "*"` would admit them too.
    pub principal: &'a str,
    /// The operation, e.g. `arca:Encrypt`.
    pub action: &'a str,
    /// The id of the key the request uses.
    pub resource: &'a str,
    pub encryption_context: &'a BTreeMap<String, String>,
    /// The alias the request named the key by, if it used one.
    pub request_alias: Option<&'a str>,
}

/// The outcome of evaluating a policy for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A Deny statement applies; nothing else (grants included) may override it.
    ExplicitDeny,
    /// No statement allows the request.
    ImplicitDeny,
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Self::Allow
    }
}

impl Policy {
    /// Parses and validates a document; errors (`Error::InvalidArgument`) name the statement, by
    /// index and Sid, and the field at fault.
    pub fn parse(json: &str) -> Result<Self> {
        parse::parse_document(json)
    }

    /// Reads back a policy as the store keeps it ([`Self::to_json`]), without the size limit of
    /// `parse`: the canonical, pretty-printed form of a document near the limit is past it, and a
    /// stored policy that did not read back would leave its key unusable.
    pub fn from_stored(json: &str) -> Result<Self> {
        parse::parse_any_size(json)
    }

    /// The policy a new key gets when its creator supplies none: full control (`arca:*`) for the
    /// creator and for the configured administrators. Identities are escaped, so a certificate
    /// subject containing `*` names only itself.
    pub fn default_for(creator: &str, administrators: &[String]) -> Self {
        let mut statements = vec![full_control("CreatorFullControl", [creator])];
        let others: Vec<&str> =
            administrators.iter().map(String::as_str).filter(|admin| *admin != creator).collect();
        if !others.is_empty() {
            statements.push(full_control("AdministratorsFullControl", others));
        }
        Self { id: Some("arca-default-1".to_owned()), statements }
    }

    /// Canonical, pretty-printed JSON; `Policy::parse` reads it back to an equal policy.
    pub fn to_json(&self) -> String {
        document::to_json(self)
    }

    /// Whether `principal` would be allowed `arca:PutKeyPolicy` on key `key_id`. The request is
    /// the one PutKeyPolicy makes: no encryption context, the key named by id (no alias), so the
    /// answer matches what the service will decide when that principal calls it.
    pub fn grants_admin(&self, principal: &str, key_id: &str) -> bool {
        let no_context = BTreeMap::new();
        let request = RequestContext {
            principal,
            action: ADMIN_ACTION,
            resource: key_id,
            encryption_context: &no_context,
            request_alias: None,
        };
        evaluate(self, &request).is_allowed()
    }
}

/// A statement allowing every action on the key to exactly the given identities.
fn full_control<'i>(sid: &str, principals: impl IntoIterator<Item = &'i str>) -> Statement {
    Statement {
        sid: Some(sid.to_owned()),
        effect: Effect::Allow,
        principals: Principals::Arca(principals.into_iter().map(Pattern::literal).collect()),
        actions: vec![Pattern::starts_with("arca:")],
        resources: vec![Pattern::starts_with("")],
        conditions: Vec::new(),
    }
}

/// Decides `request` under `policy`: an applicable Deny wins; otherwise an applicable Allow
/// allows; otherwise the request is implicitly denied.
pub fn evaluate(policy: &Policy, request: &RequestContext) -> Decision {
    let mut allowed = false;
    for statement in policy.statements.iter().filter(|s| s.applies_to(request)) {
        match statement.effect {
            // Nothing can override an explicit deny, so there is no need to look further.
            Effect::Deny => return Decision::ExplicitDeny,
            Effect::Allow => allowed = true,
        }
    }
    if allowed { Decision::Allow } else { Decision::ImplicitDeny }
}

/// True if none of `administrators` would be allowed `arca:PutKeyPolicy` on `key_id` under
/// `policy`: installing it would leave the key with nobody able to change its policy. The service
/// should pass the caller together with the configured administrators; an empty list is
/// trivially locked out.
pub fn locks_out_every_administrator(policy: &Policy, key_id: &str, administrators: &[String]) -> bool {
    !administrators.iter().any(|admin| policy.grants_admin(admin, key_id))
}

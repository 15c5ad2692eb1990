//! Key policy JSON (`PutKeyPolicy`, `CreateKey --policy`): a document is refused with an error
//! or parsed into a policy whose canonical JSON (the stored form) reads back to the same policy,
//! with the same canonical JSON and the same decisions.

use std::collections::BTreeMap;

use arca_daemon::policy::{Policy, RequestContext, evaluate};

pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(policy) = Policy::parse(text) else { return };
    let canonical = policy.to_json();
    let again = match Policy::from_stored(&canonical) {
        Ok(again) => again,
        Err(error) => panic!("the stored form of an accepted policy is refused: {error}\n{canonical}"),
    };
    assert_eq!(policy, again, "the canonical form reads back to another policy");
    assert_eq!(canonical, again.to_json(), "the canonical form is not stable");
    for request in &requests() {
        assert_eq!(evaluate(&policy, &request.as_context()), evaluate(&again, &request.as_context()));
    }
    let _ = policy.grants_admin("uid:0", "1234abcd-12ab-34cd-56ef-1234567890ab");
}

struct Request {
    principal: &'static str,
    action: &'static str,
    alias: Option<&'static str>,
    context: BTreeMap<String, String>,
}

impl Request {
    fn as_context(&self) -> RequestContext<'_> {
        RequestContext {
            principal: self.principal,
            action: self.action,
            resource: "1234abcd-12ab-34cd-56ef-1234567890ab",
            encryption_context: &self.context,
            request_alias: self.alias,
        }
    }
}

/// Requests that exercise each kind of condition key.
fn requests() -> [Request; 3] {
    let context =
        |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    [
        Request { principal: "uid:1000", action: "arca:Encrypt", alias: None, context: BTreeMap::new() },
        Request {
            principal: "cert:CN=app,O=Payments",
            action: "arca:Decrypt",
            alias: Some("alias/orders"),
            context: context(&[("dept", "payments"), ("order", "17")]),
        },
        Request {
            principal: "uid:0",
            action: "arca:PutKeyPolicy",
            alias: None,
            context: context(&[("*", "?")]),
        },
    ]
}

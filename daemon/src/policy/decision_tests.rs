//! Table-driven evaluation tests: one row per behaviour, each naming what it checks.

use std::collections::BTreeMap;

use super::Decision::{Allow, ExplicitDeny as Deny, ImplicitDeny as Implicit};
use super::{Decision, Policy, RequestContext, evaluate};

const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const U1000: &str = "uid:1000";
const APP: &str = "cert:CN=app,O=Payments";
const ENCRYPT: &str = "arca:Encrypt";

/// How a row's policy is built.
enum Doc {
    /// The value of `Statement`.
    Stmts(&'static str),
    /// One statement allowing everything to everyone, when the given Condition element holds.
    AllowIf(&'static str),
    /// `Policy::default_for(creator, admins)`.
    Default(&'static str, &'static [&'static str]),
}
use Doc::{AllowIf, Default, Stmts};

struct Case {
    what: &'static str,
    policy: Doc,
    principal: &'static str,
    action: &'static str,
    context: &'static [(&'static str, &'static str)],
    alias: Option<&'static str>,
    expected: Decision,
}

impl Doc {
    fn build(&self) -> Policy {
        let statements = match self {
            Stmts(statements) => (*statements).to_owned(),
            AllowIf(condition) => format!(
                r#"{{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*","Condition":{condition}}}"#
            ),
            Default(creator, admins) => {
                let admins: Vec<String> = admins.iter().map(|a| (*a).to_owned()).collect();
                return Policy::default_for(creator, &admins);
            }
        };
        let json = format!(r#"{{"Version":"2012-10-17","Statement":{statements}}}"#);
        Policy::parse(&json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Effects and Deny-overrides.
    Case { what: "exact principal, action and key are allowed", expected: Allow,
        policy: Stmts(r#"{"Effect":"Allow","Principal":{"Arca":"uid:1000"},"Action":"arca:Encrypt","Resource":"*"}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "another principal is implicitly denied", expected: Implicit,
        policy: Stmts(r#"{"Effect":"Allow","Principal":{"Arca":"uid:1000"},"Action":"arca:Encrypt","Resource":"*"}"#),
        principal: "uid:1001", action: ENCRYPT, context: &[], alias: None },
    Case { what: "another action is implicitly denied", expected: Implicit,
        policy: Stmts(r#"{"Effect":"Allow","Principal":{"Arca":"uid:1000"},"Action":"arca:Encrypt","Resource":"*"}"#),
        principal: U1000, action: "arca:Decrypt", context: &[], alias: None },
    Case { what: "a Deny after an Allow wins", expected: Deny,
        policy: Stmts(r#"[{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*"},
                          {"Effect":"Deny","Principal":{"Arca":"uid:1000"},"Action":"arca:Encrypt","Resource":"*"}]"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "a Deny before an Allow wins", expected: Deny,
        policy: Stmts(r#"[{"Effect":"Deny","Principal":"*","Action":"arca:*","Resource":"*"},
                          {"Effect":"Allow","Principal":{"Arca":"uid:1000"},"Action":"arca:Encrypt","Resource":"*"}]"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "a Deny for someone else does not touch this caller", expected: Allow,
        policy: Stmts(r#"[{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*"},
                          {"Effect":"Deny","Principal":{"Arca":"uid:0"},"Action":"arca:*","Resource":"*"}]"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "a Deny alone is still an explicit deny", expected: Deny,
        policy: Stmts(r#"{"Effect":"Deny","Principal":"*","Action":"arca:Encrypt","Resource":"*"}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "a Deny whose condition fails does not apply", expected: Allow,
        policy: Stmts(r#"[{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*"},
                          {"Effect":"Deny","Principal":"*","Action":"arca:*","Resource":"*",
                           "Condition":{"StringEquals":{"arca:EncryptionContext:tenant":"7"}}}]"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42")], alias: None },
    Case { what: "a conditional Deny on a sensitive context key wins", expected: Deny,
        policy: Stmts(r#"[{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*"},
                          {"Effect":"Deny","Principal":"*","Action":"arca:Decrypt","Resource":"*",
                           "Condition":{"ForAnyValue:StringEquals":{"arca:EncryptionContextKeys":"secret"}}}]"#),
        principal: U1000, action: "arca:Decrypt", context: &[("secret", "1"), ("tenant", "42")], alias: None },
    Case { what: "a Deny for callers outside uid:* catches a certificate", expected: Deny,
        policy: Stmts(r#"[{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*"},
                          {"Effect":"Deny","Principal":"*","Action":"arca:*","Resource":"*",
                           "Condition":{"StringNotLike":{"arca:CallerPrincipal":"uid:*"}}}]"#),
        principal: APP, action: ENCRYPT, context: &[], alias: None },
    // Actions.
    Case { what: "arca:Generate* matches GenerateDataKey", expected: Allow,
        policy: Stmts(r#"{"Effect":"Allow","Principal":"*","Action":"arca:Generate*","Resource":"*"}"#),
        principal: U1000, action: "arca:GenerateDataKey", context: &[], alias: None },
    Case { what: "arca:Generate* does not match Encrypt", expected: Implicit,
        policy: Stmts(r#"{"Effect":"Allow","Principal":"*","Action":"arca:Generate*","Resource":"*"}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "actions match case-insensitively (policy side)", expected: Allow,
        policy: Stmts(r#"{"Effect":"Allow","Principal":"*","Action":"ARCA:ENCRYPT","Resource":"*"}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "actions match case-insensitively (request side)", expected: Allow,
        policy: Stmts(r#"{"Effect":"Allow","Principal":"*","Action":"arca:Encrypt","Resource":"*"}"#),
        principal: U1000, action: "arca:encrypt", context: &[], alias: None },
    Case { what: "? in an action matches exactly one character", expected: Allow,
        policy: Stmts(r#"{"Effect":"Allow","Principal":"*","Action":"arca:?ecrypt","Resource":"*"}"#),
        principal: U1000, action: "arca:Decrypt", context: &[], alias: None },
    Case { what: "? in an action does not match two characters", expected: Implicit,
        policy: Stmts(r#"{"Effect":"Allow","Principal":"*","Action":"arca:?crypt","Resource":"*"}"#),
        principal: U1000, action: "arca:Decrypt", context: &[], alias: None },
    Case { what: "an action list is ORed", expected: Allow,
        policy: Stmts(r#"{"Effect":"Allow","Principal":"*","Action":["arca:Encrypt","arca:Decrypt"],"Resource":"*"}"#),
        principal: U1000, action: "arca:Decrypt", context: &[], alias: None },
    // Principals.
    Case { what: "Principal \"*\" admits any caller", expected: Allow,
        policy: Stmts(r#"{"Effect":"Allow","Principal":"*","Action":"arca:Encrypt","Resource":"*"}"#),
        principal: APP, action: ENCRYPT, context: &[], alias: None },
    Case { what: "Principal {\"Arca\":\"*\"} admits any caller", expected: Allow,
        policy: Stmts(r#"{"Effect":"Allow","Principal":{"Arca":"*"},"Action":"arca:Encrypt","Resource":"*"}"#),
        principal: APP, action: ENCRYPT, context: &[], alias: None },
    Case { what: "a principal list is ORed", expected: Allow,
        policy: Stmts(r#"{"Effect":"Allow","Principal":{"Arca":["uid:1000","cert:CN=app,O=Payments"]},"Action":"arca:*","Resource":"*"}"#),
        principal: APP, action: ENCRYPT, context: &[], alias: None },
    Case { what: "uid:10* matches uid:1000", expected: Allow,
        policy: Stmts(r#"{"Effect":"Allow","Principal":{"Arca":"uid:10*"},"Action":"arca:*","Resource":"*"}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "uid:10? does not match uid:1000", expected: Implicit,
        policy: Stmts(r#"{"Effect":"Allow","Principal":{"Arca":"uid:10?"},"Action":"arca:*","Resource":"*"}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "a wildcard in a certificate subject", expected: Allow,
        policy: Stmts(r#"{"Effect":"Allow","Principal":{"Arca":"cert:CN=app,O=*"},"Action":"arca:*","Resource":"*"}"#),
        principal: APP, action: ENCRYPT, context: &[], alias: None },
    Case { what: "principals are case-sensitive", expected: Implicit,
        policy: Stmts(r#"{"Effect":"Allow","Principal":{"Arca":"cert:CN=App,O=Payments"},"Action":"arca:*","Resource":"*"}"#),
        principal: APP, action: ENCRYPT, context: &[], alias: None },
    Case { what: "an escaped * in a subject is literal", expected: Implicit,
        policy: Stmts(r#"{"Effect":"Allow","Principal":{"Arca":"cert:CN=${*}.example.com"},"Action":"arca:*","Resource":"*"}"#),
        principal: "cert:CN=evil.example.com", action: ENCRYPT, context: &[], alias: None },
    // Resources.
    Case { what: "the key's own id as Resource", expected: Allow,
        policy: Stmts(r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"1234abcd-12ab-34cd-56ef-1234567890ab"}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "another key's id as Resource", expected: Implicit,
        policy: Stmts(r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"ffffffff-12ab-34cd-56ef-1234567890ab"}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "a * in a Resource", expected: Allow,
        policy: Stmts(r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"1234abcd-*"}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "a ? in a Resource, in a list", expected: Allow,
        policy: Stmts(r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":["other","1234abcd-12ab-34cd-56ef-1234567890a?"]}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    // String conditions.
    Case { what: "StringEquals on a context value", expected: Allow,
        policy: AllowIf(r#"{"StringEquals":{"arca:EncryptionContext:tenant":"42"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42")], alias: None },
    Case { what: "StringEquals with another value", expected: Implicit,
        policy: AllowIf(r#"{"StringEquals":{"arca:EncryptionContext:tenant":"42"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "43")], alias: None },
    Case { what: "StringEquals on a missing context key", expected: Implicit,
        policy: AllowIf(r#"{"StringEquals":{"arca:EncryptionContext:tenant":"42"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("purpose", "backup")], alias: None },
    Case { what: "several values for one key are ORed", expected: Allow,
        policy: AllowIf(r#"{"StringEquals":{"arca:EncryptionContext:tenant":["41","42"]}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42")], alias: None },
    Case { what: "several keys under one operator are ANDed (one missing)", expected: Implicit,
        policy: AllowIf(r#"{"StringEquals":{"arca:EncryptionContext:tenant":"42","arca:EncryptionContext:purpose":"backup"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42")], alias: None },
    Case { what: "several keys under one operator are ANDed (both hold)", expected: Allow,
        policy: AllowIf(r#"{"StringEquals":{"arca:EncryptionContext:tenant":"42","arca:EncryptionContext:purpose":"backup"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("purpose", "backup"), ("tenant", "42")], alias: None },
    Case { what: "several operators are ANDed", expected: Implicit,
        policy: AllowIf(r#"{"StringEquals":{"arca:EncryptionContext:tenant":"42"},"StringLike":{"arca:RequestAlias":"alias/app-*"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42")], alias: Some("alias/db") },
    Case { what: "context keys are case-sensitive in condition keys", expected: Implicit,
        policy: AllowIf(r#"{"StringEquals":{"arca:EncryptionContext:tenant":"42"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("Tenant", "42")], alias: None },
    Case { what: "the arca: part of a condition key is case-insensitive", expected: Allow,
        policy: AllowIf(r#"{"StringEquals":{"ARCA:encryptioncontext:tenant":"42"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42")], alias: None },
    Case { what: "StringEquals on the caller principal", expected: Allow,
        policy: AllowIf(r#"{"StringEquals":{"arca:CallerPrincipal":"uid:1000"}}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "StringLike with a * on a context value", expected: Allow,
        policy: AllowIf(r#"{"StringLike":{"arca:EncryptionContext:tenant":"4*"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42")], alias: None },
    Case { what: "StringLike on the request alias", expected: Allow,
        policy: AllowIf(r#"{"StringLike":{"arca:RequestAlias":"alias/app-*"}}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: Some("alias/app-orders") },
    Case { what: "StringLike values are case-sensitive", expected: Implicit,
        policy: AllowIf(r#"{"StringLike":{"arca:RequestAlias":"alias/App-*"}}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: Some("alias/app-orders") },
    Case { what: "StringLike on an alias when the request used none", expected: Implicit,
        policy: AllowIf(r#"{"StringLike":{"arca:RequestAlias":"alias/*"}}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "StringNotEquals with a different value", expected: Allow,
        policy: AllowIf(r#"{"StringNotEquals":{"arca:EncryptionContext:tenant":"7"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42")], alias: None },
    Case { what: "StringNotEquals with an equal value", expected: Implicit,
        policy: AllowIf(r#"{"StringNotEquals":{"arca:EncryptionContext:tenant":["7","42"]}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42")], alias: None },
    Case { what: "StringNotEquals on a missing key holds (AWS)", expected: Allow,
        policy: AllowIf(r#"{"StringNotEquals":{"arca:EncryptionContext:tenant":"7"}}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "StringNotLike with a matching alias", expected: Implicit,
        policy: AllowIf(r#"{"StringNotLike":{"arca:RequestAlias":"alias/prod-*"}}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: Some("alias/prod-db") },
    Case { what: "StringEqualsIgnoreCase", expected: Allow,
        policy: AllowIf(r#"{"StringEqualsIgnoreCase":{"arca:EncryptionContext:dept":"PAYMENTS"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("dept", "Payments")], alias: None },
    Case { what: "StringNotEqualsIgnoreCase with a value equal but for case", expected: Implicit,
        policy: AllowIf(r#"{"StringNotEqualsIgnoreCase":{"arca:EncryptionContext:dept":"PAYMENTS"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("dept", "payments")], alias: None },
    // IfExists and Null.
    Case { what: "StringEqualsIfExists on a missing key", expected: Allow,
        policy: AllowIf(r#"{"StringEqualsIfExists":{"arca:EncryptionContext:tenant":"42"}}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "StringEqualsIfExists on a present, different value", expected: Implicit,
        policy: AllowIf(r#"{"StringEqualsIfExists":{"arca:EncryptionContext:tenant":"42"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "7")], alias: None },
    Case { what: "StringLikeIfExists on a present alias", expected: Allow,
        policy: AllowIf(r#"{"StringLikeIfExists":{"arca:RequestAlias":"alias/app-*"}}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: Some("alias/app-x") },
    Case { what: "StringNotEqualsIfExists on a present, equal value", expected: Implicit,
        policy: AllowIf(r#"{"StringNotEqualsIfExists":{"arca:EncryptionContext:tenant":"42"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42")], alias: None },
    Case { what: "Null true on an absent key", expected: Allow,
        policy: AllowIf(r#"{"Null":{"arca:EncryptionContext:tenant":"true"}}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "Null true on a present key", expected: Implicit,
        policy: AllowIf(r#"{"Null":{"arca:EncryptionContext:tenant":"true"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42")], alias: None },
    Case { what: "Null false (boolean) on a present key", expected: Allow,
        policy: AllowIf(r#"{"Null":{"arca:EncryptionContext:tenant":false}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42")], alias: None },
    Case { what: "Null false on the key set of an empty context", expected: Implicit,
        policy: AllowIf(r#"{"Null":{"arca:EncryptionContextKeys":"false"}}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    // Set operators on the encryption-context keys.
    Case { what: "ForAllValues: every key is listed", expected: Allow,
        policy: AllowIf(r#"{"ForAllValues:StringEquals":{"arca:EncryptionContextKeys":["tenant","purpose"]}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42")], alias: None },
    Case { what: "ForAllValues: an unlisted key", expected: Implicit,
        policy: AllowIf(r#"{"ForAllValues:StringEquals":{"arca:EncryptionContextKeys":["tenant","purpose"]}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42"), ("user", "x")], alias: None },
    Case { what: "ForAllValues holds for an empty context", expected: Allow,
        policy: AllowIf(r#"{"ForAllValues:StringEquals":{"arca:EncryptionContextKeys":["tenant"]}}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "ForAllValues:StringNotEquals: no forbidden key", expected: Allow,
        policy: AllowIf(r#"{"ForAllValues:StringNotEquals":{"arca:EncryptionContextKeys":"secret"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42")], alias: None },
    Case { what: "ForAllValues:StringNotEquals: a forbidden key", expected: Implicit,
        policy: AllowIf(r#"{"ForAllValues:StringNotEquals":{"arca:EncryptionContextKeys":"secret"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("secret", "1"), ("tenant", "42")], alias: None },
    Case { what: "ForAnyValue: one listed key suffices", expected: Allow,
        policy: AllowIf(r#"{"ForAnyValue:StringEquals":{"arca:EncryptionContextKeys":"tenant"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42"), ("user", "x")], alias: None },
    Case { what: "ForAnyValue fails for an empty context", expected: Implicit,
        policy: AllowIf(r#"{"ForAnyValue:StringEquals":{"arca:EncryptionContextKeys":"tenant"}}"#),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "ForAnyValue:StringLike on the keys", expected: Allow,
        policy: AllowIf(r#"{"ForAnyValue:StringLike":{"arca:EncryptionContextKeys":"ten*"}}"#),
        principal: U1000, action: ENCRYPT, context: &[("tenant", "42")], alias: None },
    // The default policy.
    Case { what: "default policy: the creator may use the key", expected: Allow,
        policy: Default(U1000, &["uid:0"]),
        principal: U1000, action: ENCRYPT, context: &[], alias: None },
    Case { what: "default policy: an administrator may change the policy", expected: Allow,
        policy: Default(U1000, &["uid:0"]),
        principal: "uid:0", action: "arca:PutKeyPolicy", context: &[], alias: None },
    Case { what: "default policy: anyone else is implicitly denied", expected: Implicit,
        policy: Default(U1000, &["uid:0"]),
        principal: "uid:1001", action: ENCRYPT, context: &[], alias: None },
    Case { what: "default policy: a creator subject with * names only itself", expected: Implicit,
        policy: Default("cert:CN=*.example.com", &[]),
        principal: "cert:CN=evil.example.com", action: ENCRYPT, context: &[], alias: None },
    Case { what: "default policy: that creator keeps access", expected: Allow,
        policy: Default("cert:CN=*.example.com", &[]),
        principal: "cert:CN=*.example.com", action: ENCRYPT, context: &[], alias: None },
];

#[test]
fn decisions_follow_the_table() {
    let mut failures = Vec::new();
    for case in CASES {
        let policy = case.policy.build();
        let context: BTreeMap<String, String> =
            case.context.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let request = RequestContext {
            principal: case.principal,
            action: case.action,
            resource: KEY,
            encryption_context: &context,
            request_alias: case.alias,
        };
        let decision = evaluate(&policy, &request);
        if decision != case.expected {
            failures.push(format!("{}: expected {:?}, got {decision:?}", case.what, case.expected));
        }
        // Writing the policy out and reading it back must not change any decision.
        let reread = Policy::parse(&policy.to_json()).unwrap();
        assert_eq!(reread, policy, "{}: round trip", case.what);
    }
    assert!(CASES.len() >= 40, "the table must keep at least 40 rows");
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

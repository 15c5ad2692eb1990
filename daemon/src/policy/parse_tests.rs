//! Parse errors (each must name what is wrong and where), the size limit, round trips, the
//! default policy and the lockout check.

use super::{MAX_POLICY_BYTES, Policy, locks_out_every_administrator};
use crate::error::Error;

const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

fn doc(statements: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":{statements}}}"#)
}

fn error_of(json: &str) -> String {
    match Policy::parse(json) {
        Err(Error::InvalidArgument(message)) => message,
        Err(other) => panic!("expected InvalidArgument, got {other:?}"),
        Ok(_) => panic!("expected an error for {json}"),
    }
}

const OK: &str = r#""Effect":"Allow","Principal":"*","Action":"arca:Encrypt","Resource":"*""#;

/// (what, statements or whole document, fragments the message must contain)
#[rustfmt::skip]
const STATEMENT_ERRORS: &[(&str, &str, &[&str])] = &[
    ("unknown field, named by Sid", r#"{"Sid":"Use","NotAction":"arca:Encrypt","Effect":"Allow","Principal":"*","Resource":"*"}"#, &["Statement[0] (Sid \"Use\")", "unknown field \"NotAction\""]),
    ("missing Effect, named by index", r#"[{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*"},{"Principal":"*","Action":"arca:*","Resource":"*"}]"#, &["Statement[1]", "Effect is required"]),
    ("unknown Effect", r#"{"Sid":"S","Effect":"Permit","Principal":"*","Action":"arca:*","Resource":"*"}"#, &["Sid \"S\"", "Effect", "\"Permit\""]),
    ("Effect is case-sensitive", r#"{"Effect":"allow","Principal":"*","Action":"arca:*","Resource":"*"}"#, &["Statement[0]", "\"allow\""]),
    ("missing Principal", r#"{"Effect":"Allow","Action":"arca:*","Resource":"*"}"#, &["Principal is required"]),
    ("foreign principal type", r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"arca:*","Resource":"*"}"#, &["unknown principal type \"AWS\""]),
    ("principal without a type prefix", r#"{"Effect":"Allow","Principal":{"Arca":"1000"},"Action":"arca:*","Resource":"*"}"#, &["Principal.Arca", "\"1000\" is not a principal"]),
    ("uid that is not a number", r#"{"Effect":"Allow","Principal":{"Arca":["uid:1","uid:root"]},"Action":"arca:*","Resource":"*"}"#, &["\"uid:root\""]),
    ("empty principal list", r#"{"Effect":"Allow","Principal":{"Arca":[]},"Action":"arca:*","Resource":"*"}"#, &["Principal.Arca must not be an empty list"]),
    ("principal string other than *", r#"{"Effect":"Allow","Principal":"uid:1000","Action":"arca:*","Resource":"*"}"#, &["Principal must be \"*\""]),
    ("foreign action", r#"{"Sid":"K","Effect":"Allow","Principal":"*","Action":["arca:Encrypt","kms:Decrypt"],"Resource":"*"}"#, &["Sid \"K\"", "Action", "\"kms:Decrypt\" must start with \"arca:\""]),
    ("bare * action", r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}"#, &["Action", "arca:*"]),
    ("empty action name", r#"{"Effect":"Allow","Principal":"*","Action":"arca:","Resource":"*"}"#, &["\"arca:\" is not an action"]),
    ("action name with a space", r#"{"Effect":"Allow","Principal":"*","Action":"arca:Encrypt Decrypt","Resource":"*"}"#, &["\"arca:Encrypt Decrypt\" is not an action"]),
    ("action of the wrong type", r#"{"Effect":"Allow","Principal":"*","Action":42,"Resource":"*"}"#, &["Action must be a string or a list of strings, found a number"]),
    ("non-string in an action list", r#"{"Effect":"Allow","Principal":"*","Action":["arca:Encrypt",true],"Resource":"*"}"#, &["Action must list only strings, found a boolean"]),
    ("missing Resource", r#"{"Effect":"Allow","Principal":"*","Action":"arca:*"}"#, &["Resource is required"]),
    ("empty Resource", r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":""}"#, &["Resource", "must not be empty"]),
    ("unknown operator", r#"{"Sid":"C","Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*","Condition":{"StringEqualz":{"arca:RequestAlias":"a"}}}"#, &["Sid \"C\"", "unknown condition operator \"StringEqualz\""]),
    ("IfExists on a set operator", r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*","Condition":{"ForAllValues:StringEqualsIfExists":{"arca:EncryptionContextKeys":"a"}}}"#, &["\"ForAllValues:StringEqualsIfExists\""]),
    ("unknown condition key", r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*","Condition":{"StringEquals":{"arca:SourceIp":"a"}}}"#, &["Condition.StringEquals.arca:SourceIp is not a known condition key"]),
    ("context key without a name", r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*","Condition":{"StringEquals":{"arca:EncryptionContext:":"a"}}}"#, &["arca:EncryptionContext: is not a known condition key"]),
    ("multivalued key, single-valued operator", r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*","Condition":{"StringEquals":{"arca:EncryptionContextKeys":"a"}}}"#, &["arca:EncryptionContextKeys", "ForAllValues:StringEquals"]),
    ("Null with a non-boolean", r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*","Condition":{"Null":{"arca:RequestAlias":"yes"}}}"#, &["Condition.Null.arca:RequestAlias must be \"true\" or \"false\""]),
    ("number as a condition value", r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*","Condition":{"StringEquals":{"arca:EncryptionContext:tenant":42}}}"#, &["Condition.StringEquals.arca:EncryptionContext:tenant", "found a number"]),
    ("empty operator block", r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*","Condition":{"StringLike":{}}}"#, &["Condition.StringLike is empty"]),
    ("Condition not an object", r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*","Condition":["x"]}"#, &["Condition must be an object"]),
    ("a key repeated in another spelling", r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*","Condition":{"StringEquals":{"arca:RequestAlias":"a","ARCA:requestalias":"b"}}}"#, &["repeats a key"]),
    ("unsupported policy variable", r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*","Condition":{"StringLike":{"arca:RequestAlias":"alias/${arca:user}"}}}"#, &["Condition.StringLike.arca:RequestAlias contains an unsupported variable \"${arca:user}\""]),
    ("duplicate Sid", r#"[{"Sid":"A","Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*"},{"Sid":"A","Effect":"Deny","Principal":"*","Action":"arca:*","Resource":"*"}]"#, &["Statement[1] (Sid \"A\")", "already used by Statement[0]"]),
    ("Sid of the wrong type", r#"{"Sid":7,"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*"}"#, &["Statement[0]", "Sid must be a string"]),
    ("a statement that is not an object", r#"[{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*"},"Allow"]"#, &["Statement[1]", "must be an object"]),
    ("empty Statement list", "[]", &["Statement must not be empty"]),
    ("Statement of the wrong type", r#""Allow""#, &["Statement must be an object or a list"]),
];

#[test]
fn statement_errors_name_the_statement_and_field() {
    for (what, statements, fragments) in STATEMENT_ERRORS {
        let message = error_of(&doc(statements));
        for fragment in *fragments {
            assert!(message.contains(fragment), "{what}: {message:?} lacks {fragment:?}");
        }
    }
}

#[test]
fn document_errors_name_the_field() {
    let cases: &[(&str, &str)] = &[
        ("not json", "not a valid JSON document"),
        ("[]", "must be a JSON object"),
        (&format!(r#"{{"Statement":{{{OK}}}}}"#), "Version is required"),
        (
            &format!(r#"{{"Version":"2008-10-17","Statement":{{{OK}}}}}"#),
            "Version must be \"2012-10-17\", found \"2008-10-17\"",
        ),
        (
            &format!(r#"{{"Version":"2012-10-17","Statements":[{{{OK}}}]}}"#),
            "unknown top-level field \"Statements\"",
        ),
        (r#"{"Version":"2012-10-17"}"#, "Statement is required"),
        (&format!(r#"{{"Version":"2012-10-17","Id":1,"Statement":{{{OK}}}}}"#), "Id must be a string"),
        (&doc(&format!(r#"{{{OK},"Effect":"Deny"}}"#)), "duplicate name \"Effect\""),
    ];
    for (json, fragment) in cases {
        let message = error_of(json);
        assert!(message.contains(fragment), "{json}: {message:?} lacks {fragment:?}");
        assert!(message.starts_with("key policy: "), "{message}");
    }
}

#[test]
fn size_limit_is_32_kib() {
    let statement = format!("{{{OK}}}");
    let mut statements = vec![statement.clone()];
    while doc(&format!("[{}]", statements.join(","))).len() < MAX_POLICY_BYTES - statement.len() {
        statements.push(statement.clone());
    }
    let at_limit = doc(&format!("[{}]", statements.join(",")));
    assert!(at_limit.len() <= MAX_POLICY_BYTES);
    Policy::parse(&at_limit).unwrap();
    let over = format!("{at_limit}{}", " ".repeat(MAX_POLICY_BYTES + 1 - at_limit.len()));
    assert!(error_of(&over).contains("the limit is 32768"));
}

#[test]
fn a_policy_near_the_size_limit_reads_back_from_its_stored_form() {
    let actions: Vec<String> = (0..1500).map(|i| format!("\"arca:Op{i:04}\"")).collect();
    let sent = doc(&format!(
        r#"[{{"Effect":"Allow","Principal":"*","Action":[{}],"Resource":"*"}}]"#,
        actions.join(",")
    ));
    assert!(sent.len() < MAX_POLICY_BYTES);
    let policy = Policy::parse(&sent).unwrap();
    let stored = policy.to_json();
    assert!(stored.len() > MAX_POLICY_BYTES, "the stored form must be past the limit: {}", stored.len());
    assert_eq!(Policy::from_stored(&stored).unwrap(), policy);
}

#[test]
fn canonical_json_round_trips_and_keeps_aws_field_order() {
    let json = r#"{"Version":"2012-10-17","Id":"p1","Statement":[
        {"Sid":"Use","Effect":"Allow","Principal":{"Arca":["uid:1000","cert:CN=${*}.x"]},
         "Action":["arca:Encrypt","arca:Generate*"],"Resource":"*",
         "Condition":{"StringEquals":{"arca:encryptioncontext:tenant":["1","2"]},"Null":{"arca:RequestAlias":true},
                      "ForAllValues:StringLike":{"arca:EncryptionContextKeys":"t*"}}},
        {"Effect":"Deny","Principal":"*","Action":"arca:ScheduleKeyDeletion","Resource":["a","b"]}]}"#;
    let policy = Policy::parse(json).unwrap();
    let written = policy.to_json();
    assert_eq!(Policy::parse(&written).unwrap(), policy);
    assert!(written.contains("\"arca:EncryptionContext:tenant\""), "canonical key spelling: {written}");
    assert!(written.contains("\"cert:CN=${*}.x\""), "escapes survive: {written}");
    let order =
        ["\"Version\"", "\"Id\"", "\"Statement\"", "\"Sid\"", "\"Effect\"", "\"Principal\"", "\"Action\""];
    let positions: Vec<usize> = order.iter().map(|field| written.find(field).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "field order: {written}");
    // A single statement object is as good as a one-element list.
    let single = Policy::parse(&doc(&format!("{{{OK}}}"))).unwrap();
    assert_eq!(single, Policy::parse(&doc(&format!("[{{{OK}}}]"))).unwrap());
}

#[test]
fn default_policy_lists_creator_and_other_administrators() {
    let admins = vec!["uid:0".to_owned(), "uid:1000".to_owned()];
    let policy = Policy::default_for("uid:1000", &admins);
    let json = policy.to_json();
    assert_eq!(json.matches("uid:1000").count(), 1, "the creator is not repeated: {json}");
    assert!(json.contains("\"arca:*\"") && json.contains("uid:0"), "{json}");
    assert_eq!(Policy::parse(&json).unwrap(), policy);
    assert!(!Policy::default_for("uid:5", &[]).to_json().contains("Administrators"));
}

/// (what, statements, administrators, expected lockout)
#[rustfmt::skip]
const LOCKOUT_CASES: &[(&str, &str, &[&str], bool)] = &[
    ("full control for an administrator", r#"{"Effect":"Allow","Principal":{"Arca":"uid:0"},"Action":"arca:*","Resource":"*"}"#, &["uid:0"], false),
    ("only the second administrator keeps control", r#"{"Effect":"Allow","Principal":{"Arca":"uid:0"},"Action":"arca:PutKeyPolicy","Resource":"*"}"#, &["uid:7", "uid:0"], false),
    ("use but no administration", r#"{"Effect":"Allow","Principal":"*","Action":["arca:Encrypt","arca:Decrypt"],"Resource":"*"}"#, &["uid:0"], true),
    ("administration for someone else", r#"{"Effect":"Allow","Principal":{"Arca":"uid:1000"},"Action":"arca:*","Resource":"*"}"#, &["uid:0"], true),
    ("a Deny of PutKeyPolicy overrides arca:*", r#"[{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*"},{"Effect":"Deny","Principal":"*","Action":"arca:PutKeyPolicy","Resource":"*"}]"#, &["uid:0"], true),
    ("a condition on a context PutKeyPolicy never has", r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*","Condition":{"StringEquals":{"arca:EncryptionContext:t":"1"}}}"#, &["uid:0"], true),
    ("a condition on the caller that holds", r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*","Condition":{"StringLike":{"arca:CallerPrincipal":"uid:*"}}}"#, &["uid:0"], false),
    ("another key as Resource", r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"ffffffff-0000"}"#, &["uid:0"], true),
    ("a case-varied action name still counts", r#"{"Effect":"Allow","Principal":{"Arca":"uid:*"},"Action":"ARCA:putkeypolicy","Resource":"*"}"#, &["uid:0"], false),
    ("no administrators at all", r#"{"Effect":"Allow","Principal":"*","Action":"arca:*","Resource":"*"}"#, &[], true),
];

#[test]
fn lockout_check_follows_the_table() {
    for (what, statements, admins, expected) in LOCKOUT_CASES {
        let policy = Policy::parse(&doc(statements)).unwrap();
        let admins: Vec<String> = admins.iter().map(|a| (*a).to_owned()).collect();
        assert_eq!(locks_out_every_administrator(&policy, KEY, &admins), *expected, "{what}");
    }
    let default = Policy::default_for("uid:1000", &["uid:0".to_owned()]);
    assert!(!locks_out_every_administrator(&default, KEY, &["uid:0".to_owned()]));
    assert!(default.grants_admin("uid:1000", KEY) && !default.grants_admin("uid:1001", KEY));
}

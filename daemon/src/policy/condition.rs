//! The Condition element: operators, condition keys, and how they are decided for a request.
//!
//! Semantics follow AWS IAM: operators in a block are ANDed, keys under one operator are ANDed,
//! the values listed for one key are ORed. A key absent from the request makes the positive
//! string operators false and the negated ones (`StringNotEquals`, `StringNotLike`, …) true, as
//! AWS documents; `…IfExists` makes any of them true for an absent key, and `Null` tests presence.

use std::collections::BTreeMap;

use serde_json::Value;

use super::RequestContext;
use super::json::{fail, one_or_many, string_list};
use super::pattern::Pattern;
use crate::error::Result;

/// How one request value is compared with the values the policy lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Equals,
    EqualsIgnoreCase,
    Like,
}

/// Whether the key is single-valued (optionally `…IfExists`) or a set qualified by a quantifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quantifier {
    Single { if_exists: bool },
    ForAllValues,
    ForAnyValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Null,
    Compare { comparison: Comparison, negated: bool, quantifier: Quantifier },
}

/// The string operators by name, before any `ForAllValues:`/`ForAnyValue:` or `IfExists`.
const STRING_OPERATORS: [(&str, Comparison, bool); 6] = [
    ("StringEquals", Comparison::Equals, false),
    ("StringNotEquals", Comparison::Equals, true),
    ("StringEqualsIgnoreCase", Comparison::EqualsIgnoreCase, false),
    ("StringNotEqualsIgnoreCase", Comparison::EqualsIgnoreCase, true),
    ("StringLike", Comparison::Like, false),
    ("StringNotLike", Comparison::Like, true),
];
const FOR_ALL: &str = "ForAllValues:";
const FOR_ANY: &str = "ForAnyValue:";
const IF_EXISTS: &str = "IfExists";

impl Operator {
    /// Operator names are matched exactly: a misspelt operator must fail loudly, not be skipped.
    fn parse(name: &str) -> Option<Self> {
        if name == "Null" {
            return Some(Self::Null);
        }
        let (quantifier, base) = if let Some(base) = name.strip_prefix(FOR_ALL) {
            (Quantifier::ForAllValues, base)
        } else if let Some(base) = name.strip_prefix(FOR_ANY) {
            (Quantifier::ForAnyValue, base)
        } else if let Some(base) = name.strip_suffix(IF_EXISTS) {
            (Quantifier::Single { if_exists: true }, base)
        } else {
            (Quantifier::Single { if_exists: false }, name)
        };
        let &(_, comparison, negated) = STRING_OPERATORS.iter().find(|(known, ..)| *known == base)?;
        Some(Self::Compare { comparison, negated, quantifier })
    }
}

/// The condition keys a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ConditionKey {
    CallerPrincipal,
    RequestAlias,
    /// The value of one encryption-context pair. The context key is kept exactly as written:
    /// encryption contexts are case-sensitive, and folding would make `Tenant` and `tenant`
    /// (both legal in one context) ambiguous.
    EncryptionContext(String),
    /// The set of encryption-context keys: the one multivalued key.
    EncryptionContextKeys,
}

const CONTEXT_PREFIX: &str = "arca:encryptioncontext:";

impl ConditionKey {
    /// Key names are case-insensitive, as in AWS; only the context key after the prefix is not.
    fn parse(name: &str) -> Option<Self> {
        let folded = name.to_ascii_lowercase();
        match folded.as_str() {
            "arca:callerprincipal" => Some(Self::CallerPrincipal),
            "arca:requestalias" => Some(Self::RequestAlias),
            "arca:encryptioncontextkeys" => Some(Self::EncryptionContextKeys),
            // ASCII folding keeps byte offsets, so the prefix length indexes the original.
            _ if folded.starts_with(CONTEXT_PREFIX) => name
                .get(CONTEXT_PREFIX.len()..)
                .filter(|key| !key.is_empty())
                .map(|key| Self::EncryptionContext(key.to_owned())),
            _ => None,
        }
    }

    /// The canonical spelling, used when the document is written back out.
    fn name(&self) -> String {
        match self {
            Self::CallerPrincipal => "arca:CallerPrincipal".to_owned(),
            Self::RequestAlias => "arca:RequestAlias".to_owned(),
            Self::EncryptionContext(key) => format!("arca:EncryptionContext:{key}"),
            Self::EncryptionContextKeys => "arca:EncryptionContextKeys".to_owned(),
        }
    }

    /// The request's values for this key; empty when the request does not carry it.
    fn values<'r>(&self, request: &RequestContext<'r>) -> Vec<&'r str> {
        let context: &'r BTreeMap<String, String> = request.encryption_context;
        match self {
            Self::CallerPrincipal => vec![request.principal],
            Self::RequestAlias => request.request_alias.into_iter().collect(),
            Self::EncryptionContext(key) => context.get(key).map(String::as_str).into_iter().collect(),
            Self::EncryptionContextKeys => context.keys().map(String::as_str).collect(),
        }
    }
}

/// One (operator, key, values) test from a Condition element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Condition {
    /// The operator as written; names are matched exactly, so this is also its canonical form.
    operator_name: String,
    operator: Operator,
    key: ConditionKey,
    /// The policy's values as written (for `Null`: `"true"` or `"false"`).
    values: Vec<String>,
    /// The same values compiled as wildcard patterns; filled only for the `…Like` operators.
    patterns: Vec<Pattern>,
}

impl Condition {
    /// Decides this test for `request`.
    pub(super) fn holds(&self, request: &RequestContext) -> bool {
        let present = self.key.values(request);
        let Operator::Compare { comparison, negated, quantifier } = self.operator else {
            let must_be_absent = self.values.first().is_some_and(|v| v == "true");
            return present.is_empty() == must_be_absent;
        };
        // A negated operator holds for a value that matches none of the policy's values.
        let test = |value: &str| self.matches_any(comparison, value) != negated;
        match quantifier {
            // Single-valued keys carry at most one value (parsing refuses the multivalued key here).
            Quantifier::Single { if_exists } => match present.first() {
                None => if_exists || negated,
                Some(value) => test(value),
            },
            Quantifier::ForAllValues => present.iter().all(|value| test(value)),
            Quantifier::ForAnyValue => present.iter().any(|value| test(value)),
        }
    }

    fn matches_any(&self, comparison: Comparison, value: &str) -> bool {
        match comparison {
            Comparison::Equals => self.values.iter().any(|expected| expected == value),
            Comparison::EqualsIgnoreCase => {
                let value = value.to_lowercase();
                self.values.iter().any(|expected| expected.to_lowercase() == value)
            }
            Comparison::Like => self.patterns.iter().any(|pattern| pattern.matches(value)),
        }
    }
}

const OPERATOR_HINT: &str = "known: Null, and StringEquals, StringNotEquals, StringEqualsIgnoreCase, \
    StringNotEqualsIgnoreCase, StringLike, StringNotLike, each optionally with an IfExists suffix or a \
    ForAllValues:/ForAnyValue: prefix";
const KEY_HINT: &str = "known: arca:CallerPrincipal, arca:RequestAlias, arca:EncryptionContext:<key>, \
    arca:EncryptionContextKeys";

/// Parses a Condition element; `at` names the statement in error messages.
pub(super) fn parse_conditions(element: &Value, at: &str) -> Result<Vec<Condition>> {
    let Value::Object(blocks) = element else {
        return Err(fail(at, "Condition must be an object mapping condition operators to keys"));
    };
    let mut conditions = Vec::new();
    for (operator_name, block) in blocks {
        let operator = Operator::parse(operator_name).ok_or_else(|| {
            fail(at, format!("Condition: unknown condition operator {operator_name:?} ({OPERATOR_HINT})"))
        })?;
        parse_block(operator_name, operator, block, at, &mut conditions)?;
    }
    Ok(conditions)
}

/// Parses the keys under one operator, appending a condition per key.
fn parse_block(
    operator_name: &str,
    operator: Operator,
    block: &Value,
    at: &str,
    conditions: &mut Vec<Condition>,
) -> Result<()> {
    let Value::Object(keys) = block else {
        let problem = format!("Condition.{operator_name} must be an object mapping condition keys to values");
        return Err(fail(at, problem));
    };
    // An empty block would be vacuously true: almost certainly a mistake, and a widening one.
    if keys.is_empty() {
        return Err(fail(at, format!("Condition.{operator_name} is empty")));
    }
    for (key_name, values) in keys {
        let field = format!("Condition.{operator_name}.{key_name}");
        let condition = parse_condition(operator_name, operator, key_name, values)
            .map_err(|problem| fail(at, format!("{field} {problem}")))?;
        // Two spellings of one key under one operator would collide when written back out.
        if conditions.iter().any(|c| c.operator == operator && c.key == condition.key) {
            return Err(fail(at, format!("{field} repeats a key already given to {operator_name}")));
        }
        conditions.push(condition);
    }
    Ok(())
}

fn parse_condition(
    operator_name: &str,
    operator: Operator,
    key_name: &str,
    values: &Value,
) -> std::result::Result<Condition, String> {
    let key =
        ConditionKey::parse(key_name).ok_or_else(|| format!("is not a known condition key ({KEY_HINT})"))?;
    let single = matches!(operator, Operator::Compare { quantifier: Quantifier::Single { .. }, .. });
    if single && key == ConditionKey::EncryptionContextKeys {
        return Err(format!(
            "uses a multivalued key with a single-valued operator: write ForAllValues:{operator_name} \
             or ForAnyValue:{operator_name}"
        ));
    }
    let values = match (operator, values) {
        (Operator::Null, Value::Bool(flag)) => vec![flag.to_string()],
        _ => string_list(values)?,
    };
    if operator == Operator::Null && !matches!(values.as_slice(), [v] if v == "true" || v == "false") {
        return Err("must be \"true\" or \"false\"".to_owned());
    }
    let patterns = match operator {
        Operator::Compare { comparison: Comparison::Like, .. } => {
            let compiled = values.iter().map(|value| Pattern::compile(value));
            compiled.collect::<std::result::Result<_, _>>().map_err(|e| format!("contains an {e}"))?
        }
        _ => Vec::new(),
    };
    Ok(Condition { operator_name: operator_name.to_owned(), operator, key, values, patterns })
}

/// Writes conditions back as a Condition element (operators and keys in canonical spelling).
pub(super) fn conditions_to_json(conditions: &[Condition]) -> Value {
    let mut blocks: BTreeMap<&str, serde_json::Map<String, Value>> = BTreeMap::new();
    for condition in conditions {
        let values = condition.values.iter().map(String::as_str);
        blocks
            .entry(condition.operator_name.as_str())
            .or_default()
            .insert(condition.key.name(), one_or_many(values));
    }
    Value::Object(blocks.into_iter().map(|(name, keys)| (name.to_owned(), Value::Object(keys))).collect())
}

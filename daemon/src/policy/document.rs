//! The parsed form of a policy document, how one statement is matched against a request, and how
//! the document is written back out as JSON.

use serde::Serialize;
use serde_json::Value;

use super::condition::{Condition, conditions_to_json};
use super::json::one_or_many;
use super::pattern::Pattern;
use super::{Policy, RequestContext};

/// The only policy language version accepted (the one AWS documents variables and escapes for).
pub(super) const VERSION: &str = "2012-10-17";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    Allow,
    Deny,
}

impl Effect {
    fn name(self) -> &'static str {
        match self {
            Self::Allow => "Allow",
            Self::Deny => "Deny",
        }
    }
}

/// Who a statement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Principals {
    /// `"Principal": "*"`: every authenticated caller.
    Any,
    /// `"Principal": {"Arca": [...]}`: callers whose identity (`uid:…`, `cert:…`) matches.
    Arca(Vec<Pattern>),
}

impl Principals {
    fn matches(&self, principal: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Arca(patterns) => patterns.iter().any(|pattern| pattern.matches(principal)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Statement {
    pub(super) sid: Option<String>,
    pub(super) effect: Effect,
    pub(super) principals: Principals,
    pub(super) actions: Vec<Pattern>,
    pub(super) resources: Vec<Pattern>,
    pub(super) conditions: Vec<Condition>,
}

impl Statement {
    /// Whether every element of the statement matches the request; the effect is the caller's
    /// business. Conditions are checked last because they are the most expensive part.
    pub(super) fn applies_to(&self, request: &RequestContext) -> bool {
        self.principals.matches(request.principal)
            && self.actions.iter().any(|action| action.matches_action(request.action))
            && self.resources.iter().any(|resource| resource.matches(request.resource))
            && self.conditions.iter().all(|condition| condition.holds(request))
    }
}

fn sources(patterns: &[Pattern]) -> Value {
    one_or_many(patterns.iter().map(Pattern::source))
}

/// Output shape of the document. Structs (not a `Value` map) keep AWS's field order, which a
/// sorted `serde_json::Map` would scramble.
#[derive(Serialize)]
struct DocumentOut<'p> {
    #[serde(rename = "Version")]
    version: &'static str,
    #[serde(rename = "Id", skip_serializing_if = "Option::is_none")]
    id: Option<&'p str>,
    #[serde(rename = "Statement")]
    statements: Vec<StatementOut<'p>>,
}

#[derive(Serialize)]
struct StatementOut<'p> {
    #[serde(rename = "Sid", skip_serializing_if = "Option::is_none")]
    sid: Option<&'p str>,
    #[serde(rename = "Effect")]
    effect: &'static str,
    #[serde(rename = "Principal")]
    principal: Value,
    #[serde(rename = "Action")]
    action: Value,
    #[serde(rename = "Resource")]
    resource: Value,
    #[serde(rename = "Condition", skip_serializing_if = "Option::is_none")]
    condition: Option<Value>,
}

impl<'p> StatementOut<'p> {
    fn new(statement: &'p Statement) -> Self {
        let principal = match &statement.principals {
            Principals::Any => Value::String("*".to_owned()),
            Principals::Arca(patterns) => {
                Value::Object([("Arca".to_owned(), sources(patterns))].into_iter().collect())
            }
        };
        let condition = (!statement.conditions.is_empty()).then(|| conditions_to_json(&statement.conditions));
        Self {
            sid: statement.sid.as_deref(),
            effect: statement.effect.name(),
            principal,
            action: sources(&statement.actions),
            resource: sources(&statement.resources),
            condition,
        }
    }
}

/// Pretty-printed canonical JSON that `Policy::parse` reads back to an equal policy.
pub(super) fn to_json(policy: &Policy) -> String {
    let document = DocumentOut {
        version: VERSION,
        id: policy.id.as_deref(),
        statements: policy.statements.iter().map(StatementOut::new).collect(),
    };
    // serde_json fails only on non-string map keys or a failing Serialize impl, and neither
    // exists here; an empty string would still be refused by `parse`, never taken as a policy.
    serde_json::to_string_pretty(&document).unwrap_or_default()
}

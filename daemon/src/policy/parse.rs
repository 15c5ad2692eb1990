//! Reading a policy document: strict JSON first (duplicate names refused), then field-by-field
//! validation whose errors name the statement (index and Sid) and the field at fault.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::condition::parse_conditions;
use super::document::{Effect, Principals, Statement, VERSION};
use super::json::{fail, kind, string_list};
use super::pattern::Pattern;
use super::{MAX_POLICY_BYTES, Policy};
use crate::error::Result;

const TOP_FIELDS: [&str; 3] = ["Version", "Id", "Statement"];
const STATEMENT_FIELDS: [&str; 6] = ["Sid", "Effect", "Principal", "Action", "Resource", "Condition"];
const PRINCIPAL_TYPES: [&str; 1] = ["Arca"];

/// A value for an error message: strings verbatim (quoted), anything else by kind, so that a
/// misplaced object does not pour the whole document into the message.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => kind(other).to_owned(),
    }
}

/// Reads a document a caller sent: at most `MAX_POLICY_BYTES`.
pub(super) fn parse_document(json: &str) -> Result<Policy> {
    if json.len() > MAX_POLICY_BYTES {
        return Err(fail(
            "",
            format!("the document is {} bytes; the limit is {MAX_POLICY_BYTES}", json.len()),
        ));
    }
    parse_any_size(json)
}

/// Reads a document of any size: the canonical form Arca stored, which pretty-printing takes
/// past the limit when the document a caller sent was near it.
pub(super) fn parse_any_size(json: &str) -> Result<Policy> {
    let StrictValue(value) =
        serde_json::from_str(json).map_err(|e| fail("", format!("not a valid JSON document: {e}")))?;
    let Value::Object(top) = value else {
        return Err(fail("", format!("the document must be a JSON object, found {}", kind(&value))));
    };
    reject_unknown(&top, &TOP_FIELDS, "", "top-level field")?;
    match top.get("Version") {
        Some(Value::String(version)) if version == VERSION => {}
        Some(other) => {
            return Err(fail("", format!("Version must be \"{VERSION}\", found {}", shown(other))));
        }
        None => return Err(fail("", format!("Version is required and must be \"{VERSION}\""))),
    }
    let id = match top.get("Id") {
        None => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(other) => return Err(fail("", format!("Id must be a string, found {}", kind(other)))),
    };
    let statements = parse_statements(top.get("Statement"))?;
    Ok(Policy { id, statements })
}

fn parse_statements(element: Option<&Value>) -> Result<Vec<Statement>> {
    let elements = match element {
        None => return Err(fail("", "Statement is required")),
        Some(object @ Value::Object(_)) => std::slice::from_ref(object),
        Some(Value::Array(list)) if list.is_empty() => return Err(fail("", "Statement must not be empty")),
        Some(Value::Array(list)) => list.as_slice(),
        Some(other) => {
            return Err(fail("", format!("Statement must be an object or a list, found {}", kind(other))));
        }
    };
    let mut statements: Vec<Statement> = Vec::with_capacity(elements.len());
    for (index, element) in elements.iter().enumerate() {
        let statement = parse_statement(index, element)?;
        // Sids identify statements in error messages and audit output, so they must be unique.
        if let Some(sid) = &statement.sid
            && let Some(first) = statements.iter().position(|s| s.sid.as_ref() == Some(sid))
        {
            return Err(fail(&label(index, Some(sid)), format!("Sid is already used by Statement[{first}]")));
        }
        statements.push(statement);
    }
    Ok(statements)
}

fn label(index: usize, sid: Option<&String>) -> String {
    match sid {
        Some(sid) => format!("Statement[{index}] (Sid {sid:?})"),
        None => format!("Statement[{index}]"),
    }
}

fn parse_statement(index: usize, element: &Value) -> Result<Statement> {
    let Value::Object(fields) = element else {
        return Err(fail(&label(index, None), format!("must be an object, found {}", kind(element))));
    };
    // The Sid is read first so that every later error can name the statement by it.
    let sid = match fields.get("Sid") {
        None => None,
        Some(Value::String(sid)) => Some(sid.clone()),
        Some(other) => {
            return Err(fail(&label(index, None), format!("Sid must be a string, found {}", kind(other))));
        }
    };
    let at = label(index, sid.as_ref());
    reject_unknown(fields, &STATEMENT_FIELDS, &at, "field")?;
    let effect = match required(fields, "Effect", &at)? {
        Value::String(effect) if effect == "Allow" => Effect::Allow,
        Value::String(effect) if effect == "Deny" => Effect::Deny,
        other => {
            return Err(fail(&at, format!("Effect must be \"Allow\" or \"Deny\", found {}", shown(other))));
        }
    };
    let principals = parse_principal(required(fields, "Principal", &at)?, &at)?;
    let actions = list_of(fields, "Action", &at, action_pattern)?;
    let resources = list_of(fields, "Resource", &at, resource_pattern)?;
    let conditions = match fields.get("Condition") {
        Some(element) => parse_conditions(element, &at)?,
        None => Vec::new(),
    };
    Ok(Statement { sid, effect, principals, actions, resources, conditions })
}

fn required<'v>(fields: &'v Map<String, Value>, name: &str, at: &str) -> Result<&'v Value> {
    fields.get(name).ok_or_else(|| fail(at, format!("{name} is required")))
}

/// Unknown names are refused rather than ignored: a misspelt `Condition` or an unsupported
/// `NotAction` would otherwise widen what the statement allows.
fn reject_unknown(fields: &Map<String, Value>, known: &[&str], at: &str, what: &str) -> Result<()> {
    match fields.keys().find(|name| !known.contains(&name.as_str())) {
        Some(name) => Err(fail(at, format!("unknown {what} {name:?} (allowed: {})", known.join(", ")))),
        None => Ok(()),
    }
}

/// Reads a string-or-list element and compiles each entry with `compile`.
fn list_of(
    fields: &Map<String, Value>,
    name: &str,
    at: &str,
    compile: fn(&str) -> std::result::Result<Pattern, String>,
) -> Result<Vec<Pattern>> {
    let entries = string_list(required(fields, name, at)?).map_err(|e| fail(at, format!("{name} {e}")))?;
    entries.iter().map(|entry| compile(entry).map_err(|e| fail(at, format!("{name}: {e}")))).collect()
}

fn parse_principal(element: &Value, at: &str) -> Result<Principals> {
    match element {
        Value::String(any) if any == "*" => Ok(Principals::Any),
        Value::Object(types) => {
            reject_unknown(types, &PRINCIPAL_TYPES, at, "principal type")?;
            let Some(arca) = types.get("Arca") else {
                return Err(fail(at, "Principal must be \"*\" or {\"Arca\": <principal or list>}"));
            };
            let entries = string_list(arca).map_err(|e| fail(at, format!("Principal.Arca {e}")))?;
            let compiled = entries.iter().map(|entry| principal_pattern(entry));
            let patterns = compiled.collect::<std::result::Result<_, _>>();
            Ok(Principals::Arca(patterns.map_err(|e| fail(at, format!("Principal.Arca: {e}")))?))
        }
        other => Err(fail(
            at,
            format!("Principal must be \"*\" or {{\"Arca\": <principal or list>}}, found {}", shown(other)),
        )),
    }
}

/// Principals are the strings `auth::Caller` displays: `uid:<n>` or `cert:<subject>`. Checking the
/// form catches typos such as `"1000"` that would otherwise never match anyone, silently.
fn principal_pattern(entry: &str) -> std::result::Result<Pattern, String> {
    let well_formed = entry == "*"
        || entry.strip_prefix("uid:").is_some_and(|uid| {
            uid.contains(['*', '?']) || (!uid.is_empty() && uid.bytes().all(|b| b.is_ascii_digit()))
        })
        || entry.strip_prefix("cert:").is_some_and(|subject| !subject.is_empty());
    if !well_formed {
        return Err(format!(
            "{entry:?} is not a principal (expected \"*\", \"uid:<number>\" or \"cert:<subject>\")"
        ));
    }
    Pattern::compile(entry)
}

/// Actions are `arca:<Name>`; only the prefix is fixed so that the engine needs no list of
/// operations, but the name may hold only letters, digits and wildcards.
fn action_pattern(entry: &str) -> std::result::Result<Pattern, String> {
    let prefix_len = "arca:".len();
    let name = match (entry.get(..prefix_len), entry.get(prefix_len..)) {
        (Some(prefix), Some(name)) if prefix.eq_ignore_ascii_case("arca:") => name,
        _ => return Err(format!("{entry:?} must start with \"arca:\" (write \"arca:*\" for every action)")),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?') {
        return Err(format!(
            "{entry:?} is not an action (only letters, digits, * and ? may follow \"arca:\")"
        ));
    }
    Pattern::compile_action(entry)
}

fn resource_pattern(entry: &str) -> std::result::Result<Pattern, String> {
    if entry.is_empty() {
        return Err("a resource must not be empty (write \"*\" for this key)".to_owned());
    }
    Pattern::compile(entry)
}

/// A `serde_json::Value` that refuses duplicate object names. serde_json keeps the last of two
/// equal names silently; in a policy that would let `"Effect":"Deny", …, "Effect":"Allow"` read
/// differently to a reviewer than to the engine.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if object.contains_key(&name) {
                return Err(de::Error::custom(format!("duplicate name {name:?}")));
            }
            let StrictValue(value) = map.next_value()?;
            object.insert(name, value);
        }
        Ok(Value::Object(object))
    }
}

//! The JSON shapes key policies share: errors that name where in the document they are, the
//! string-or-list fields AWS accepts, and writing one value or a list back.

use std::fmt;

use serde_json::Value;

use crate::error::Error;

/// The error for a problem at `at` (a statement label, or empty for the document itself).
pub(super) fn fail(at: &str, problem: impl fmt::Display) -> Error {
    if at.is_empty() {
        Error::invalid(format!("key policy: {problem}"))
    } else {
        Error::invalid(format!("key policy: {at}: {problem}"))
    }
}

/// Reads a string or a non-empty list of strings (AWS accepts either wherever a list is allowed).
/// The error text completes a sentence that starts with the field name.
pub(super) fn string_list(value: &Value) -> std::result::Result<Vec<String>, String> {
    match value {
        Value::String(single) => Ok(vec![single.clone()]),
        Value::Array(items) if items.is_empty() => Err("must not be an empty list".to_owned()),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!("must list only strings, found {}", kind(other))),
            })
            .collect(),
        other => Err(format!("must be a string or a list of strings, found {}", kind(other))),
    }
}

pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A single value is written as a string and several as a list, the way AWS documents read.
pub(super) fn one_or_many<'v>(values: impl IntoIterator<Item = &'v str>) -> Value {
    let mut values: Vec<Value> = values.into_iter().map(|v| Value::String(v.to_owned())).collect();
    if values.len() == 1 { values.pop().unwrap_or(Value::Null) } else { Value::Array(values) }
}

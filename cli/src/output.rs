//! What a command prints: an ordered record of proto fields, as one JSON object or a table; and
//! whether what it checked holds.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::ser::{Serialize, SerializeMap as _, Serializer};

use crate::cli::Output;

/// One field value, typed enough to render it both ways.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Str(String),
    /// An enum by its proto name.
    Enum(&'static str),
    /// Base64 (standard alphabet) in both formats.
    Bytes(Vec<u8>),
    /// Seconds since the Unix epoch; the table adds the UTC date.
    Timestamp(i64),
    /// A proto `map<string, string>`, sorted.
    Map(BTreeMap<String, String>),
    List(Vec<Value>),
    Object(Record),
}

impl Value {
    pub(crate) fn map(map: &HashMap<String, String>) -> Self {
        Self::Map(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<u32> for Value {
    fn from(value: u32) -> Self {
        Self::UInt(value.into())
    }
}

impl From<u64> for Value {
    fn from(value: u64) -> Self {
        Self::UInt(value)
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Self::Str(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Self::Str(value.to_owned())
    }
}

/// Named fields in proto order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Record(Vec<(&'static str, Value)>);

impl Record {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    #[must_use]
    pub(crate) fn with(mut self, name: &'static str, value: impl Into<Value>) -> Self {
        self.0.push((name, value.into()));
        self
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => serializer.serialize_unit(),
            Self::Bool(value) => serializer.serialize_bool(*value),
            Self::Int(value) | Self::Timestamp(value) => serializer.serialize_i64(*value),
            Self::UInt(value) => serializer.serialize_u64(*value),
            Self::Str(value) => serializer.serialize_str(value),
            Self::Enum(name) => serializer.serialize_str(name),
            Self::Bytes(bytes) => serializer.serialize_str(&STANDARD.encode(bytes)),
            Self::Map(map) => map.serialize(serializer),
            Self::List(items) => items.serialize(serializer),
            Self::Object(record) => record.serialize(serializer),
        }
    }
}

/// Whether a command that checks something (a signature, a MAC) found that it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The command did what it was asked (and what it checked holds).
    Done,
    /// The command worked, but the signature or MAC it checked is not valid.
    NotValid,
    /// The command printed its report, but some endpoint it had to ask could not be asked.
    Unanswered,
}

/// What a command hands back.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub record: Record,
    /// In table output, printed verbatim instead of the table (a PEM document).
    pub table_text: Option<String>,
    pub verdict: Verdict,
}

impl From<Record> for Reply {
    fn from(record: Record) -> Self {
        Self { record, table_text: None, verdict: Verdict::Done }
    }
}

impl Reply {
    /// The answer of a check: `valid` false makes the verdict [`Verdict::NotValid`].
    pub(crate) fn check(record: Record, valid: bool) -> Self {
        Self { verdict: if valid { Verdict::Done } else { Verdict::NotValid }, ..Self::from(record) }
    }
}

/// Prints the reply to stdout; a closed pipe is not an error worth reporting.
pub(crate) fn print(reply: &Reply, format: Output) -> std::io::Result<()> {
    let text = match (format, &reply.table_text) {
        (Output::Json, _) => serde_json::to_string(&reply.record).map_err(std::io::Error::other)? + "\n",
        (Output::Table, Some(text)) => text.clone(),
        (Output::Table, None) => table(&reply.record),
    };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// `field  value` lines aligned on the longest field name; lists and maps continue on the
/// following lines, nested messages are flattened.
pub(crate) fn table(record: &Record) -> String {
    let mut rows = Vec::new();
    table_rows(record, &mut rows);
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    rows.iter().map(|(name, value)| format!("{name:<width$}  {value}").trim_end().to_owned() + "\n").collect()
}

fn table_rows(record: &Record, rows: &mut Vec<(&'static str, String)>) {
    for (name, value) in &record.0 {
        match value {
            Value::Object(inner) => table_rows(inner, rows),
            Value::List(items) => continued(name, items.iter().map(cell), rows),
            Value::Map(map) => continued(name, map.iter().map(|(k, v)| format!("{k}={v}")), rows),
            other => rows.push((name, cell(other))),
        }
    }
}

fn continued(
    name: &'static str,
    cells: impl Iterator<Item = String>,
    rows: &mut Vec<(&'static str, String)>,
) {
    let before = rows.len();
    for (index, text) in cells.enumerate() {
        rows.push((if index == 0 { name } else { "" }, text));
    }
    if rows.len() == before {
        rows.push((name, "-".to_owned()));
    }
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::Bool(value) => value.to_string(),
        Value::Int(value) => value.to_string(),
        Value::UInt(value) => value.to_string(),
        Value::Str(text) if text.is_empty() => "-".to_owned(),
        Value::Str(text) => text.clone(),
        Value::Enum(name) => (*name).to_owned(),
        Value::Bytes(bytes) => STANDARD.encode(bytes),
        Value::Timestamp(seconds) => format!("{seconds} ({})", utc_date(*seconds)),
        Value::Map(map) => map.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", "),
        Value::List(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        Value::Object(record) => match record.0.as_slice() {
            [(_, only)] => cell(only),
            fields => fields.iter().map(|(k, v)| format!("{k}={}", cell(v))).collect::<Vec<_>>().join(" "),
        },
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` (proleptic Gregorian).
fn utc_date(seconds: i64) -> String {
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = arca_proto::civil::civil_from_days(days);
    let (hour, minute, second) = (second_of_day / 3600, second_of_day % 3600 / 60, second_of_day % 60);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc_date(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_date(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_date(1_764_072_754), "2025-11-25 12:12:34 UTC");
    }

    #[test]
    fn json_keeps_field_order_and_encodes_bytes() {
        let record = Record::new().with("z", "last?").with("a", Value::Bytes(vec![0xff, 0])).with("n", 3u32);
        assert_eq!(serde_json::to_string(&record).unwrap(), r#"{"z":"last?","a":"/wA=","n":3}"#);
    }

    #[test]
    fn tables_align_and_continue_lists() {
        let keys = Value::List(vec![Value::from("k1"), Value::from("k2")]);
        let record = Record::new().with("keys", keys).with("truncated", false);
        assert_eq!(table(&record), "keys       k1\n           k2\ntruncated  false\n");
    }
}

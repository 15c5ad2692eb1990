//! Reading the log back across its files: verifying the chain, and the newest records.

use std::collections::VecDeque;

use subtle::ConstantTimeEq;

use super::anchor::{Head, cut_message};
use super::record::{Body, GENESIS, Stored, chain_hash, hex, mac, unhex};
use super::segments::{Segment, audit_error};
use crate::error::Result;
use crate::secure_mem::SecretBuf;

/// The result of a verification pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub records: u64,
    /// Records whose MAC was checked (those written while unsealed).
    pub authenticated: u64,
    /// Files read, rotated ones included.
    pub files: u64,
    /// The first record that breaks the chain, its file and why.
    pub first_bad: Option<BadRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// The sequence number the chain expected at the break.
    pub seq: u64,
    /// The file's name (`audit.log`, `audit.log.0-99`).
    pub file: String,
    pub reason: String,
}

/// Which records a reader wants; an empty field matches every record.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter<'a> {
    pub key: &'a str,
    pub principal: &'a str,
    pub source: &'a str,
}

impl Filter<'_> {
    fn matches(&self, body: &Body) -> bool {
        (self.key.is_empty() || body.key == self.key)
            && (self.principal.is_empty() || body.principal == self.principal)
            && (self.source.is_empty() || body.source == self.source)
    }
}

/// Checks the chain through every file in order, each file against the range its name gives (a
/// removed, truncated, extended or duplicated rotated file is named), and that the chain reaches
/// every one of `heads` with that very record (records cut from the end are named).
pub(super) fn verify(
    segments: Vec<Segment>,
    key: Option<&SecretBuf>,
    heads: &[Head],
) -> Result<Verification> {
    let mut outcome = Verification { records: 0, authenticated: 0, files: 0, first_bad: None };
    let mut previous = GENESIS;
    let mut last_file = String::new();
    for segment in segments {
        last_file.clone_from(&segment.name);
        outcome.files += 1;
        let name = segment.name.clone();
        let range = segment.range;
        let bad = |seq: u64, reason: String| Some(BadRecord { seq, file: name.clone(), reason });
        if let Some((first, _)) = range
            && first != outcome.records
        {
            outcome.first_bad = bad(outcome.records, gap(outcome.records, first));
            return Ok(outcome);
        }
        for (index, line) in segment.lines()?.enumerate() {
            let line = line.map_err(audit_error("read"))?;
            let expected = outcome.records;
            if range.is_some_and(|(_, last)| expected > last) {
                let reason = "the file holds more records than its name says (records were appended)";
                outcome.first_bad = bad(expected, reason.into());
                return Ok(outcome);
            }
            match check(&line, expected, &previous, key) {
                Ok((hash, _)) if heads.iter().any(|h| h.seq == expected && h.hash != hex(&hash)) => {
                    let reason = "is not the record the daemon wrote there (the log was replaced or edited)";
                    outcome.first_bad = bad(expected, reason.into());
                    return Ok(outcome);
                }
                Ok((hash, authenticated)) => {
                    previous = hash;
                    outcome.records += 1;
                    outcome.authenticated += u64::from(authenticated);
                }
                Err(reason) => {
                    let reason = match first_seq_of(&line) {
                        Some(seq) if index == 0 && seq > expected => gap(expected, seq),
                        _ => reason,
                    };
                    outcome.first_bad = bad(expected, reason);
                    return Ok(outcome);
                }
            }
        }
        if let Some((_, last)) = range
            && outcome.records != last + 1
        {
            let reason = format!(
                "the file ends before record {last}, the last its name says it holds (it was truncated)"
            );
            outcome.first_bad = bad(outcome.records, reason);
            return Ok(outcome);
        }
    }
    if let Some(head) = heads.iter().filter(|head| head.seq >= outcome.records).max_by_key(|head| head.seq) {
        let reason = cut_message(head, outcome.records.checked_sub(1));
        outcome.first_bad = Some(BadRecord { seq: outcome.records, file: last_file, reason });
    }
    Ok(outcome)
}

/// The hash (hex) of record `seq`, read from the file that holds it.
pub(super) fn hash_at(segments: Vec<Segment>, seq: u64) -> Result<Option<String>> {
    for segment in segments {
        if segment.range.is_some_and(|(first, last)| seq < first || seq > last) {
            continue;
        }
        for line in segment.lines()? {
            let line = line.map_err(audit_error("read"))?;
            if let Ok(stored) = serde_json::from_str::<Stored>(&line)
                && stored.body.seq == seq
            {
                return Ok(Some(stored.hash));
            }
        }
    }
    Ok(None)
}

fn first_seq_of(line: &str) -> Option<u64> {
    serde_json::from_str::<Stored>(line).ok().map(|stored| stored.body.seq)
}

fn gap(expected: u64, found: u64) -> String {
    if found < expected {
        return format!("the file starts at record {found}, already read (a duplicated or overlapping file)");
    }
    format!("records {expected} to {} are missing (a rotated file was removed, or records cut)", found - 1)
}

/// Checks one line against the chain; returns its hash and whether its MAC was verified.
pub(super) fn check(
    line: &str,
    seq: u64,
    previous: &[u8; 32],
    key: Option<&SecretBuf>,
) -> Result<([u8; 32], bool), String> {
    let stored: Stored = serde_json::from_str(line).map_err(|e| format!("unreadable: {e}"))?;
    if stored.body.seq != seq {
        return Err(format!(
            "sequence {} where {seq} was expected (a record was removed or inserted)",
            stored.body.seq
        ));
    }
    if stored.body.prev != hex(previous) {
        return Err("does not follow the previous record (reordered, removed or inserted)".into());
    }
    let hash = chain_hash(previous, &stored.body);
    if stored.hash != hex(&hash) {
        return Err("its content was changed".into());
    }
    if stored.mac.is_empty() {
        return Ok((hash, false));
    }
    let key = key.ok_or("authenticated, but the daemon is sealed and cannot check it")?;
    let expected = mac(key.as_slice(), &hash).ok_or("MAC key unusable")?;
    let given = unhex(&stored.mac).ok_or("malformed MAC")?;
    if bool::from(expected.as_slice().ct_eq(&given)) {
        Ok((hash, true))
    } else {
        Err("its MAC does not match".into())
    }
}

/// The last `limit` matching records, oldest first, reading the newest files first and only as
/// far back as needed.
pub(super) fn newest(segments: Vec<Segment>, limit: usize, filter: &Filter<'_>) -> Result<Vec<String>> {
    let mut chunks = Vec::new();
    let mut found = 0;
    for segment in segments.into_iter().rev() {
        if found >= limit {
            break;
        }
        let wanted = limit - found;
        let mut matching = VecDeque::new();
        for line in segment.lines()? {
            let line = line.map_err(audit_error("read"))?;
            let Ok(stored) = serde_json::from_str::<Stored>(&line) else { continue };
            if filter.matches(&stored.body) {
                matching.push_back(line);
                if matching.len() > wanted {
                    matching.pop_front();
                }
            }
        }
        found += matching.len();
        chunks.push(matching);
    }
    Ok(chunks.into_iter().rev().flatten().collect())
}

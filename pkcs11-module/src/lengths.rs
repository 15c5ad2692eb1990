//! Single-part output lengths the daemon announced at `C_*Init`, so that a length query (a NULL
//! output buffer) is answered here without a round trip. A rule lives from a successful init
//! until the operation leaves single-part territory: any data call except a short buffer ends it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// `output_length`, plus the input's length when `plus_input`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub output_length: u64,
    pub plus_input: bool,
}

type Key = (u64, i32);

static RULES: Mutex<Option<HashMap<Key, Rule>>> = Mutex::new(None);

fn rules() -> MutexGuard<'static, Option<HashMap<Key, Rule>>> {
    RULES.lock().unwrap_or_else(PoisonError::into_inner)
}

pub fn remember(session: u64, kind: i32, rule: Rule) {
    rules().get_or_insert_with(HashMap::new).insert((session, kind), rule);
}

pub fn forget(session: u64, kind: i32) {
    if let Some(map) = rules().as_mut() {
        map.remove(&(session, kind));
    }
}

pub fn forget_session(session: u64) {
    if let Some(map) = rules().as_mut() {
        map.retain(|(s, _), _| *s != session);
    }
}

pub fn clear() {
    *rules() = None;
}

/// The length a single-part call of the operation outputs for `input_len` bytes, if known.
pub fn length(session: u64, kind: i32, input_len: u64) -> Option<u64> {
    let rule = *rules().as_ref()?.get(&(session, kind))?;
    Some(if rule.plus_input { rule.output_length.saturating_add(input_len) } else { rule.output_length })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_answer_until_forgotten() {
        remember(7001, 1, Rule { output_length: 16, plus_input: true });
        remember(7001, 3, Rule { output_length: 64, plus_input: false });
        assert_eq!(length(7001, 1, 100), Some(116));
        assert_eq!(length(7001, 3, 100), Some(64));
        forget(7001, 1);
        assert_eq!(length(7001, 1, 100), None);
        forget_session(7001);
        assert_eq!(length(7001, 3, 1), None);
    }
}

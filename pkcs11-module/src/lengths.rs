//! Single-part output lengths the daemon announced at `C_*Init`, so that a length query (a NULL
//! output buffer) is answered here without a round trip. A rule lives from a successful init
//! until the operation leaves single-part territory: any data call except a short buffer ends it,
//! and so do a failed init, `C_DigestKey`, closing the session, `C_Logout` (the daemon ends every
//! operation of the application then) and `C_Finalize`. Each rule also carries the number of the
//! connection it was learnt on (`crate::client::Module::generation`) and answers only while that
//! connection is the live one: session handles of an earlier application (before a daemon
//! restart, a re-initialisation or a `fork`) are not the new one's.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// `output_length`, plus the input's length when `plus_input`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub output_length: u64,
    pub plus_input: bool,
}

type Key = (u64, i32);

/// The rules, each with the connection number it was learnt on.
static RULES: Mutex<Option<HashMap<Key, (Rule, u64)>>> = Mutex::new(None);

fn rules() -> MutexGuard<'static, Option<HashMap<Key, (Rule, u64)>>> {
    RULES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Remembers `rule` for the operation, learnt on connection `generation`; rules of other
/// connections are dropped (they can never answer again).
pub fn remember(session: u64, kind: i32, generation: u64, rule: Rule) {
    let mut rules = rules();
    let map = rules.get_or_insert_with(HashMap::new);
    map.retain(|_, (_, learnt_on)| *learnt_on == generation);
    map.insert((session, kind), (rule, generation));
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

/// The length a single-part call of the operation outputs for `input_len` bytes, if known and
/// learnt on connection `generation` (the live one).
pub fn length(session: u64, kind: i32, generation: u64, input_len: u64) -> Option<u64> {
    let (rule, learnt_on) = *rules().as_ref()?.get(&(session, kind))?;
    if learnt_on != generation {
        return None;
    }
    Some(if rule.plus_input { rule.output_length.saturating_add(input_len) } else { rule.output_length })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The rules are process-wide, and the tests that initialise the module clear and replace
    // them: these hold the same lock.

    #[test]
    fn rules_answer_until_forgotten() {
        let _serial = crate::abi::tests::serial();
        remember(7001, 1, u64::MAX, Rule { output_length: 16, plus_input: true });
        remember(7001, 3, u64::MAX, Rule { output_length: 64, plus_input: false });
        assert_eq!(length(7001, 1, u64::MAX, 100), Some(116));
        assert_eq!(length(7001, 3, u64::MAX, 100), Some(64));
        forget(7001, 1);
        assert_eq!(length(7001, 1, u64::MAX, 100), None);
        forget_session(7001);
        assert_eq!(length(7001, 3, u64::MAX, 1), None);
    }

    #[test]
    fn rules_answer_only_on_the_connection_they_were_learnt_on() {
        let _serial = crate::abi::tests::serial();
        let old = u64::MAX - 2;
        let new = u64::MAX - 1;
        remember(7002, 1, old, Rule { output_length: 16, plus_input: false });
        assert_eq!(length(7002, 1, new, 0), None);
        assert_eq!(length(7002, 1, old, 0), Some(16));
        // Learning on a new connection drops what was learnt on the old one.
        remember(7003, 1, new, Rule { output_length: 8, plus_input: false });
        assert_eq!(length(7002, 1, old, 0), None);
        assert_eq!(length(7003, 1, new, 0), Some(8));
    }
}

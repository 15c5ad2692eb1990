//! The checks behind each fuzz target (`fuzz_targets/<name>.rs` calls `<module>::check`): every
//! input must be parsed or refused with an error, never a panic, and what is accepted must
//! satisfy the invariant written beside each check (round trips, agreement between the module
//! and the daemon, a valid log staying valid).

pub mod audit;
pub mod blob;
pub mod config;
pub mod der;
pub mod import;
pub mod marshal;
pub mod mechanism;
pub mod policy;
pub mod sigv4;
pub mod template;
pub mod wire;

use std::sync::Once;

use arca_daemon::secure_mem::{self, LockPolicy};

/// Secrets go to the daemon's locked pool; a fuzzing process may not be allowed to lock much
/// memory, so it runs with the policy an operator chooses with `allow_unlocked_memory`.
pub fn setup() {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        let _ = secure_mem::init(LockPolicy::AllowUnlocked);
    });
}

/// Splits a leading selector byte from the rest of an input.
pub fn selector(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(first, rest)| (*first, rest))
}

//! A key's life: creation, description and policy (`lifecycle.rs`), listing (`listing.rs`),
//! aliases and enabling (`aliases.rs`), rotation and scheduled deletion (`schedule.rs`), tags and
//! the description (`tags.rs`).

mod aliases;
mod lifecycle;
mod listing;
mod schedule;
mod tags;

use std::sync::Arc;

pub(crate) use aliases::{ALIAS_PREFIX, Alias};
pub use lifecycle::NewKey;
pub use listing::{KeyFilter, StateFilter};
pub(crate) use schedule::{DAY, DEFAULT_DELETION_WINDOW_DAYS};
pub use schedule::{RotationEntry, RotationStatus};
pub use tags::TagPage;

use super::Keystore;

/// The key life-cycle calls.
#[derive(Debug)]
pub struct KeyService {
    keystore: Arc<Keystore>,
}

impl KeyService {
    pub fn new(keystore: Arc<Keystore>) -> Self {
        Self { keystore }
    }
}

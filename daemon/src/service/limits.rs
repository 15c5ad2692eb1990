//! The explicit limits of the API (DESIGN.md invariant 6).

/// Largest plaintext Encrypt accepts, as KMS.
pub const MAX_PLAINTEXT_BYTES: usize = 4096;
/// GenerateDataKey `number_of_bytes` and GenerateRandom range.
pub const MAX_DATA_KEY_BYTES: usize = 1024;
pub const MAX_RANDOM_BYTES: usize = 1024;
pub const DEFAULT_LIST_LIMIT: usize = 100;
pub const MAX_LIST_LIMIT: usize = 1000;
pub const MAX_DESCRIPTION_CHARS: usize = 8192;
pub const MAX_TAGS: usize = 50;

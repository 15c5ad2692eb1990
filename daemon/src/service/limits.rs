//! The explicit limits of the API: every size the KMS calls accept, in one place, each refused
//! past its bound with a precise error.

/// Largest plaintext Encrypt accepts, as KMS.
pub const MAX_PLAINTEXT_BYTES: usize = 4096;
/// GenerateDataKey `number_of_bytes` and GenerateRandom range.
pub const MAX_DATA_KEY_BYTES: usize = 1024;
pub const MAX_RANDOM_BYTES: usize = 1024;
pub const DEFAULT_LIST_LIMIT: usize = 100;
pub const MAX_LIST_LIMIT: usize = 1000;
pub const MAX_DESCRIPTION_CHARS: usize = 8192;
pub const MAX_TAGS: usize = 50;
/// Grant tokens one request may carry, as KMS.
pub const MAX_GRANT_TOKENS: usize = 10;

/// Free text a caller stores (a description, a tag key or value, the token label) is printable:
/// control characters (C0, DEL and C1, newlines and tabs included) are refused with the field
/// named, so that nothing stored can forge log lines or steer a terminal that shows it.
pub fn check_printable(field: &str, text: &str) -> crate::error::Result<()> {
    match text.chars().position(char::is_control) {
        Some(at) => Err(crate::error::Error::invalid(format!(
            "{field} holds a control character at position {at}; only printable characters are allowed"
        ))),
        None => Ok(()),
    }
}

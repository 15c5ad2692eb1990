//! The canonical byte form of an encryption context, authenticated as AAD.

use std::collections::BTreeMap;

use super::error::{Error, Result};

/// Name-value pairs bound to a ciphertext; sorted, so the map order a client used is irrelevant.
pub type EncryptionContext = BTreeMap<String, String>;

/// Largest encoded context accepted, as KMS does (8 KiB).
pub const MAX_CONTEXT_BYTES: usize = 8192;

/// Length-prefixed pairs in key order: unambiguous, so no two contexts encode alike.
pub fn encode(context: &EncryptionContext) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    out.extend_from_slice(&len_u32(context.len())?.to_be_bytes());
    for (name, value) in context {
        for part in [name, value] {
            out.extend_from_slice(&len_u32(part.len())?.to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    if out.len() > MAX_CONTEXT_BYTES {
        return Err(Error::DataLength(format!(
            "encryption context is {} bytes encoded, the limit is {MAX_CONTEXT_BYTES}",
            out.len()
        )));
    }
    Ok(out)
}

fn len_u32(len: usize) -> Result<u32> {
    u32::try_from(len).map_err(|_| Error::DataLength("encryption context is too large".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn encoding_is_order_independent_and_unambiguous() {
        let a = encode(&context(&[("a", "1"), ("b", "2")])).unwrap();
        let b = encode(&context(&[("b", "2"), ("a", "1")])).unwrap();
        assert_eq!(a, b);
        let shifted = encode(&context(&[("a1", ""), ("b", "2")])).unwrap();
        assert_ne!(a, shifted);
        assert_ne!(encode(&context(&[])).unwrap(), encode(&context(&[("", "")])).unwrap());
    }

    #[test]
    fn oversized_context_is_refused() {
        let big = "x".repeat(MAX_CONTEXT_BYTES);
        assert!(matches!(encode(&context(&[("k", &big)])), Err(Error::DataLength(_))));
    }
}

//! NIST SP 800-108 key derivation in counter and feedback mode (PKCS#11
//! CKM_SP800_108_COUNTER_KDF and CKM_SP800_108_FEEDBACK_KDF), with HMAC or AES-CMAC as the PRF.
//!
//! Each PRF input is the application's list of fields, in its order: the iteration variable (the
//! counter in counter mode; the previous block, the IV first, in feedback mode), an optional
//! counter (feedback mode), the length of the derived keying material, and byte strings (a label,
//! a separator, a context). Blocks are concatenated and cut to the length asked for.

use zeroize::Zeroizing;

use super::digest::HashAlg;
use super::error::{Error, Result};
use super::mac::MacContext;
use crate::secure_mem::SecretBuf;

/// The PRF: HMAC over a hash, or AES-CMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prf {
    Hmac(HashAlg),
    AesCmac,
}

/// How an integer (a counter, the length) is encoded: its width in bits (a multiple of 8) and
/// byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegerFormat {
    pub little_endian: bool,
    pub width_bits: u64,
}

/// What the length field counts: the bits of the keys asked for, or of every PRF block made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthOf {
    Keys,
    Segments,
}

/// One field of the PRF input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// Counter mode: the counter, from 1, in this format. Feedback mode: the previous block
    /// (no format).
    Iteration(Option<IntegerFormat>),
    /// Feedback mode's optional counter.
    Counter(IntegerFormat),
    Length(LengthOf, IntegerFormat),
    Bytes(Vec<u8>),
}

/// Counter mode, or feedback mode with its IV (possibly empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Counter,
    Feedback { iv: Vec<u8> },
}

/// The longest output of one derivation (every key it makes together).
pub const MAX_KBKDF_OUTPUT: usize = 4096;

fn invalid(message: impl Into<String>) -> Error {
    Error::ParameterInvalid(message.into())
}

/// `value` in `format`, or an error if it does not fit the width.
fn encode(value: u64, format: IntegerFormat, what: &str) -> Result<Vec<u8>> {
    let bytes = (format.width_bits / 8) as usize;
    if format.width_bits == 0 || !format.width_bits.is_multiple_of(8) || bytes > 8 {
        return Err(invalid(format!("the {what} is 8 to 64 bits wide in whole bytes")));
    }
    if bytes < 8 && value >> (bytes * 8) != 0 {
        return Err(invalid(format!("the {what} {value} does not fit in {} bits", format.width_bits)));
    }
    let big = value.to_be_bytes();
    let mut out = big.get(8 - bytes..).map(<[u8]>::to_vec).unwrap_or_default();
    if format.little_endian {
        out.reverse();
    }
    Ok(out)
}

fn check_fields(mode: &Mode, fields: &[Field]) -> Result<()> {
    let iterations: Vec<&Option<IntegerFormat>> = fields
        .iter()
        .filter_map(|field| match field {
            Field::Iteration(format) => Some(format),
            _ => None,
        })
        .collect();
    let wide_counter =
        fields.iter().any(|field| matches!(field, Field::Counter(format) if format.width_bits > 32));
    if wide_counter {
        return Err(invalid("a counter is 8 to 32 bits wide"));
    }
    match (mode, iterations.as_slice()) {
        (Mode::Counter, [Some(format)]) if format.width_bits <= 32 => {}
        (Mode::Feedback { .. }, [None]) => {}
        _ => {
            return Err(invalid(
                "one iteration variable: a counter of 8 to 32 bits in counter mode, the previous block in feedback mode",
            ));
        }
    }
    if matches!(mode, Mode::Counter) && fields.iter().any(|field| matches!(field, Field::Counter(_))) {
        return Err(invalid("an optional counter belongs to feedback mode"));
    }
    Ok(())
}

fn prf_len(prf: Prf) -> usize {
    match prf {
        Prf::Hmac(hash) => hash.output_len(),
        Prf::AesCmac => super::mac::CMAC_LEN,
    }
}

fn block(prf: Prf, key: &[u8], input: &[u8]) -> Result<Vec<u8>> {
    let mut context = match prf {
        Prf::Hmac(hash) => MacContext::hmac(hash, key),
        Prf::AesCmac => MacContext::aes_cmac(key),
    }?;
    context.update(input)?;
    context.finish()
}

/// `len` bytes of keying material from `key`.
pub fn kbkdf(prf: Prf, key: &[u8], mode: &Mode, fields: &[Field], len: usize) -> Result<SecretBuf> {
    if len == 0 || len > MAX_KBKDF_OUTPUT {
        return Err(invalid(format!("SP 800-108 derives 1 to {MAX_KBKDF_OUTPUT} bytes here, not {len}")));
    }
    check_fields(mode, fields)?;
    let block_len = prf_len(prf);
    let blocks = len.div_ceil(block_len);
    let length_bits = |of: LengthOf| match of {
        LengthOf::Keys => (len as u64) * 8,
        LengthOf::Segments => (blocks * block_len) as u64 * 8,
    };
    let mut output = SecretBuf::zeroed(len)?;
    // The blocks are keying material: wiped when replaced or dropped.
    let mut previous = Zeroizing::new(match mode {
        Mode::Counter => Vec::new(),
        Mode::Feedback { iv } => iv.clone(),
    });
    for (index, chunk) in output.as_mut_slice().chunks_mut(block_len).enumerate() {
        let counter = index as u64 + 1;
        let mut input = Zeroizing::new(Vec::new());
        for field in fields {
            match field {
                Field::Iteration(Some(format)) => input.extend(encode(counter, *format, "counter")?),
                Field::Iteration(None) => input.extend_from_slice(&previous),
                Field::Counter(format) => input.extend(encode(counter, *format, "counter")?),
                Field::Length(of, format) => input.extend(encode(length_bits(*of), *format, "length")?),
                Field::Bytes(bytes) => input.extend_from_slice(bytes),
            }
        }
        previous = Zeroizing::new(block(prf, key, &input)?);
        let take = previous.get(..chunk.len()).ok_or_else(|| super::error::failed("SP 800-108 block"))?;
        chunk.copy_from_slice(take);
    }
    Ok(output)
}

#[cfg(test)]
mod tests;

//! The PKCS#11 two-call convention for output buffers (PKCS#11 3.0 §5.2).
//!
//! A NULL buffer asks only for the length; a buffer that is too short gets `CKR_BUFFER_TOO_SMALL`
//! and the length needed; otherwise the output is copied and its length reported. For daemon
//! operations the daemon applies the rule (it receives an [`OutputSpace`] and answers with an
//! [`OutputResponse`]); for lists the module applies it itself. Either way the result is a
//! [`Settled`] value that the C ABI writes out: the only unsafe part is the final copy.

use arca_proto::v1::{OutputResponse, OutputSpace};

use crate::error::Error;

/// What the application's output buffer looks like: `None` for a NULL pointer, else its size.
pub type Capacity = Option<usize>;

/// The `OutputSpace` sent to the daemon for an application buffer.
pub fn space(capacity: Capacity) -> OutputSpace {
    match capacity {
        None => OutputSpace { length_only: true, capacity: 0 },
        Some(size) => OutputSpace { length_only: false, capacity: size as u64 },
    }
}

/// The space sent with calls whose C function has no output buffer (C_SignUpdate, C_VerifyFinal…).
pub fn no_output() -> OutputSpace {
    OutputSpace { length_only: false, capacity: 0 }
}

/// The outcome of an output-producing call, ready for the C ABI to write.
#[derive(Debug, PartialEq, Eq)]
pub struct Settled<T> {
    /// The value for the application's length (or count) argument.
    pub length: u64,
    /// Items to copy into the application's buffer (never more than its capacity).
    pub items: Option<Vec<T>>,
    /// `Ok` or `Err(Error::BufferTooSmall)`.
    pub result: Result<(), Error>,
}

impl<T> Settled<T> {
    fn length_only(length: u64) -> Self {
        Self { length, items: None, result: Ok(()) }
    }

    fn too_small(length: u64) -> Self {
        Self { length, items: None, result: Err(Error::BufferTooSmall) }
    }

    fn copy(items: Vec<T>) -> Self {
        Self { length: items.len() as u64, items: Some(items), result: Ok(()) }
    }
}

/// For an output whose length is known before it is made: the answer to a length query or a
/// short buffer, or `None` when `length` bytes fit.
pub fn settle_known_length(length: u64, capacity: Capacity) -> Option<Settled<u8>> {
    match capacity {
        None => Some(Settled::length_only(length)),
        Some(size) if (size as u64) < length => Some(Settled::too_small(length)),
        Some(_) => None,
    }
}

/// Applies the daemon's answer to an operation that was given `space(capacity)`.
pub fn settle_response(response: OutputResponse, capacity: Capacity) -> Result<Settled<u8>, Error> {
    let Some(size) = capacity else {
        return Ok(Settled::length_only(response.length));
    };
    if response.buffer_too_small {
        return Ok(Settled::too_small(response.length));
    }
    // The daemon must say `buffer_too_small` instead of producing more than fits: the operation
    // has consumed its input now, so the only honest answer left is a device error.
    if response.output.len() > size {
        return Err(Error::Protocol);
    }
    Ok(Settled::copy(response.output))
}

/// Applies the convention to a list the module already holds (slots, mechanisms, interfaces).
pub fn settle_list<T>(items: Vec<T>, capacity: Capacity) -> Settled<T> {
    let length = items.len() as u64;
    match capacity {
        None => Settled::length_only(length),
        Some(size) if size < items.len() => Settled::too_small(length),
        Some(_) => Settled::copy(items),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(output: &[u8], length: u64, too_small: bool) -> OutputResponse {
        OutputResponse { output: output.to_vec(), length, buffer_too_small: too_small }
    }

    #[test]
    fn space_reflects_the_buffer() {
        assert_eq!(space(None), OutputSpace { length_only: true, capacity: 0 });
        assert_eq!(space(Some(32)), OutputSpace { length_only: false, capacity: 32 });
        assert_eq!(no_output(), OutputSpace { length_only: false, capacity: 0 });
    }

    #[test]
    fn null_buffer_reports_the_length_only() {
        let settled = settle_response(response(b"", 48, false), None).unwrap();
        assert_eq!(settled, Settled { length: 48, items: None, result: Ok(()) });
    }

    #[test]
    fn short_buffer_reports_buffer_too_small_and_the_length() {
        let settled = settle_response(response(b"", 256, true), Some(16)).unwrap();
        assert_eq!(settled, Settled { length: 256, items: None, result: Err(Error::BufferTooSmall) });
    }

    #[test]
    fn big_enough_buffer_gets_the_output() {
        let settled = settle_response(response(b"abc", 16, false), Some(16)).unwrap();
        assert_eq!(settled, Settled { length: 3, items: Some(b"abc".to_vec()), result: Ok(()) });
        let exact = settle_response(response(b"abcd", 4, false), Some(4)).unwrap();
        assert_eq!(exact.length, 4);
    }

    #[test]
    fn output_beyond_the_capacity_is_a_protocol_error() {
        assert_eq!(settle_response(response(b"abcdef", 6, false), Some(4)), Err(Error::Protocol));
    }

    #[test]
    fn lists_follow_the_same_convention() {
        assert_eq!(settle_list(vec![1u64, 2, 3], None), Settled { length: 3, items: None, result: Ok(()) });
        assert_eq!(
            settle_list(vec![1u64, 2, 3], Some(2)),
            Settled { length: 3, items: None, result: Err(Error::BufferTooSmall) }
        );
        assert_eq!(
            settle_list(vec![1u64, 2, 3], Some(8)),
            Settled { length: 3, items: Some(vec![1, 2, 3]), result: Ok(()) }
        );
        assert_eq!(settle_list(Vec::<u64>::new(), Some(0)).length, 0);
    }
}

//! What encryption, decryption, digesting, signing and verifying share: an `*Init` that sends the
//! mechanism, and data steps (single-part, update, final) that follow the two-call convention.
//! A step's input of up to 16 MiB travels in as many requests as the daemon's request cap needs;
//! a step that fails here, before or between its requests, ends the daemon's operation too.

use arca_proto::limits::MAX_OPERATION_DATA_BYTES;
use arca_proto::v1::{Mechanism, OperationDataRequest, OperationInitRequest, OperationKind, OutputResponse};
use cryptoki_sys::*;

use super::mechanism::read_mechanism;
use super::{capacity, deliver, input};
use crate::client::Reach;
use crate::error::Error;
use crate::lengths::{self, Rule};
use crate::output::{self, settle_response};
use crate::state::{self, rpc};

/// Which data RPC a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `C_Encrypt`, `C_Sign` …: `OperationOneShot`.
    OneShot,
    /// `C_*Update`: `OperationUpdate`.
    Update,
    /// `C_*Final`: `OperationFinal`.
    Final,
}

/// `C_*Init`: the mechanism at `mechanism` with `key` (0 for digests).
pub unsafe fn init(
    session: CK_SESSION_HANDLE,
    kind: OperationKind,
    mechanism: *const CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> Result<(), Error> {
    // SAFETY: the caller's contract for `mechanism` holds (NULL is checked).
    let mechanism = unsafe { read_mechanism(mechanism) }?;
    init_with(session, kind, mechanism, key)
}

/// `C_*Init` with a mechanism already read (also the start of each message-based message).
pub fn init_with(
    session: CK_SESSION_HANDLE,
    kind: OperationKind,
    mechanism: Mechanism,
    key: CK_OBJECT_HANDLE,
) -> Result<(), Error> {
    let request = OperationInitRequest { session, kind: kind as i32, mechanism: Some(mechanism), key };
    let generation = state::generation();
    let answer = match rpc!(Reach::Existing, OPERATION_INIT, request) {
        Ok(answer) => answer,
        Err(error) => {
            // Whatever was known of an operation of this kind may no longer hold; forgetting
            // costs a round trip at most.
            lengths::forget(session, kind as i32);
            return Err(error);
        }
    };
    let rule = Rule { output_length: answer.output_length, plus_input: answer.plus_input };
    match generation {
        // The same live connection before and after: the init went through it.
        Some(generation) if state::generation() == Some(generation) => {
            lengths::remember(session, kind as i32, generation, rule);
        }
        _ => lengths::forget(session, kind as i32),
    }
    Ok(())
}

fn send(step: Step, request: OperationDataRequest) -> Result<OutputResponse, Error> {
    match step {
        Step::OneShot => rpc!(Reach::Existing, OPERATION_ONE_SHOT, request),
        Step::Update => rpc!(Reach::Existing, OPERATION_UPDATE, request),
        Step::Final => rpc!(Reach::Existing, OPERATION_FINAL, request),
    }
}

/// Sends a step's input, in pieces when one request cannot carry it (`OperationDataRequest.more`:
/// the daemon joins them), and returns the answer to the last piece, which carries the output
/// space and the signature.
fn send_data(step: Step, mut request: OperationDataRequest) -> Result<OutputResponse, Error> {
    let piece = state::piece_bytes()?;
    if step == Step::Final || request.data.len() <= piece {
        return send(step, request);
    }
    let data = std::mem::take(&mut request.data);
    let mut pieces = data.chunks(piece).peekable();
    while let Some(chunk) = pieces.next() {
        if pieces.peek().is_none() {
            request.data = chunk.to_vec();
            break;
        }
        let held = OperationDataRequest {
            data: chunk.to_vec(),
            signature: Vec::new(),
            space: Some(output::no_output()),
            more: true,
            ..request.clone()
        };
        send(step, held)?;
    }
    send(step, request)
}

/// The single-part call of an operation whose output is known to fit `capacity` bytes (the
/// message-based functions check the application's buffers first), with all of its input.
pub fn one_shot(
    session: CK_SESSION_HANDLE,
    kind: OperationKind,
    data: Vec<u8>,
    capacity: usize,
) -> Result<Vec<u8>, Error> {
    lengths::forget(session, kind as i32);
    let result = check_input_len(kind, data.len()).and_then(|()| {
        let request = OperationDataRequest {
            session,
            kind: kind as i32,
            data,
            signature: Vec::new(),
            space: Some(output::space(Some(capacity))),
            more: false,
        };
        send_data(Step::OneShot, request)
    });
    let answer = match result {
        Ok(answer) => answer,
        Err(error) => return settle(session, kind, Err(error)).map(|()| Vec::new()),
    };
    if answer.buffer_too_small {
        end(session, kind);
        return Err(Error::Protocol);
    }
    Ok(answer.output)
}

/// Ends the daemon's operation of `kind` after a failure the daemon did not rule on (a bad
/// argument or an input too long found here, a piece lost on the way): PKCS#11 3.0 §5.2 ends an
/// operation on any failure but a short buffer. Best effort: the caller gets the call's own error.
pub fn end(session: CK_SESSION_HANDLE, kind: OperationKind) {
    lengths::forget(session, kind as i32);
    let request = OperationInitRequest { session, kind: kind as i32, mechanism: None, key: 0 };
    let _ended = rpc!(Reach::Existing, OPERATION_INIT, request);
}

/// The outcome of a data step, after ending the operation if the failure calls for it. A
/// failure the daemon answered was ruled on there (it ended the operation, or there was none).
fn settle(session: CK_SESSION_HANDLE, kind: OperationKind, result: Result<(), Error>) -> Result<(), Error> {
    if let Err(error) = &result
        && !matches!(error, Error::BufferTooSmall | Error::Daemon(_))
    {
        end(session, kind);
    }
    result
}

/// Fails with the length error of the operation's input when it is over the per-call limit.
fn check_input_len(kind: OperationKind, len: usize) -> Result<(), Error> {
    match kind {
        _ if len <= MAX_OPERATION_DATA_BYTES => Ok(()),
        OperationKind::OperationDecrypt => Err(Error::EncryptedDataLenRange),
        _ => Err(Error::DataLenRange),
    }
}

/// A step with input (`data`, `data_len`; none for finals) and a two-call output buffer.
pub unsafe fn produce(
    step: Step,
    session: CK_SESSION_HANDLE,
    kind: OperationKind,
    data: (*const CK_BYTE, CK_ULONG),
    out: (*mut CK_BYTE, *mut CK_ULONG),
) -> Result<(), Error> {
    // SAFETY: the caller's contract holds for both buffers and the length pointer.
    let result = unsafe { try_produce(step, session, kind, data, out) };
    settle(session, kind, result)
}

unsafe fn try_produce(
    step: Step,
    session: CK_SESSION_HANDLE,
    kind: OperationKind,
    (data, data_len): (*const CK_BYTE, CK_ULONG),
    (out, out_len): (*mut CK_BYTE, *mut CK_ULONG),
) -> Result<(), Error> {
    // SAFETY: the caller's contract holds for both buffers and the length pointer.
    unsafe {
        let space = capacity(out, out_len)?;
        let data = input(data, data_len)?;
        check_input_len(kind, data.len())?;
        if step == Step::OneShot
            && space.is_none()
            && let Some(length) = state::generation()
                .and_then(|generation| lengths::length(session, kind as i32, generation, data.len() as u64))
        {
            // A length query the rule from C_*Init answers: no round trip, nothing consumed.
            return deliver(out, out_len, output::Settled { length, items: None, result: Ok(()) });
        }
        let data = data.to_vec();
        let request = OperationDataRequest {
            session,
            kind: kind as i32,
            data,
            signature: Vec::new(),
            space: Some(output::space(space)),
            more: false,
        };
        let settled = send_data(step, request).and_then(|answer| settle_response(answer, space));
        let keeps_rule = space.is_none() || matches!(&settled, Ok(s) if s.result.is_err());
        if !(keeps_rule && step == Step::OneShot) {
            lengths::forget(session, kind as i32);
        }
        deliver(out, out_len, settled?)
    }
}

/// A step whose C function has no output: `C_DigestUpdate`, `C_SignUpdate`, `C_VerifyUpdate`,
/// `C_VerifyFinal` (whose `data` is the signature) and `C_Verify` (with `signature`).
pub unsafe fn consume(
    step: Step,
    session: CK_SESSION_HANDLE,
    kind: OperationKind,
    (data, data_len): (*const CK_BYTE, CK_ULONG),
    (signature, signature_len): (*const CK_BYTE, CK_ULONG),
) -> Result<(), Error> {
    // SAFETY: the caller guarantees the given number of readable bytes at both pointers.
    let inputs =
        unsafe { input(data, data_len).and_then(|data| Ok((data, input(signature, signature_len)?))) };
    let result = inputs.and_then(|(data, signature)| {
        check_input_len(kind, data.len())?;
        let request = OperationDataRequest {
            session,
            kind: kind as i32,
            data: data.to_vec(),
            signature: signature.to_vec(),
            space: Some(output::no_output()),
            more: false,
        };
        lengths::forget(session, kind as i32);
        send_data(step, request).map(drop)
    });
    settle(session, kind, result)
}

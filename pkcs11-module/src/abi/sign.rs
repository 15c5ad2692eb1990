//! Signing and MACing, verifying (PKCS#11 3.0 §5.11, §5.12). Signatures with message recovery
//! (`C_SignRecover*`, `C_VerifyRecover*`) are not offered: `CKR_FUNCTION_NOT_SUPPORTED`.

use arca_proto::v1::OperationKind;
use cryptoki_sys::*;

use super::guard;
use super::operation::{Step, consume, init, produce};
use crate::error::Error;

const SIGN: OperationKind = OperationKind::OperationSign;
const VERIFY: OperationKind = OperationKind::OperationVerify;

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignInit(
    session: CK_SESSION_HANDLE,
    mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    // SAFETY: the caller's contract for `mechanism` holds.
    guard(|| unsafe { init(session, SIGN, mechanism, key) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Sign(
    session: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    data_len: CK_ULONG,
    signature: *mut CK_BYTE,
    signature_len: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: the caller's contract for both buffers holds.
    guard(|| unsafe { produce(Step::OneShot, session, SIGN, (data, data_len), (signature, signature_len)) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignUpdate(
    session: CK_SESSION_HANDLE,
    part: *mut CK_BYTE,
    part_len: CK_ULONG,
) -> CK_RV {
    // SAFETY: the caller guarantees `part_len` readable bytes at `part`.
    guard(|| unsafe { consume(Step::Update, session, SIGN, (part, part_len), (std::ptr::null(), 0)) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignFinal(
    session: CK_SESSION_HANDLE,
    signature: *mut CK_BYTE,
    signature_len: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: the caller's contract for the output buffer holds; there is no input.
    guard(|| unsafe {
        produce(Step::Final, session, SIGN, (std::ptr::null(), 0), (signature, signature_len))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignRecoverInit(
    _session: CK_SESSION_HANDLE,
    _mechanism: *mut CK_MECHANISM,
    _key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| Err(Error::FunctionNotSupported))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignRecover(
    _session: CK_SESSION_HANDLE,
    _data: *mut CK_BYTE,
    _data_len: CK_ULONG,
    _signature: *mut CK_BYTE,
    _signature_len: *mut CK_ULONG,
) -> CK_RV {
    guard(|| Err(Error::FunctionNotSupported))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyInit(
    session: CK_SESSION_HANDLE,
    mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    // SAFETY: the caller's contract for `mechanism` holds.
    guard(|| unsafe { init(session, VERIFY, mechanism, key) })
}

/// One `OperationOneShot` carrying the data and the signature.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Verify(
    session: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    data_len: CK_ULONG,
    signature: *mut CK_BYTE,
    signature_len: CK_ULONG,
) -> CK_RV {
    // SAFETY: the caller guarantees the given number of readable bytes at both pointers.
    guard(|| unsafe { consume(Step::OneShot, session, VERIFY, (data, data_len), (signature, signature_len)) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyUpdate(
    session: CK_SESSION_HANDLE,
    part: *mut CK_BYTE,
    part_len: CK_ULONG,
) -> CK_RV {
    // SAFETY: the caller guarantees `part_len` readable bytes at `part`.
    guard(|| unsafe { consume(Step::Update, session, VERIFY, (part, part_len), (std::ptr::null(), 0)) })
}

/// `OperationFinal` with the signature in `data`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyFinal(
    session: CK_SESSION_HANDLE,
    signature: *mut CK_BYTE,
    signature_len: CK_ULONG,
) -> CK_RV {
    // SAFETY: the caller guarantees `signature_len` readable bytes at `signature`.
    guard(|| unsafe {
        consume(Step::Final, session, VERIFY, (signature, signature_len), (std::ptr::null(), 0))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyRecoverInit(
    _session: CK_SESSION_HANDLE,
    _mechanism: *mut CK_MECHANISM,
    _key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| Err(Error::FunctionNotSupported))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyRecover(
    _session: CK_SESSION_HANDLE,
    _signature: *mut CK_BYTE,
    _signature_len: CK_ULONG,
    _data: *mut CK_BYTE,
    _data_len: *mut CK_ULONG,
) -> CK_RV {
    guard(|| Err(Error::FunctionNotSupported))
}

//! Encryption and decryption (PKCS#11 3.0 §5.8, §5.9): each call is one Token RPC.
//!
//! The dual-function updates (§5.13: `C_DigestEncryptUpdate`, `C_DecryptDigestUpdate`,
//! `C_SignEncryptUpdate`, `C_DecryptVerifyUpdate`) are not offered and answer
//! `CKR_FUNCTION_NOT_SUPPORTED`: a session runs one operation of each kind, and the same result
//! comes from calling the two `*Update` functions in turn.

use arca_proto::v1::OperationKind;
use cryptoki_sys::*;

use super::guard;
use super::operation::{Step, init, produce};
use crate::error::Error;

const ENCRYPT: OperationKind = OperationKind::OperationEncrypt;
const DECRYPT: OperationKind = OperationKind::OperationDecrypt;

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptInit(
    session: CK_SESSION_HANDLE,
    mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    // SAFETY: the caller's contract for `mechanism` holds.
    guard(|| unsafe { init(session, ENCRYPT, mechanism, key) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Encrypt(
    session: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    data_len: CK_ULONG,
    encrypted: *mut CK_BYTE,
    encrypted_len: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: the caller's contract for both buffers holds.
    guard(|| unsafe {
        produce(Step::OneShot, session, ENCRYPT, (data, data_len), (encrypted, encrypted_len))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptUpdate(
    session: CK_SESSION_HANDLE,
    part: *mut CK_BYTE,
    part_len: CK_ULONG,
    encrypted: *mut CK_BYTE,
    encrypted_len: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: the caller's contract for both buffers holds.
    guard(|| unsafe { produce(Step::Update, session, ENCRYPT, (part, part_len), (encrypted, encrypted_len)) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptFinal(
    session: CK_SESSION_HANDLE,
    last: *mut CK_BYTE,
    last_len: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: the caller's contract for the output buffer holds; there is no input.
    guard(|| unsafe { produce(Step::Final, session, ENCRYPT, (std::ptr::null(), 0), (last, last_len)) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptInit(
    session: CK_SESSION_HANDLE,
    mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    // SAFETY: the caller's contract for `mechanism` holds.
    guard(|| unsafe { init(session, DECRYPT, mechanism, key) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Decrypt(
    session: CK_SESSION_HANDLE,
    encrypted: *mut CK_BYTE,
    encrypted_len: CK_ULONG,
    data: *mut CK_BYTE,
    data_len: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: the caller's contract for both buffers holds.
    guard(|| unsafe {
        produce(Step::OneShot, session, DECRYPT, (encrypted, encrypted_len), (data, data_len))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptUpdate(
    session: CK_SESSION_HANDLE,
    encrypted: *mut CK_BYTE,
    encrypted_len: CK_ULONG,
    part: *mut CK_BYTE,
    part_len: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: the caller's contract for both buffers holds.
    guard(|| unsafe { produce(Step::Update, session, DECRYPT, (encrypted, encrypted_len), (part, part_len)) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptFinal(
    session: CK_SESSION_HANDLE,
    last: *mut CK_BYTE,
    last_len: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: the caller's contract for the output buffer holds; there is no input.
    guard(|| unsafe { produce(Step::Final, session, DECRYPT, (std::ptr::null(), 0), (last, last_len)) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DigestEncryptUpdate(
    _session: CK_SESSION_HANDLE,
    _part: *mut CK_BYTE,
    _part_len: CK_ULONG,
    _encrypted: *mut CK_BYTE,
    _encrypted_len: *mut CK_ULONG,
) -> CK_RV {
    guard(|| Err(Error::FunctionNotSupported))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptDigestUpdate(
    _session: CK_SESSION_HANDLE,
    _encrypted: *mut CK_BYTE,
    _encrypted_len: CK_ULONG,
    _part: *mut CK_BYTE,
    _part_len: *mut CK_ULONG,
) -> CK_RV {
    guard(|| Err(Error::FunctionNotSupported))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignEncryptUpdate(
    _session: CK_SESSION_HANDLE,
    _part: *mut CK_BYTE,
    _part_len: CK_ULONG,
    _encrypted: *mut CK_BYTE,
    _encrypted_len: *mut CK_ULONG,
) -> CK_RV {
    guard(|| Err(Error::FunctionNotSupported))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptVerifyUpdate(
    _session: CK_SESSION_HANDLE,
    _encrypted: *mut CK_BYTE,
    _encrypted_len: CK_ULONG,
    _part: *mut CK_BYTE,
    _part_len: *mut CK_ULONG,
) -> CK_RV {
    guard(|| Err(Error::FunctionNotSupported))
}

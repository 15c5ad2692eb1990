//! Message digesting (PKCS#11 3.0 §5.10).

use arca_proto::v1::{DigestKeyRequest, OperationKind};
use cryptoki_sys::*;

use super::guard;
use super::operation::{Step, consume, init, produce};
use crate::client::Reach;
use crate::state::rpc;

const DIGEST: OperationKind = OperationKind::OperationDigest;

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DigestInit(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM) -> CK_RV {
    // SAFETY: the caller's contract for `mechanism` holds.
    guard(|| unsafe { init(session, DIGEST, mechanism, 0) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Digest(
    session: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    data_len: CK_ULONG,
    digest: *mut CK_BYTE,
    digest_len: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: the caller's contract for both buffers holds.
    guard(|| unsafe { produce(Step::OneShot, session, DIGEST, (data, data_len), (digest, digest_len)) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DigestUpdate(
    session: CK_SESSION_HANDLE,
    part: *mut CK_BYTE,
    part_len: CK_ULONG,
) -> CK_RV {
    // SAFETY: the caller guarantees `part_len` readable bytes at `part`.
    guard(|| unsafe { consume(Step::Update, session, DIGEST, (part, part_len), (std::ptr::null(), 0)) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DigestKey(session: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> CK_RV {
    guard(|| {
        // The digest is multi-part from here: C_Digest may no longer be answered from its rule.
        crate::lengths::forget(session, DIGEST as i32);
        rpc!(Reach::Existing, DIGEST_KEY, DigestKeyRequest { session, key }).map(drop)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DigestFinal(
    session: CK_SESSION_HANDLE,
    digest: *mut CK_BYTE,
    digest_len: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: the caller's contract for the output buffer holds; there is no input.
    guard(|| unsafe { produce(Step::Final, session, DIGEST, (std::ptr::null(), 0), (digest, digest_len)) })
}

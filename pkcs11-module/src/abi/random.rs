//! Random number generation (PKCS#11 3.0 §5.16) and parallel function management (§5.17).
//!
//! `C_SeedRandom` answers `CKR_RANDOM_SEED_NOT_SUPPORTED` (the daemon's generator takes no seed);
//! `C_GetFunctionStatus` and `C_CancelFunction` answer `CKR_FUNCTION_NOT_PARALLEL`, as the
//! specification prescribes for legacy functions.

use arca_proto::v1::TokenRandomRequest;
use cryptoki_sys::*;

use super::{check_output, guard};
use crate::client::Reach;
use crate::error::Error;
use crate::state::rpc;

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SeedRandom(
    _session: CK_SESSION_HANDLE,
    _seed: *mut CK_BYTE,
    _seed_len: CK_ULONG,
) -> CK_RV {
    guard(|| Err(Error::RandomSeedNotSupported))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GenerateRandom(
    session: CK_SESSION_HANDLE,
    random: *mut CK_BYTE,
    random_len: CK_ULONG,
) -> CK_RV {
    guard(|| {
        check_output(random, random_len)?;
        let response =
            rpc!(Reach::Existing, GENERATE_RANDOM, TokenRandomRequest { session, length: random_len })?;
        if response.output.len() as CK_ULONG != random_len {
            return Err(Error::Protocol);
        }
        if !response.output.is_empty() {
            // SAFETY: exactly `random_len` bytes are copied to the caller's `random_len`-byte
            // buffer, which is non-NULL here; the regions cannot overlap.
            unsafe { std::ptr::copy_nonoverlapping(response.output.as_ptr(), random, response.output.len()) };
        }
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetFunctionStatus(_session: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| Err(Error::FunctionNotParallel))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CancelFunction(_session: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| Err(Error::FunctionNotParallel))
}

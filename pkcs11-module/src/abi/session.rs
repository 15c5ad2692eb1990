//! Session management (PKCS#11 3.0 §5.6). Sessions live in the daemon; handles pass through.
//!
//! Not offered: `C_GetOperationState` / `C_SetOperationState`, `C_LoginUser` (3.0, named users),
//! `C_SessionCancel` (3.0): `CKR_FUNCTION_NOT_SUPPORTED`. The notification callback of
//! `C_OpenSession` is accepted and never called (Arca has no surrender events).
//!
//! On a thread that is ending (a thread-local destructor, an `exit` handler; see
//! `crate::runtime`), `C_CloseSession`, `C_CloseAllSessions` and `C_Logout` answer `CKR_OK`
//! without a round trip: the daemon ends the application's sessions and login when its
//! connection closes, at the latest when the process exits.

use std::ffi::c_void;

use arca_proto::v1::{
    CloseAllSessionsRequest, LoginRequest, LogoutRequest, OpenSessionRequest, SessionRequest,
};
use cryptoki_sys::*;

use super::slot::SLOT_ID;
use super::{guard, non_null, pin, write};
use crate::client::Reach;
use crate::error::Error;
use crate::state::rpc;

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_OpenSession(
    slot: CK_SLOT_ID,
    flags: CK_FLAGS,
    _application: *mut c_void,
    _notify: CK_NOTIFY,
    session: *mut CK_SESSION_HANDLE,
) -> CK_RV {
    guard(|| {
        if slot != SLOT_ID {
            return Err(Error::SlotIdInvalid);
        }
        non_null(session)?;
        let opened = rpc!(Reach::Attached, OPEN_SESSION, OpenSessionRequest { flags })?;
        // SAFETY: the caller guarantees a writable handle at the non-NULL `session`.
        unsafe { write(session, opened.session) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CloseSession(session: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| {
        crate::lengths::forget_session(session);
        crate::messages::forget_session(session);
        Error::ending_is_fine(rpc!(Reach::Existing, CLOSE_SESSION, SessionRequest { session }).map(drop))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CloseAllSessions(slot: CK_SLOT_ID) -> CK_RV {
    guard(|| {
        if slot != SLOT_ID {
            return Err(Error::SlotIdInvalid);
        }
        crate::lengths::clear();
        crate::messages::clear();
        Error::ending_is_fine(rpc!(Reach::Attached, CLOSE_ALL_SESSIONS, CloseAllSessionsRequest {}).map(drop))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetSessionInfo(session: CK_SESSION_HANDLE, info: *mut CK_SESSION_INFO) -> CK_RV {
    guard(|| {
        non_null(info)?;
        let answer = rpc!(Reach::Existing, GET_SESSION_INFO, SessionRequest { session })?;
        let value = CK_SESSION_INFO {
            slotID: SLOT_ID,
            state: answer.state,
            flags: answer.flags,
            ulDeviceError: answer.device_error,
        };
        // SAFETY: the caller guarantees a writable CK_SESSION_INFO at the non-NULL `info`.
        unsafe { write(info, value) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetOperationState(
    _session: CK_SESSION_HANDLE,
    _state: *mut CK_BYTE,
    _state_len: *mut CK_ULONG,
) -> CK_RV {
    guard(|| Err(Error::FunctionNotSupported))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SetOperationState(
    _session: CK_SESSION_HANDLE,
    _state: *mut CK_BYTE,
    _state_len: CK_ULONG,
    _encryption_key: CK_OBJECT_HANDLE,
    _authentication_key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| Err(Error::FunctionNotSupported))
}

/// Forwards every user type, `CKU_CONTEXT_SPECIFIC` included: the daemon decides.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Login(
    session: CK_SESSION_HANDLE,
    user_type: CK_USER_TYPE,
    pin_ptr: *mut CK_UTF8CHAR,
    pin_len: CK_ULONG,
) -> CK_RV {
    guard(|| {
        // SAFETY: the caller guarantees `pin_len` readable bytes at `pin_ptr`.
        let pin = unsafe { pin(pin_ptr, pin_len) }?;
        rpc!(Reach::Existing, LOGIN, LoginRequest { session, user_type, pin }).map(drop)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Logout(session: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| {
        let result = rpc!(Reach::Existing, LOGOUT, LogoutRequest { session }).map(drop);
        // The daemon ends every operation of the application at logout (and an answer lost on
        // the way may still have logged out): no length rule holds any more.
        crate::lengths::clear();
        crate::messages::clear();
        Error::ending_is_fine(result)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_LoginUser(
    _session: CK_SESSION_HANDLE,
    _user_type: CK_USER_TYPE,
    _pin: *mut CK_UTF8CHAR,
    _pin_len: CK_ULONG,
    _username: *mut CK_UTF8CHAR,
    _username_len: CK_ULONG,
) -> CK_RV {
    guard(|| Err(Error::FunctionNotSupported))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SessionCancel(_session: CK_SESSION_HANDLE, _flags: CK_FLAGS) -> CK_RV {
    guard(|| Err(Error::FunctionNotSupported))
}

//! Function lists and interfaces: `C_GetFunctionList` (a 2.40 `CK_FUNCTION_LIST`),
//! `C_GetInterfaceList` and `C_GetInterface` (interface "PKCS 11" in versions 3.0 and 2.40).
//! These work before `C_Initialize`. Every entry points to a real function; what Arca does not
//! do answers `CKR_FUNCTION_NOT_SUPPORTED` (or the code the specification names for it).

use std::cell::UnsafeCell;
use std::ffi::{CStr, c_void};
use std::sync::{Mutex, PoisonError};

use cryptoki_sys::*;

use super::{capacity, deliver, guard_any, message, random, read, write};
use super::{crypt, digest, general, key, object, session, sign, slot};
use crate::error::Error;
use crate::output::settle_list;

/// The one interface name of PKCS#11 3.0.
const INTERFACE_NAME: &CStr = c"PKCS 11";

/// Fills a function list type with every function of PKCS#11 2.40, plus `$extra` entries.
macro_rules! function_list {
    ($list:ident { version: $version:expr, C_GetInfo: $get_info:expr, $($name:ident: $function:expr,)* }) => {
        $list {
            version: $version,
            C_Initialize: Some(general::C_Initialize),
            C_Finalize: Some(general::C_Finalize),
            C_GetInfo: Some($get_info),
            C_GetFunctionList: Some(C_GetFunctionList),
            C_GetSlotList: Some(slot::C_GetSlotList),
            C_GetSlotInfo: Some(slot::C_GetSlotInfo),
            C_GetTokenInfo: Some(slot::C_GetTokenInfo),
            C_GetMechanismList: Some(slot::C_GetMechanismList),
            C_GetMechanismInfo: Some(slot::C_GetMechanismInfo),
            C_InitToken: Some(slot::C_InitToken),
            C_InitPIN: Some(slot::C_InitPIN),
            C_SetPIN: Some(slot::C_SetPIN),
            C_OpenSession: Some(session::C_OpenSession),
            C_CloseSession: Some(session::C_CloseSession),
            C_CloseAllSessions: Some(session::C_CloseAllSessions),
            C_GetSessionInfo: Some(session::C_GetSessionInfo),
            C_GetOperationState: Some(session::C_GetOperationState),
            C_SetOperationState: Some(session::C_SetOperationState),
            C_Login: Some(session::C_Login),
            C_Logout: Some(session::C_Logout),
            C_CreateObject: Some(object::C_CreateObject),
            C_CopyObject: Some(object::C_CopyObject),
            C_DestroyObject: Some(object::C_DestroyObject),
            C_GetObjectSize: Some(object::C_GetObjectSize),
            C_GetAttributeValue: Some(object::C_GetAttributeValue),
            C_SetAttributeValue: Some(object::C_SetAttributeValue),
            C_FindObjectsInit: Some(object::C_FindObjectsInit),
            C_FindObjects: Some(object::C_FindObjects),
            C_FindObjectsFinal: Some(object::C_FindObjectsFinal),
            C_EncryptInit: Some(crypt::C_EncryptInit),
            C_Encrypt: Some(crypt::C_Encrypt),
            C_EncryptUpdate: Some(crypt::C_EncryptUpdate),
            C_EncryptFinal: Some(crypt::C_EncryptFinal),
            C_DecryptInit: Some(crypt::C_DecryptInit),
            C_Decrypt: Some(crypt::C_Decrypt),
            C_DecryptUpdate: Some(crypt::C_DecryptUpdate),
            C_DecryptFinal: Some(crypt::C_DecryptFinal),
            C_DigestInit: Some(digest::C_DigestInit),
            C_Digest: Some(digest::C_Digest),
            C_DigestUpdate: Some(digest::C_DigestUpdate),
            C_DigestKey: Some(digest::C_DigestKey),
            C_DigestFinal: Some(digest::C_DigestFinal),
            C_SignInit: Some(sign::C_SignInit),
            C_Sign: Some(sign::C_Sign),
            C_SignUpdate: Some(sign::C_SignUpdate),
            C_SignFinal: Some(sign::C_SignFinal),
            C_SignRecoverInit: Some(sign::C_SignRecoverInit),
            C_SignRecover: Some(sign::C_SignRecover),
            C_VerifyInit: Some(sign::C_VerifyInit),
            C_Verify: Some(sign::C_Verify),
            C_VerifyUpdate: Some(sign::C_VerifyUpdate),
            C_VerifyFinal: Some(sign::C_VerifyFinal),
            C_VerifyRecoverInit: Some(sign::C_VerifyRecoverInit),
            C_VerifyRecover: Some(sign::C_VerifyRecover),
            C_DigestEncryptUpdate: Some(crypt::C_DigestEncryptUpdate),
            C_DecryptDigestUpdate: Some(crypt::C_DecryptDigestUpdate),
            C_SignEncryptUpdate: Some(crypt::C_SignEncryptUpdate),
            C_DecryptVerifyUpdate: Some(crypt::C_DecryptVerifyUpdate),
            C_GenerateKey: Some(key::C_GenerateKey),
            C_GenerateKeyPair: Some(key::C_GenerateKeyPair),
            C_WrapKey: Some(key::C_WrapKey),
            C_UnwrapKey: Some(key::C_UnwrapKey),
            C_DeriveKey: Some(key::C_DeriveKey),
            C_SeedRandom: Some(random::C_SeedRandom),
            C_GenerateRandom: Some(random::C_GenerateRandom),
            C_GetFunctionStatus: Some(random::C_GetFunctionStatus),
            C_CancelFunction: Some(random::C_CancelFunction),
            C_WaitForSlotEvent: Some(slot::C_WaitForSlotEvent),
            $($name: Some($function),)*
        }
    };
}

/// The PKCS#11 2.40 function list.
pub static FUNCTION_LIST: CK_FUNCTION_LIST = function_list!(CK_FUNCTION_LIST {
    version: CK_VERSION { major: 2, minor: 40 },
    C_GetInfo: general::C_GetInfo,
});

/// The PKCS#11 3.0 function list.
pub static FUNCTION_LIST_3_0: CK_FUNCTION_LIST_3_0 = function_list!(CK_FUNCTION_LIST_3_0 {
    version: CK_VERSION { major: 3, minor: 0 },
    C_GetInfo: general::C_GetInfo_v3,
    C_GetInterfaceList: C_GetInterfaceList,
    C_GetInterface: C_GetInterface,
    C_LoginUser: session::C_LoginUser,
    C_SessionCancel: session::C_SessionCancel,
    C_MessageEncryptInit: message::C_MessageEncryptInit,
    C_EncryptMessage: message::C_EncryptMessage,
    C_EncryptMessageBegin: message::C_EncryptMessageBegin,
    C_EncryptMessageNext: message::C_EncryptMessageNext,
    C_MessageEncryptFinal: message::C_MessageEncryptFinal,
    C_MessageDecryptInit: message::C_MessageDecryptInit,
    C_DecryptMessage: message::C_DecryptMessage,
    C_DecryptMessageBegin: message::C_DecryptMessageBegin,
    C_DecryptMessageNext: message::C_DecryptMessageNext,
    C_MessageDecryptFinal: message::C_MessageDecryptFinal,
    C_MessageSignInit: message::C_MessageSignInit,
    C_SignMessage: message::C_SignMessage,
    C_SignMessageBegin: message::C_SignMessageBegin,
    C_SignMessageNext: message::C_SignMessageNext,
    C_MessageSignFinal: message::C_MessageSignFinal,
    C_MessageVerifyInit: message::C_MessageVerifyInit,
    C_VerifyMessage: message::C_VerifyMessage,
    C_VerifyMessageBegin: message::C_VerifyMessageBegin,
    C_VerifyMessageNext: message::C_VerifyMessageNext,
    C_MessageVerifyFinal: message::C_MessageVerifyFinal,
});

/// The interface "PKCS 11" with a function list.
const fn interface(list: *const c_void) -> CK_INTERFACE {
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr().cast::<CK_UTF8CHAR>().cast_mut(),
        pFunctionList: list.cast_mut(),
        flags: 0,
    }
}

/// The interfaces, newest first (the default of `C_GetInterface` with no name and no version).
struct Interfaces([CK_INTERFACE; 2]);

// SAFETY: the pointers inside point to immutable statics (the name and the function lists);
// nothing ever writes through them, so sharing them between threads is sound.
unsafe impl Sync for Interfaces {}

static INTERFACES: Interfaces = Interfaces([
    interface((&raw const FUNCTION_LIST_3_0).cast()),
    interface((&raw const FUNCTION_LIST).cast()),
]);

/// The `CK_INTERFACE`s whose addresses `C_GetInterface` hands out. They live in writable memory
/// because callers do write to them: OpenSC's pkcs11-spy swaps in its own function list. The
/// module itself only reads [`INTERFACES`], and restores an entry (under [`HANDED_OUT_LOCK`])
/// each time it hands it out again.
struct HandedOut(UnsafeCell<[CK_INTERFACE; 2]>);

// SAFETY: the module writes the cell only while holding `HANDED_OUT_LOCK` and never reads it;
// what callers do with the memory after receiving its address is theirs.
unsafe impl Sync for HandedOut {}

static HANDED_OUT: HandedOut = HandedOut(UnsafeCell::new([
    interface((&raw const FUNCTION_LIST_3_0).cast()),
    interface((&raw const FUNCTION_LIST).cast()),
]));
static HANDED_OUT_LOCK: Mutex<()> = Mutex::new(());

/// Restores entry `index` of [`HANDED_OUT`] and returns its address.
fn hand_out(index: usize, value: CK_INTERFACE) -> Result<*mut CK_INTERFACE, Error> {
    if index >= INTERFACES.0.len() {
        return Err(Error::General);
    }
    let _lock = HANDED_OUT_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    // SAFETY: `index` is in bounds (checked above); the write is serialised by the lock.
    unsafe {
        let entry = HANDED_OUT.0.get().cast::<CK_INTERFACE>().add(index);
        entry.write(value);
        Ok(entry)
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetFunctionList(list: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    guard_any(|| {
        // SAFETY: the caller guarantees a writable pointer at a non-NULL `list`.
        unsafe { write(list, (&raw const FUNCTION_LIST).cast_mut()) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetInterfaceList(list: *mut CK_INTERFACE, count: *mut CK_ULONG) -> CK_RV {
    guard_any(|| {
        // SAFETY: the caller guarantees `*count` writable CK_INTERFACEs at `list` (or NULL) and a
        // readable and writable CK_ULONG at `count`.
        unsafe {
            let space = capacity(list, count)?;
            let interfaces = INTERFACES.0.to_vec();
            deliver(list, count, settle_list(interfaces, space))
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetInterface(
    name: *mut CK_UTF8CHAR,
    version: *mut CK_VERSION,
    interface: *mut *mut CK_INTERFACE,
    flags: CK_FLAGS,
) -> CK_RV {
    guard_any(|| {
        super::non_null(interface)?;
        if !name.is_null() {
            // SAFETY: a non-NULL `pInterfaceName` is a NUL-terminated string (PKCS#11 §5.4.5).
            let name = unsafe { CStr::from_ptr(name.cast_const().cast()) };
            if name != INTERFACE_NAME {
                return Err(Error::ArgumentsBad);
            }
        }
        // SAFETY: a non-NULL `pVersion` points to a readable CK_VERSION.
        let version = if version.is_null() { None } else { Some(unsafe { read(version) }?) };
        let (index, found) = INTERFACES
            .0
            .iter()
            .enumerate()
            .find(|(_, i)| {
                version.is_none_or(|v| list_version(i) == Some((v.major, v.minor)))
                    && i.flags & flags == flags
            })
            .ok_or(Error::ArgumentsBad)?;
        let handed_out = hand_out(index, *found)?;
        // SAFETY: the caller guarantees a writable pointer at the non-NULL `interface`.
        unsafe { write(interface, handed_out) }
    })
}

/// The version a `CK_INTERFACE` of ours carries (its function list's first field).
fn list_version(interface: &CK_INTERFACE) -> Option<(u8, u8)> {
    let list = interface.pFunctionList.cast_const();
    if std::ptr::eq(list, (&raw const FUNCTION_LIST_3_0).cast()) {
        Some((FUNCTION_LIST_3_0.version.major, FUNCTION_LIST_3_0.version.minor))
    } else if std::ptr::eq(list, (&raw const FUNCTION_LIST).cast()) {
        Some((FUNCTION_LIST.version.major, FUNCTION_LIST.version.minor))
    } else {
        None
    }
}

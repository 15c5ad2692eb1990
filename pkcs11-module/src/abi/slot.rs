//! Slot and token management (PKCS#11 3.0 §5.5): one slot, id 0, whose token is the daemon.
//!
//! The slot reports `CKF_HW_SLOT | CKF_REMOVABLE_DEVICE`, plus `CKF_TOKEN_PRESENT` while the
//! daemon answers. `CKF_REMOVABLE_DEVICE` is required by the specification for a slot whose
//! token can be absent ("if this flag is not set … the CKF_TOKEN_PRESENT flag for that slot is
//! always set"), and Arca's token is absent whenever the daemon cannot be reached.
//! `C_WaitForSlotEvent` is not offered (`CKR_FUNCTION_NOT_SUPPORTED`).

use std::ffi::c_void;

use arca_proto::v1::{
    GetMechanismInfoRequest, GetMechanismListRequest, GetTokenInfoRequest, InitPinRequest, InitTokenRequest,
    SetPinRequest, TokenInfo,
};
use cryptoki_sys::*;

use super::general::MANUFACTURER;
use super::{capacity, deliver, guard, library_version, non_null, padded, pin, slice, write};
use crate::client::Reach;
use crate::error::Error;
use crate::output::settle_list;
use crate::state::{self, rpc};

/// The one slot.
pub const SLOT_ID: CK_SLOT_ID = 0;
/// `slotDescription`.
const SLOT_DESCRIPTION: &str = "Arca";
/// `CK_TOKEN_INFO.model`.
const MODEL: &str = "arcad";

fn check_slot(slot: CK_SLOT_ID) -> Result<(), Error> {
    if slot == SLOT_ID { Ok(()) } else { Err(Error::SlotIdInvalid) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetSlotList(
    token_present: CK_BBOOL,
    list: *mut CK_SLOT_ID,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        // SAFETY: the caller guarantees a readable and writable CK_ULONG at `count` and, when
        // `list` is not NULL, `*count` writable slot ids there.
        let space = unsafe { capacity(list, count) }?;
        let absent = token_present != CK_FALSE && !state::module()?.token_present()?;
        let slots = if absent { Vec::new() } else { vec![SLOT_ID] };
        // SAFETY: as above.
        unsafe { deliver(list, count, settle_list(slots, space)) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetSlotInfo(slot: CK_SLOT_ID, info: *mut CK_SLOT_INFO) -> CK_RV {
    guard(|| {
        check_slot(slot)?;
        non_null(info)?;
        let present = state::module()?.token_present()?;
        let value = CK_SLOT_INFO {
            slotDescription: padded(SLOT_DESCRIPTION),
            manufacturerID: padded(MANUFACTURER),
            flags: slot_flags(present),
            hardwareVersion: library_version(),
            firmwareVersion: library_version(),
        };
        // SAFETY: the caller guarantees a writable CK_SLOT_INFO at the non-NULL `info`.
        unsafe { write(info, value) }
    })
}

/// `CK_SLOT_INFO.flags` with or without a token.
pub fn slot_flags(token_present: bool) -> CK_FLAGS {
    let base = CKF_HW_SLOT | CKF_REMOVABLE_DEVICE;
    if token_present { base | CKF_TOKEN_PRESENT } else { base }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetTokenInfo(slot: CK_SLOT_ID, info: *mut CK_TOKEN_INFO) -> CK_RV {
    guard(|| {
        check_slot(slot)?;
        non_null(info)?;
        let token = rpc!(Reach::Attached, GET_TOKEN_INFO, GetTokenInfoRequest {})?;
        // SAFETY: the caller guarantees a writable CK_TOKEN_INFO at the non-NULL `info`.
        unsafe { write(info, token_info(&token)) }
    })
}

/// The daemon's token information plus what the module fills in itself.
pub fn token_info(token: &TokenInfo) -> CK_TOKEN_INFO {
    CK_TOKEN_INFO {
        label: padded(&token.label),
        manufacturerID: padded(MANUFACTURER),
        model: padded(MODEL),
        serialNumber: padded(&token.serial_number),
        flags: token.flags,
        ulMaxSessionCount: CK_EFFECTIVELY_INFINITE,
        ulSessionCount: token.session_count,
        ulMaxRwSessionCount: CK_EFFECTIVELY_INFINITE,
        ulRwSessionCount: token.rw_session_count,
        ulMaxPinLen: token.max_pin_len,
        ulMinPinLen: token.min_pin_len,
        ulTotalPublicMemory: token.total_public_memory,
        ulFreePublicMemory: token.free_public_memory,
        ulTotalPrivateMemory: token.total_private_memory,
        ulFreePrivateMemory: token.free_private_memory,
        hardwareVersion: library_version(),
        firmwareVersion: library_version(),
        // No clock on the token (CKF_CLOCK_ON_TOKEN clear): blanks.
        utcTime: [b' '; 16],
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetMechanismList(
    slot: CK_SLOT_ID,
    list: *mut CK_MECHANISM_TYPE,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        check_slot(slot)?;
        // SAFETY: the caller guarantees a readable and writable CK_ULONG at `count` and, when
        // `list` is not NULL, `*count` writable mechanism types there.
        let space = unsafe { capacity(list, count) }?;
        let mechanisms = rpc!(Reach::Attached, GET_MECHANISM_LIST, GetMechanismListRequest {})?.mechanisms;
        // SAFETY: as above.
        unsafe { deliver(list, count, settle_list(mechanisms, space)) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetMechanismInfo(
    slot: CK_SLOT_ID,
    mechanism: CK_MECHANISM_TYPE,
    info: *mut CK_MECHANISM_INFO,
) -> CK_RV {
    guard(|| {
        check_slot(slot)?;
        non_null(info)?;
        let answer = rpc!(Reach::Attached, GET_MECHANISM_INFO, GetMechanismInfoRequest { mechanism })?;
        let value = CK_MECHANISM_INFO {
            ulMinKeySize: answer.min_key_size,
            ulMaxKeySize: answer.max_key_size,
            flags: answer.flags,
        };
        // SAFETY: the caller guarantees a writable CK_MECHANISM_INFO at the non-NULL `info`.
        unsafe { write(info, value) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_InitToken(
    slot: CK_SLOT_ID,
    so_pin: *mut CK_UTF8CHAR,
    so_pin_len: CK_ULONG,
    label: *mut CK_UTF8CHAR,
) -> CK_RV {
    guard(|| {
        check_slot(slot)?;
        // SAFETY: the caller guarantees `so_pin_len` readable bytes at `so_pin`.
        let so_pin = unsafe { pin(so_pin, so_pin_len) }?;
        non_null(label)?;
        // SAFETY: `pLabel` points to the 32-byte blank-padded label (PKCS#11 §5.5.8).
        let label = unsafe { slice(label.cast_const(), 32, Error::ArgumentsBad) }?.to_vec();
        rpc!(Reach::Attached, INIT_TOKEN, InitTokenRequest { so_pin, label }).map(drop)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_InitPIN(
    session: CK_SESSION_HANDLE,
    new_pin: *mut CK_UTF8CHAR,
    new_pin_len: CK_ULONG,
) -> CK_RV {
    guard(|| {
        // SAFETY: the caller guarantees `new_pin_len` readable bytes at `new_pin`.
        let pin = unsafe { pin(new_pin, new_pin_len) }?;
        rpc!(Reach::Existing, INIT_PIN, InitPinRequest { session, pin }).map(drop)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SetPIN(
    session: CK_SESSION_HANDLE,
    old_pin: *mut CK_UTF8CHAR,
    old_pin_len: CK_ULONG,
    new_pin: *mut CK_UTF8CHAR,
    new_pin_len: CK_ULONG,
) -> CK_RV {
    guard(|| {
        // SAFETY: the caller guarantees the given number of readable bytes at both PINs.
        let (old_pin, new_pin) = unsafe { (pin(old_pin, old_pin_len)?, pin(new_pin, new_pin_len)?) };
        rpc!(Reach::Existing, SET_PIN, SetPinRequest { session, old_pin, new_pin }).map(drop)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_WaitForSlotEvent(
    _flags: CK_FLAGS,
    _slot: *mut CK_SLOT_ID,
    _reserved: *mut c_void,
) -> CK_RV {
    guard(|| Err(Error::FunctionNotSupported))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_info_is_filled_and_padded() {
        let token = TokenInfo {
            label: "my token".into(),
            serial_number: "0123456789abcdef0123".into(),
            flags: CKF_TOKEN_INITIALIZED | CKF_RNG,
            session_count: 2,
            rw_session_count: 1,
            max_pin_len: 64,
            min_pin_len: 4,
            ..TokenInfo::default()
        };
        let info = token_info(&token);
        assert_eq!(&info.label[..10], b"my token  ");
        assert_eq!(info.label.len(), 32);
        assert_eq!(&info.serialNumber, b"0123456789abcdef");
        assert_eq!(&info.manufacturerID[..5], b"Arca ");
        assert_eq!(&info.model, b"arcad           ");
        assert_eq!(info.flags, CKF_TOKEN_INITIALIZED | CKF_RNG);
        assert_eq!(info.ulMaxSessionCount, CK_EFFECTIVELY_INFINITE);
        assert_eq!(info.ulMaxRwSessionCount, CK_EFFECTIVELY_INFINITE);
        assert_eq!((info.ulSessionCount, info.ulRwSessionCount), (2, 1));
        assert_eq!((info.ulMinPinLen, info.ulMaxPinLen), (4, 64));
        assert_eq!(&info.utcTime, b"                ");
        assert_eq!(padded::<32>(""), [b' '; 32]);
    }

    #[test]
    fn long_utf8_labels_are_cut_at_a_character() {
        let label: [u8; 32] = padded(&"é".repeat(20));
        assert_eq!(&label[..], "é".repeat(16).as_bytes());
        let label: [u8; 5] = padded("abcdé");
        assert_eq!(&label, b"abcd ");
    }

    #[test]
    fn slot_flags_follow_the_token() {
        assert_eq!(slot_flags(true), CKF_HW_SLOT | CKF_REMOVABLE_DEVICE | CKF_TOKEN_PRESENT);
        assert_eq!(slot_flags(false) & CKF_TOKEN_PRESENT, 0);
    }
}

//! The message-based functions of PKCS#11 3.0 (§5.7 encryption, §5.10 decryption, §5.13
//! signing, §5.15 verification of messages). Encryption and decryption of whole messages with
//! CKM_AES_GCM are offered (`crate::messages`); multi-part messages (`C_*MessageBegin`/`Next`)
//! and message signing and verification answer `CKR_FUNCTION_NOT_SUPPORTED` (after
//! `CKR_CRYPTOKI_NOT_INITIALIZED` when that applies).

use std::ffi::c_void;

use arca_proto::v1::OperationKind;
use cryptoki_sys::*;

use super::{capacity, deliver, guard, input, non_null};
use crate::error::Error;
use crate::messages::{self, GcmMessage};
use crate::output::{self, Settled};
use crate::state;

const ENCRYPT: OperationKind = OperationKind::OperationEncrypt;
const DECRYPT: OperationKind = OperationKind::OperationDecrypt;

/// Exports functions with the given parameter types that are not supported.
macro_rules! not_supported {
    ($($name:ident($($parameter:ty),* $(,)?);)*) => {
        $(
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $name($(_: $parameter),*) -> CK_RV {
                guard(|| Err(Error::FunctionNotSupported))
            }
        )*
    };
}

type Session = CK_SESSION_HANDLE;
type Bytes = *mut CK_BYTE;
type Len = CK_ULONG;
type LenOut = *mut CK_ULONG;
type Params = *mut c_void;

not_supported! {
    C_EncryptMessageBegin(Session, Params, Len, Bytes, Len);
    C_EncryptMessageNext(Session, Params, Len, Bytes, Len, Bytes, LenOut, CK_FLAGS);
    C_DecryptMessageBegin(Session, Params, Len, Bytes, Len);
    C_DecryptMessageNext(Session, Params, Len, Bytes, Len, Bytes, LenOut, CK_FLAGS);
    C_MessageSignInit(Session, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_SignMessage(Session, Params, Len, Bytes, Len, Bytes, LenOut);
    C_SignMessageBegin(Session, Params, Len);
    C_SignMessageNext(Session, Params, Len, Bytes, Len, Bytes, LenOut);
    C_MessageSignFinal(Session);
    C_MessageVerifyInit(Session, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_VerifyMessage(Session, Params, Len, Bytes, Len, Bytes, Len);
    C_VerifyMessageBegin(Session, Params, Len);
    C_VerifyMessageNext(Session, Params, Len, Bytes, Len, Bytes, Len);
    C_MessageVerifyFinal(Session);
}

/// The CK_GCM_MESSAGE_PARAMS at `params` (exactly its size, or CKR_MECHANISM_PARAM_INVALID).
unsafe fn gcm_params(params: *const c_void, len: CK_ULONG) -> Result<CK_GCM_MESSAGE_PARAMS, Error> {
    if params.is_null() || usize::try_from(len).ok() != Some(size_of::<CK_GCM_MESSAGE_PARAMS>()) {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: non-NULL with the structure's size (the caller's contract for `len`); a plain C
    // structure is valid for any bytes; alignment is not required.
    Ok(unsafe { params.cast::<CK_GCM_MESSAGE_PARAMS>().read_unaligned() })
}

/// The IV and tag length of a message; the tag and IV buffers stay the application's.
unsafe fn message(params: &CK_GCM_MESSAGE_PARAMS) -> Result<GcmMessage, Error> {
    // SAFETY: the application's structure promises `ulIvLen` readable bytes at `pIv`.
    let iv = unsafe { super::slice(params.pIv, params.ulIvLen, Error::MechanismParamInvalid) }?;
    if iv.is_empty() {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(GcmMessage {
        iv: iv.to_vec(),
        iv_fixed_bits: params.ulIvFixedBits,
        generator: params.ivGenerator,
        tag_bits: params.ulTagBits,
    })
}

/// `C_Message*Init`: CKM_AES_GCM, with no parameter or a CK_GCM_MESSAGE_PARAMS (as the
/// `cryptoki` crate passes), whose values belong to each message and are not read here.
unsafe fn message_init(
    session: Session,
    kind: OperationKind,
    mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        // SAFETY: the caller's contract for `mechanism` holds (NULL is checked).
        let mechanism = unsafe { super::read(mechanism.cast_const()) }?;
        if mechanism.mechanism != CKM_AES_GCM {
            return Err(Error::MechanismInvalid);
        }
        let len = mechanism.ulParameterLen;
        let parameter_fits = (mechanism.pParameter.is_null() && len == 0)
            || (!mechanism.pParameter.is_null()
                && usize::try_from(len).ok() == Some(size_of::<CK_GCM_MESSAGE_PARAMS>()));
        if !parameter_fits {
            return Err(Error::MechanismParamInvalid);
        }
        messages::init(session, kind, key)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageEncryptInit(
    session: Session,
    mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    // SAFETY: the caller's contract for `mechanism` holds.
    unsafe { message_init(session, ENCRYPT, mechanism, key) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageDecryptInit(
    session: Session,
    mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    // SAFETY: the caller's contract for `mechanism` holds.
    unsafe { message_init(session, DECRYPT, mechanism, key) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageEncryptFinal(session: Session) -> CK_RV {
    guard(|| {
        state::ensure_initialized()?;
        messages::finish(session, ENCRYPT)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageDecryptFinal(session: Session) -> CK_RV {
    guard(|| {
        state::ensure_initialized()?;
        messages::finish(session, DECRYPT)
    })
}

/// Copies `bytes` over the application's `len` bytes at `ptr` (an IV or a tag it provided).
unsafe fn fill(ptr: *mut CK_BYTE, len: CK_ULONG, bytes: &[u8]) -> Result<(), Error> {
    non_null(ptr)?;
    if usize::try_from(len).ok() != Some(bytes.len()) {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: the application's structure promises `len` writable bytes at the non-NULL `ptr`,
    // and exactly that many are copied; the regions cannot overlap.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, bytes.len()) };
    Ok(())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptMessage(
    session: Session,
    params: Params,
    params_len: Len,
    aad: Bytes,
    aad_len: Len,
    plaintext: Bytes,
    plaintext_len: Len,
    ciphertext: Bytes,
    ciphertext_len: LenOut,
) -> CK_RV {
    // SAFETY: the caller's contract holds for every buffer, the parameter and its inner buffers.
    guard(|| unsafe {
        state::ensure_initialized()?;
        let params = gcm_params(params, params_len)?;
        let message = message(&params)?;
        let (aad, plaintext) = (input(aad, aad_len)?, input(plaintext, plaintext_len)?);
        let space = capacity(ciphertext, ciphertext_len)?;
        if let Some(answer) = output::settle_known_length(plaintext.len() as u64, space) {
            messages::check_active(session, ENCRYPT)?;
            return deliver(ciphertext, ciphertext_len, answer);
        }
        non_null(params.pTag)?;
        let iv = messages::encryption_iv(session, &message)?;
        let (sealed, tag) = messages::encrypt(session, &message, iv.clone(), aad, plaintext)?;
        if params.ivGenerator != CKG_NO_GENERATE {
            // Only a token-completed IV goes back: the application's may be read-only.
            fill(params.pIv, params.ulIvLen, &iv)?;
        }
        fill(params.pTag, tag.len() as CK_ULONG, &tag)?;
        deliver(
            ciphertext,
            ciphertext_len,
            Settled { length: sealed.len() as u64, items: Some(sealed), result: Ok(()) },
        )
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptMessage(
    session: Session,
    params: Params,
    params_len: Len,
    aad: Bytes,
    aad_len: Len,
    ciphertext: Bytes,
    ciphertext_len: Len,
    plaintext: Bytes,
    plaintext_len: LenOut,
) -> CK_RV {
    // SAFETY: the caller's contract holds for every buffer, the parameter and its inner buffers.
    guard(|| unsafe {
        state::ensure_initialized()?;
        let params = gcm_params(params, params_len)?;
        let message = message(&params)?;
        let (aad, ciphertext) = (input(aad, aad_len)?, input(ciphertext, ciphertext_len)?);
        let space = capacity(plaintext, plaintext_len)?;
        if let Some(answer) = output::settle_known_length(ciphertext.len() as u64, space) {
            messages::check_active(session, DECRYPT)?;
            return deliver(plaintext, plaintext_len, answer);
        }
        let tag_len = messages::tag_len(params.ulTagBits)?;
        let tag = super::slice(params.pTag.cast_const(), tag_len as CK_ULONG, Error::MechanismParamInvalid)?;
        let opened = messages::decrypt(session, &message, aad, ciphertext, tag)?;
        deliver(
            plaintext,
            plaintext_len,
            Settled { length: opened.len() as u64, items: Some(opened), result: Ok(()) },
        )
    })
}

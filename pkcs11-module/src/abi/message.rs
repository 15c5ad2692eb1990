//! The message-based functions of PKCS#11 3.0 (§5.7 encryption, §5.10 decryption, §5.13
//! signing, §5.15 verification of messages). Arca does not offer them: every one answers
//! `CKR_FUNCTION_NOT_SUPPORTED` (after `CKR_CRYPTOKI_NOT_INITIALIZED` when that applies).

use std::ffi::c_void;

use cryptoki_sys::*;

use super::guard;
use crate::error::Error;

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
    C_MessageEncryptInit(Session, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_EncryptMessage(Session, Params, Len, Bytes, Len, Bytes, Len, Bytes, LenOut);
    C_EncryptMessageBegin(Session, Params, Len, Bytes, Len);
    C_EncryptMessageNext(Session, Params, Len, Bytes, Len, Bytes, LenOut, CK_FLAGS);
    C_MessageEncryptFinal(Session);
    C_MessageDecryptInit(Session, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_DecryptMessage(Session, Params, Len, Bytes, Len, Bytes, Len, Bytes, LenOut);
    C_DecryptMessageBegin(Session, Params, Len, Bytes, Len);
    C_DecryptMessageNext(Session, Params, Len, Bytes, Len, Bytes, LenOut, CK_FLAGS);
    C_MessageDecryptFinal(Session);
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

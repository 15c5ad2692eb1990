//! Everything that needs no daemon: `C_Initialize` arguments, calls before it, NULL pointers,
//! unsupported functions, and a slot without a token when the socket does not exist.

use std::ffi::c_void;
use std::ptr::null_mut;

use cryptoki_sys::*;

use super::{INIT_FLAGS, initialize_with_flags, initialize_with_socket, point_at, serial, text};
use crate::abi::function_list::FUNCTION_LIST_3_0;
use crate::abi::{crypt::*, digest::*, general::*, key::*, message::*, object::*};
use crate::abi::{random::*, session::*, sign::*, slot::*};

unsafe extern "C" fn create_mutex(_: *mut *mut c_void) -> CK_RV {
    CKR_OK
}
unsafe extern "C" fn mutex_op(_: *mut c_void) -> CK_RV {
    CKR_OK
}

fn init_args(flags: CK_FLAGS, callbacks: bool) -> CK_C_INITIALIZE_ARGS {
    CK_C_INITIALIZE_ARGS {
        CreateMutex: callbacks.then_some(create_mutex as unsafe extern "C" fn(_) -> _),
        DestroyMutex: callbacks.then_some(mutex_op as unsafe extern "C" fn(_) -> _),
        LockMutex: callbacks.then_some(mutex_op as unsafe extern "C" fn(_) -> _),
        UnlockMutex: callbacks.then_some(mutex_op as unsafe extern "C" fn(_) -> _),
        flags,
        pReserved: null_mut(),
    }
}

fn missing_socket() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("arca-pkcs11-test-{}-absent.sock", std::process::id()))
}

#[test]
fn calls_before_c_initialize_fail_with_not_initialized() {
    let _serial = serial();
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    let mut info = unsafe { std::mem::zeroed::<CK_INFO>() };
    let mut count: CK_ULONG = 0;
    let mut session: CK_SESSION_HANDLE = 0;
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    unsafe {
        assert_eq!(C_GetInfo(&mut info), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(C_Finalize(null_mut()), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(C_GetSlotList(CK_FALSE, null_mut(), &mut count), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(C_GetSlotInfo(0, null_mut()), CKR_CRYPTOKI_NOT_INITIALIZED);
        let flags = CKF_SERIAL_SESSION;
        assert_eq!(C_OpenSession(0, flags, null_mut(), None, &mut session), CKR_CRYPTOKI_NOT_INITIALIZED);
        // Even with bad pointers, the state is looked at first.
        assert_eq!(C_Encrypt(1, null_mut(), 5, null_mut(), null_mut()), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(C_Login(1, CKU_USER, null_mut(), 4), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(C_SeedRandom(1, null_mut(), 0), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(C_MessageEncryptFinal(1), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(C_GetFunctionStatus(1), CKR_CRYPTOKI_NOT_INITIALIZED);
    }
}

#[test]
fn c_initialize_checks_its_arguments() {
    let _serial = serial();
    let mut byte = 0u8;
    let mut reserved = init_args(0, false);
    reserved.pReserved = (&raw mut byte).cast();
    let cases = [
        (reserved, CKR_ARGUMENTS_BAD),
        (init_args(0, true), CKR_CANT_LOCK),
        (init_args(CKF_LIBRARY_CANT_CREATE_OS_THREADS, true), CKR_CANT_LOCK),
    ];
    for (mut args, expected) in cases {
        // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
        assert_eq!(unsafe { C_Initialize((&raw mut args).cast()) }, expected);
        // A refused C_Initialize leaves the library uninitialised.
        // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
        assert_eq!(unsafe { C_Finalize(null_mut()) }, CKR_CRYPTOKI_NOT_INITIALIZED);
    }
    let mut partial = init_args(CKF_OS_LOCKING_OK, true);
    partial.LockMutex = None;
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_Initialize((&raw mut partial).cast()) }, CKR_ARGUMENTS_BAD);

    // No threads of the module's own (GnuTLS, NSS), with or without callbacks: fine.
    point_at(&missing_socket());
    for (flags, callbacks) in [
        (CKF_LIBRARY_CANT_CREATE_OS_THREADS, false),
        (CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK, false),
        (CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK, true),
    ] {
        let mut args = init_args(flags, callbacks);
        // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
        assert_eq!(unsafe { C_Initialize((&raw mut args).cast()) }, CKR_OK, "{flags:#x}");
        // SAFETY: C_Finalize takes a NULL pReserved.
        assert_eq!(unsafe { C_Finalize(null_mut()) }, CKR_OK);
    }
    // Application callbacks with CKF_OS_LOCKING_OK: fine, Arca uses the OS primitives.
    let mut args = init_args(CKF_OS_LOCKING_OK, true);
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_Initialize((&raw mut args).cast()) }, CKR_OK);
    // SAFETY: C_Initialize takes a NULL pInitArgs.
    assert_eq!(unsafe { C_Initialize(null_mut()) }, CKR_CRYPTOKI_ALREADY_INITIALIZED);
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_Finalize((&raw mut byte).cast()) }, CKR_ARGUMENTS_BAD);
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_Finalize(null_mut()) }, CKR_OK);
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_Finalize(null_mut()) }, CKR_CRYPTOKI_NOT_INITIALIZED);
}

#[test]
fn a_configuration_that_cannot_work_fails_c_initialize() {
    let _serial = serial();
    // SAFETY: only tests holding `serial()` change the environment.
    unsafe {
        std::env::remove_var("ARCA_SOCKET");
        std::env::remove_var("ARCA_PKCS11_CONF");
        std::env::set_var("ARCA_ENDPOINT", "https://kms.example:7443");
    }
    // SAFETY: C_Initialize takes a NULL pInitArgs.
    assert_eq!(unsafe { C_Initialize(null_mut()) }, CKR_FUNCTION_FAILED);
    // SAFETY: as above.
    assert_eq!(unsafe { C_Finalize(null_mut()) }, CKR_CRYPTOKI_NOT_INITIALIZED);
    point_at(&missing_socket());
}

#[test]
fn a_missing_daemon_means_no_token() {
    let _serial = serial();
    point_at(&missing_socket());
    for flags in INIT_FLAGS {
        assert_eq!(initialize_with_flags(flags), CKR_OK);
        no_token();
    }
}

/// What an initialised module says without a daemon; finalises it.
fn no_token() {
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    unsafe {
        let mut info = std::mem::zeroed::<CK_INFO>();
        assert_eq!(C_GetInfo(&mut info), CKR_OK);
        assert_eq!((info.cryptokiVersion.major, info.cryptokiVersion.minor), (2, 40));
        assert_eq!(text(&info.manufacturerID), "Arca");
        let get_info_v3 = FUNCTION_LIST_3_0.C_GetInfo.unwrap();
        assert_eq!(get_info_v3(&mut info), CKR_OK);
        assert_eq!((info.cryptokiVersion.major, info.cryptokiVersion.minor), (3, 0));
        assert_eq!(C_GetInfo(null_mut()), CKR_ARGUMENTS_BAD);

        let mut count: CK_ULONG = 0;
        assert_eq!(C_GetSlotList(CK_TRUE, null_mut(), &mut count), CKR_OK);
        assert_eq!(count, 0);
        assert_eq!(C_GetSlotList(CK_FALSE, null_mut(), &mut count), CKR_OK);
        assert_eq!(count, 1);
        let mut slots = [99 as CK_SLOT_ID; 2];
        count = 0;
        assert_eq!(C_GetSlotList(CK_FALSE, slots.as_mut_ptr(), &mut count), CKR_BUFFER_TOO_SMALL);
        assert_eq!(count, 1);
        count = 2;
        assert_eq!(C_GetSlotList(CK_FALSE, slots.as_mut_ptr(), &mut count), CKR_OK);
        assert_eq!((count, slots[0]), (1, 0));
        assert_eq!(C_GetSlotList(CK_FALSE, slots.as_mut_ptr(), null_mut()), CKR_ARGUMENTS_BAD);

        let mut slot_info = std::mem::zeroed::<CK_SLOT_INFO>();
        assert_eq!(C_GetSlotInfo(0, &mut slot_info), CKR_OK);
        assert_eq!(slot_info.flags & CKF_TOKEN_PRESENT, 0);
        assert_ne!(slot_info.flags & CKF_HW_SLOT, 0);
        assert_eq!(text(&slot_info.slotDescription), "Arca");
        assert_eq!(text(&slot_info.manufacturerID), "Arca");
        assert_eq!(C_GetSlotInfo(1, &mut slot_info), CKR_SLOT_ID_INVALID);
        assert_eq!(C_GetSlotInfo(0, null_mut()), CKR_ARGUMENTS_BAD);

        let mut token = std::mem::zeroed::<CK_TOKEN_INFO>();
        assert_eq!(C_GetTokenInfo(0, &mut token), CKR_TOKEN_NOT_PRESENT);
        assert_eq!(C_GetTokenInfo(3, &mut token), CKR_SLOT_ID_INVALID);
        let mut session: CK_SESSION_HANDLE = 0;
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        assert_eq!(C_OpenSession(0, flags, null_mut(), None, &mut session), CKR_TOKEN_NOT_PRESENT);
        assert_eq!(C_OpenSession(0, flags, null_mut(), None, null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(C_GetMechanismList(0, null_mut(), &mut count), CKR_TOKEN_NOT_PRESENT);
        let mut mechanism_info = std::mem::zeroed::<CK_MECHANISM_INFO>();
        assert_eq!(C_GetMechanismInfo(0, CKM_AES_GCM, &mut mechanism_info), CKR_TOKEN_NOT_PRESENT);
        // Session-level calls have no daemon to ask.
        assert_eq!(C_CloseSession(1), CKR_DEVICE_REMOVED);
        let mut random = [0u8; 4];
        assert_eq!(C_GenerateRandom(1, random.as_mut_ptr(), 4), CKR_DEVICE_REMOVED);
        assert_eq!(C_Finalize(null_mut()), CKR_OK);
    }
}

#[test]
fn null_pointers_and_bad_values_are_refused_before_any_call() {
    let _serial = serial();
    assert_eq!(initialize_with_socket(&missing_socket()), CKR_OK);
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    unsafe {
        let mut len: CK_ULONG = 16;
        let mut out = [0u8; 16];
        assert_eq!(C_Login(1, CKU_USER, null_mut(), 4), CKR_ARGUMENTS_BAD);
        assert_eq!(C_Login(1, CKU_USER, null_mut(), 0), CKR_ARGUMENTS_BAD);
        assert_eq!(C_InitPIN(1, null_mut(), 4), CKR_ARGUMENTS_BAD);
        assert_eq!(C_SetPIN(1, b"1234".as_ptr().cast_mut(), 4, null_mut(), 4), CKR_ARGUMENTS_BAD);
        assert_eq!(C_InitToken(0, b"so".as_ptr().cast_mut(), 2, null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(C_InitToken(1, b"so".as_ptr().cast_mut(), 2, null_mut()), CKR_SLOT_ID_INVALID);
        assert_eq!(C_EncryptInit(1, null_mut(), 2), CKR_ARGUMENTS_BAD);
        assert_eq!(C_Encrypt(1, null_mut(), 5, out.as_mut_ptr(), &mut len), CKR_ARGUMENTS_BAD);
        assert_eq!(C_Encrypt(1, out.as_mut_ptr(), 5, out.as_mut_ptr(), null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(C_DecryptFinal(1, out.as_mut_ptr(), null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(C_DigestUpdate(1, null_mut(), 3), CKR_ARGUMENTS_BAD);
        assert_eq!(C_Verify(1, out.as_mut_ptr(), 4, null_mut(), 8), CKR_ARGUMENTS_BAD);
        assert_eq!(C_GenerateRandom(1, null_mut(), 8), CKR_ARGUMENTS_BAD);
        assert_eq!(C_GetSessionInfo(1, null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(C_GetObjectSize(1, 2, null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(C_FindObjectsInit(1, null_mut(), 2), CKR_ARGUMENTS_BAD);
        assert_eq!(C_FindObjects(1, null_mut(), 4, &mut len), CKR_ARGUMENTS_BAD);
        assert_eq!(C_GetAttributeValue(1, 2, null_mut(), 1), CKR_ARGUMENTS_BAD);

        // Templates: a NULL value with a length, a CK_ULONG of the wrong size, nested templates.
        let mut class = CKO_SECRET_KEY;
        let mut short = 1u32;
        let null_value = CK_ATTRIBUTE { type_: CKA_LABEL, pValue: null_mut(), ulValueLen: 4 };
        let good_class = CK_ATTRIBUTE { type_: CKA_CLASS, pValue: (&raw mut class).cast(), ulValueLen: 8 };
        let bad_class = CK_ATTRIBUTE { type_: CKA_CLASS, pValue: (&raw mut short).cast(), ulValueLen: 4 };
        let nested = CK_ATTRIBUTE { type_: CKA_WRAP_TEMPLATE, pValue: null_mut(), ulValueLen: 0 };
        let mut object: CK_OBJECT_HANDLE = 0;
        for (attribute, expected) in [
            (null_value, CKR_ATTRIBUTE_VALUE_INVALID),
            (bad_class, CKR_ATTRIBUTE_VALUE_INVALID),
            (nested, CKR_ATTRIBUTE_TYPE_INVALID),
        ] {
            let mut template = [good_class, attribute];
            assert_eq!(C_CreateObject(1, template.as_mut_ptr(), 2, &mut object), expected);
            assert_eq!(C_FindObjectsInit(1, template.as_mut_ptr(), 2), expected);
        }
        let mut template = [good_class];
        assert_eq!(C_CreateObject(1, template.as_mut_ptr(), 1, null_mut()), CKR_ARGUMENTS_BAD);

        // Mechanisms: NULL parameter with a length, wrong structure size, wrong IV size.
        let mut iv = [0u8; 8];
        let mut no_param =
            CK_MECHANISM { mechanism: CKM_AES_CBC, pParameter: null_mut(), ulParameterLen: 16 };
        assert_eq!(C_EncryptInit(1, &mut no_param, 2), CKR_ARGUMENTS_BAD);
        let mut short_iv =
            CK_MECHANISM { mechanism: CKM_AES_CBC, pParameter: iv.as_mut_ptr().cast(), ulParameterLen: 8 };
        assert_eq!(C_EncryptInit(1, &mut short_iv, 2), CKR_MECHANISM_PARAM_INVALID);
        let mut bad_gcm =
            CK_MECHANISM { mechanism: CKM_AES_GCM, pParameter: iv.as_mut_ptr().cast(), ulParameterLen: 8 };
        assert_eq!(C_DecryptInit(1, &mut bad_gcm, 2), CKR_MECHANISM_PARAM_INVALID);
        let mut bad_pss = CK_MECHANISM {
            mechanism: CKM_SHA256_RSA_PKCS_PSS,
            pParameter: iv.as_mut_ptr().cast(),
            ulParameterLen: 8,
        };
        assert_eq!(C_SignInit(1, &mut bad_pss, 2), CKR_MECHANISM_PARAM_INVALID);
        let mut key: CK_OBJECT_HANDLE = 0;
        assert_eq!(C_GenerateKey(1, &mut bad_gcm, null_mut(), 0, &mut key), CKR_MECHANISM_PARAM_INVALID);
        let mut aes = CK_MECHANISM { mechanism: CKM_AES_KEY_GEN, pParameter: null_mut(), ulParameterLen: 0 };
        assert_eq!(C_GenerateKey(1, &mut aes, null_mut(), 0, null_mut()), CKR_ARGUMENTS_BAD);
        let (mut public, mut private) = (0, 0);
        assert_eq!(
            C_GenerateKeyPair(1, &mut aes, null_mut(), 0, null_mut(), 0, &mut public, null_mut()),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(
            C_GenerateKeyPair(1, &mut aes, null_mut(), 1, null_mut(), 0, &mut public, &mut private),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(C_WrapKey(1, &mut aes, 2, 3, out.as_mut_ptr(), null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(C_UnwrapKey(1, &mut aes, 2, null_mut(), 4, null_mut(), 0, &mut key), CKR_ARGUMENTS_BAD);
        assert_eq!(C_DeriveKey(1, &mut aes, 2, null_mut(), 0, null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(C_Finalize(null_mut()), CKR_OK);
    }
}

#[test]
fn unsupported_functions_say_so() {
    let _serial = serial();
    assert_eq!(initialize_with_socket(&missing_socket()), CKR_OK);
    let mut len: CK_ULONG = 0;
    let mut slot: CK_SLOT_ID = 0;
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    unsafe {
        assert_eq!(C_GetOperationState(1, null_mut(), &mut len), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(C_SetOperationState(1, null_mut(), 0, 0, 0), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(C_SignRecoverInit(1, null_mut(), 2), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(C_SignRecover(1, null_mut(), 0, null_mut(), &mut len), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(C_VerifyRecoverInit(1, null_mut(), 2), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(C_VerifyRecover(1, null_mut(), 0, null_mut(), &mut len), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(C_DigestEncryptUpdate(1, null_mut(), 0, null_mut(), &mut len), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(C_DecryptDigestUpdate(1, null_mut(), 0, null_mut(), &mut len), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(C_SignEncryptUpdate(1, null_mut(), 0, null_mut(), &mut len), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(C_DecryptVerifyUpdate(1, null_mut(), 0, null_mut(), &mut len), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(C_SeedRandom(1, null_mut(), 0), CKR_RANDOM_SEED_NOT_SUPPORTED);
        assert_eq!(C_GetFunctionStatus(1), CKR_FUNCTION_NOT_PARALLEL);
        assert_eq!(C_CancelFunction(1), CKR_FUNCTION_NOT_PARALLEL);
        assert_eq!(C_WaitForSlotEvent(0, &mut slot, null_mut()), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(C_LoginUser(1, CKU_USER, null_mut(), 0, null_mut(), 0), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(C_SessionCancel(1, 0), CKR_FUNCTION_NOT_SUPPORTED);
        // Whole-message AES-GCM is offered: a NULL mechanism or parameter is refused before any
        // round trip.
        assert_eq!(C_MessageEncryptInit(1, null_mut(), 2), CKR_ARGUMENTS_BAD);
        assert_eq!(
            C_EncryptMessage(1, null_mut(), 0, null_mut(), 0, null_mut(), 0, null_mut(), &mut len),
            CKR_MECHANISM_PARAM_INVALID
        );
        assert_eq!(
            C_DecryptMessageNext(1, null_mut(), 0, null_mut(), 0, null_mut(), &mut len, 0),
            CKR_FUNCTION_NOT_SUPPORTED
        );
        assert_eq!(C_SignMessageBegin(1, null_mut(), 0), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(
            C_VerifyMessage(1, null_mut(), 0, null_mut(), 0, null_mut(), 0),
            CKR_FUNCTION_NOT_SUPPORTED
        );
        assert_eq!(C_MessageVerifyFinal(1), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(C_Finalize(null_mut()), CKR_OK);
    }
}

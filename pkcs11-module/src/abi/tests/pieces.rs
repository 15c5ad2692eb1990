//! Large inputs and the calls that fail in the module, against the fake daemon (which announces
//! the smallest request cap a daemon may have and refuses any request over it): input travels in
//! pieces that each fit; a data call that fails before or between its requests ends the daemon's
//! operation; PINs, labels and templates too long for the token are refused before the wire.

use std::ptr::null_mut;
use std::sync::atomic::Ordering;

use cryptoki_sys::*;

use super::{initialize_with_socket, serial};
use crate::abi::{crypt::*, digest::*, object::*, session::*, sign::*};
use crate::fake_daemon::{FAKE_REQUEST_CAP, FakeDaemon};

const SESSION: CK_SESSION_HANDLE = 0x1_0000_0007;

fn mechanism(kind: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM { mechanism: kind, pParameter: null_mut(), ulParameterLen: 0 }
}

#[test]
fn input_larger_than_a_request_travels_in_pieces() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("arca.sock");
    let daemon = FakeDaemon::start(&socket, 1);
    assert_eq!(initialize_with_socket(&socket), CKR_OK);
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7) as u8).collect();
    let mut out = vec![0u8; data.len() + 4];
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    unsafe {
        assert_eq!(C_EncryptInit(SESSION, &mut mechanism(CKM_AES_ECB), 3), CKR_OK);
        let mut len = out.len() as CK_ULONG;
        let rv =
            C_Encrypt(SESSION, data.as_ptr().cast_mut(), data.len() as CK_ULONG, out.as_mut_ptr(), &mut len);
        assert_eq!(rv, CKR_OK);
        let expected: Vec<u8> = data.iter().map(|b| !b).chain(*b"TAG!").collect();
        assert_eq!(out[..len as usize], expected[..], "the fake saw the whole input, in order");
        let pieces = daemon.seen.pieces.load(Ordering::SeqCst);
        assert!(pieces >= data.len() as u64 / FAKE_REQUEST_CAP, "{pieces} pieces");

        assert_eq!(C_SignUpdate(SESSION, data.as_ptr().cast_mut(), data.len() as CK_ULONG), CKR_OK);
        assert!(daemon.seen.pieces.load(Ordering::SeqCst) > pieces);
        assert_eq!(daemon.seen.ended.load(Ordering::SeqCst), 0);
        assert_eq!(crate::abi::general::C_Finalize(null_mut()), CKR_OK);
    }
}

#[test]
fn a_data_call_that_fails_in_the_module_ends_the_operation() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("arca.sock");
    let daemon = FakeDaemon::start(&socket, 1);
    assert_eq!(initialize_with_socket(&socket), CKR_OK);
    let ended = || daemon.seen.ended.load(Ordering::SeqCst);
    let mut data = *b"hello";
    let mut out = [0u8; 16];
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size
    // (the over-long inputs are live vectors of the length passed).
    unsafe {
        assert_eq!(C_EncryptInit(SESSION, &mut mechanism(CKM_AES_ECB), 3), CKR_OK);
        let mut len: CK_ULONG = 2;
        let short = C_Encrypt(SESSION, data.as_mut_ptr(), 5, out.as_mut_ptr(), &mut len);
        assert_eq!((short, ended()), (CKR_BUFFER_TOO_SMALL, 0), "a short buffer keeps the operation");
        let rv = C_Encrypt(SESSION, data.as_mut_ptr(), 5, out.as_mut_ptr(), null_mut());
        assert_eq!((rv, ended()), (CKR_ARGUMENTS_BAD, 1), "a NULL length pointer ends it");
        assert_eq!(C_DigestUpdate(SESSION, null_mut(), 5), CKR_ARGUMENTS_BAD);
        assert_eq!(ended(), 2, "NULL data with a length ends it");

        let over = vec![0u8; arca_proto::limits::MAX_OPERATION_DATA_BYTES + 1];
        let over_len = over.len() as CK_ULONG;
        let rv = C_Encrypt(SESSION, over.as_ptr().cast_mut(), over_len, null_mut(), &mut len);
        assert_eq!((rv, ended()), (CKR_DATA_LEN_RANGE, 3));
        let rv = C_DecryptUpdate(SESSION, over.as_ptr().cast_mut(), over_len, null_mut(), &mut len);
        assert_eq!((rv, ended()), (CKR_ENCRYPTED_DATA_LEN_RANGE, 4));
        assert_eq!(C_VerifyUpdate(SESSION, over.as_ptr().cast_mut(), over_len), CKR_DATA_LEN_RANGE);
        assert_eq!(ended(), 5);
        assert_eq!(daemon.seen.pieces.load(Ordering::SeqCst), 0, "nothing over the limit was sent");

        let mut signature = *b"olleh";
        assert_eq!(C_Verify(SESSION, data.as_mut_ptr(), 5, data.as_mut_ptr(), 5), CKR_SIGNATURE_INVALID);
        assert_eq!(C_Verify(SESSION, data.as_mut_ptr(), 5, signature.as_mut_ptr(), 5), CKR_OK);
        assert_eq!(ended(), 5, "the daemon ends what it refuses itself");
        assert_eq!(crate::abi::general::C_Finalize(null_mut()), CKR_OK);
    }
}

#[test]
fn pins_labels_and_templates_past_the_limits_never_reach_the_daemon() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("arca.sock");
    let daemon = FakeDaemon::start(&socket, 1);
    assert_eq!(initialize_with_socket(&socket), CKR_OK);
    let templates = || daemon.seen.templates.lock().unwrap().len();
    // SAFETY: every pointer passed points to a live local of the length passed.
    unsafe {
        let mut pin = vec![b'1'; 256];
        assert_eq!(C_Login(SESSION, CKU_USER, pin.as_mut_ptr(), 256), CKR_PIN_LEN_RANGE);
        assert_eq!(C_Login(SESSION, CKU_USER, pin.as_mut_ptr(), 255), CKR_PIN_INCORRECT, "the fake's answer");

        let mut label = vec![b'L'; 8193];
        let mut one = |len: usize| CK_ATTRIBUTE {
            type_: CKA_LABEL,
            pValue: label.as_mut_ptr().cast(),
            ulValueLen: len as CK_ULONG,
        };
        let mut object = 0;
        let mut long = [one(8193)];
        assert_eq!(C_CreateObject(SESSION, long.as_mut_ptr(), 1, &mut object), CKR_ATTRIBUTE_VALUE_INVALID);
        let mut at_limit = [one(8192)];
        assert_eq!(C_CreateObject(SESSION, at_limit.as_mut_ptr(), 1, &mut object), CKR_OK);
        assert_eq!(templates(), 1);

        let mut many: Vec<CK_ATTRIBUTE> = (0..257).map(|_| one(1)).collect();
        assert_eq!(C_CreateObject(SESSION, many.as_mut_ptr(), 257, &mut object), CKR_TEMPLATE_INCONSISTENT);
        assert_eq!(C_FindObjectsInit(SESSION, many.as_mut_ptr(), 257), CKR_TEMPLATE_INCONSISTENT);
        assert_eq!(C_CreateObject(SESSION, many.as_mut_ptr(), 256, &mut object), CKR_OK);
        let mut heavy: Vec<CK_ATTRIBUTE> = (0..7).map(|_| one(8192)).collect();
        assert_eq!(C_CreateObject(SESSION, heavy.as_mut_ptr(), 7, &mut object), CKR_ATTRIBUTE_VALUE_INVALID);
        assert_eq!(templates(), 2);
        assert_eq!(crate::abi::general::C_Finalize(null_mut()), CKR_OK);
    }
}

//! The module against the in-process fake daemon (`crate::fake_daemon`): attach and metadata,
//! error mapping, the two-call convention, marshalling on the wire, one connection for many
//! threads, daemon restarts without reloading the module, and `C_Finalize` ending the application.

use std::ptr::null_mut;
use std::time::{Duration, Instant};

use arca_proto::v1::mechanism::Parameter;
use cryptoki_sys::*;

use super::{
    INIT_FLAGS, TRANSPORTS, initialize_with_flags, initialize_with_socket, point_at, serial, text,
    use_transport,
};
use crate::abi::{
    crypt::*, digest::*, general::*, key::*, object::*, random::*, session::*, sign::*, slot::*,
};
use crate::fake_daemon::FakeDaemon;

const SESSION: CK_SESSION_HANDLE = 0x1_0000_0007;

/// Waits until `condition` holds (the module notices a dead stream asynchronously).
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn present_slots() -> CK_ULONG {
    let mut count: CK_ULONG = 0;
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetSlotList(CK_TRUE, null_mut(), &mut count) }, CKR_OK);
    count
}

fn open_session() -> CK_RV {
    let mut session = 0;
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    let rv = unsafe { C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, null_mut(), None, &mut session) };
    if rv == CKR_OK {
        assert_eq!(session, SESSION);
    }
    rv
}

#[test]
fn slot_token_and_sessions_through_the_daemon() {
    let _serial = serial();
    for transport in TRANSPORTS {
        use_transport(transport);
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("arca.sock");
        let daemon = FakeDaemon::start(&socket, 1);
        assert_eq!(initialize_with_socket(&socket), CKR_OK);
        assert_eq!(daemon.attached(), ["app-1-1"]);
        // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
        unsafe {
            assert_eq!(present_slots(), 1);
            let mut slot_info = std::mem::zeroed::<CK_SLOT_INFO>();
            assert_eq!(C_GetSlotInfo(0, &mut slot_info), CKR_OK);
            assert_ne!(slot_info.flags & CKF_TOKEN_PRESENT, 0);

            let mut token = std::mem::zeroed::<CK_TOKEN_INFO>();
            assert_eq!(C_GetTokenInfo(0, &mut token), CKR_OK);
            assert_eq!(text(&token.label), "Fake token");
            assert_eq!(text(&token.serialNumber), "42");
            assert_eq!(text(&token.model), "arcad");
            assert_ne!(token.flags & CKF_LOGIN_REQUIRED, 0);

            let mut count: CK_ULONG = 0;
            assert_eq!(C_GetMechanismList(0, null_mut(), &mut count), CKR_OK);
            assert_eq!(count, 3);
            let mut mechanisms = [0 as CK_MECHANISM_TYPE; 3];
            count = 2;
            assert_eq!(C_GetMechanismList(0, mechanisms.as_mut_ptr(), &mut count), CKR_BUFFER_TOO_SMALL);
            assert_eq!(count, 3);
            assert_eq!(C_GetMechanismList(0, mechanisms.as_mut_ptr(), &mut count), CKR_OK);
            assert_eq!(mechanisms, [CKM_AES_GCM, CKM_SHA256, CKM_ECDSA]);
            let mut info = std::mem::zeroed::<CK_MECHANISM_INFO>();
            assert_eq!(C_GetMechanismInfo(0, CKM_AES_GCM, &mut info), CKR_OK);
            assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (16, 32));
            assert_eq!(C_GetMechanismInfo(0, CKM_MD5, &mut info), CKR_MECHANISM_INVALID);

            assert_eq!(open_session(), CKR_OK);
            assert_eq!(C_Login(SESSION, CKU_USER, b"0000".as_ptr().cast_mut(), 4), CKR_PIN_INCORRECT);
            assert_eq!(C_Login(SESSION, CKU_USER, b"1234".as_ptr().cast_mut(), 4), CKR_OK);
            let mut session_info = std::mem::zeroed::<CK_SESSION_INFO>();
            assert_eq!(C_GetSessionInfo(SESSION, &mut session_info), CKR_OK);
            assert_eq!((session_info.slotID, session_info.state), (0, CKS_RW_USER_FUNCTIONS));
            let mut label = *b"new label                       ";
            assert_eq!(C_InitToken(0, b"so".as_ptr().cast_mut(), 2, label.as_mut_ptr()), CKR_OK);
            // UNIMPLEMENTED without x-arca-ckr.
            assert_eq!(C_DigestKey(SESSION, 5), CKR_FUNCTION_NOT_SUPPORTED);
            assert_eq!(C_CloseSession(SESSION), CKR_OK);
            assert_eq!(C_Finalize(null_mut()), CKR_OK);
        }
        eventually("the application to end", || daemon.detached() == ["app-1-1"]);
    }
}

#[test]
fn operations_objects_and_the_two_call_convention() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("arca.sock");
    let daemon = FakeDaemon::start(&socket, 1);
    assert_eq!(initialize_with_socket(&socket), CKR_OK);
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    unsafe {
        let mut iv = [7u8; 12];
        let mut aad = *b"aad";
        let mut gcm = CK_GCM_PARAMS {
            pIv: iv.as_mut_ptr(),
            ulIvLen: 12,
            ulIvBits: 96,
            pAAD: aad.as_mut_ptr(),
            ulAADLen: 3,
            ulTagBits: 128,
        };
        let mut mechanism = CK_MECHANISM {
            mechanism: CKM_AES_GCM,
            pParameter: (&raw mut gcm).cast(),
            ulParameterLen: size_of::<CK_GCM_PARAMS>() as CK_ULONG,
        };
        assert_eq!(C_EncryptInit(SESSION, &mut mechanism, 3), CKR_OK);
        let seen = daemon.seen.mechanisms.lock().unwrap()[0].clone();
        assert!(matches!(seen.parameter, Some(Parameter::Gcm(g)) if g.iv == [7; 12] && g.aad == b"aad"));

        let mut data = *b"hello";
        let mut out = [0u8; 16];
        let mut len: CK_ULONG = 0;
        assert_eq!(C_Encrypt(SESSION, data.as_mut_ptr(), 5, null_mut(), &mut len), CKR_OK);
        assert_eq!(len, 9);
        len = 4;
        assert_eq!(
            C_Encrypt(SESSION, data.as_mut_ptr(), 5, out.as_mut_ptr(), &mut len),
            CKR_BUFFER_TOO_SMALL
        );
        assert_eq!(len, 9);
        len = 16;
        assert_eq!(C_Encrypt(SESSION, data.as_mut_ptr(), 5, out.as_mut_ptr(), &mut len), CKR_OK);
        assert_eq!(&out[..len as usize], b"\x97\x9a\x93\x93\x90TAG!");
        len = 16;
        assert_eq!(C_EncryptUpdate(SESSION, data.as_mut_ptr(), 5, out.as_mut_ptr(), &mut len), CKR_OK);
        assert_eq!(&out[..len as usize], b"hello");
        len = 16;
        assert_eq!(C_EncryptFinal(SESSION, out.as_mut_ptr(), &mut len), CKR_OK);
        assert_eq!(&out[..len as usize], b"END");

        let mut signature = *b"olleh";
        assert_eq!(C_Verify(SESSION, data.as_mut_ptr(), 5, signature.as_mut_ptr(), 5), CKR_OK);
        assert_eq!(C_Verify(SESSION, data.as_mut_ptr(), 5, data.as_mut_ptr(), 5), CKR_SIGNATURE_INVALID);
        assert_eq!(C_SignUpdate(SESSION, data.as_mut_ptr(), 5), CKR_OK);
        assert_eq!(C_VerifyFinal(SESSION, signature.as_mut_ptr(), 5), CKR_OK);
        len = 2;
        assert_eq!(C_DigestFinal(SESSION, out.as_mut_ptr(), &mut len), CKR_BUFFER_TOO_SMALL);
        assert_eq!(len, 3);

        let mut wrapped = [0u8; 64];
        len = 0;
        assert_eq!(C_WrapKey(SESSION, &mut mechanism, 1, 2, null_mut(), &mut len), CKR_OK);
        assert_eq!(len, 40);
        assert_eq!(C_WrapKey(SESSION, &mut mechanism, 1, 2, wrapped.as_mut_ptr(), &mut len), CKR_OK);
        assert_eq!(wrapped[..40], [0x5a; 40]);

        let mut random = [0u8; 32];
        assert_eq!(C_GenerateRandom(SESSION, random.as_mut_ptr(), 32), CKR_OK);
        assert_eq!(random, [0xab; 32]);

        // Templates travel in canonical form.
        let mut class = CKO_SECRET_KEY;
        let mut token = CK_TRUE;
        let mut allowed = [CKM_AES_GCM, CKM_AES_CBC_PAD];
        let mut template = [
            CK_ATTRIBUTE { type_: CKA_CLASS, pValue: (&raw mut class).cast(), ulValueLen: 8 },
            CK_ATTRIBUTE { type_: CKA_TOKEN, pValue: (&raw mut token).cast(), ulValueLen: 1 },
            CK_ATTRIBUTE {
                type_: CKA_ALLOWED_MECHANISMS,
                pValue: allowed.as_mut_ptr().cast(),
                ulValueLen: 16,
            },
        ];
        let mut object = 0;
        assert_eq!(C_CreateObject(SESSION, template.as_mut_ptr(), 3, &mut object), CKR_OK);
        assert_eq!(object, 99);
        let sent = daemon.seen.templates.lock().unwrap()[0].clone();
        assert_eq!(sent[0].value, 4u64.to_le_bytes());
        assert_eq!(sent[1].value, [1]);
        assert_eq!(sent[2].value.len(), 16);

        // C_GetAttributeValue: every attribute processed, one error code for the lot.
        let mut class_out: CK_ULONG = 0;
        let mut value_out = [0u8; 32];
        let mut label_out = [0u8; 2];
        let mut read = [
            CK_ATTRIBUTE { type_: CKA_CLASS, pValue: (&raw mut class_out).cast(), ulValueLen: 8 },
            CK_ATTRIBUTE { type_: CKA_VALUE, pValue: value_out.as_mut_ptr().cast(), ulValueLen: 32 },
            CK_ATTRIBUTE { type_: CKA_LABEL, pValue: null_mut(), ulValueLen: 0 },
            CK_ATTRIBUTE { type_: CKA_MODULUS, pValue: null_mut(), ulValueLen: 0 },
        ];
        assert_eq!(C_GetAttributeValue(SESSION, 99, read.as_mut_ptr(), 4), CKR_ATTRIBUTE_SENSITIVE);
        assert_eq!(class_out, CKO_SECRET_KEY);
        assert_eq!(read[0].ulValueLen, 8);
        assert_eq!(read[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(read[2].ulValueLen, 4);
        assert_eq!(read[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        let mut small =
            [CK_ATTRIBUTE { type_: CKA_LABEL, pValue: label_out.as_mut_ptr().cast(), ulValueLen: 2 }];
        assert_eq!(C_GetAttributeValue(SESSION, 99, small.as_mut_ptr(), 1), CKR_BUFFER_TOO_SMALL);
        assert_eq!(small[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);

        assert_eq!(C_FindObjectsInit(SESSION, null_mut(), 0), CKR_OK);
        let mut handles = [0 as CK_OBJECT_HANDLE; 4];
        let mut found: CK_ULONG = 0;
        assert_eq!(C_FindObjects(SESSION, handles.as_mut_ptr(), 2, &mut found), CKR_OK);
        assert_eq!((found, handles[..2].to_vec()), (2, vec![11, 12]));
        assert_eq!(C_FindObjectsFinal(SESSION), CKR_OK);
        assert_eq!(C_Finalize(null_mut()), CKR_OK);
    }
}

/// Eight threads at once, with threads of the module's own allowed or not, on each transport:
/// gRPC multiplexes them on one connection; the wire gives each its own from a pool.
#[test]
fn many_threads_call_at_once_on_either_transport() {
    let _serial = serial();
    for (transport, flags) in TRANSPORTS.into_iter().flat_map(|t| INIT_FLAGS.map(|f| (t, f))) {
        use_transport(transport);
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("arca.sock");
        let daemon = FakeDaemon::start(&socket, 1);
        point_at(&socket);
        assert_eq!(initialize_with_flags(flags), CKR_OK);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..20 {
                        let mut random = [0u8; 16];
                        // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
                        let rv = unsafe { C_GenerateRandom(SESSION, random.as_mut_ptr(), 16) };
                        assert_eq!(rv, CKR_OK);
                        assert_eq!(random, [0xab; 16]);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        // From inside a tokio runtime (where block_on is not allowed) a gRPC call still works, on
        // the module's workers; an application that forbids those gets CKR_FUNCTION_FAILED. The
        // wire blocks on the calling thread and needs no runtime.
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let expected = if flags.is_none() || transport == "wire" { CKR_OK } else { CKR_FUNCTION_FAILED };
        runtime.block_on(async {
            let mut random = [0u8; 8];
            // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
            assert_eq!(unsafe { C_GenerateRandom(SESSION, random.as_mut_ptr(), 8) }, expected);
        });
        let connections = daemon.seen.connections.load(std::sync::atomic::Ordering::SeqCst);
        if transport == "grpc" {
            assert_eq!(connections, 1);
        } else {
            // The attaching connection, and at most one per thread that called at once.
            assert!((2..=9).contains(&connections), "{connections} connections");
        }
        assert_eq!(daemon.attached().len(), 1);
        // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
        assert_eq!(unsafe { C_Finalize(null_mut()) }, CKR_OK);
        eventually("the application to end", || daemon.detached() == ["app-1-1"]);
    }
}

#[test]
fn a_restarted_daemon_is_found_again_without_reloading() {
    let _serial = serial();
    for flags in INIT_FLAGS {
        restart(flags);
    }
}

fn restart(flags: Option<CK_FLAGS>) {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("arca.sock");
    let first = FakeDaemon::start(&socket, 1);
    point_at(&socket);
    assert_eq!(initialize_with_flags(flags), CKR_OK);
    assert_eq!(open_session(), CKR_OK);
    first.stop();

    // Down: session calls fail with CKR_DEVICE_REMOVED, the token disappears.
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    let mut info = unsafe { std::mem::zeroed::<CK_SESSION_INFO>() };
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetSessionInfo(SESSION, &mut info) }, CKR_DEVICE_REMOVED);
    eventually("the token to disappear", || present_slots() == 0);
    assert_eq!(open_session(), CKR_TOKEN_NOT_PRESENT);

    // Back (as a new daemon): the old session is unknown; slot calls attach afresh.
    let second = FakeDaemon::start(&socket, 2);
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    let rv = unsafe { C_GetSessionInfo(SESSION, &mut info) };
    assert!(rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_DEVICE_REMOVED, "{rv:#x}");
    assert_eq!(present_slots(), 1);
    assert_eq!(second.attached(), ["app-2-1"]);
    assert_eq!(open_session(), CKR_OK);
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetSessionInfo(SESSION, &mut info) }, CKR_OK);

    // Restarted between two calls: the next slot-level call finds the new daemon at once.
    second.stop();
    let third = FakeDaemon::start(&socket, 3);
    assert_eq!(open_session(), CKR_OK);
    assert_eq!(third.attached(), ["app-3-1"]);
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_Finalize(null_mut()) }, CKR_OK);
    eventually("the application to end", || third.detached() == ["app-3-1"]);
}

#[test]
fn length_rules_end_with_their_operation() {
    let _serial = serial();
    for flags in INIT_FLAGS {
        rules_end(flags);
    }
}

/// A length query is answered from the rule of `C_EncryptInit` only while the daemon still has
/// the operation: not after `C_Logout` (which ends every operation), not after `C_DigestKey`,
/// not for a session handle of an earlier daemon that a new one hands out again.
fn rules_end(flags: Option<CK_FLAGS>) {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("arca.sock");
    let first = FakeDaemon::start(&socket, 1);
    point_at(&socket);
    assert_eq!(initialize_with_flags(flags), CKR_OK);
    assert_eq!(open_session(), CKR_OK);
    let one_shots = |daemon: &FakeDaemon| daemon.seen.one_shots.load(std::sync::atomic::Ordering::SeqCst);
    let data = *b"hello";
    let mut len: CK_ULONG = 0;
    let mut mechanism = CK_MECHANISM { mechanism: CKM_AES_ECB, pParameter: null_mut(), ulParameterLen: 0 };
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    unsafe {
        let query = |len: &mut CK_ULONG| C_Encrypt(SESSION, data.as_ptr().cast_mut(), 5, null_mut(), len);
        assert_eq!(C_EncryptInit(SESSION, &mut mechanism, 3), CKR_OK);
        assert_eq!(query(&mut len), CKR_OK);
        assert_eq!((len, one_shots(&first)), (9, 0), "answered from the rule");
        assert_eq!(C_Logout(SESSION), CKR_OK);
        assert_eq!(query(&mut len), CKR_OK);
        assert_eq!(one_shots(&first), 1, "the daemon asked after C_Logout");

        let mut digest = CK_MECHANISM { mechanism: CKM_SHA256, pParameter: null_mut(), ulParameterLen: 0 };
        assert_eq!(C_DigestInit(SESSION, &mut digest), CKR_OK);
        assert_eq!(C_DigestKey(SESSION, 5), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(C_Digest(SESSION, data.as_ptr().cast_mut(), 5, null_mut(), &mut len), CKR_OK);
        assert_eq!(one_shots(&first), 2, "the daemon asked after C_DigestKey");

        assert_eq!(C_EncryptInit(SESSION, &mut mechanism, 3), CKR_OK);
        first.stop();
        let second = FakeDaemon::start(&socket, 2);
        // The new daemon hands out the same session handle; it has no operation in it.
        assert_eq!(open_session(), CKR_OK);
        assert_eq!(query(&mut len), CKR_OK);
        assert_eq!(one_shots(&second), 1, "the new daemon asked");
        assert_eq!(C_Finalize(null_mut()), CKR_OK);
    }
}

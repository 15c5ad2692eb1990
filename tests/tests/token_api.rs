//! The daemon's Token service driven over gRPC without the PKCS#11 module: sessions, login, PIN
//! lockout, objects and operations, with the exact CK_RV of each failure in `x-arca-ckr`.

use arca_proto::{APPLICATION_HEADER, CKR_HEADER};
use arca_tests::{Daemon, TokenApp, TokenClient, pb};
use tonic::Request;

const CKF_SERIAL_SESSION: u64 = 0x4;
const CKF_RW_SESSION: u64 = 0x2;
const CKU_SO: u64 = 0;
const CKU_USER: u64 = 1;
const CKA_CLASS: u64 = 0x0;
const CKA_TOKEN: u64 = 0x1;
const CKA_LABEL: u64 = 0x3;
const CKA_VALUE: u64 = 0x11;
const CKA_KEY_TYPE: u64 = 0x100;
const CKA_ID: u64 = 0x102;
const CKA_SENSITIVE: u64 = 0x103;
const CKA_VALUE_LEN: u64 = 0x161;
const CKO_SECRET_KEY: u64 = 4;
const CKK_AES: u64 = 0x1f;
const CKM_AES_KEY_GEN: u64 = 0x1080;
const CKM_AES_GCM: u64 = 0x1087;
const CKF_USER_PIN_COUNT_LOW: u64 = 0x10000;
const CKF_USER_PIN_LOCKED: u64 = 0x40000;

type App = TokenApp;

fn ckr(status: &tonic::Status) -> u64 {
    let text = status.metadata().get(CKR_HEADER).and_then(|v| v.to_str().ok()).expect(CKR_HEADER);
    u64::from_str_radix(text.trim_start_matches("0x"), 16).unwrap()
}

fn attribute(kind: u64, value: Vec<u8>) -> pb::Attribute {
    pb::Attribute { r#type: kind, value }
}

fn ulong(value: u64) -> Vec<u8> {
    value.to_le_bytes().to_vec()
}

async fn setup(daemon: &Daemon) -> (App, u64) {
    let mut app = App::attach(daemon, "token-api-test").await;
    let request = pb::InitTokenRequest { so_pin: b"87654321".to_vec(), label: b"test".to_vec() };
    app.client.init_token(request).await.unwrap();
    let session = app
        .client
        .open_session(app.request(pb::OpenSessionRequest { flags: CKF_SERIAL_SESSION | CKF_RW_SESSION }))
        .await
        .unwrap()
        .into_inner()
        .session;
    let so = pb::LoginRequest { session, user_type: CKU_SO, pin: b"87654321".to_vec() };
    app.client.login(app.request(so)).await.unwrap();
    app.client.init_pin(app.request(pb::InitPinRequest { session, pin: b"123456".to_vec() })).await.unwrap();
    app.client.logout(app.request(pb::LogoutRequest { session })).await.unwrap();
    (app, session)
}

#[tokio::test]
async fn sessions_login_and_an_aes_gcm_round_trip() {
    let (daemon, _dir) = Daemon::start_dev();
    let (mut app, session) = setup(&daemon).await;
    let wrong = pb::LoginRequest { session, user_type: CKU_USER, pin: b"000000".to_vec() };
    let status = app.client.login(app.request(wrong)).await.unwrap_err();
    assert_eq!(ckr(&status), 0xA0, "CKR_PIN_INCORRECT: {status:?}");
    let info = app.client.get_token_info(pb::GetTokenInfoRequest {}).await.unwrap().into_inner();
    assert_ne!(info.flags & CKF_USER_PIN_COUNT_LOW, 0);
    let user = pb::LoginRequest { session, user_type: CKU_USER, pin: b"123456".to_vec() };
    app.client.login(app.request(user.clone())).await.unwrap();
    let again = app.client.login(app.request(user)).await.unwrap_err();
    assert_eq!(ckr(&again), 0x100, "CKR_USER_ALREADY_LOGGED_IN");

    let template = vec![
        attribute(CKA_CLASS, ulong(CKO_SECRET_KEY)),
        attribute(CKA_KEY_TYPE, ulong(CKK_AES)),
        attribute(CKA_VALUE_LEN, ulong(32)),
        attribute(CKA_TOKEN, vec![1]),
        attribute(CKA_LABEL, b"gcm".to_vec()),
    ];
    let mechanism = pb::Mechanism { r#type: CKM_AES_KEY_GEN, parameter: None };
    let key = app
        .client
        .generate_key(app.request(pb::GenerateKeyRequest { session, mechanism: Some(mechanism), template }))
        .await
        .unwrap()
        .into_inner()
        .object;

    let read = pb::GetAttributeValueRequest {
        session,
        object: key,
        types: vec![CKA_VALUE, CKA_SENSITIVE, CKA_ID, 0xDEAD],
    };
    let values = app.client.get_attribute_value(app.request(read)).await.unwrap().into_inner().attributes;
    assert_eq!(values[0].outcome, pb::attribute_result::Outcome::AttributeSensitive as i32);
    assert_eq!(values[1].value, vec![1]);
    assert_eq!(values[2].value.len(), 16, "CKA_ID defaults to the key UUID");
    assert_eq!(values[3].outcome, pb::attribute_result::Outcome::AttributeTypeInvalid as i32);

    let gcm = |iv: &[u8]| pb::Mechanism {
        r#type: CKM_AES_GCM,
        parameter: Some(pb::mechanism::Parameter::Gcm(pb::GcmParameters {
            iv: iv.to_vec(),
            iv_bits: 96,
            aad: b"header".to_vec(),
            tag_bits: 128,
        })),
    };
    let init = |kind: pb::OperationKind| pb::OperationInitRequest {
        session,
        kind: kind as i32,
        mechanism: Some(gcm(&[7; 12])),
        key,
    };
    app.client.operation_init(app.request(init(pb::OperationKind::OperationEncrypt))).await.unwrap();
    let data = |kind: pb::OperationKind, data: &[u8], space: pb::OutputSpace| pb::OperationDataRequest {
        session,
        kind: kind as i32,
        data: data.to_vec(),
        signature: Vec::new(),
        space: Some(space),
        more: false,
    };
    let query = pb::OutputSpace { length_only: true, capacity: 0 };
    let length = app
        .client
        .operation_one_shot(app.request(data(pb::OperationKind::OperationEncrypt, b"attack at dawn", query)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(length.length, 14 + 16);
    let short = pb::OutputSpace { length_only: false, capacity: 10 };
    let too_small = app
        .client
        .operation_one_shot(app.request(data(pb::OperationKind::OperationEncrypt, b"attack at dawn", short)))
        .await
        .unwrap()
        .into_inner();
    assert!(too_small.buffer_too_small);
    let room = pb::OutputSpace { length_only: false, capacity: 64 };
    let sealed = app
        .client
        .operation_one_shot(app.request(data(pb::OperationKind::OperationEncrypt, b"attack at dawn", room)))
        .await
        .unwrap()
        .into_inner()
        .output;
    assert_eq!(sealed.len(), 30);
    let not_active = app
        .client
        .operation_one_shot(app.request(data(pb::OperationKind::OperationEncrypt, b"x", room)))
        .await
        .unwrap_err();
    assert_eq!(ckr(&not_active), 0x91, "CKR_OPERATION_NOT_INITIALIZED");

    app.client.operation_init(app.request(init(pb::OperationKind::OperationDecrypt))).await.unwrap();
    let opened = app
        .client
        .operation_one_shot(app.request(data(pb::OperationKind::OperationDecrypt, &sealed, room)))
        .await
        .unwrap()
        .into_inner()
        .output;
    assert_eq!(opened, b"attack at dawn");

    // The token key is a key of the KMS API too.
    let mut kms = daemon.kms().await;
    let keys = kms.list_keys(pb::ListKeysRequest::default()).await.unwrap().into_inner().keys;
    assert_eq!(keys.len(), 1);
    let described = kms
        .describe_key(pb::DescribeKeyRequest {
            key_id: keys[0].key_id.clone(),
            grant_tokens: Default::default(),
        })
        .await
        .unwrap()
        .into_inner()
        .key_metadata
        .unwrap();
    assert_eq!(described.description, "gcm");
    daemon.shutdown().await;
}

#[tokio::test]
async fn the_user_pin_locks_after_ten_failures_and_the_so_unlocks_it() {
    let (daemon, _dir) = Daemon::start_dev();
    let (mut app, session) = setup(&daemon).await;
    for attempt in 1..=10 {
        let wrong = pb::LoginRequest { session, user_type: CKU_USER, pin: b"999999".to_vec() };
        let status = app.client.login(app.request(wrong)).await.unwrap_err();
        let expected = if attempt == 10 { 0xA4 } else { 0xA0 };
        assert_eq!(ckr(&status), expected, "attempt {attempt}");
    }
    let right = pb::LoginRequest { session, user_type: CKU_USER, pin: b"123456".to_vec() };
    assert_eq!(ckr(&app.client.login(app.request(right.clone())).await.unwrap_err()), 0xA4, "CKR_PIN_LOCKED");
    let info = app.client.get_token_info(pb::GetTokenInfoRequest {}).await.unwrap().into_inner();
    assert_ne!(info.flags & CKF_USER_PIN_LOCKED, 0);
    let so = pb::LoginRequest { session, user_type: CKU_SO, pin: b"87654321".to_vec() };
    app.client.login(app.request(so)).await.unwrap();
    app.client.init_pin(app.request(pb::InitPinRequest { session, pin: b"654321".to_vec() })).await.unwrap();
    app.client.logout(app.request(pb::LogoutRequest { session })).await.unwrap();
    let new_pin = pb::LoginRequest { session, user_type: CKU_USER, pin: b"654321".to_vec() };
    app.client.login(app.request(new_pin)).await.unwrap();
    daemon.shutdown().await;
}

#[tokio::test]
async fn an_unknown_application_answers_session_handle_invalid() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut client = TokenClient::new(daemon.channel().await);
    let mut request = Request::new(pb::OpenSessionRequest { flags: CKF_SERIAL_SESSION });
    request.metadata_mut().insert(APPLICATION_HEADER, "feedface".parse().unwrap());
    let status = client.open_session(request).await.unwrap_err();
    assert_eq!(ckr(&status), 0xB3, "CKR_SESSION_HANDLE_INVALID");
    assert_eq!(status.code(), tonic::Code::NotFound);
    daemon.shutdown().await;
}

/// The KMS model's rules hold for PKCS#11 calls too: a disabled key refuses work, a key policy
/// Deny is enforced, and every call leaves an audit record naming the key it used.
#[tokio::test]
async fn disabled_keys_policies_and_audit_apply_to_token_calls() {
    let (daemon, _dir) = Daemon::start_dev();
    let (mut app, session) = setup(&daemon).await;
    let user = pb::LoginRequest { session, user_type: CKU_USER, pin: b"123456".to_vec() };
    app.client.login(app.request(user)).await.unwrap();
    let mut kms = daemon.kms().await;
    let key_id = arca_tests::create_key(&mut kms, "governed").await;
    let find = vec![attribute(CKA_ID, uuid_bytes(&key_id))];
    app.client
        .find_objects_init(app.request(pb::FindObjectsInitRequest { session, template: find }))
        .await
        .unwrap();
    let found = app
        .client
        .find_objects(app.request(pb::FindObjectsRequest { session, max_objects: 10 }))
        .await
        .unwrap();
    let objects = found.into_inner().objects;
    assert_eq!(objects.len(), 1, "the KMS key is a token object found by its UUID");
    app.client.find_objects_final(app.request(pb::SessionRequest { session })).await.unwrap();
    let key = objects[0];
    let gcm = pb::Mechanism {
        r#type: CKM_AES_GCM,
        parameter: Some(pb::mechanism::Parameter::Gcm(pb::GcmParameters {
            iv: vec![1; 12],
            iv_bits: 96,
            aad: Vec::new(),
            tag_bits: 128,
        })),
    };
    let init = || pb::OperationInitRequest {
        session,
        kind: pb::OperationKind::OperationEncrypt as i32,
        mechanism: Some(gcm.clone()),
        key,
    };

    app.client.operation_init(app.request(init())).await.unwrap();
    let encrypt = pb::OperationDataRequest {
        session,
        kind: pb::OperationKind::OperationEncrypt as i32,
        data: b"audited".to_vec(),
        signature: Vec::new(),
        space: Some(pb::OutputSpace { length_only: false, capacity: 64 }),
        more: false,
    };
    app.client.operation_one_shot(app.request(encrypt)).await.unwrap();

    kms.disable_key(pb::DisableKeyRequest { key_id: key_id.clone() }).await.unwrap();
    let refused = app.client.operation_init(app.request(init())).await.unwrap_err();
    assert_eq!(ckr(&refused), 0x68, "CKR_KEY_FUNCTION_NOT_PERMITTED for a disabled key: {refused:?}");
    kms.enable_key(pb::EnableKeyRequest { key_id: key_id.clone() }).await.unwrap();

    // A key pending deletion is unusable through PKCS#11 too; cancelling leaves it disabled.
    let schedule = pb::ScheduleKeyDeletionRequest { key_id: key_id.clone(), ..Default::default() };
    kms.schedule_key_deletion(schedule).await.unwrap();
    let pending = app.client.operation_init(app.request(init())).await.unwrap_err();
    assert_eq!(ckr(&pending), 0x68, "CKR_KEY_FUNCTION_NOT_PERMITTED while pending deletion: {pending:?}");
    assert!(pending.message().contains("PENDING_DELETION"), "{}", pending.message());
    kms.cancel_key_deletion(pb::CancelKeyDeletionRequest { key_id: key_id.clone() }).await.unwrap();
    kms.enable_key(pb::EnableKeyRequest { key_id: key_id.clone() }).await.unwrap();

    let deny = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Admins", "Effect": "Allow", "Principal": {"Arca": "uid:*"}, "Action": "arca:*", "Resource": "*"},
            {"Sid": "NoEncrypt", "Effect": "Deny", "Principal": "*", "Action": "arca:Encrypt", "Resource": "*"}
        ]
    });
    let policy = pb::PutKeyPolicyRequest { key_id: key_id.clone(), policy: deny.to_string() };
    kms.put_key_policy(policy).await.unwrap();
    let denied = app.client.operation_init(app.request(init())).await.unwrap_err();
    assert_eq!(ckr(&denied), 0x68, "a policy Deny is CKR_KEY_FUNCTION_NOT_PERMITTED: {denied:?}");
    assert!(denied.message().contains("arca:Encrypt"), "{}", denied.message());

    let request = pb::ReadAuditRequest { limit: 1000, key: key_id.clone(), ..Default::default() };
    let records = daemon.admin().await.read_audit(request).await.unwrap().into_inner().records;
    let token_records: Vec<&String> = records.iter().filter(|r| r.contains("\"C_EncryptInit\"")).collect();
    assert_eq!(token_records.len(), 4, "one audit record per C_EncryptInit: {records:#?}");
    assert_eq!(token_records.iter().filter(|r| r.contains("\"OK\"")).count(), 1);
    assert!(records.iter().any(|r| r.contains("\"C_Encrypt\"") && r.contains("\"OK\"")), "{records:#?}");
    let encrypted = records.iter().find(|r| r.contains("\"C_Encrypt\"") && r.contains("\"OK\"")).unwrap();
    assert!(encrypted.contains("\"source\":\"pkcs11/unix\""), "{encrypted}");
    assert!(encrypted.contains("\"key_version\":1,"), "PKCS#11 uses the current version: {encrypted}");
    let refused = "\"error_code\":\"CKR_KEY_FUNCTION_NOT_PERMITTED\"";
    assert_eq!(token_records.iter().filter(|r| r.contains(refused)).count(), 3, "{token_records:#?}");
    daemon.shutdown().await;
}

fn uuid_bytes(id: &str) -> Vec<u8> {
    let hex: String = id.chars().filter(char::is_ascii_hexdigit).collect();
    (0..32).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

/// Key material and PINs given through the Token service reach neither the debug-level log nor
/// the audit log.
#[tokio::test]
async fn imported_key_bytes_and_pins_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut launch = arca_tests::Launch::dev(dir.path());
    launch.args.extend(["--log".to_string(), "debug".to_string()]);
    let mut daemon = launch.start();
    let (mut app, session) = setup(&daemon).await;
    let user = pb::LoginRequest { session, user_type: CKU_USER, pin: b"123456".to_vec() };
    app.client.login(app.request(user)).await.unwrap();
    let secret: Vec<u8> = (0..32).map(|i| 0xC0 ^ (i * 7) as u8).collect();
    let template = vec![
        attribute(CKA_CLASS, ulong(CKO_SECRET_KEY)),
        attribute(CKA_KEY_TYPE, ulong(CKK_AES)),
        attribute(CKA_TOKEN, vec![1]),
        attribute(CKA_VALUE, secret.clone()),
    ];
    let key = app
        .client
        .create_object(app.request(pb::CreateObjectRequest { session, template }))
        .await
        .unwrap()
        .into_inner()
        .object;
    let read = pb::GetAttributeValueRequest { session, object: key, types: vec![CKA_VALUE] };
    let values = app.client.get_attribute_value(app.request(read)).await.unwrap().into_inner().attributes;
    assert_eq!(values[0].outcome, pb::attribute_result::Outcome::AttributeSensitive as i32);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = daemon.stderr_text();
    assert!(log.contains("C_CreateObject"), "the call is logged: {log}");
    let audit = std::fs::read(dir.path().join("audit.log")).unwrap_or_default();
    let audit = String::from_utf8_lossy(&audit).into_owned();
    assert!(audit.contains("C_CreateObject"), "the call is audited");
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let debug = format!("{:?}", &secret[..8]);
    for (name, text) in [("log", &log), ("audit log", &audit)] {
        assert!(!text.contains(&hex), "hex key in the {name}");
        assert!(!text.contains(&debug[1..debug.len() - 1]), "Debug-formatted key in the {name}");
        assert!(
            !text.as_bytes().windows(secret.len()).any(|w| w == secret.as_slice()),
            "raw key in the {name}"
        );
        assert!(!text.contains("123456") && !text.contains("87654321"), "a PIN in the {name}");
    }
    daemon.shutdown().await;
}

/// A PKCS#11 call past the caller's quota is refused with the documented CKR_FUNCTION_REJECTED,
/// and a sealed daemon shows no token.
#[tokio::test]
async fn quotas_and_the_seal_apply_to_token_calls() {
    let dir = tempfile::tempdir().unwrap();
    let launch = arca_tests::Launch::key_file_config(dir.path(), "[quotas]\ncrypto_requests_per_second = 5");
    let daemon = launch.start();
    let (mut app, session) = setup(&daemon).await;
    let mut rejected = 0;
    for _ in 0..20 {
        let request = pb::TokenRandomRequest { session, length: 16 };
        match app.client.generate_random(app.request(request)).await {
            Ok(random) => assert_eq!(random.into_inner().output.len(), 16),
            Err(status) => {
                assert_eq!(ckr(&status), 0x200, "CKR_FUNCTION_REJECTED: {status:?}");
                assert!(status.message().contains("throttled"), "{}", status.message());
                rejected += 1;
            }
        }
    }
    assert!(rejected >= 10, "only {rejected} of 20 calls past a quota of 5/s were refused");
    daemon.shutdown().await;

    let sealed_dir = tempfile::tempdir().unwrap();
    let data = sealed_dir.path().join("data");
    let config = sealed_dir.path().join("arca.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{d}\"\nsocket = \"{d}/arca.sock\"\n[seal]\nmode = \"passphrase\"\n",
            d = data.display()
        ),
    )
    .unwrap();
    let sealed = arca_tests::Launch::config(&config, &data, &data.join("arca.sock")).start();
    let mut client = TokenClient::new(sealed.channel().await);
    let status = client.get_token_info(pb::GetTokenInfoRequest {}).await.unwrap_err();
    assert_eq!(ckr(&status), 0xE0, "CKR_TOKEN_NOT_PRESENT while the store is not unsealed: {status:?}");
    sealed.shutdown().await;
}

/// A token key is a keyring key: only the crypto-officer role makes one, as with CreateKey;
/// session keys need no role.
#[tokio::test]
async fn token_keys_need_an_administrator_and_session_keys_do_not() {
    let dir = tempfile::tempdir().unwrap();
    // The token is set up by an administrator (the SO is one); then this uid is none.
    let daemon = arca_tests::Launch::key_file_config(dir.path(), "").start();
    drop(setup(&daemon).await);
    daemon.shutdown().await;
    let launch = arca_tests::Launch::key_file_config(dir.path(), "administrators = [\"uid:4242\"]");
    let daemon = launch.start();
    let mut app = App::attach(&daemon, "token-api-test").await;
    let open = pb::OpenSessionRequest { flags: CKF_SERIAL_SESSION | CKF_RW_SESSION };
    let session = app.client.open_session(app.request(open)).await.unwrap().into_inner().session;
    let user = pb::LoginRequest { session, user_type: CKU_USER, pin: b"123456".to_vec() };
    app.client.login(app.request(user)).await.unwrap();
    let keygen = |token: bool| pb::GenerateKeyRequest {
        session,
        mechanism: Some(pb::Mechanism { r#type: CKM_AES_KEY_GEN, parameter: None }),
        template: vec![attribute(CKA_VALUE_LEN, ulong(32)), attribute(CKA_TOKEN, vec![u8::from(token)])],
    };
    let refused = app.client.generate_key(app.request(keygen(true))).await.unwrap_err();
    assert_eq!(ckr(&refused), 0x1B, "CKR_ACTION_PROHIBITED for a non-administrator: {refused:?}");
    app.client.generate_key(app.request(keygen(false))).await.unwrap();
    let keys = daemon.kms().await.list_keys(pb::ListKeysRequest::default()).await.unwrap().into_inner();
    assert!(keys.keys.is_empty(), "the refused key was not stored: {keys:?}");
    daemon.shutdown().await;
}

/// A copy keeps its source's key policy (a Deny still applies to the copy, even a session copy),
/// and copying itself needs arca:CopyKey.
#[tokio::test]
async fn copies_keep_the_key_policy() {
    let (daemon, _dir) = Daemon::start_dev();
    let (mut app, session) = setup(&daemon).await;
    let user = pb::LoginRequest { session, user_type: CKU_USER, pin: b"123456".to_vec() };
    app.client.login(app.request(user)).await.unwrap();
    let mut kms = daemon.kms().await;
    let key_id = arca_tests::create_key(&mut kms, "guarded").await;
    let policy = |denied: &str| {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Admins", "Effect": "Allow", "Principal": {"Arca": "uid:*"}, "Action": "arca:*", "Resource": "*"},
                {"Sid": "Deny", "Effect": "Deny", "Principal": "*", "Action": denied, "Resource": "*"}
            ]
        })
        .to_string()
    };
    let put = pb::PutKeyPolicyRequest { key_id: key_id.clone(), policy: policy("arca:Encrypt") };
    kms.put_key_policy(put).await.unwrap();
    let find = vec![attribute(CKA_ID, uuid_bytes(&key_id))];
    app.client
        .find_objects_init(app.request(pb::FindObjectsInitRequest { session, template: find }))
        .await
        .unwrap();
    let found =
        app.client.find_objects(app.request(pb::FindObjectsRequest { session, max_objects: 1 })).await;
    let source = found.unwrap().into_inner().objects[0];
    app.client.find_objects_final(app.request(pb::SessionRequest { session })).await.unwrap();
    let copy = |token: bool| pb::CopyObjectRequest {
        session,
        object: source,
        template: vec![attribute(CKA_TOKEN, vec![u8::from(token)])],
    };
    let session_copy = app.client.copy_object(app.request(copy(false))).await.unwrap().into_inner().object;
    let token_copy = app.client.copy_object(app.request(copy(true))).await.unwrap().into_inner().object;
    for object in [session_copy, token_copy] {
        let init = pb::OperationInitRequest {
            session,
            kind: pb::OperationKind::OperationEncrypt as i32,
            mechanism: Some(pb::Mechanism {
                r#type: CKM_AES_GCM,
                parameter: Some(pb::mechanism::Parameter::Gcm(pb::GcmParameters {
                    iv: vec![3; 12],
                    iv_bits: 96,
                    aad: Vec::new(),
                    tag_bits: 128,
                })),
            }),
            key: object,
        };
        let denied = app.client.operation_init(app.request(init)).await.unwrap_err();
        assert_eq!(ckr(&denied), 0x68, "the source's Deny holds for the copy: {denied:?}");
    }
    let put = pb::PutKeyPolicyRequest { key_id: key_id.clone(), policy: policy("arca:CopyKey") };
    kms.put_key_policy(put).await.unwrap();
    let refused = app.client.copy_object(app.request(copy(false))).await.unwrap_err();
    assert_eq!(ckr(&refused), 0x68, "copying needs arca:CopyKey: {refused:?}");
    daemon.shutdown().await;
}

const CKA_SIGN: u64 = 0x108;
const CKA_DERIVE: u64 = 0x10C;
const CKA_EXTRACTABLE: u64 = 0x162;
const CKK_GENERIC_SECRET: u64 = 0x10;
const CKM_AES_CMAC_GENERAL: u64 = 0x108B;
const CKM_AES_ECB_ENCRYPT_DATA: u64 = 0x1104;
const CKM_HKDF_DERIVE: u64 = 0x402A;
const CKM_SHA_256: u64 = 0x250;
const CKF_HKDF_SALT_DATA: u64 = 2;
const CKR_MECHANISM_PARAM_INVALID: u64 = 0x71;
const CKR_KEY_TYPE_INCONSISTENT: u64 = 0x63;

/// `openssl enc -aes-128-ecb -nopad` of `data` under `key`: an implementation independent of the
/// daemon's.
fn openssl_aes_128_ecb(key: &[u8], data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut child = std::process::Command::new("openssl")
        .args(["enc", "-aes-128-ecb", "-nopad", "-K", &hex])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// CKM_AES_ECB_ENCRYPT_DATA and CKM_AES_CMAC_GENERAL, which the `cryptoki` crate cannot name,
/// through the Token API: the derived value is OpenSSL's AES-ECB of the data, the truncated CMAC
/// is the SP 800-38B tag's prefix, and bad parameters get their CK_RV.
#[tokio::test]
async fn aes_encrypt_data_and_cmac_general_answer_as_openssl_and_nist() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = arca_tests::Launch::dev(dir.path()).start();
    let (mut app, session) = setup(&daemon).await;
    let user = pb::LoginRequest { session, user_type: CKU_USER, pin: b"123456".to_vec() };
    app.client.login(app.request(user)).await.unwrap();
    let value =
        vec![0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c];
    let create = pb::CreateObjectRequest {
        session,
        template: vec![
            attribute(CKA_CLASS, ulong(CKO_SECRET_KEY)),
            attribute(CKA_KEY_TYPE, ulong(CKK_AES)),
            attribute(CKA_VALUE, value.clone()),
            attribute(CKA_TOKEN, vec![0]),
            attribute(CKA_SENSITIVE, vec![0]),
            attribute(CKA_EXTRACTABLE, vec![1]),
            attribute(CKA_DERIVE, vec![1]),
            attribute(CKA_SIGN, vec![1]),
        ],
    };
    let key = app.client.create_object(app.request(create)).await.unwrap().into_inner().object;

    let data: Vec<u8> = (0u8..32).collect();
    let derive = |kind: u64, parameter: pb::mechanism::Parameter| pb::DeriveKeyRequest {
        session,
        mechanism: Some(pb::Mechanism { r#type: kind, parameter: Some(parameter) }),
        base_key: key,
        template: vec![
            attribute(CKA_CLASS, ulong(CKO_SECRET_KEY)),
            attribute(CKA_KEY_TYPE, ulong(CKK_GENERIC_SECRET)),
            attribute(CKA_TOKEN, vec![0]),
            attribute(CKA_SENSITIVE, vec![0]),
            attribute(CKA_EXTRACTABLE, vec![1]),
        ],
    };
    let ecb = derive(CKM_AES_ECB_ENCRYPT_DATA, pb::mechanism::Parameter::DerivationData(data.clone()));
    let object = app.client.derive_key(app.request(ecb)).await.unwrap().into_inner().object;
    let read = pb::GetAttributeValueRequest { session, object, types: vec![CKA_VALUE] };
    let derived = app.client.get_attribute_value(app.request(read)).await.unwrap().into_inner();
    assert_eq!(derived.attributes[0].value, openssl_aes_128_ecb(&value, &data));

    let ragged = derive(CKM_AES_ECB_ENCRYPT_DATA, pb::mechanism::Parameter::DerivationData(vec![1; 15]));
    let refused = app.client.derive_key(app.request(ragged)).await.unwrap_err();
    assert_eq!(ckr(&refused), CKR_MECHANISM_PARAM_INVALID, "15 bytes of data: {refused:?}");
    let hkdf = pb::HkdfParameters {
        extract: true,
        expand: true,
        prf_hash: CKM_SHA_256,
        salt_type: CKF_HKDF_SALT_DATA,
        salt: vec![1; 8],
        salt_key: 0,
        info: vec![],
    };
    let on_aes = derive(CKM_HKDF_DERIVE, pb::mechanism::Parameter::Hkdf(hkdf));
    let refused = app.client.derive_key(app.request(on_aes)).await.unwrap_err();
    assert_eq!(ckr(&refused), CKR_KEY_TYPE_INCONSISTENT, "HKDF over an AES key: {refused:?}");

    // NIST SP 800-38B D.1, example 2 (16 bytes): tag 070a16b46b4d4144f79bdd9dd04a287c.
    let message =
        [0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96, 0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93, 0x17, 0x2a];
    let general = |len: u64| pb::OperationInitRequest {
        session,
        kind: pb::OperationKind::OperationSign as i32,
        mechanism: Some(pb::Mechanism {
            r#type: CKM_AES_CMAC_GENERAL,
            parameter: Some(pb::mechanism::Parameter::Ulong(len)),
        }),
        key,
    };
    app.client.operation_init(app.request(general(6))).await.unwrap();
    let sign = pb::OperationDataRequest {
        session,
        kind: pb::OperationKind::OperationSign as i32,
        data: message.to_vec(),
        signature: Vec::new(),
        space: Some(pb::OutputSpace { length_only: false, capacity: 64 }),
        more: false,
    };
    let tag = app.client.operation_one_shot(app.request(sign)).await.unwrap().into_inner().output;
    assert_eq!(tag, [0x07, 0x0a, 0x16, 0xb4, 0x6b, 0x4d]);
    let refused = app.client.operation_init(app.request(general(17))).await.unwrap_err();
    assert_eq!(ckr(&refused), CKR_MECHANISM_PARAM_INVALID, "a 17-byte CMAC: {refused:?}");
}

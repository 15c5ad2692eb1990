//! The Token service's own limits, driven over gRPC without the PKCS#11 module (the daemon never
//! trusts the module to have checked): operation input in pieces up to 16 MiB per call, PINs,
//! labels and templates past their sizes, and template checks that come before any key
//! generation.

use arca_proto::CKR_HEADER;
use arca_tests::{Daemon, Launch, TokenApp, pb};

const CKF_SERIAL_SESSION: u64 = 0x4;
const CKF_RW_SESSION: u64 = 0x2;
const CKU_SO: u64 = 0;
const CKU_USER: u64 = 1;
const CKA_CLASS: u64 = 0x0;
const CKA_LABEL: u64 = 0x3;
const CKA_APPLICATION: u64 = 0x10;
const CKA_KEY_TYPE: u64 = 0x100;
const CKA_MODULUS_BITS: u64 = 0x121;
const CKA_ALWAYS_AUTHENTICATE: u64 = 0x202;
const CKA_UNIQUE_ID: u64 = 0x4;
const CKO_DATA: u64 = 0;
const CKO_PUBLIC_KEY: u64 = 2;
const CKO_PRIVATE_KEY: u64 = 3;
const CKK_RSA: u64 = 0;
const CKM_RSA_PKCS_KEY_PAIR_GEN: u64 = 0;
const CKM_SHA256: u64 = 0x250;
const CKR_ATTRIBUTE_READ_ONLY: u64 = 0x10;
const CKR_ATTRIBUTE_VALUE_INVALID: u64 = 0x13;
const CKR_DATA_LEN_RANGE: u64 = 0x21;
const CKR_OPERATION_NOT_INITIALIZED: u64 = 0x91;
const CKR_PIN_LEN_RANGE: u64 = 0xA2;
const CKR_TEMPLATE_INCONSISTENT: u64 = 0xD1;
const CKF_USER_PIN_COUNT_LOW: u64 = 0x10000;
const MAX_CALL_BYTES: usize = 16 << 20;
const PIECE: usize = 60 << 10;

/// The token's application, logged in on one R/W session.
struct App {
    token: TokenApp,
    session: u64,
}

impl App {
    /// Attaches, initialises the token and logs the user in on a R/W session.
    async fn logged_in(daemon: &Daemon) -> Self {
        let token = TokenApp::attach(daemon, "token-limits-test").await;
        assert_eq!(token.max_request_bytes, 64 << 10, "the daemon tells its request cap");
        let mut app = Self { token, session: 0 };
        let init = pb::InitTokenRequest { so_pin: b"87654321".to_vec(), label: b"limits".to_vec() };
        app.token.client.init_token(init).await.unwrap();
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        let opened =
            app.token.client.open_session(app.token.request(pb::OpenSessionRequest { flags })).await.unwrap();
        app.session = opened.into_inner().session;
        app.login(CKU_SO, b"87654321").await.unwrap();
        let pin = pb::InitPinRequest { session: app.session, pin: b"123456".to_vec() };
        app.token.client.init_pin(app.token.request(pin)).await.unwrap();
        app.token.client.logout(app.token.request(pb::LogoutRequest { session: app.session })).await.unwrap();
        app.login(CKU_USER, b"123456").await.unwrap();
        app
    }

    async fn login(&mut self, user_type: u64, pin: &[u8]) -> Result<(), tonic::Status> {
        let request = pb::LoginRequest { session: self.session, user_type, pin: pin.to_vec() };
        self.token.client.login(self.token.request(request)).await.map(drop)
    }

    async fn digest_update(&mut self, data: &[u8], more: bool) -> Result<(), tonic::Status> {
        let request = pb::OperationDataRequest {
            session: self.session,
            kind: pb::OperationKind::OperationDigest as i32,
            data: data.to_vec(),
            more,
            ..Default::default()
        };
        self.token.client.operation_update(self.token.request(request)).await.map(drop)
    }

    /// Sends `len` bytes as one C_DigestUpdate in pieces; the answer to the last piece.
    async fn digest_in_pieces(&mut self, len: usize) -> Result<(), tonic::Status> {
        let mechanism = pb::Mechanism { r#type: CKM_SHA256, parameter: None };
        let kind = pb::OperationKind::OperationDigest as i32;
        let init =
            pb::OperationInitRequest { session: self.session, kind, mechanism: Some(mechanism), key: 0 };
        self.token.client.operation_init(self.token.request(init)).await.unwrap();
        let data = vec![0x5A; PIECE];
        let mut left = len;
        while left > PIECE {
            self.digest_update(&data, true).await?;
            left -= PIECE;
        }
        self.digest_update(&data[..left], false).await
    }

    async fn digest_final(&mut self) -> Result<pb::OutputResponse, tonic::Status> {
        let request = pb::OperationDataRequest {
            session: self.session,
            kind: pb::OperationKind::OperationDigest as i32,
            space: Some(pb::OutputSpace { length_only: false, capacity: 64 }),
            ..Default::default()
        };
        self.token.client.operation_final(self.token.request(request)).await.map(tonic::Response::into_inner)
    }

    async fn create(&mut self, template: Vec<pb::Attribute>) -> Result<u64, tonic::Status> {
        let request = pb::CreateObjectRequest { session: self.session, template };
        self.token.client.create_object(self.token.request(request)).await.map(|r| r.into_inner().object)
    }
}

fn ckr(status: &tonic::Status) -> u64 {
    let text = status.metadata().get(CKR_HEADER).and_then(|v| v.to_str().ok()).expect(CKR_HEADER);
    u64::from_str_radix(text.trim_start_matches("0x"), 16).unwrap()
}

fn attribute(kind: u64, value: &[u8]) -> pb::Attribute {
    pb::Attribute { r#type: kind, value: value.to_vec() }
}

fn ulong(value: u64) -> Vec<u8> {
    value.to_le_bytes().to_vec()
}

#[tokio::test]
async fn operation_input_in_pieces_is_limited_to_16_mib_per_call() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut app = App::logged_in(&daemon).await;
    app.digest_in_pieces(MAX_CALL_BYTES).await.expect("16 MiB in pieces");
    assert_eq!(app.digest_final().await.unwrap().output.len(), 32);
    let over = app.digest_in_pieces(MAX_CALL_BYTES + 1).await.unwrap_err();
    assert_eq!(ckr(&over), CKR_DATA_LEN_RANGE, "{over:?}");
    let ended = app.digest_final().await.unwrap_err();
    assert_eq!(ckr(&ended), CKR_OPERATION_NOT_INITIALIZED, "the refusal ended the digest: {ended:?}");
    let orphan = app.digest_update(b"piece", true).await.unwrap_err();
    assert_eq!(ckr(&orphan), CKR_OPERATION_NOT_INITIALIZED, "a piece needs an operation");
}

#[tokio::test]
async fn pins_labels_and_templates_past_the_limits_get_their_codes() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut app = App::logged_in(&daemon).await;
    app.token.client.logout(app.token.request(pb::LogoutRequest { session: app.session })).await.unwrap();
    let long = app.login(CKU_USER, &[b'1'; 256]).await.unwrap_err();
    assert_eq!(ckr(&long), CKR_PIN_LEN_RANGE, "{long:?}");
    let info = app.token.client.get_token_info(pb::GetTokenInfoRequest {}).await.unwrap().into_inner();
    assert_eq!(info.flags & CKF_USER_PIN_COUNT_LOW, 0, "a PIN out of range is not a wrong PIN");
    app.login(CKU_USER, b"123456").await.unwrap();

    let data = |label: &[u8]| vec![attribute(CKA_CLASS, &ulong(CKO_DATA)), attribute(CKA_LABEL, label)];
    app.create(data(&[b'L'; 8192])).await.expect("a label at the limit");
    let label = app.create(data(&[b'L'; 8193])).await.unwrap_err();
    assert_eq!(ckr(&label), CKR_ATTRIBUTE_VALUE_INVALID, "{label:?}");
    let mut many = data(b"many");
    many.extend((0..255).map(|_| attribute(CKA_APPLICATION, b"x")));
    let too_many = app.create(many.clone()).await.unwrap_err();
    assert_eq!(ckr(&too_many), CKR_TEMPLATE_INCONSISTENT, "{too_many:?}");
    many.pop();
    app.create(many).await.expect("256 attributes");
    let heavy = vec![attribute(CKA_CLASS, &ulong(CKO_DATA)), attribute(CKA_APPLICATION, &[0; 50 << 10])];
    let heavy = app.create(heavy).await.unwrap_err();
    assert_eq!(ckr(&heavy), CKR_ATTRIBUTE_VALUE_INVALID, "{heavy:?}");
}

/// With key generation given no time at all, only a template refused before generation starts
/// gets its own code: anything that reached generation would fail on the deadline instead.
#[tokio::test]
async fn key_pair_templates_are_checked_before_any_generation() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::key_file_config(dir.path(), "key_generation_timeout_secs = 0.000001").start();
    let mut app = App::logged_in(&daemon).await;
    let public = vec![
        attribute(CKA_CLASS, &ulong(CKO_PUBLIC_KEY)),
        attribute(CKA_KEY_TYPE, &ulong(CKK_RSA)),
        attribute(CKA_MODULUS_BITS, &ulong(4096)),
    ];
    let private =
        vec![attribute(CKA_CLASS, &ulong(CKO_PRIVATE_KEY)), attribute(CKA_KEY_TYPE, &ulong(CKK_RSA))];
    let mechanism = Some(pb::Mechanism { r#type: CKM_RSA_PKCS_KEY_PAIR_GEN, parameter: None });
    let cases = [
        (
            public.clone(),
            // A CK_BBOOL of two bytes.
            [private.clone(), vec![attribute(CKA_ALWAYS_AUTHENTICATE, &[1, 0])]].concat(),
            CKR_ATTRIBUTE_VALUE_INVALID,
        ),
        (
            [public.clone(), vec![attribute(CKA_UNIQUE_ID, b"mine")]].concat(),
            private.clone(),
            CKR_ATTRIBUTE_READ_ONLY,
        ),
    ];
    for (public_template, private_template, expected) in cases {
        let request = pb::GenerateKeyPairRequest {
            session: app.session,
            mechanism: mechanism.clone(),
            public_template,
            private_template,
        };
        let refused = app.token.client.generate_key_pair(app.token.request(request)).await.unwrap_err();
        assert_eq!(ckr(&refused), expected, "{refused:?}");
    }
    let request = pb::GenerateKeyPairRequest {
        session: app.session,
        mechanism,
        public_template: public,
        private_template: private,
    };
    let status = app.token.client.generate_key_pair(app.token.request(request)).await.unwrap_err();
    assert!(status.message().contains("took longer"), "a good template reaches generation: {status:?}");
}

//! KEY_AGREEMENT keys (ECC_NIST_P256, ECC_NIST_P384) and DeriveSharedSecret: the raw ECDH secret
//! Arca returns is the one the other party computes with RustCrypto's `p256` and `p384`; other
//! curves, malformed peers and keys of other usages are refused; a grant lets another principal
//! derive; and the PKCS#11 face shows the key as a derive-only private key whose CKM_ECDH1_DERIVE
//! gives the same secret.

use arca_proto::{DaemonEndpoint, TlsClientFiles};
use arca_tests::pki::make_pki;
use arca_tests::{Daemon, Launch, TokenApp, assert_status, pb};
use p256::elliptic_curve::point::AffineCoordinates as _;
use p256::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
use tonic::Code;
use tonic::transport::Channel;

type Kms = pb::key_management_client::KeyManagementClient<Channel>;

/// The other party: its SubjectPublicKeyInfo, and the secret it computes with Arca's public key.
struct Peer {
    spki: Vec<u8>,
    point: Vec<u8>,
    expected: Vec<u8>,
}

macro_rules! peer_on {
    ($name:ident, $curve:ident, $scalar:expr) => {
        /// A peer with a fixed scalar; ECDH computed by RustCrypto from Arca's public key.
        fn $name(arca_spki: &[u8]) -> Peer {
            let secret = $curve::SecretKey::from_slice(&$scalar).unwrap();
            let arca = $curve::PublicKey::from_public_key_der(arca_spki).unwrap();
            let shared = (arca.to_projective() * *secret.to_nonzero_scalar()).to_affine();
            Peer {
                spki: secret.public_key().to_public_key_der().unwrap().as_bytes().to_vec(),
                point: secret.public_key().to_sec1_bytes().to_vec(),
                expected: shared.x().to_vec(),
            }
        }
    };
}

peer_on!(p256_peer, p256, [0x42u8; 32]);
peer_on!(p384_peer, p384, [0x24u8; 48]);

async fn create(
    kms: &mut Kms,
    spec: pb::KeySpec,
    usage: pb::KeyUsage,
) -> Result<pb::KeyMetadata, tonic::Status> {
    let request =
        pb::CreateKeyRequest { key_spec: spec.into(), key_usage: usage.into(), ..Default::default() };
    Ok(kms.create_key(request).await?.into_inner().key_metadata.unwrap())
}

fn derive(key: &str, public_key: &[u8]) -> pb::DeriveSharedSecretRequest {
    pb::DeriveSharedSecretRequest {
        key_id: key.into(),
        key_agreement_algorithm: pb::KeyAgreementAlgorithm::Ecdh.into(),
        public_key: public_key.to_vec(),
        grant_tokens: Vec::new(),
    }
}

async fn public_key(kms: &mut Kms, key: &str) -> pb::GetPublicKeyResponse {
    let request = pb::GetPublicKeyRequest { key_id: key.into(), ..Default::default() };
    kms.get_public_key(request).await.unwrap().into_inner()
}

#[tokio::test]
async fn derive_shared_secret_agrees_with_the_peer_on_both_curves_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::dev(dir.path());
    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    let mut derived = Vec::new();
    for (spec, peer_of, len) in [
        (pb::KeySpec::EccNistP256, p256_peer as fn(&[u8]) -> Peer, 32),
        (pb::KeySpec::EccNistP384, p384_peer, 48),
    ] {
        let key = create(&mut kms, spec, pb::KeyUsage::KeyAgreement).await.unwrap();
        assert_eq!(key.key_usage(), pb::KeyUsage::KeyAgreement);
        assert_eq!(key.key_agreement_algorithms, [i32::from(pb::KeyAgreementAlgorithm::Ecdh)]);
        assert!(key.signing_algorithms.is_empty(), "a KEY_AGREEMENT key lists no signing algorithm");
        let public = public_key(&mut kms, &key.key_id).await;
        assert_eq!(public.key_usage(), pb::KeyUsage::KeyAgreement);
        assert_eq!(public.key_agreement_algorithms, [i32::from(pb::KeyAgreementAlgorithm::Ecdh)]);
        let peer = peer_of(&public.public_key);
        let response = kms.derive_shared_secret(derive(&key.key_id, &peer.spki)).await.unwrap().into_inner();
        assert_eq!(response.shared_secret.len(), len);
        assert_eq!(response.shared_secret, peer.expected, "{spec:?}: both sides hold the same secret");
        assert_eq!(
            (response.key_id.as_str(), response.key_origin()),
            (key.key_id.as_str(), pb::KeyOrigin::Arca)
        );
        assert_eq!(response.key_agreement_algorithm(), pb::KeyAgreementAlgorithm::Ecdh);
        derived.push((key.key_id, peer));
    }
    daemon.shutdown().await;

    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    for (key, peer) in derived {
        let request = pb::DescribeKeyRequest { key_id: key.clone(), ..Default::default() };
        let described = kms.describe_key(request).await.unwrap().into_inner().key_metadata.unwrap();
        assert_eq!(described.key_usage(), pb::KeyUsage::KeyAgreement, "the usage is stored");
        let again = kms.derive_shared_secret(derive(&key, &peer.spki)).await.unwrap().into_inner();
        assert_eq!(again.shared_secret, peer.expected);
    }
    daemon.shutdown().await;
}

#[tokio::test]
async fn other_curves_malformed_peers_and_other_usages_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::dev(dir.path()).start();
    let mut kms = daemon.kms().await;
    let agreeing = create(&mut kms, pb::KeySpec::EccNistP256, pb::KeyUsage::KeyAgreement).await.unwrap();
    let other_curve = create(&mut kms, pb::KeySpec::EccNistP384, pb::KeyUsage::KeyAgreement).await.unwrap();
    let p384 = p384_peer(&public_key(&mut kms, &other_curve.key_id).await.public_key);
    let key = agreeing.key_id.as_str();
    assert_status(
        kms.derive_shared_secret(derive(key, &p384.spki)).await,
        Code::InvalidArgument,
        "ECC_NIST_P384",
    );
    assert_status(kms.derive_shared_secret(derive(key, b"not DER")).await, Code::InvalidArgument, "");
    assert_status(kms.derive_shared_secret(derive(key, &[])).await, Code::InvalidArgument, "public_key");
    let rsa = create(&mut kms, pb::KeySpec::Rsa2048, pb::KeyUsage::SignVerify).await.unwrap();
    let rsa_spki = public_key(&mut kms, &rsa.key_id).await.public_key;
    assert_status(kms.derive_shared_secret(derive(key, &rsa_spki)).await, Code::InvalidArgument, "");
    let unspecified = pb::DeriveSharedSecretRequest { key_agreement_algorithm: 0, ..derive(key, &p384.spki) };
    assert_status(
        kms.derive_shared_secret(unspecified).await,
        Code::InvalidArgument,
        "key_agreement_algorithm",
    );

    // ECC keys sign by default; a signing key does not agree, an agreeing key does not sign.
    let signing = create(&mut kms, pb::KeySpec::EccNistP256, pb::KeyUsage::Unspecified).await.unwrap();
    assert_eq!(signing.key_usage(), pb::KeyUsage::SignVerify);
    assert!(signing.key_agreement_algorithms.is_empty());
    let p256 = p256_peer(&public_key(&mut kms, key).await.public_key);
    let refused = kms.derive_shared_secret(derive(&signing.key_id, &p256.spki)).await;
    assert_status(refused, Code::FailedPrecondition, "SIGN_VERIFY");
    let sign = pb::SignRequest {
        key_id: key.into(),
        message: b"m".to_vec(),
        signing_algorithm: pb::SigningAlgorithm::EcdsaSha256.into(),
        ..Default::default()
    };
    assert_status(kms.sign(sign).await, Code::FailedPrecondition, "KEY_AGREEMENT");

    for spec in [pb::KeySpec::Rsa2048, pb::KeySpec::Aes256, pb::KeySpec::Hmac256] {
        let refused = create(&mut kms, spec, pb::KeyUsage::KeyAgreement).await;
        assert_status(refused, Code::InvalidArgument, "KEY_AGREEMENT is not valid");
    }

    kms.disable_key(pb::DisableKeyRequest { key_id: key.into() }).await.unwrap();
    assert_status(
        kms.derive_shared_secret(derive(key, &p256.spki)).await,
        Code::FailedPrecondition,
        "DISABLED",
    );
    daemon.shutdown().await;
}

/// A daemon that also listens on mutual TLS, whose client certificate is a second principal.
async fn daemon_with_a_second_principal(dir: &std::path::Path) -> (Daemon, Kms, String) {
    make_pki(dir);
    let data = dir.join("data");
    let config = dir.join("arca.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{d}\"\nsocket = \"{d}/arca.sock\"\n[seal]\nmode = \"key_file\"\nkey_file = \"{p}/master.key\"\n\
             [tls]\nlisten = \"127.0.0.1:0\"\ncert = \"{p}/server.pem\"\nkey = \"{p}/server.key\"\nclient_ca = \"{p}/ca.pem\"\n",
            d = data.display(),
            p = dir.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("master.key"), [9u8; 32]).unwrap();
    let daemon = Launch::config(&config, &data, &data.join("arca.sock")).start();
    let url = daemon.addresses.iter().find(|a| a.starts_with("https://")).unwrap().clone();
    let files = TlsClientFiles {
        ca_cert: dir.join("ca.pem"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
    };
    let channel = DaemonEndpoint::parse(&url, Some(files)).unwrap().connect().await.unwrap();
    let mut admin = pb::admin_client::AdminClient::new(channel.clone());
    let principal = admin.status(pb::StatusRequest {}).await.unwrap().into_inner().caller;
    assert!(principal.starts_with("cert:"), "{principal}");
    (daemon, Kms::new(channel), principal)
}

#[tokio::test]
async fn a_grant_for_derive_shared_secret_lets_another_principal_derive() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, mut app, principal) = daemon_with_a_second_principal(dir.path()).await;
    let mut kms = daemon.kms().await;
    let key = create(&mut kms, pb::KeySpec::EccNistP256, pb::KeyUsage::KeyAgreement).await.unwrap().key_id;
    let peer = p256_peer(&public_key(&mut kms, &key).await.public_key);
    assert_status(
        app.derive_shared_secret(derive(&key, &peer.spki)).await,
        Code::PermissionDenied,
        &principal,
    );

    let grant = pb::CreateGrantRequest {
        key_id: key.clone(),
        grantee_principal: principal.clone(),
        operations: vec!["DeriveSharedSecret".into()],
        ..Default::default()
    };
    let granted = kms.create_grant(grant).await.unwrap().into_inner();
    let with_token =
        pb::DeriveSharedSecretRequest { grant_tokens: vec![granted.grant_token], ..derive(&key, &peer.spki) };
    let derived = app.derive_shared_secret(with_token).await.unwrap().into_inner();
    assert_eq!(derived.shared_secret, peer.expected);
    let derived = app.derive_shared_secret(derive(&key, &peer.spki)).await.unwrap().into_inner();
    assert_eq!(derived.shared_secret, peer.expected, "the grant works without its token too");
    let read = pb::GetPublicKeyRequest { key_id: key.clone(), ..Default::default() };
    assert_status(app.get_public_key(read).await, Code::PermissionDenied, "arca:GetPublicKey");

    let revoke = pb::RevokeGrantRequest { key_id: key.clone(), grant_id: granted.grant_id };
    kms.revoke_grant(revoke).await.unwrap();
    assert_status(
        app.derive_shared_secret(derive(&key, &peer.spki)).await,
        Code::PermissionDenied,
        "arca:DeriveSharedSecret",
    );
    daemon.shutdown().await;
}

const CKF_SERIAL_SESSION: u64 = 0x4;
const CKF_RW_SESSION: u64 = 0x2;
const CKU_SO: u64 = 0;
const CKU_USER: u64 = 1;
const CKA_CLASS: u64 = 0x0;
const CKA_TOKEN: u64 = 0x1;
const CKA_VALUE: u64 = 0x11;
const CKA_KEY_TYPE: u64 = 0x100;
const CKA_ID: u64 = 0x102;
const CKA_SENSITIVE: u64 = 0x103;
const CKA_SIGN: u64 = 0x108;
const CKA_DERIVE: u64 = 0x10C;
const CKA_VALUE_LEN: u64 = 0x161;
const CKA_EXTRACTABLE: u64 = 0x162;
const CKO_PRIVATE_KEY: u64 = 3;
const CKO_SECRET_KEY: u64 = 4;
const CKK_GENERIC_SECRET: u64 = 0x10;
const CKM_ECDH1_DERIVE: u64 = 0x1050;
const CKD_NULL: u64 = 1;
const CKD_SHA256_KDF: u64 = 6;

fn attribute(kind: u64, value: Vec<u8>) -> pb::Attribute {
    pb::Attribute { r#type: kind, value }
}

fn ulong(value: u64) -> Vec<u8> {
    value.to_le_bytes().to_vec()
}

/// A user session on a freshly initialised token.
async fn user_session(app: &mut TokenApp) -> u64 {
    let init = pb::InitTokenRequest { so_pin: b"87654321".to_vec(), label: b"agreement".to_vec() };
    app.client.init_token(init).await.unwrap();
    let open = pb::OpenSessionRequest { flags: CKF_SERIAL_SESSION | CKF_RW_SESSION };
    let session = app.client.open_session(app.request(open)).await.unwrap().into_inner().session;
    let so = pb::LoginRequest { session, user_type: CKU_SO, pin: b"87654321".to_vec() };
    app.client.login(app.request(so)).await.unwrap();
    let pin = pb::InitPinRequest { session, pin: b"123456".to_vec() };
    app.client.init_pin(app.request(pin)).await.unwrap();
    app.client.logout(app.request(pb::LogoutRequest { session })).await.unwrap();
    let user = pb::LoginRequest { session, user_type: CKU_USER, pin: b"123456".to_vec() };
    app.client.login(app.request(user)).await.unwrap();
    session
}

/// The private object of the KMS key `key_id` (its CKA_ID is the UUID's 16 bytes).
async fn private_object(app: &mut TokenApp, session: u64, key_id: &str) -> u64 {
    let hex = key_id.replace('-', "");
    let id: Vec<u8> = (0..16).map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap()).collect();
    let find = vec![attribute(CKA_CLASS, ulong(CKO_PRIVATE_KEY)), attribute(CKA_ID, id)];
    app.client
        .find_objects_init(app.request(pb::FindObjectsInitRequest { session, template: find }))
        .await
        .unwrap();
    let found =
        app.client.find_objects(app.request(pb::FindObjectsRequest { session, max_objects: 10 })).await;
    app.client.find_objects_final(app.request(pb::SessionRequest { session })).await.unwrap();
    let objects = found.unwrap().into_inner().objects;
    assert_eq!(objects.len(), 1, "one private object for key {key_id}");
    objects[0]
}

async fn flags(app: &mut TokenApp, session: u64, object: u64) -> (Vec<u8>, Vec<u8>) {
    let read = pb::GetAttributeValueRequest { session, object, types: vec![CKA_DERIVE, CKA_SIGN] };
    let found = app.client.get_attribute_value(app.request(read)).await.unwrap().into_inner();
    (found.attributes[0].value.clone(), found.attributes[1].value.clone())
}

/// CKM_ECDH1_DERIVE (CKD_NULL) into an extractable 32-byte generic secret.
fn ecdh_request(session: u64, base_key: u64, peer_point: &[u8]) -> pb::DeriveKeyRequest {
    ecdh_request_with(session, base_key, peer_point, (CKD_NULL, b""), 32)
}

/// CKM_ECDH1_DERIVE with a key derivation function and its shared data, into an extractable
/// generic secret of `len` bytes.
fn ecdh_request_with(
    session: u64,
    base_key: u64,
    peer_point: &[u8],
    (kdf, shared_data): (u64, &[u8]),
    len: u64,
) -> pb::DeriveKeyRequest {
    let parameters = pb::Ecdh1DeriveParameters {
        kdf,
        shared_data: shared_data.to_vec(),
        public_data: peer_point.to_vec(),
    };
    let mechanism = pb::Mechanism {
        r#type: CKM_ECDH1_DERIVE,
        parameter: Some(pb::mechanism::Parameter::Ecdh1(parameters)),
    };
    let template = vec![
        attribute(CKA_CLASS, ulong(CKO_SECRET_KEY)),
        attribute(CKA_KEY_TYPE, ulong(CKK_GENERIC_SECRET)),
        attribute(CKA_VALUE_LEN, ulong(len)),
        attribute(CKA_TOKEN, vec![0]),
        attribute(CKA_SENSITIVE, vec![0]),
        attribute(CKA_EXTRACTABLE, vec![1]),
    ];
    pb::DeriveKeyRequest { session, mechanism: Some(mechanism), base_key, template }
}

#[tokio::test]
async fn pkcs11_shows_a_key_agreement_key_as_derive_only_with_the_same_secret() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::dev(dir.path()).start();
    let mut kms = daemon.kms().await;
    let agreeing =
        create(&mut kms, pb::KeySpec::EccNistP256, pb::KeyUsage::KeyAgreement).await.unwrap().key_id;
    let signing = create(&mut kms, pb::KeySpec::EccNistP256, pb::KeyUsage::SignVerify).await.unwrap().key_id;
    let peer = p256_peer(&public_key(&mut kms, &agreeing).await.public_key);

    let mut app = TokenApp::attach(&daemon, "key-agreement-test").await;
    let session = user_session(&mut app).await;
    let private = private_object(&mut app, session, &agreeing).await;
    assert_eq!(flags(&mut app, session, private).await, (vec![1], vec![0]), "CKA_DERIVE on, CKA_SIGN off");
    let derived = app.client.derive_key(app.request(ecdh_request(session, private, &peer.point))).await;
    let object = derived.unwrap().into_inner().object;
    let read = pb::GetAttributeValueRequest { session, object, types: vec![CKA_VALUE] };
    let value = app.client.get_attribute_value(app.request(read)).await.unwrap().into_inner();
    assert_eq!(value.attributes[0].value, peer.expected, "C_DeriveKey and DeriveSharedSecret agree");

    // CKD_SHA256_KDF (ANSI X9.63) over the same secret, 40 bytes (two hash blocks), checked with
    // RustCrypto's SHA-256.
    let info = b"arca key agreement";
    let request = ecdh_request_with(session, private, &peer.point, (CKD_SHA256_KDF, info), 40);
    let object = app.client.derive_key(app.request(request)).await.unwrap().into_inner().object;
    let read = pb::GetAttributeValueRequest { session, object, types: vec![CKA_VALUE] };
    let value = app.client.get_attribute_value(app.request(read)).await.unwrap().into_inner();
    let expected: Vec<u8> = [1u32, 2]
        .iter()
        .flat_map(|counter| {
            use sha2::Digest;
            sha2::Sha256::new()
                .chain_update(&peer.expected)
                .chain_update(counter.to_be_bytes())
                .chain_update(info)
                .finalize()
                .to_vec()
        })
        .take(40)
        .collect();
    assert_eq!(value.attributes[0].value, expected, "CKD_SHA256_KDF is X9.63 over the shared secret");
    let unknown = ecdh_request_with(session, private, &peer.point, (0x1234, b""), 32);
    assert!(app.client.derive_key(app.request(unknown)).await.is_err(), "an unknown KDF is refused");

    let signer = private_object(&mut app, session, &signing).await;
    assert_eq!(
        flags(&mut app, session, signer).await,
        (vec![0], vec![1]),
        "a SIGN_VERIFY key keeps its flags"
    );
    let refused = app.client.derive_key(app.request(ecdh_request(session, signer, &peer.point))).await;
    assert!(refused.is_err(), "a SIGN_VERIFY key derives nothing");
    daemon.shutdown().await;
}

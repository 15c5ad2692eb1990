//! The PKCS#11 face, through `libarca_pkcs11.so` and the `cryptoki` crate: C_Sign checked by
//! RustCrypto against the public key objects' CKA_MODULUS / CKA_PUBLIC_EXPONENT / CKA_EC_POINT,
//! and C_Decrypt of RustCrypto's OAEP and PKCS#1 v1.5 ciphertexts.
//!
//! The module finds the daemon through `ARCA_SOCKET`, read at C_Initialize, so the work runs in a
//! child process of this test binary (`pkcs11_child`) that is given the variable.

use std::process::Command;

use arca_tests::{Daemon, bin_dir};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

use super::{Curve, Encryption, Hash, PublicKey, Rng, Scheme};

const SO_PIN: &str = "87654321";
const PIN: &str = "123456";
/// The variable that hands the child the module's path.
const CHILD_MODULE: &str = "ARCA_DIFFERENTIAL_MODULE";
const DONE: &str = "differential PKCS#11 checks passed";
/// Messages signed and plaintexts decrypted per mechanism.
const COUNT: usize = 64;
/// The longest message signed (the KMS face's RAW limit; the module sends data in pieces).
const MAX_MESSAGE: usize = 4096;

/// DER of the curves' OIDs (CKA_EC_PARAMS): prime256v1 and secp384r1.
const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const P384_PARAMS: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22];

#[test]
fn every_pkcs11_signature_verifies_and_every_ciphertext_decrypts() {
    let library = bin_dir().join("libarca_pkcs11.so");
    assert!(library.exists(), "{} is missing: run `cargo build --workspace` first", library.display());
    let (daemon, _data) = Daemon::start_dev();
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["pkcs11::pkcs11_child", "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD_MODULE, &library)
        .env("ARCA_SOCKET", &daemon.socket)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && stdout.contains(DONE), "{}\n{stdout}\n{stderr}", output.status);
}

/// The checks; does nothing unless the test above started it with a module to load.
#[test]
fn pkcs11_child() {
    let Some(module) = std::env::var_os(CHILD_MODULE) else { return };
    let pkcs11 = Pkcs11::new(module).unwrap();
    pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).unwrap();
    let session = user_session(&pkcs11);
    let mut rng = Rng::seeded();
    let rsa = generate(&session, rsa_templates());
    for (mechanism, scheme, prehash) in rsa_signing() {
        sign_and_verify(&session, &rsa, &mechanism, scheme, prehash, &mut rng);
    }
    for (curve, params, hashed, hash) in ec_signing() {
        let pair = generate(&session, ec_templates(params, curve));
        sign_and_verify(&session, &pair, &hashed, Scheme::EcdsaRaw, None, &mut rng);
        sign_and_verify(&session, &pair, &Mechanism::Ecdsa, Scheme::EcdsaRaw, Some(hash), &mut rng);
    }
    for (mechanism, encryption) in decryption() {
        encrypt_and_decrypt(&session, &rsa, &mechanism, encryption, &mut rng);
    }
    // PSS with SHA-1 and SHA-224 on the 2048-bit key, and everything on a legacy 1024-bit one.
    let legacy = generate(&session, rsa_templates_of(1024));
    for pair in [&rsa, &legacy] {
        for (mechanism, scheme, prehash) in legacy_rsa_signing() {
            sign_and_verify(&session, pair, &mechanism, scheme, prehash, &mut rng);
        }
    }
    for (mechanism, scheme, prehash) in rsa_signing() {
        sign_and_verify(&session, &legacy, &mechanism, scheme, prehash, &mut rng);
    }
    for (mechanism, encryption) in decryption() {
        encrypt_and_decrypt(&session, &legacy, &mechanism, encryption, &mut rng);
    }
    println!("{DONE}");
}

/// A key pair and RustCrypto's view of its public key.
struct Pair {
    private: ObjectHandle,
    public: PublicKey,
}

/// C_InitToken, C_InitPIN as the SO, then a R/W session logged in as the user.
fn user_session(pkcs11: &Pkcs11) -> Session {
    let slot = pkcs11.get_slots_with_token().unwrap()[0];
    let so_pin = AuthPin::from(SO_PIN);
    pkcs11.init_token(slot, &so_pin, "arca").unwrap();
    let session = pkcs11.open_rw_session(slot).unwrap();
    session.login(UserType::So, Some(&so_pin)).unwrap();
    session.init_pin(&AuthPin::from(PIN)).unwrap();
    session.logout().unwrap();
    session.login(UserType::User, Some(&AuthPin::from(PIN))).unwrap();
    session
}

/// (mechanism, public template, private template, how to read the public key).
type Templates = (Mechanism<'static>, Vec<Attribute>, Vec<Attribute>, Option<Curve>);

fn rsa_templates() -> Templates {
    rsa_templates_of(2048)
}

fn rsa_templates_of(bits: u64) -> Templates {
    let public = vec![
        Attribute::KeyType(KeyType::RSA),
        Attribute::ModulusBits(bits.into()),
        Attribute::PublicExponent(vec![1, 0, 1]),
        Attribute::Verify(true),
        Attribute::Encrypt(true),
    ];
    let private = vec![Attribute::KeyType(KeyType::RSA), Attribute::Sign(true), Attribute::Decrypt(true)];
    (Mechanism::RsaPkcsKeyPairGen, public, private, None)
}

fn ec_templates(params: &[u8], curve: Curve) -> Templates {
    let public =
        vec![Attribute::KeyType(KeyType::EC), Attribute::EcParams(params.to_vec()), Attribute::Verify(true)];
    let private = vec![Attribute::KeyType(KeyType::EC), Attribute::Sign(true)];
    (Mechanism::EccKeyPairGen, public, private, Some(curve))
}

/// C_GenerateKeyPair (session objects), then the public key's attributes.
fn generate(session: &Session, (mechanism, public, private, curve): Templates) -> Pair {
    let public = [public, vec![Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::Token(false)]].concat();
    let private =
        [private, vec![Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Token(false)]].concat();
    let (public, private) = session.generate_key_pair(&mechanism, &public, &private).unwrap();
    let kinds = match curve {
        None => vec![AttributeType::Modulus, AttributeType::PublicExponent],
        Some(_) => vec![AttributeType::EcPoint],
    };
    let values = session.get_attributes(public, &kinds).unwrap();
    let public = match (curve, values.as_slice()) {
        (None, [Attribute::Modulus(n), Attribute::PublicExponent(e)]) => PublicKey::rsa(n, e),
        (Some(curve), [Attribute::EcPoint(point)]) => PublicKey::ec(curve, ec_point(point)),
        (_, other) => panic!("unexpected public key attributes: {other:?}"),
    };
    Pair { private, public }
}

/// The point inside CKA_EC_POINT's DER OCTET STRING (points of P-256 and P-384 are < 128 bytes).
fn ec_point(value: &[u8]) -> &[u8] {
    match value {
        [0x04, len, point @ ..] if usize::from(*len) == point.len() => point,
        other => panic!("CKA_EC_POINT is not a short DER OCTET STRING: {other:02x?}"),
    }
}

/// (mechanism, scheme, hash the caller applies first: `Some` for the raw CKM_ECDSA).
fn rsa_signing() -> [(Mechanism<'static>, Scheme, Option<Hash>); 2] {
    let pss =
        PkcsPssParams { hash_alg: MechanismType::SHA256, mgf: PkcsMgfType::MGF1_SHA256, s_len: 32.into() };
    [
        (Mechanism::Sha256RsaPkcs, Scheme::Pkcs1(Hash::Sha256), None),
        (Mechanism::Sha256RsaPkcsPss(pss), Scheme::Pss(Hash::Sha256), None),
    ]
}

/// PSS with SHA-1 (CKM_SHA1_RSA_PKCS_PSS) and SHA-224 (CKM_RSA_PKCS_PSS over the digest), salts
/// of the hash length, which is what RustCrypto's `pss_verify` expects.
fn legacy_rsa_signing() -> [(Mechanism<'static>, Scheme, Option<Hash>); 2] {
    let sha1 = PkcsPssParams { hash_alg: MechanismType::SHA1, mgf: PkcsMgfType::MGF1_SHA1, s_len: 20.into() };
    let sha224 =
        PkcsPssParams { hash_alg: MechanismType::SHA224, mgf: PkcsMgfType::MGF1_SHA224, s_len: 28.into() };
    [
        (Mechanism::Sha1RsaPkcsPss(sha1), Scheme::Pss(Hash::Sha1), None),
        (Mechanism::RsaPkcsPss(sha224), Scheme::Pss(Hash::Sha224), Some(Hash::Sha224)),
    ]
}

/// (curve, CKA_EC_PARAMS, the hashing mechanism, the curve's hash for CKM_ECDSA).
fn ec_signing() -> [(Curve, &'static [u8], Mechanism<'static>, Hash); 2] {
    [
        (Curve::P256, P256_PARAMS, Mechanism::EcdsaSha256, Hash::Sha256),
        (Curve::P384, P384_PARAMS, Mechanism::EcdsaSha384, Hash::Sha384),
    ]
}

fn decryption() -> [(Mechanism<'static>, Encryption); 3] {
    let oaep = |hash, mgf| Mechanism::RsaPkcsOaep(PkcsOaepParams::new(hash, mgf, PkcsOaepSource::empty()));
    [
        (oaep(MechanismType::SHA1, PkcsMgfType::MGF1_SHA1), Encryption::Oaep(Hash::Sha1)),
        (oaep(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256), Encryption::Oaep(Hash::Sha256)),
        (Mechanism::RsaPkcs, Encryption::Pkcs1),
    ]
}

/// C_Sign of random messages (or of their `prehash` digests); RustCrypto verifies each against
/// the message.
fn sign_and_verify(
    session: &Session,
    pair: &Pair,
    mechanism: &Mechanism,
    scheme: Scheme,
    prehash: Option<Hash>,
    rng: &mut Rng,
) {
    for message in rng.messages(COUNT, MAX_MESSAGE) {
        let input = prehash.map_or_else(|| message.clone(), |hash| hash.digest(&message));
        let signature = session.sign(mechanism, pair.private, &input).unwrap();
        pair.public
            .verify(scheme, &message, &signature)
            .unwrap_or_else(|e| panic!("{:?} of {} bytes: {e}", mechanism.mechanism_type(), message.len()));
    }
}

/// RustCrypto encrypts random plaintexts (of every length the padding allows, 0 included) to the
/// pair's public key; C_Decrypt must give them back.
fn encrypt_and_decrypt(
    session: &Session,
    pair: &Pair,
    mechanism: &Mechanism,
    encryption: Encryption,
    rng: &mut Rng,
) {
    for plaintext in rng.messages(COUNT, encryption.max_plaintext(pair.public.modulus_bytes())) {
        let ciphertext = pair.public.encrypt(encryption, &plaintext);
        let decrypted = session
            .decrypt(mechanism, pair.private, &ciphertext)
            .unwrap_or_else(|e| panic!("{:?} of {} bytes: {e}", mechanism.mechanism_type(), plaintext.len()));
        assert_eq!(decrypted, plaintext, "{:?}", mechanism.mechanism_type());
    }
}

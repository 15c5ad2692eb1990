//! The curves beyond P-256: P-521 and secp256k1 (ECDSA, ECDH), Ed25519 (CKM_EDDSA) and X25519
//! (CKM_ECDH1_DERIVE on a Montgomery key), each checked by OpenSSL; and the codes for curves and
//! key types a mechanism does not take.

use cryptoki::error::RvError;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType as T, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use crate::der;
use crate::digest::sha;
use crate::keys::{self, Pair, merge};
use crate::openssl::{self, Scratch, SigOpts};
use crate::suite::{
    At, Ctx, Fail, Outcome, SoftHsm, ensure, expect_rv, expect_spec, fail, get_bytes, label, message, skip,
};

/// CKA_EC_PARAMS: namedCurve OIDs, and the PrintableString form PKCS#11 3.0 allows for Ed25519.
pub(crate) const P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
const SECP256K1: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
const P224: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21];
pub(crate) const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
const ED25519_NAME: &[u8] = b"\x13\x0cedwards25519";
const ED448: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x71];
pub(crate) const X25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];
const X448: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6f];

fn generate(
    s: &Session,
    mechanism: &Mechanism,
    key_type: KeyType,
    params: &[u8],
    name: &str,
) -> cryptoki::error::Result<(ObjectHandle, ObjectHandle)> {
    let common = |class| {
        vec![
            Attribute::Class(class),
            Attribute::Token(false),
            Attribute::KeyType(key_type),
            Attribute::Label(label(name)),
        ]
    };
    let public = merge(
        common(ObjectClass::PUBLIC_KEY),
        &[Attribute::EcParams(params.to_vec()), Attribute::Verify(true)],
    );
    let private = merge(
        common(ObjectClass::PRIVATE_KEY),
        &[
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            Attribute::Derive(true),
        ],
    );
    s.generate_key_pair(mechanism, &public, &private)
}

pub(crate) fn pair(
    s: &Session,
    mechanism: &Mechanism,
    key_type: KeyType,
    params: &[u8],
    name: &str,
) -> Result<Pair, Fail> {
    let (public, private) =
        generate(s, mechanism, key_type, params, name).at(&format!("C_GenerateKeyPair({name})"))?;
    Ok(Pair { public, private })
}

/// The key bytes inside CKA_EC_POINT, which must be a DER OCTET STRING of `len` bytes.
pub(crate) fn point(s: &Session, public: ObjectHandle, len: usize) -> Result<Vec<u8>, Fail> {
    let value = get_bytes(s, public, T::EcPoint)?;
    match der::read(&value) {
        Some((der::OCTET_STRING, content, [])) if content.len() == len => Ok(content.to_vec()),
        _ => fail(format!(
            "CKA_EC_POINT is not a DER OCTET STRING of {len} bytes: {}",
            crate::suite::hex(&value)
        )),
    }
}

/// The SubjectPublicKeyInfo of an RFC 8410 key (Ed25519 OID byte 0x70, X25519 0x6e).
pub(crate) fn rfc8410_spki(oid_last: u8, key: &[u8]) -> Vec<u8> {
    let algorithm = der::sequence(&[&[0x06, 0x03, 0x2b, 0x65, oid_last]]);
    der::sequence(&[&algorithm, &der::tlv(der::BIT_STRING, &[&[0], key].concat())])
}

pub(crate) fn lacks(ctx: &Ctx, mechanism: MechanismType) -> Result<bool, Fail> {
    let list = ctx.pkcs11.get_mechanism_list(ctx.slot).at("C_GetMechanismList")?;
    Ok(!ctx.arca() && !list.contains(&mechanism))
}

fn ecdsa_on(ctx: &Ctx, params: &[u8], name: &str, coordinate: usize) -> Outcome {
    let s = ctx.s();
    let keys = pair(&s, &Mechanism::EccKeyPairGen, KeyType::EC, params, name)?;
    let spki = der::ec_spki(params, &point(&s, keys.public, 1 + 2 * coordinate)?);
    for bits in [256, 512] {
        let digest = sha(bits, &message(77))?;
        let signature =
            s.sign(&Mechanism::Ecdsa, keys.private, &digest).at(&format!("C_Sign(CKM_ECDSA, {name})"))?;
        ensure!(signature.len() == 2 * coordinate, "{name} signature of {} bytes", signature.len());
        s.verify(&Mechanism::Ecdsa, keys.public, &digest, &signature).at("C_Verify(CKM_ECDSA)")?;
        openssl::verify_digest(&spki, SigOpts { bits, pss: false }, &digest, &der::ecdsa_der(&signature))?;
        let short = &signature[1..];
        let wrong = s.verify(&Mechanism::Ecdsa, keys.public, &digest, short);
        expect_rv(wrong, &[RvError::SignatureLenRange], "C_Verify(CKM_ECDSA) with a short signature")?;
    }
    if ctx.arca() {
        // P-521's bits2int keeps 521 bits: Arca signs hashes of up to 64 bytes and refuses more.
        if coordinate == 66 {
            let long = s.sign(&Mechanism::Ecdsa, keys.private, &[7; 65]);
            expect_rv(long, &[RvError::DataLenRange], "C_Sign(CKM_ECDSA, P-521, 65 bytes)")?;
        }
        let msg = message(300);
        let signature = s.sign(&Mechanism::EcdsaSha512, keys.private, &msg).at("C_Sign(CKM_ECDSA_SHA512)")?;
        openssl::verify_message(&spki, SigOpts { bits: 512, pss: false }, &msg, &der::ecdsa_der(&signature))?;
        crate::rsa::verify_multi(&s, &Mechanism::EcdsaSha512, keys.public, &msg, &signature)?;
    }
    Ok(())
}

pub fn p521_ecdsa(ctx: &Ctx) -> Outcome {
    ecdsa_on(ctx, P521, "p521", 66)
}

pub fn secp256k1_ecdsa(ctx: &Ctx) -> Outcome {
    ecdsa_on(ctx, SECP256K1, "secp256k1", 32)?;
    // AWS-LC has no ECDH on secp256k1: Arca refuses it with CKR_CURVE_NOT_SUPPORTED.
    let s = ctx.s();
    let (a, b) = (
        pair(&s, &Mechanism::EccKeyPairGen, KeyType::EC, SECP256K1, "k1-a")?,
        pair(&s, &Mechanism::EccKeyPairGen, KeyType::EC, SECP256K1, "k1-b")?,
    );
    let peer = point(&s, b.public, 65)?;
    let derived = s.derive_key(&ecdh(&peer), a.private, &secret_template(32));
    match ctx.arca() {
        true => expect_rv(derived, &[RvError::CurveNotSupported], "ECDH on secp256k1").map(drop),
        false => derived.map(drop).at("C_DeriveKey(CKM_ECDH1_DERIVE, secp256k1)"),
    }
}

pub(crate) fn ecdh(peer: &[u8]) -> Mechanism<'_> {
    Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), peer))
}

pub(crate) fn secret_template(len: u64) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::ValueLen(len.into()),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ]
}

/// Both sides of a token ECDH agree, and agree with OpenSSL's key (`peer_spki` makes the SPKI of a
/// token public key from its point).
fn agree(
    ctx: &Ctx,
    keys: (Pair, Pair),
    len: usize,
    genpkey: &[&str],
    spki_of: impl Fn(&[u8]) -> Vec<u8>,
) -> Outcome {
    let s = ctx.s();
    let (a, b) = keys;
    let point_len = if len == 32 { 32 } else { 1 + 2 * len };
    let (a_point, b_point) = (point(&s, a.public, point_len)?, point(&s, b.public, point_len)?);
    let template = secret_template(len as u64);
    let ab = s.derive_key(&ecdh(&b_point), a.private, &template).at("C_DeriveKey(CKD_NULL)")?;
    let ba = s.derive_key(&ecdh(&a_point), b.private, &template).at("C_DeriveKey(CKD_NULL)")?;
    let secret = get_bytes(&s, ab, T::Value)?;
    ensure!(secret.len() == len, "a shared secret of {} bytes", secret.len());
    ensure!(secret == get_bytes(&s, ba, T::Value)?, "the two sides derived different secrets");
    let scratch = Scratch::new()?;
    let pem = scratch.path("key.pem");
    let pem = pem.to_str().unwrap_or_default();
    openssl::run(&[&["genpkey"], genpkey, &["-out", pem]].concat())?;
    let theirs = openssl::run(&["pkey", "-in", pem, "-pubout", "-outform", "DER"])?;
    let peer = scratch.write("peer.der", &spki_of(&a_point))?;
    let expected = openssl::run(&[
        "pkeyutl",
        "-derive",
        "-inkey",
        pem,
        "-peerkey",
        peer.to_str().unwrap_or_default(),
        "-peerform",
        "DER",
    ])?;
    let their_point = theirs.get(theirs.len().saturating_sub(point_len)..).unwrap_or_default();
    let with_openssl =
        s.derive_key(&ecdh(their_point), a.private, &template).at("C_DeriveKey with OpenSSL's key")?;
    ensure!(get_bytes(&s, with_openssl, T::Value)? == expected, "the token's secret differs from OpenSSL's");
    if ctx.arca() {
        // ANSI X9.63 with SHA-256 over the secret and shared data, as OpenSSL's X963KDF computes it
        // (SoftHSM 2.6.1 offers CKD_NULL only).
        let shared = b"curves";
        let kdf = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::sha256(shared), &b_point));
        let derived =
            s.derive_key(&kdf, a.private, &secret_template(40)).at("C_DeriveKey(CKD_SHA256_KDF)")?;
        let (secret, info) = (crate::suite::hex(&secret), crate::suite::hex(shared));
        let x963 = openssl::run(&[
            "kdf",
            "-binary",
            "-keylen",
            "40",
            "-kdfopt",
            "digest:SHA256",
            "-kdfopt",
            &format!("hexsecret:{secret}"),
            "-kdfopt",
            &format!("hexinfo:{info}"),
            "X963KDF",
        ])?;
        ensure!(get_bytes(&s, derived, T::Value)? == x963, "CKD_SHA256_KDF differs from OpenSSL's X963KDF");
    }
    Ok(())
}

pub fn p521_ecdh(ctx: &Ctx) -> Outcome {
    let keys = {
        let s = ctx.s();
        let make = |name| pair(&s, &Mechanism::EccKeyPairGen, KeyType::EC, P521, name);
        (make("p521-a")?, make("p521-b")?)
    };
    agree(ctx, keys, 66, &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"], |p| {
        der::ec_spki(P521, p)
    })
}

pub fn x25519_ecdh(ctx: &Ctx) -> Outcome {
    if lacks(ctx, MechanismType::ECC_MONTGOMERY_KEY_PAIR_GEN)? {
        return skip("SoftHSM 2.6.1 has no CKM_EC_MONTGOMERY_KEY_PAIR_GEN");
    }
    let keys = {
        let s = ctx.s();
        let make = |name| pair(&s, &Mechanism::EccMontgomeryKeyPairGen, KeyType::EC_MONTGOMERY, X25519, name);
        (make("x25519-a")?, make("x25519-b")?)
    };
    agree(ctx, keys, 32, &["-algorithm", "X25519"], |p| rfc8410_spki(0x6e, p))
}

pub fn ed25519_eddsa(ctx: &Ctx) -> Outcome {
    if lacks(ctx, MechanismType::EDDSA)? {
        return skip("the module has no CKM_EDDSA");
    }
    let s = ctx.s();
    let eddsa = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
    for (params, name) in [(ED25519, "ed25519-oid"), (ED25519_NAME, "ed25519-name")] {
        let keys = pair(&s, &Mechanism::EccEdwardsKeyPairGen, KeyType::EC_EDWARDS, params, name)?;
        let spki = rfc8410_spki(0x70, &point(&s, keys.public, 32)?);
        let msg = message(1000);
        let signature = s.sign(&eddsa, keys.private, &msg).at("C_Sign(CKM_EDDSA)")?;
        ensure!(signature.len() == 64, "an Ed25519 signature of {} bytes", signature.len());
        s.verify(&eddsa, keys.public, &msg, &signature).at("C_Verify(CKM_EDDSA)")?;
        let scratch = Scratch::new()?;
        let (key, data, sig) = (
            scratch.write("pub.der", &spki)?,
            scratch.write("msg", &msg)?,
            scratch.write("sig", &signature)?,
        );
        let text = |p: &std::path::PathBuf| p.to_str().unwrap_or_default().to_owned();
        let (key, data, sig) = (text(&key), text(&data), text(&sig));
        openssl::run(&[
            "pkeyutl", "-verify", "-rawin", "-pubin", "-keyform", "DER", "-inkey", &key, "-in", &data,
            "-sigfile", &sig,
        ])?;
        let wrong = s.verify(&eddsa, keys.public, &msg, &signature[..63]);
        expect_rv(wrong, &[RvError::SignatureLenRange], "C_Verify(CKM_EDDSA) with 63 bytes")?;
        // Each in its own session: SoftHSM 2.6.1 checks the key type only when the operation runs.
        let t = ctx.rw()?;
        let ecdsa = t.sign_init(&Mechanism::Ecdsa, keys.private);
        let what = "C_SignInit(CKM_ECDSA) with an Ed25519 key";
        expect_spec(ctx, ecdsa, RvError::KeyTypeInconsistent, SoftHsm::Succeeds, what)?;
    }
    let ec = keys::gen_ec(&s, false, "eddsa-on-ec", &[])?;
    let t = ctx.rw()?;
    let what = "C_SignInit(CKM_EDDSA) with a P-256 key";
    expect_spec(ctx, t.sign_init(&eddsa, ec.private), RvError::KeyTypeInconsistent, SoftHsm::Succeeds, what)?;
    if ctx.arca() {
        // Ed25519ph and Ed25519ctx are not offered.
        let keys = pair(&s, &Mechanism::EccEdwardsKeyPairGen, KeyType::EC_EDWARDS, ED25519, "ed25519-ph")?;
        let ph = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Ed25519ph(&[])));
        let refused = s.sign_init(&ph, keys.private);
        expect_rv(refused, &[RvError::MechanismParamInvalid], "C_SignInit(CKM_EDDSA, Ed25519ph)")?;
    }
    Ok(())
}

/// Curves AWS-LC does not offer: CKR_CURVE_NOT_SUPPORTED, not a key.
pub fn unsupported_curves(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let cases: [(&Mechanism, KeyType, &[u8], &str); 3] = [
        (&Mechanism::EccKeyPairGen, KeyType::EC, P224, "P-224"),
        (&Mechanism::EccEdwardsKeyPairGen, KeyType::EC_EDWARDS, ED448, "Ed448"),
        (&Mechanism::EccMontgomeryKeyPairGen, KeyType::EC_MONTGOMERY, X448, "X448"),
    ];
    for (mechanism, key_type, params, name) in cases {
        let result = generate(&s, mechanism, key_type, params, name);
        expect_rv(result, &[RvError::CurveNotSupported], &format!("C_GenerateKeyPair({name})"))?;
    }
    let made_up =
        generate(&s, &Mechanism::EccKeyPairGen, KeyType::EC, &[0x06, 0x03, 0x2a, 0x03, 0x04], "made-up");
    expect_rv(made_up, &[RvError::CurveNotSupported], "C_GenerateKeyPair(an unknown OID)")?;
    Ok(())
}

/// C_GetMechanismInfo covers the curves: fields up to 521 bits for ECDSA and ECDH, the 256-bit
/// keys of Ed25519 (exactly, on Arca).
pub fn curve_mechanism_info(ctx: &Ctx) -> Outcome {
    let cases = [
        (MechanismType::ECC_KEY_PAIR_GEN, 256, 521),
        (MechanismType::ECDSA, 256, 521),
        (MechanismType::ECDH1_DERIVE, 256, 521),
        (MechanismType::ECC_EDWARDS_KEY_PAIR_GEN, 256, 256),
        (MechanismType::EDDSA, 256, 256),
        (MechanismType::ECC_MONTGOMERY_KEY_PAIR_GEN, 256, 256),
    ];
    let mut problems = Vec::new();
    for (mechanism, want_min, want_max) in cases {
        if lacks(ctx, mechanism)? {
            continue;
        }
        let info = ctx
            .pkcs11
            .get_mechanism_info(ctx.slot, mechanism)
            .at(&format!("C_GetMechanismInfo({mechanism})"))?;
        let (min, max) = (info.min_key_size(), info.max_key_size());
        let exact = (min, max) == (want_min, want_max);
        if min > want_min || max < want_max || (ctx.arca() && !exact) {
            problems.push(format!("{mechanism}: {min}..{max}, expected {want_min}..{want_max}"));
        }
    }
    ensure!(problems.is_empty(), "{}", problems.join("; "));
    Ok(())
}

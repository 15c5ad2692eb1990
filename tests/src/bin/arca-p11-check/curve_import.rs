//! C_CreateObject with keys OpenSSL made on the curves beyond P-256: P-521 (the scalar, the
//! point), Ed25519 (whose signatures are deterministic: the token's must be OpenSSL's) and X25519.

use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType as T, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use crate::curves::{ED25519, P521, X25519, ecdh, lacks, pair, point, rfc8410_spki, secret_template};
use crate::der;
use crate::digest::sha;
use crate::openssl::{self, Scratch, SigOpts};
use crate::suite::{At, Ctx, Fail, Outcome, ensure, fail, get_bytes, label, message, skip};

/// An OpenSSL key in a scratch directory: its PEM file, its DER PKCS#8 and its DER SPKI.
struct Outside {
    scratch: Scratch,
    pkcs8: Vec<u8>,
    spki: Vec<u8>,
}

impl Outside {
    fn new(genpkey: &[&str]) -> Result<Self, Fail> {
        let scratch = Scratch::new()?;
        let pem = scratch.path("key.pem");
        let pem = pem.to_str().unwrap_or_default();
        openssl::run(&[&["genpkey"], genpkey, &["-out", pem]].concat())?;
        let pkcs8 = openssl::run(&["pkcs8", "-topk8", "-nocrypt", "-in", pem, "-outform", "DER"])?;
        let spki = openssl::run(&["pkey", "-in", pem, "-pubout", "-outform", "DER"])?;
        Ok(Self { scratch, pkcs8, spki })
    }

    fn pem(&self) -> String {
        self.scratch.path("key.pem").to_str().unwrap_or_default().to_owned()
    }

    fn tail(bytes: &[u8], len: usize) -> Vec<u8> {
        bytes.get(bytes.len().saturating_sub(len)..).unwrap_or_default().to_vec()
    }
}

fn import(
    s: &Session,
    class: ObjectClass,
    key_type: KeyType,
    params: &[u8],
    key: Attribute,
) -> Result<ObjectHandle, Fail> {
    let mut template = vec![
        Attribute::Class(class),
        Attribute::KeyType(key_type),
        Attribute::Token(false),
        Attribute::EcParams(params.to_vec()),
        key,
        Attribute::Label(label("import-curve")),
    ];
    template.extend(match class {
        ObjectClass::PRIVATE_KEY => {
            vec![Attribute::Sensitive(true), Attribute::Sign(true), Attribute::Derive(true)]
        }
        _ => vec![Attribute::Verify(true)],
    });
    s.create_object(&template).at(&format!("C_CreateObject({key_type}, {class})"))
}

/// P-521, then Ed25519 and X25519 where the module has them.
pub fn import_curves(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let p521 = Outside::new(&["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"])?;
    let sec1 = openssl::run(&["ec", "-in", &p521.pem(), "-outform", "DER"])?;
    let fields = der::read(&sec1).and_then(|(_, content, _)| der::elements(content));
    let Some((_, scalar, _)) = fields.as_ref().and_then(|f| f.get(1)).copied() else {
        return fail("cannot read OpenSSL's P-521 key");
    };
    let private =
        import(&s, ObjectClass::PRIVATE_KEY, KeyType::EC, P521, Attribute::Value(der::left_pad(scalar, 66)))?;
    let digest = sha(512, &message(41))?;
    let signature = s.sign(&Mechanism::Ecdsa, private, &digest).at("C_Sign(CKM_ECDSA, imported P-521)")?;
    openssl::verify_digest(
        &p521.spki,
        SigOpts { bits: 512, pss: false },
        &digest,
        &der::ecdsa_der(&signature),
    )?;
    let p521_point = der::tlv(der::OCTET_STRING, &Outside::tail(&p521.spki, 133));
    let public = import(&s, ObjectClass::PUBLIC_KEY, KeyType::EC, P521, Attribute::EcPoint(p521_point))?;
    s.verify(&Mechanism::Ecdsa, public, &digest, &signature).at("C_Verify(CKM_ECDSA, imported P-521)")?;

    if lacks(ctx, MechanismType::EDDSA)? {
        return skip("the module has no CKM_EDDSA");
    }
    let ed = Outside::new(&["-algorithm", "ED25519"])?;
    let seed = Attribute::Value(Outside::tail(&ed.pkcs8, 32));
    let private = import(&s, ObjectClass::PRIVATE_KEY, KeyType::EC_EDWARDS, ED25519, seed)?;
    let msg = message(123);
    let eddsa = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
    let signature = s.sign(&eddsa, private, &msg).at("C_Sign(CKM_EDDSA, imported)")?;
    let data = ed.scratch.write("msg", &msg)?;
    let theirs = openssl::run(&[
        "pkeyutl",
        "-sign",
        "-rawin",
        "-inkey",
        &ed.pem(),
        "-in",
        data.to_str().unwrap_or_default(),
    ])?;
    ensure!(signature == theirs, "the imported Ed25519 key signs otherwise than OpenSSL");
    let ed_point = der::tlv(der::OCTET_STRING, &Outside::tail(&ed.spki, 32));
    let public =
        import(&s, ObjectClass::PUBLIC_KEY, KeyType::EC_EDWARDS, ED25519, Attribute::EcPoint(ed_point))?;
    s.verify(&eddsa, public, &msg, &theirs).at("C_Verify(CKM_EDDSA, imported public key)")?;

    if lacks(ctx, MechanismType::ECC_MONTGOMERY_KEY_PAIR_GEN)? {
        return Ok(());
    }
    let x = Outside::new(&["-algorithm", "X25519"])?;
    let value = Attribute::Value(Outside::tail(&x.pkcs8, 32));
    let private = import(&s, ObjectClass::PRIVATE_KEY, KeyType::EC_MONTGOMERY, X25519, value)?;
    let peer = pair(&s, &Mechanism::EccMontgomeryKeyPairGen, KeyType::EC_MONTGOMERY, X25519, "x25519-peer")?;
    let peer_point = point(&s, peer.public, 32)?;
    let derived =
        s.derive_key(&ecdh(&peer_point), private, &secret_template(32)).at("C_DeriveKey(imported X25519)")?;
    let peer_file = x.scratch.write("peer.der", &rfc8410_spki(0x6e, &peer_point))?;
    let peer_file = peer_file.to_str().unwrap_or_default();
    let expected =
        openssl::run(&["pkeyutl", "-derive", "-inkey", &x.pem(), "-peerkey", peer_file, "-peerform", "DER"])?;
    ensure!(
        get_bytes(&s, derived, T::Value)? == expected,
        "the imported X25519 key agrees otherwise than OpenSSL"
    );
    Ok(())
}

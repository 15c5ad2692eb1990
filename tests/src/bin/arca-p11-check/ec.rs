//! P-256: ECDSA (raw and hashing) and ECDH1 key derivation, checked by OpenSSL.

use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::object::{Attribute, AttributeType as T, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use crate::digest::sha;
use crate::keys;
use crate::objects::fingerprint;
use crate::openssl::{self, SigOpts};
use crate::rsa::{sign_multi, verify_multi};
use crate::suite::{At, Ctx, Fail, Outcome, ensure, get_bytes, label, message, skip};
use crate::{der, info};

pub fn ecdsa(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let pair = ctx.ec()?;
    let spki = keys::ec_spki(&s, pair.public)?;
    let msg = message(150);
    for bits in [256, 384, 512] {
        // CKM_ECDSA signs the digest it is given (truncated to the order's size for SHA-384/512).
        let digest = sha(bits, &msg)?;
        let signature = s.sign(&Mechanism::Ecdsa, pair.private, &digest).at("C_Sign(CKM_ECDSA)")?;
        ensure!(signature.len() == 64, "P-256 signature of {} bytes, expected r||s of 64", signature.len());
        s.verify(&Mechanism::Ecdsa, pair.public, &digest, &signature).at("C_Verify(CKM_ECDSA)")?;
        openssl::verify_digest(&spki, SigOpts { bits, pss: false }, &digest, &der::ecdsa_der(&signature))?;
    }
    Ok(())
}

fn hashed(bits: u32) -> Mechanism<'static> {
    match bits {
        384 => Mechanism::EcdsaSha384,
        512 => Mechanism::EcdsaSha512,
        _ => Mechanism::EcdsaSha256,
    }
}

fn ecdsa_sha(ctx: &Ctx, bits: u32) -> Outcome {
    let mechanism = hashed(bits);
    if !ctx.arca() && info::softhsm_lacks(mechanism.mechanism_type()) {
        return skip("SoftHSM 2.6.1 does not implement CKM_ECDSA_SHA*");
    }
    let s = ctx.s();
    let pair = ctx.ec()?;
    let spki = keys::ec_spki(&s, pair.public)?;
    let msg = message(301);
    let single = s.sign(&mechanism, pair.private, &msg).at(&format!("C_Sign(CKM_ECDSA_SHA{bits})"))?;
    let multi = sign_multi(&s, &mechanism, pair.private, &msg)?;
    for signature in [&single, &multi] {
        ensure!(signature.len() == 64, "signature of {} bytes", signature.len());
        openssl::verify_message(&spki, SigOpts { bits, pss: false }, &msg, &der::ecdsa_der(signature))?;
        s.verify(&mechanism, pair.public, &msg, signature).at("C_Verify")?;
        verify_multi(&s, &mechanism, pair.public, &msg, signature)?;
    }
    Ok(())
}

pub fn ecdsa_sha256(ctx: &Ctx) -> Outcome {
    ecdsa_sha(ctx, 256)
}

pub fn ecdsa_sha384(ctx: &Ctx) -> Outcome {
    ecdsa_sha(ctx, 384)
}

pub fn ecdsa_sha512(ctx: &Ctx) -> Outcome {
    ecdsa_sha(ctx, 512)
}

fn derived_template(key_type: KeyType, len: u64, name: &str) -> Vec<Attribute> {
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(key_type),
        Attribute::ValueLen(len.into()),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Label(label(name)),
    ];
    if key_type == KeyType::AES {
        template.extend([Attribute::Encrypt(true), Attribute::Decrypt(true)]);
    }
    template
}

fn derive(
    s: &Session,
    base: ObjectHandle,
    peer_point: &[u8],
    template: &[Attribute],
) -> Result<ObjectHandle, Fail> {
    let params = Ecdh1DeriveParams::new(EcKdf::null(), peer_point);
    s.derive_key(&Mechanism::Ecdh1Derive(params), base, template)
        .at("C_DeriveKey(CKM_ECDH1_DERIVE, CKD_NULL)")
}

pub fn ecdh_derive(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let derive_on = [Attribute::Derive(true)];
    let alice = keys::gen_ec(&s, false, "ecdh-alice", &derive_on)?;
    let bob = keys::gen_ec(&s, false, "ecdh-bob", &derive_on)?;
    let (alice_point, bob_point) = (keys::ec_point(&s, alice.public)?, keys::ec_point(&s, bob.public)?);
    let secret = derived_template(KeyType::GENERIC_SECRET, 32, "ecdh-secret");
    let a = derive(&s, alice.private, &bob_point, &secret)?;
    let b = derive(&s, bob.private, &alice_point, &secret)?;
    let shared = get_bytes(&s, a, T::Value)?;
    ensure!(shared.len() == 32, "derived generic secret of {} bytes", shared.len());
    ensure!(shared == get_bytes(&s, b, T::Value)?, "the two sides derived different secrets");
    let aes = derived_template(KeyType::AES, 32, "ecdh-aes");
    let (a, b) = (derive(&s, alice.private, &bob_point, &aes)?, derive(&s, bob.private, &alice_point, &aes)?);
    ensure!(fingerprint(&s, a)? == fingerprint(&s, b)?, "the derived AES keys encrypt differently");
    // An independent party: OpenSSL's key against the token's.
    let outside = openssl::ec_key()?;
    let from_openssl = openssl::ecdh(&outside.file, &keys::ec_spki(&s, alice.public)?)?;
    let c = derive(&s, alice.private, &outside.point, &secret)?;
    ensure!(get_bytes(&s, c, T::Value)? == from_openssl, "the token's ECDH secret differs from OpenSSL's");
    // The DER-wrapped point is accepted too (PKCS#11 lets tokens accept either form).
    let wrapped = der::tlv(der::OCTET_STRING, &outside.point);
    let d = derive(&s, alice.private, &wrapped, &secret)?;
    ensure!(get_bytes(&s, d, T::Value)? == from_openssl, "ECDH with a DER-wrapped point differs");
    let no_derive = keys::gen_ec(&s, false, "ecdh-refused", &[Attribute::Derive(false)])?;
    let refused = derive(&s, no_derive.private, &bob_point, &secret);
    ensure!(
        matches!(&refused, Err(Fail::Failed(why)) if why.contains("CKR_KEY_FUNCTION_NOT_PERMITTED")),
        "C_DeriveKey with CKA_DERIVE=false: {refused:?}"
    );
    Ok(())
}

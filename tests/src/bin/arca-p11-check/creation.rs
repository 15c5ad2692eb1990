//! What third-party client suites rely on when they make and remove objects: a key pair's halves
//! keep their handles when the other half goes (Go's crypto11 deletes the private key, then the
//! public key by handle), certificates dated before 1970 are certificates (Go writes a year-1
//! `NotBefore`), CKA_UNIQUE_ID is the token's to assign, and CKA_ALWAYS_AUTHENTICATE follows the
//! specification's codes.

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType as T, CertificateType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

use crate::der;
use crate::keys::{self, merge};
use crate::openssl;
use crate::suite::{
    At, Ctx, Fail, Outcome, SoftHsm, ensure, expect_rv, expect_spec, fail, find, get_bytes, label,
};

/// Destroying the private half of a token key pair leaves the public half under the same handle,
/// readable and destroyable by it.
pub fn key_pair_halves_keep_their_handles(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let pair = keys::gen_ec(&s, true, "halves", &[])?;
    let id = get_bytes(&s, pair.public, T::Id)?;
    let point = get_bytes(&s, pair.public, T::EcPoint)?;
    s.destroy_object(pair.private).at("C_DestroyObject(private half)")?;
    let after = get_bytes(&s, pair.public, T::EcPoint).map_err(|e| match e {
        Fail::Failed(why) => {
            Fail::Failed(format!("the public half's handle after its private half went: {why}"))
        }
        skipped => skipped,
    })?;
    ensure!(after == point, "the public half's CKA_EC_POINT changed");
    ensure!(get_bytes(&s, pair.public, T::Id)? == id, "the public half's CKA_ID changed");
    let found = find(&s, &[Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::Label(label("halves"))])?;
    ensure!(
        found == [pair.public],
        "C_FindObjects gives the public half as {found:?}, not {:?}",
        pair.public
    );
    s.destroy_object(pair.public).at("C_DestroyObject(public half, by its first handle)")?;
    ensure!(find(&s, &[Attribute::Label(label("halves"))])?.is_empty(), "an orphaned half is left");
    Ok(())
}

/// A certificate (made and re-signed by OpenSSL) whose validity is `notBefore` 0001-01-01
/// (GeneralizedTime) and `notAfter` 1950-01-01 (UTCTime).
fn certificate_from_year_one() -> Result<Vec<u8>, Fail> {
    let key = openssl::ec_key()?;
    let (modern, _) = openssl::certificate(&key.file)?;
    let parts = der::read(&modern).and_then(|(_, content, _)| der::elements(content));
    let Some([(_, tbs, _), (_, _, algorithm), ..]) = parts.as_deref() else {
        return fail("cannot parse OpenSSL's certificate");
    };
    let Some(fields) = der::elements(tbs) else { return fail("cannot parse the TBSCertificate") };
    let validity_at = usize::from(fields.first().is_some_and(|f| f.0 == 0xA0)) + 3;
    let validity = der::sequence(&[&der::tlv(0x18, b"00010101000000Z"), &der::tlv(0x17, b"500101000000Z")]);
    let content: Vec<u8> = fields
        .iter()
        .enumerate()
        .flat_map(|(i, (_, _, whole))| if i == validity_at { validity.clone() } else { whole.to_vec() })
        .collect();
    let tbs = der::tlv(der::SEQUENCE, &content);
    let signature = openssl::sign_message(&key.file, 256, &tbs)?;
    let bits = [&[0u8][..], &signature].concat();
    let certificate = der::sequence(&[&tbs, algorithm, &der::tlv(der::BIT_STRING, &bits)]);
    // OpenSSL reads it back: the dates are valid DER, not something only Arca accepts.
    let scratch = openssl::Scratch::new()?;
    let file = scratch.write("old.der", &certificate)?;
    let dates =
        openssl::run(&["x509", "-inform", "DER", "-noout", "-dates", "-in", &file.display().to_string()])?;
    let dates = String::from_utf8_lossy(&dates).into_owned();
    ensure!(dates.contains(" 1 GMT") && dates.contains("1950 GMT"), "OpenSSL reads the dates as {dates:?}");
    Ok(certificate)
}

/// C_CreateObject takes an X.509 certificate whatever year its validity names (0001–9999).
pub fn certificate_dates_before_1970(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let cert = certificate_from_year_one()?;
    let Some(subject) = der::certificate_subject(&cert) else { return fail("no subject") };
    let template = [
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(false),
        Attribute::Subject(subject),
        Attribute::Value(cert.clone()),
        Attribute::Label(label("year-one")),
    ];
    let object = s.create_object(&template).at("C_CreateObject(certificate from year 1)")?;
    ensure!(get_bytes(&s, object, T::Value)? == cert, "the certificate read back differs");
    s.destroy_object(object).at("C_DestroyObject(certificate)")?;
    Ok(())
}

/// CKA_UNIQUE_ID in a template is CKR_ATTRIBUTE_READ_ONLY (PKCS#11 3.0 §4.4.1).
pub fn unique_id_is_token_assigned(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let unique = Attribute::UniqueId(b"chosen-by-the-application".to_vec());
    let deviation = SoftHsm::Gives(RvError::AttributeTypeInvalid);
    let data = [Attribute::Class(ObjectClass::DATA), Attribute::Token(false), unique.clone()];
    expect_spec(ctx, s.create_object(&data), RvError::AttributeReadOnly, deviation, "C_CreateObject(data)")?;
    let aes = merge(keys::aes_template(16, false, "unique-id"), std::slice::from_ref(&unique));
    let generated = s.generate_key(&Mechanism::AesKeyGen, &aes);
    expect_spec(ctx, generated, RvError::AttributeReadOnly, deviation, "C_GenerateKey")?;
    let public = vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::EC),
        Attribute::EcParams(der::P256_PARAMS.to_vec()),
        unique,
    ];
    let private = vec![Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::KeyType(KeyType::EC)];
    let pair = s.generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private);
    expect_spec(ctx, pair, RvError::AttributeReadOnly, deviation, "C_GenerateKeyPair")?;
    Ok(())
}

/// CKA_ALWAYS_AUTHENTICATE false is accepted; true, which Arca does not offer, is a value the
/// token refuses (CKR_ATTRIBUTE_VALUE_INVALID), not an attribute the application may not set.
pub fn always_authenticate(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let pair = keys::gen_ec(&s, false, "always-auth", &[Attribute::AlwaysAuthenticate(false)])?;
    let value = s.get_attributes(pair.private, &[T::AlwaysAuthenticate]).at("C_GetAttributeValue")?;
    ensure!(value == [Attribute::AlwaysAuthenticate(false)], "CKA_ALWAYS_AUTHENTICATE reads {value:?}");
    // A key that needs the PIN for each use: C_Login(CKU_CONTEXT_SPECIFIC) after C_SignInit
    // (a wrong PIN is refused), one signature, and the next one needs the PIN again.
    let public = [
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::ModulusBits(2048.into()),
        Attribute::PublicExponent(vec![1, 0, 1]),
        Attribute::Token(false),
        Attribute::Verify(true),
    ];
    let private = [
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Sign(true),
        Attribute::AlwaysAuthenticate(true),
        Attribute::Label(label("always-auth")),
    ];
    let (verifier, signer) = s
        .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
        .at("C_GenerateKeyPair(CKA_ALWAYS_AUTHENTICATE)")?;
    let mechanism = Mechanism::Sha256RsaPkcs;
    let message = b"each use needs the PIN";
    s.sign_init(&mechanism, signer).at("C_SignInit")?;
    let wrong = s.login(UserType::ContextSpecific, Some(&AuthPin::from("not-the-pin")));
    expect_rv(wrong, &[RvError::PinIncorrect], "C_Login(CKU_CONTEXT_SPECIFIC) with a wrong PIN")?;
    s.login(UserType::ContextSpecific, Some(&ctx.user_pin())).at("C_Login(CKU_CONTEXT_SPECIFIC)")?;
    s.sign_update(message).at("C_SignUpdate")?;
    let signature = s.sign_final().at("C_SignFinal")?;
    s.verify(&mechanism, verifier, message, &signature).at("C_Verify")?;
    s.sign_init(&mechanism, signer).at("C_SignInit (again)")?;
    let again = s.sign_update(message);
    expect_rv(again, &[RvError::UserNotLoggedIn], "a second signature without the PIN")?;
    drop(s);
    ctx.reset_session();
    let idle = ctx.s().login(UserType::ContextSpecific, Some(&ctx.user_pin()));
    expect_rv(idle, &[RvError::OperationNotInitialized], "C_Login(CKU_CONTEXT_SPECIFIC) with no operation")?;
    Ok(())
}

//! Reading and changing attributes; template errors; session object lifetime; Arca's defaults.

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeInfo, AttributeType as T, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use crate::der;
use crate::keys::{self, merge};
use crate::objects::fingerprint;
use crate::openssl::{self, SigOpts};
use crate::suite::{
    At, Ctx, Fail, Outcome, SoftHsm, ensure, expect_rv, expect_spec, fail, find, get, get_bytes, label,
    message,
};

/// CKA_* values the suite uses that cryptoki has no variant for: a vendor-defined type and an
/// unassigned standard one.
const UNKNOWN_TYPES: [u64; 2] = [0x8000_4152, 0x0000_7F00];

fn info(s: &Session, object: ObjectHandle, kind: T) -> Result<AttributeInfo, Fail> {
    let mut infos =
        s.get_attribute_info(object, &[kind]).at(&format!("C_GetAttributeValue({kind:?}) length query"))?;
    infos.pop().map_or_else(|| fail("no attribute info"), Ok)
}

fn types_of(values: &[Attribute]) -> Vec<T> {
    values.iter().map(Attribute::attribute_type).collect()
}

pub fn sensitive_value_unreadable(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let key = keys::gen_aes(&s, 32, false, "sensitive", &[])?;
    let got = info(&s, key, T::Value)?;
    ensure!(
        matches!(got, AttributeInfo::Sensitive),
        "CKA_VALUE of a sensitive key: {got:?}, expected CKR_ATTRIBUTE_SENSITIVE"
    );
    // The other attributes of the same call still come back (cryptoki drops the unavailable one).
    let values = s
        .get_attributes(key, &[T::Value, T::Label, T::ValueLen])
        .at("C_GetAttributeValue(VALUE, LABEL, VALUE_LEN)")?;
    ensure!(types_of(&values) == [T::Label, T::ValueLen], "returned {:?}", types_of(&values));
    let unextractable = keys::import_aes(&s, &[3; 16], "unextractable", &[Attribute::Extractable(false)])?;
    let got = info(&s, unextractable, T::Value)?;
    ensure!(matches!(got, AttributeInfo::Sensitive), "CKA_VALUE of a non-extractable key: {got:?}");
    let ec = keys::gen_ec(&s, false, "sensitive-ec", &[])?;
    ensure!(
        matches!(info(&s, ec.private, T::Value)?, AttributeInfo::Sensitive),
        "EC private CKA_VALUE is not sensitive"
    );
    let rsa = keys::gen_rsa(&s, 2048, false, "sensitive-rsa")?;
    let exponent = info(&s, rsa.private, T::PrivateExponent)?;
    ensure!(matches!(exponent, AttributeInfo::Sensitive), "CKA_PRIVATE_EXPONENT: {exponent:?}");
    Ok(())
}

pub fn attribute_type_invalid(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let key = keys::gen_aes(&s, 16, false, "type-invalid", &[])?;
    let got = info(&s, key, T::Modulus)?;
    ensure!(
        matches!(got, AttributeInfo::TypeInvalid),
        "CKA_MODULUS of an AES key: {got:?}, expected CKR_ATTRIBUTE_TYPE_INVALID"
    );
    for unknown in UNKNOWN_TYPES {
        let got = info(&s, key, T::VendorDefined(unknown))?;
        ensure!(matches!(got, AttributeInfo::TypeInvalid), "attribute {unknown:#x}: {got:?}");
    }
    let values = s.get_attributes(key, &[T::Modulus, T::Label]).at("C_GetAttributeValue(MODULUS, LABEL)")?;
    ensure!(types_of(&values) == [T::Label], "returned {:?}", types_of(&values));
    Ok(())
}

pub fn extractable_value_readable(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let value: Vec<u8> = (100..132).collect();
    let imported = keys::import_aes(&s, &value, "readable", &[])?;
    ensure!(get_bytes(&s, imported, T::Value)? == value, "CKA_VALUE of an imported key differs");
    let open = [Attribute::Sensitive(false), Attribute::Extractable(true)];
    let generated = keys::gen_aes(&s, 32, false, "readable-gen", &open)?;
    let secret = get_bytes(&s, generated, T::Value)?;
    ensure!(secret.len() == 32, "CKA_VALUE of {} bytes", secret.len());
    let expected = openssl::cipher("aes-256-ecb", &secret, None, false, &[0x5A; 16])?;
    ensure!(fingerprint(&s, generated)? == expected, "the revealed CKA_VALUE is not the key that encrypts");
    Ok(())
}

pub fn public_attributes_readable(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let rsa = keys::gen_rsa(&s, 2048, false, "public-attrs")?;
    for kind in [T::Modulus, T::PublicExponent] {
        let public = get_bytes(&s, rsa.public, kind)?;
        ensure!(
            get_bytes(&s, rsa.private, kind)? == public,
            "{kind:?} differs between the RSA private and public key"
        );
    }
    let msg = message(31);
    let signature = s.sign(&Mechanism::Sha256RsaPkcs, rsa.private, &msg).at("C_Sign")?;
    openssl::verify_message(
        &keys::rsa_spki(&s, rsa.private)?,
        SigOpts { bits: 256, pss: false },
        &msg,
        &signature,
    )?;
    let ec = keys::gen_ec(&s, false, "public-attrs", &[])?;
    ensure!(get_bytes(&s, ec.public, T::EcParams)? == der::P256_PARAMS, "CKA_EC_PARAMS");
    let signature =
        s.sign(&Mechanism::Ecdsa, ec.private, &crate::digest::sha(256, &msg)?).at("C_Sign(CKM_ECDSA)")?;
    openssl::verify_message(
        &keys::ec_spki(&s, ec.public)?,
        SigOpts { bits: 256, pss: false },
        &msg,
        &der::ecdsa_der(&signature),
    )
}

pub fn set_attribute_value(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let key = keys::gen_aes(&s, 16, false, "set-attrs", &[])?;
    s.update_attributes(
        key,
        &[Attribute::Label(label("set-attrs-renamed")), Attribute::Id(vec![0xAB, 0xCD])],
    )
    .at("C_SetAttributeValue(LABEL, ID)")?;
    ensure!(get_bytes(&s, key, T::Label)? == label("set-attrs-renamed"), "CKA_LABEL was not changed");
    ensure!(get_bytes(&s, key, T::Id)? == [0xAB, 0xCD], "CKA_ID was not changed");
    let read_only = [
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ];
    for attribute in read_only {
        let what = format!("C_SetAttributeValue({attribute:?})");
        expect_rv(s.update_attributes(key, &[attribute]), &[RvError::AttributeReadOnly], &what)?;
    }
    // The one-way changes are allowed.
    let open = keys::import_aes(&s, &[9; 16], "one-way", &[])?;
    s.update_attributes(open, &[Attribute::Sensitive(true)]).at("C_SetAttributeValue(SENSITIVE=true)")?;
    s.update_attributes(open, &[Attribute::Extractable(false)])
        .at("C_SetAttributeValue(EXTRACTABLE=false)")?;
    let value = s.get_attribute_info(open, &[T::Value]).at("C_GetAttributeValue(VALUE)")?;
    ensure!(
        matches!(value.as_slice(), [AttributeInfo::Sensitive]),
        "CKA_VALUE after SENSITIVE=true: {value:?}"
    );
    Ok(())
}

pub fn get_object_size(_ctx: &Ctx) -> Outcome {
    crate::suite::skip("cryptoki 0.12 has no C_GetObjectSize wrapper and arca-tests forbids unsafe FFI calls")
}

pub fn session_objects_vanish(ctx: &Ctx) -> Outcome {
    let other = ctx.rw()?;
    let key = keys::gen_aes(&other, 16, false, "vanish", &[])?;
    let name = [Attribute::Label(label("vanish"))];
    ensure!(
        find(&ctx.s(), &name)? == [key],
        "a session object is not visible from another session of the application"
    );
    other.close().at("C_CloseSession")?;
    ensure!(find(&ctx.s(), &name)?.is_empty(), "the session object outlived its session");
    expect_rv(
        ctx.s().get_attributes(key, &[T::Label]),
        &[RvError::ObjectHandleInvalid],
        "C_GetAttributeValue of the vanished object",
    )?;
    Ok(())
}

pub fn template_errors(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let generate = |template: Vec<Attribute>| s.generate_key(&Mechanism::AesKeyGen, &template);
    let base = || keys::aes_template(16, false, "template-errors");
    let mut no_len = base();
    no_len.retain(|a| a.attribute_type() != T::ValueLen);
    expect_rv(generate(no_len), &[RvError::TemplateIncomplete], "CKM_AES_KEY_GEN without CKA_VALUE_LEN")?;
    // PKCS#11 lists CKR_ATTRIBUTE_VALUE_INVALID for C_GenerateKey; CKR_KEY_SIZE_RANGE is only
    // for operations on an existing key.
    let len20 = generate(merge(base(), &[Attribute::ValueLen(20.into())]));
    expect_rv(len20, &[RvError::AttributeValueInvalid], "CKM_AES_KEY_GEN with CKA_VALUE_LEN 20")?;
    // PKCS#11 (C_GenerateKey): a CKA_CLASS or CKA_KEY_TYPE inconsistent with the mechanism is
    // CKR_TEMPLATE_INCONSISTENT.
    let wrong_class = generate(merge(base(), &[Attribute::Class(ObjectClass::PRIVATE_KEY)]));
    let deviation = SoftHsm::Gives(RvError::AttributeValueInvalid);
    expect_spec(
        ctx,
        wrong_class,
        RvError::TemplateInconsistent,
        deviation,
        "CKM_AES_KEY_GEN with CKO_PRIVATE_KEY",
    )?;
    let wrong_type = generate(merge(base(), &[Attribute::KeyType(KeyType::RSA)]));
    expect_spec(ctx, wrong_type, RvError::TemplateInconsistent, deviation, "CKM_AES_KEY_GEN with CKK_RSA")?;
    for unknown in UNKNOWN_TYPES {
        let extra = Attribute::VendorDefined((T::VendorDefined(unknown), vec![1]));
        let what = format!("C_GenerateKey with attribute {unknown:#x}");
        expect_rv(
            generate(merge(base(), std::slice::from_ref(&extra))),
            &[RvError::AttributeTypeInvalid],
            &what,
        )?;
        let import = merge(keys::aes_import_template(&[1; 16], "template-errors"), &[extra]);
        let what = format!("C_CreateObject with attribute {unknown:#x}");
        expect_rv(s.create_object(&import), &[RvError::AttributeTypeInvalid], &what)?;
    }
    let mut no_value = keys::aes_import_template(&[1; 16], "template-errors");
    no_value.retain(|a| a.attribute_type() != T::Value);
    expect_rv(
        s.create_object(&no_value),
        &[RvError::TemplateIncomplete],
        "C_CreateObject(AES) without CKA_VALUE",
    )?;
    let short = keys::aes_import_template(&[1; 15], "template-errors");
    let what = "C_CreateObject(AES) with a 15-byte CKA_VALUE";
    expect_spec(ctx, s.create_object(&short), RvError::AttributeValueInvalid, SoftHsm::Succeeds, what)?;
    Ok(())
}

fn expect_bool(s: &Session, object: ObjectHandle, wanted: Attribute) -> Outcome {
    let got = get(s, object, wanted.attribute_type())?;
    ensure!(got == wanted, "default {:?} is {got:?}, expected {wanted:?}", wanted.attribute_type());
    Ok(())
}

/// Arca's documented defaults; on SoftHSM only the spec's own default (CKA_TOKEN false).
pub fn key_defaults(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let minimal = [Attribute::ValueLen(32.into()), Attribute::Label(label("defaults"))];
    let key = s.generate_key(&Mechanism::AesKeyGen, &minimal).at("C_GenerateKey with a minimal template")?;
    expect_bool(&s, key, Attribute::Token(false))?;
    if !ctx.arca() {
        return Ok(());
    }
    for wanted in [true, true, false, true, true, true, true, false]
        .iter()
        .zip([
            Attribute::Private,
            Attribute::Sensitive,
            Attribute::Extractable,
            Attribute::Encrypt,
            Attribute::Decrypt,
            Attribute::Wrap,
            Attribute::Unwrap,
            Attribute::Derive,
        ])
        .map(|(value, make)| make(*value))
    {
        expect_bool(&s, key, wanted)?;
    }
    ensure!(
        get_bytes(&s, key, T::Id)?.len() == 16,
        "CKA_ID of a key made without one is not 16 bytes (its UUID)"
    );
    let ec = s
        .generate_key_pair(&Mechanism::EccKeyPairGen, &[Attribute::EcParams(der::P256_PARAMS.to_vec())], &[])
        .at("C_GenerateKeyPair(EC) with minimal templates")?;
    expect_bool(&s, ec.1, Attribute::Sign(true))?;
    expect_bool(&s, ec.1, Attribute::Derive(false))?;
    expect_bool(&s, ec.0, Attribute::Verify(true))?;
    let ids = (get_bytes(&s, ec.0, T::Id)?, get_bytes(&s, ec.1, T::Id)?);
    ensure!(ids.0.len() == 16 && ids.0 == ids.1, "the pair's CKA_IDs are {ids:?}, expected one 16-byte UUID");
    Ok(())
}

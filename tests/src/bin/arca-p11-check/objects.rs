//! Making objects: key generation, imports (C_CreateObject), copies, destruction and search.

use std::num::NonZeroUsize;

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType as T, CertificateType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use crate::keys::{self, merge};
use crate::openssl::{self, SigOpts};
use crate::suite::{
    At, Ctx, Fail, Outcome, ensure, expect_rv, find, get, get_bytes, get_ulong, label, message,
};
use crate::{der, digest};

/// AES-ECB of one fixed block: a fingerprint that tells whether two handles hold the same key.
pub fn fingerprint(s: &Session, key: ObjectHandle) -> Result<Vec<u8>, Fail> {
    s.encrypt(&Mechanism::AesEcb, key, &[0x5A; 16]).at("C_Encrypt(CKM_AES_ECB)")
}

fn expect_attr(s: &Session, object: ObjectHandle, wanted: Attribute) -> Outcome {
    let got = get(s, object, wanted.attribute_type())?;
    ensure!(got == wanted, "{:?} is {got:?}, expected {wanted:?}", wanted.attribute_type());
    Ok(())
}

pub fn aes_keygen(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    for token in [false, true] {
        for len in [16u64, 24, 32] {
            let key = keys::gen_aes(&s, len, token, "aes-keygen", &[])?;
            ensure!(get_ulong(&s, key, T::ValueLen)? == len, "CKA_VALUE_LEN is not {len}");
            expect_attr(&s, key, Attribute::Class(ObjectClass::SECRET_KEY))?;
            expect_attr(&s, key, Attribute::KeyType(KeyType::AES))?;
            expect_attr(&s, key, Attribute::Token(token))?;
            expect_attr(&s, key, Attribute::Local(true))?;
            expect_attr(&s, key, Attribute::AlwaysSensitive(true))?;
            expect_attr(&s, key, Attribute::NeverExtractable(true))?;
            ensure!(fingerprint(&s, key)?.len() == 16, "AES-ECB of one block is not one block");
            s.destroy_object(key).at("C_DestroyObject")?;
        }
    }
    Ok(())
}

pub fn generic_secret_keygen(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::ValueLen(32.into()),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Label(label("generic-keygen")),
    ];
    let key = s
        .generate_key(&Mechanism::GenericSecretKeyGen, &template)
        .at("C_GenerateKey(CKM_GENERIC_SECRET_KEY_GEN)")?;
    expect_attr(&s, key, Attribute::KeyType(KeyType::GENERIC_SECRET))?;
    let mac = s.sign(&Mechanism::Sha256Hmac, key, b"generic").at("C_Sign(CKM_SHA256_HMAC)")?;
    ensure!(mac.len() == 32, "HMAC-SHA256 of {} bytes", mac.len());
    s.verify(&Mechanism::Sha256Hmac, key, b"generic", &mac).at("C_Verify(CKM_SHA256_HMAC)")?;
    Ok(())
}

fn rsa_keygen(ctx: &Ctx, bits: u64) -> Outcome {
    let s = ctx.s();
    let pair = keys::gen_rsa(&s, bits, false, "rsa-keygen")?;
    let modulus = get_bytes(&s, pair.public, T::Modulus)?;
    ensure!(modulus.len() as u64 * 8 == bits, "CKA_MODULUS has {} bytes", modulus.len());
    ensure!(get_ulong(&s, pair.public, T::ModulusBits)? == bits, "CKA_MODULUS_BITS is not {bits}");
    let exponent = get_bytes(&s, pair.public, T::PublicExponent)?;
    ensure!(der::strip_zeros(&exponent) == [1, 0, 1], "CKA_PUBLIC_EXPONENT {exponent:?}");
    expect_attr(&s, pair.private, Attribute::Class(ObjectClass::PRIVATE_KEY))?;
    expect_attr(&s, pair.private, Attribute::KeyType(KeyType::RSA))?;
    expect_attr(&s, pair.private, Attribute::Local(true))?;
    let msg = message(100);
    let signature =
        s.sign(&Mechanism::Sha256RsaPkcs, pair.private, &msg).at("C_Sign(CKM_SHA256_RSA_PKCS)")?;
    openssl::verify_message(
        &keys::rsa_spki(&s, pair.public)?,
        SigOpts { bits: 256, pss: false },
        &msg,
        &signature,
    )
}

pub fn rsa_keygen_2048(ctx: &Ctx) -> Outcome {
    rsa_keygen(ctx, 2048)
}

pub fn rsa_keygen_4096(ctx: &Ctx) -> Outcome {
    rsa_keygen(ctx, 4096)
}

pub fn ec_keygen_p256(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let pair = keys::gen_ec(&s, false, "ec-keygen", &[])?;
    ensure!(
        get_bytes(&s, pair.public, T::EcParams)? == der::P256_PARAMS,
        "CKA_EC_PARAMS is not the P-256 OID"
    );
    ensure!(
        get_bytes(&s, pair.private, T::EcParams)? == der::P256_PARAMS,
        "private CKA_EC_PARAMS is not P-256"
    );
    expect_attr(&s, pair.private, Attribute::KeyType(KeyType::EC))?;
    let msg = message(77);
    let signature =
        s.sign(&Mechanism::Ecdsa, pair.private, &digest::sha(256, &msg)?).at("C_Sign(CKM_ECDSA)")?;
    ensure!(signature.len() == 64, "P-256 ECDSA signature of {} bytes", signature.len());
    let spki = keys::ec_spki(&s, pair.public)?;
    openssl::verify_message(&spki, SigOpts { bits: 256, pss: false }, &msg, &der::ecdsa_der(&signature))
}

pub fn import_aes_key(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let value: Vec<u8> = (0..32).collect();
    let key = keys::import_aes(&s, &value, "import-aes", &[])?;
    ensure!(get_ulong(&s, key, T::ValueLen)? == 32, "imported CKA_VALUE_LEN is not 32");
    expect_attr(&s, key, Attribute::Local(false))?;
    let expected = openssl::cipher("aes-256-ecb", &value, None, false, &[0x5A; 16])?;
    ensure!(fingerprint(&s, key)? == expected, "imported key encrypts differently from OpenSSL");
    Ok(())
}

pub fn import_generic_secret(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let value = message(40);
    let key = keys::import_secret(&s, &value, "import-secret", &[])?;
    let msg = message(300);
    let mac = s.sign(&Mechanism::Sha256Hmac, key, &msg).at("C_Sign(CKM_SHA256_HMAC)")?;
    ensure!(mac == openssl::hmac(256, &value, &msg)?, "HMAC differs from OpenSSL's");
    Ok(())
}

pub fn rsa_private_template(parts: &[Vec<u8>], name: &str) -> Vec<Attribute> {
    let part = |i: usize| parts.get(i).cloned().unwrap_or_default();
    vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Sign(true),
        Attribute::Decrypt(true),
        Attribute::Modulus(part(0)),
        Attribute::PublicExponent(part(1)),
        Attribute::PrivateExponent(part(2)),
        Attribute::Prime1(part(3)),
        Attribute::Prime2(part(4)),
        Attribute::Exponent1(part(5)),
        Attribute::Exponent2(part(6)),
        Attribute::Coefficient(part(7)),
        Attribute::Label(label(name)),
    ]
}

pub fn import_rsa_private(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let key = openssl::rsa_key(2048)?;
    let private = s
        .create_object(&rsa_private_template(&key.parts, "import-rsa"))
        .at("C_CreateObject(RSA private key)")?;
    let msg = message(123);
    let signature = s.sign(&Mechanism::Sha256RsaPkcs, private, &msg).at("C_Sign(CKM_SHA256_RSA_PKCS)")?;
    // PKCS#1 v1.5 signatures are deterministic: the token must produce OpenSSL's signature.
    ensure!(signature == openssl::sign_message(&key.file, 256, &msg)?, "signature differs from OpenSSL's");
    let ciphertext = openssl::rsa_encrypt(&key.file.spki, Some(1), b"imported")?;
    let oaep = crate::rsa::oaep(1);
    let plain =
        s.decrypt(&Mechanism::RsaPkcsOaep(oaep), private, &ciphertext).at("C_Decrypt(CKM_RSA_PKCS_OAEP)")?;
    ensure!(plain == b"imported", "OAEP decryption of OpenSSL's ciphertext is wrong");
    Ok(())
}

pub fn import_rsa_public(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let key = openssl::rsa_key(2048)?;
    let template = [
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(false),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::Encrypt(true),
        Attribute::Modulus(key.parts.first().cloned().unwrap_or_default()),
        Attribute::PublicExponent(key.parts.get(1).cloned().unwrap_or_default()),
        Attribute::Label(label("import-rsa-public")),
    ];
    let public = s.create_object(&template).at("C_CreateObject(RSA public key)")?;
    ensure!(keys::rsa_spki(&s, public)? == key.file.spki, "the public key reads back differently");
    let msg = message(64);
    let signature = openssl::sign_message(&key.file, 256, &msg)?;
    s.verify(&Mechanism::Sha256RsaPkcs, public, &msg, &signature).at("C_Verify of OpenSSL's signature")?;
    Ok(())
}

pub fn import_ec_private(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let key = openssl::ec_key()?;
    let template = [
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::EC),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Sign(true),
        Attribute::EcParams(der::P256_PARAMS.to_vec()),
        Attribute::Value(key.scalar.clone()),
        Attribute::Label(label("import-ec")),
    ];
    let private = s.create_object(&template).at("C_CreateObject(EC private key)")?;
    let msg = message(55);
    let signature = s.sign(&Mechanism::Ecdsa, private, &digest::sha(256, &msg)?).at("C_Sign(CKM_ECDSA)")?;
    openssl::verify_message(
        &key.file.spki,
        SigOpts { bits: 256, pss: false },
        &msg,
        &der::ecdsa_der(&signature),
    )
}

pub fn import_ec_public(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let key = openssl::ec_key()?;
    let template = [
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::EC),
        Attribute::Token(false),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::EcParams(der::P256_PARAMS.to_vec()),
        Attribute::EcPoint(der::tlv(der::OCTET_STRING, &key.point)),
        Attribute::Label(label("import-ec-public")),
    ];
    let public = s.create_object(&template).at("C_CreateObject(EC public key)")?;
    let msg = message(90);
    let signature = openssl::sign_message(&key.file, 256, &msg)?;
    let raw = der::ecdsa_raw(&signature, 32)
        .ok_or_else(|| Fail::Failed("cannot parse OpenSSL's signature".into()))?;
    s.verify(&Mechanism::Ecdsa, public, &digest::sha(256, &msg)?, &raw)
        .at("C_Verify(CKM_ECDSA) of OpenSSL's signature")?;
    ensure!(keys::ec_spki(&s, public)? == key.file.spki, "the EC public key reads back differently");
    Ok(())
}

pub fn import_certificate(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let key = openssl::ec_key()?;
    let (cert, subject) = openssl::certificate(&key.file)?;
    let template = [
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Value(cert.clone()),
        Attribute::Subject(subject.clone()),
        Attribute::Id(vec![0xCE, 0x47]),
        Attribute::Label(label("certificate")),
    ];
    let object = s.create_object(&template).at("C_CreateObject(CKO_CERTIFICATE)")?;
    ensure!(get_bytes(&s, object, T::Value)? == cert, "CKA_VALUE of the certificate differs");
    ensure!(get_bytes(&s, object, T::Subject)? == subject, "CKA_SUBJECT differs");
    expect_attr(&s, object, Attribute::CertificateType(CertificateType::X_509))?;
    let found =
        find(&s, &[Attribute::Class(ObjectClass::CERTIFICATE), Attribute::Label(label("certificate"))])?;
    ensure!(found == [object], "find by CKO_CERTIFICATE and label: {found:?}");
    s.destroy_object(object).at("C_DestroyObject(certificate)")?;
    Ok(())
}

pub fn copy_object(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let key = keys::gen_aes(&s, 32, false, "copy-source", &[])?;
    let copy = s.copy_object(key, &[Attribute::Label(label("copy-target"))]).at("C_CopyObject")?;
    ensure!(copy != key, "C_CopyObject returned the source handle");
    ensure!(get_bytes(&s, copy, T::Label)? == label("copy-target"), "the copy's label was not changed");
    ensure!(get_bytes(&s, key, T::Label)? == label("copy-source"), "the source's label changed");
    ensure!(fingerprint(&s, copy)? == fingerprint(&s, key)?, "the copy holds a different key");
    expect_attr(&s, copy, Attribute::Sensitive(true))?;
    s.destroy_object(copy).at("C_DestroyObject(copy)")?;
    ensure!(fingerprint(&s, key).is_ok(), "destroying the copy broke the source");
    Ok(())
}

pub fn destroy_object(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let key = keys::gen_aes(&s, 16, true, "destroy", &[])?;
    s.destroy_object(key).at("C_DestroyObject(token key)")?;
    ensure!(
        find(&s, &[Attribute::Label(label("destroy"))])?.is_empty(),
        "a destroyed token key is still found"
    );
    expect_rv(
        s.get_attributes(key, &[T::Label]),
        &[RvError::ObjectHandleInvalid],
        "C_GetAttributeValue(destroyed)",
    )?;
    expect_rv(s.destroy_object(key), &[RvError::ObjectHandleInvalid], "second C_DestroyObject")?;
    Ok(())
}

pub fn find_objects(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let name = "find";
    let mut made = vec![
        keys::gen_aes(&s, 16, false, name, &[Attribute::Id(vec![1])])?,
        keys::gen_aes(&s, 32, false, name, &[Attribute::Id(vec![2])])?,
        keys::import_secret(&s, &message(32), name, &[Attribute::Id(vec![3])])?,
        keys::gen_aes(&s, 16, true, name, &[Attribute::Id(vec![4])])?,
    ];
    made.sort_by_key(ObjectHandle::handle);
    let by = |extra: &[Attribute]| -> Result<Vec<ObjectHandle>, Fail> {
        let mut found = find(&s, &merge(vec![Attribute::Label(label(name))], extra))?;
        found.sort_by_key(ObjectHandle::handle);
        Ok(found)
    };
    ensure!(by(&[])? == made, "by label: {:?}", by(&[])?);
    ensure!(by(&[Attribute::Class(ObjectClass::SECRET_KEY)])? == made, "by label and class");
    ensure!(by(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])?.is_empty(), "by label and CKO_PRIVATE_KEY");
    let aes = by(&[Attribute::KeyType(KeyType::AES)])?;
    ensure!(aes.len() == 3, "by label and CKK_AES: {} found", aes.len());
    let generic = by(&[Attribute::KeyType(KeyType::GENERIC_SECRET)])?;
    ensure!(generic.len() == 1, "by label and CKK_GENERIC_SECRET: {} found", generic.len());
    ensure!(by(&[Attribute::Id(vec![2])])?.len() == 1, "by label and CKA_ID");
    ensure!(by(&[Attribute::Token(true)])?.len() == 1, "by label and CKA_TOKEN=true");
    ensure!(by(&[Attribute::Token(false)])?.len() == 3, "by label and CKA_TOKEN=false");
    ensure!(by(&[Attribute::Id(vec![9])])?.is_empty(), "by an unused CKA_ID");
    // One handle per C_FindObjects call.
    let one = NonZeroUsize::MIN;
    let mut stepwise: Vec<ObjectHandle> = s
        .iter_objects_with_cache_size(&[Attribute::Label(label(name))], one)
        .at("C_FindObjectsInit")?
        .collect::<Result<_, _>>()
        .at("C_FindObjects(1 at a time)")?;
    stepwise.sort_by_key(ObjectHandle::handle);
    ensure!(stepwise == made, "one at a time: {stepwise:?}");
    for object in made {
        s.destroy_object(object).at("C_DestroyObject")?;
    }
    Ok(())
}

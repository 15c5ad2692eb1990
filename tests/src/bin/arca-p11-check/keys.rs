//! Templates and key factories. Every template sets the attributes the checks rely on explicitly,
//! so that the same check passes on implementations with different defaults.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use crate::der;
use crate::suite::{At, Fail, fail, get_bytes, label};

/// `base` with each attribute of `extra` replacing the one of the same type (or added).
pub fn merge(mut base: Vec<Attribute>, extra: &[Attribute]) -> Vec<Attribute> {
    for attribute in extra {
        base.retain(|a| a.attribute_type() != attribute.attribute_type());
        base.push(attribute.clone());
    }
    base
}

/// A sensitive, non-extractable, private AES key for C_GenerateKey.
pub fn aes_template(len: u64, token: bool, name: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(len.into()),
        Attribute::Token(token),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(true),
        Attribute::Unwrap(true),
        Attribute::Label(label(name)),
    ]
}

/// An AES key to import with C_CreateObject: a non-sensitive, extractable session object.
pub fn aes_import_template(value: &[u8], name: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Value(value.to_vec()),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(true),
        Attribute::Unwrap(true),
        Attribute::Label(label(name)),
    ]
}

/// A generic secret (HMAC) key to import: non-sensitive, extractable, sign/verify.
pub fn secret_import_template(value: &[u8], name: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Value(value.to_vec()),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Label(label(name)),
    ]
}

pub fn gen_aes(
    s: &Session,
    len: u64,
    token: bool,
    name: &str,
    extra: &[Attribute],
) -> Result<ObjectHandle, Fail> {
    let template = merge(aes_template(len, token, name), extra);
    s.generate_key(&Mechanism::AesKeyGen, &template).at(&format!("C_GenerateKey(CKM_AES_KEY_GEN, {len})"))
}

pub fn import_aes(s: &Session, value: &[u8], name: &str, extra: &[Attribute]) -> Result<ObjectHandle, Fail> {
    s.create_object(&merge(aes_import_template(value, name), extra)).at("C_CreateObject(AES key)")
}

pub fn import_secret(
    s: &Session,
    value: &[u8],
    name: &str,
    extra: &[Attribute],
) -> Result<ObjectHandle, Fail> {
    s.create_object(&merge(secret_import_template(value, name), extra)).at("C_CreateObject(generic secret)")
}

/// A key pair's two handles.
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    pub public: ObjectHandle,
    pub private: ObjectHandle,
}

fn private_template(token: bool, name: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Token(token),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Label(label(name)),
    ]
}

fn public_template(token: bool, name: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::Token(token),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::Label(label(name)),
    ]
}

/// An RSA key pair (public exponent 65537) that signs, verifies, encrypts and decrypts.
pub fn gen_rsa(s: &Session, bits: u64, token: bool, name: &str) -> Result<Pair, Fail> {
    let public = merge(
        public_template(token, name),
        &[
            Attribute::KeyType(KeyType::RSA),
            Attribute::ModulusBits(bits.into()),
            Attribute::PublicExponent(vec![1, 0, 1]),
            Attribute::Encrypt(true),
            Attribute::Wrap(true),
        ],
    );
    let private = merge(
        private_template(token, name),
        &[Attribute::KeyType(KeyType::RSA), Attribute::Decrypt(true), Attribute::Unwrap(true)],
    );
    let (public, private) = s
        .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
        .at(&format!("C_GenerateKeyPair(CKM_RSA_PKCS_KEY_PAIR_GEN, {bits})"))?;
    Ok(Pair { public, private })
}

/// A P-256 key pair; `extra` goes into the private template (e.g. CKA_DERIVE).
pub fn gen_ec(s: &Session, token: bool, name: &str, extra: &[Attribute]) -> Result<Pair, Fail> {
    let public = merge(
        public_template(token, name),
        &[Attribute::KeyType(KeyType::EC), Attribute::EcParams(der::P256_PARAMS.to_vec())],
    );
    let private = merge(merge(private_template(token, name), &[Attribute::KeyType(KeyType::EC)]), extra);
    let (public, private) = s
        .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
        .at("C_GenerateKeyPair(CKM_EC_KEY_PAIR_GEN)")?;
    Ok(Pair { public, private })
}

/// The SubjectPublicKeyInfo of an RSA public key object.
pub fn rsa_spki(s: &Session, public: ObjectHandle) -> Result<Vec<u8>, Fail> {
    let modulus = get_bytes(s, public, AttributeType::Modulus)?;
    let exponent = get_bytes(s, public, AttributeType::PublicExponent)?;
    Ok(der::rsa_spki(&modulus, &exponent))
}

/// The raw point of an EC public key object (CKA_EC_POINT must be a DER OCTET STRING).
pub fn ec_point(s: &Session, public: ObjectHandle) -> Result<Vec<u8>, Fail> {
    let value = get_bytes(s, public, AttributeType::EcPoint)?;
    match der::unwrap_ec_point(&value) {
        Some(point) if point.len() == 65 => Ok(point),
        _ => fail(format!(
            "CKA_EC_POINT is not a DER OCTET STRING around a P-256 point: {}",
            crate::suite::hex(&value)
        )),
    }
}

/// The SubjectPublicKeyInfo of an EC public key object.
pub fn ec_spki(s: &Session, public: ObjectHandle) -> Result<Vec<u8>, Fail> {
    let params = get_bytes(s, public, AttributeType::EcParams)?;
    Ok(der::ec_spki(&params, &ec_point(s, public)?))
}

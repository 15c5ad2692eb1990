//! What C_CreateObject turns into stored form: private keys from their components (PKCS#8),
//! public keys from theirs (SubjectPublicKeyInfo), certificates and data objects.

use cryptoki_sys::*;

use super::attributes::incomplete;
use super::attributes::{AttributeMap, Template, boolean, ulong};
use super::crypto_rv::p11;
use super::defaults::Provenance;
use super::schema::Kind;
use crate::crypto::certificate::certificate_fields;
use crate::crypto::{PairSpec, curve25519, der, ec, rsa};
use crate::error::{Error, Result};
use crate::keys::{KeySpec, MAX_GENERIC_SECRET_BYTES};
use crate::secure_mem::SecretBuf;

pub(super) fn without(template: &Template, drop: &[CK_ATTRIBUTE_TYPE]) -> Template {
    Template::parse(
        template
            .iter()
            .filter(|(k, _)| !drop.contains(k) && *k != CKA_CLASS && *k != CKA_KEY_TYPE)
            .map(|(k, v)| (k, v.to_vec())),
    )
    .unwrap_or_default()
}

/// The curve CKA_EC_PARAMS names, which must be one of the key type's (CKK_EC: P-256, P-384, P-521,
/// secp256k1; CKK_EC_EDWARDS: edwards25519; CKK_EC_MONTGOMERY: curve25519).
pub(super) fn curve_of(params: &[u8], key_type: CK_KEY_TYPE) -> Result<PairSpec> {
    let spec = der::ec_spec_from_params(params).map_err(p11)?;
    if super::object::key_type(spec.into()) != key_type {
        return Err(Error::p11(
            CKR_CURVE_NOT_SUPPORTED,
            format!("{} is not a curve of key type 0x{key_type:X}", spec.name()),
        ));
    }
    Ok(spec)
}

/// A crypto failure while making an object from a template: a key of a size the token does not
/// take is a bad attribute value, as PKCS#11 lists CKR_ATTRIBUTE_VALUE_INVALID (not
/// CKR_KEY_SIZE_RANGE, which is for operations on existing keys) for C_CreateObject and
/// C_GenerateKeyPair.
pub(super) fn template_p11(error: crate::crypto::Error) -> Error {
    match error {
        crate::crypto::Error::KeySize(message) => Error::p11(CKR_ATTRIBUTE_VALUE_INVALID, message),
        other => p11(other),
    }
}

fn required<'a>(template: &'a Template, attribute: CK_ATTRIBUTE_TYPE, name: &str) -> Result<&'a [u8]> {
    template.get(attribute).ok_or_else(|| incomplete(&format!("{name} is required")))
}

pub(super) fn private_key_material(template: &Template) -> Result<SecretBuf> {
    match template.ulong(CKA_KEY_TYPE) {
        Some(CKK_RSA) => rsa::rsa_pkcs8_from_components(&der::RsaPrivateComponents {
            modulus: required(template, CKA_MODULUS, "CKA_MODULUS")?,
            public_exponent: required(template, CKA_PUBLIC_EXPONENT, "CKA_PUBLIC_EXPONENT")?,
            private_exponent: required(template, CKA_PRIVATE_EXPONENT, "CKA_PRIVATE_EXPONENT")?,
            prime_1: required(template, CKA_PRIME_1, "CKA_PRIME_1")?,
            prime_2: required(template, CKA_PRIME_2, "CKA_PRIME_2")?,
            exponent_1: required(template, CKA_EXPONENT_1, "CKA_EXPONENT_1")?,
            exponent_2: required(template, CKA_EXPONENT_2, "CKA_EXPONENT_2")?,
            coefficient: required(template, CKA_COEFFICIENT, "CKA_COEFFICIENT")?,
        })
        .map_err(template_p11),
        Some(key_type @ (CKK_EC | CKK_EC_EDWARDS | CKK_EC_MONTGOMERY)) => {
            let spec = curve_of(required(template, CKA_EC_PARAMS, "CKA_EC_PARAMS")?, key_type)?;
            let value = required(template, CKA_VALUE, "CKA_VALUE")?;
            match spec.is_curve25519() {
                true => curve25519::pkcs8_from_private_value(spec, value).map_err(p11),
                false => ec::ec_pkcs8_from_scalar(spec, value).map_err(p11),
            }
        }
        Some(other) => Err(Error::p11(
            CKR_ATTRIBUTE_VALUE_INVALID,
            format!("private keys of type 0x{other:X} are not supported"),
        )),
        None => Err(incomplete("CKA_KEY_TYPE is required")),
    }
}

pub(super) fn public_key_spki(template: &Template) -> Result<Vec<u8>> {
    match template.ulong(CKA_KEY_TYPE) {
        Some(CKK_RSA) => der::rsa_spki(
            required(template, CKA_MODULUS, "CKA_MODULUS")?,
            required(template, CKA_PUBLIC_EXPONENT, "CKA_PUBLIC_EXPONENT")?,
        )
        .map_err(template_p11),
        Some(key_type @ (CKK_EC | CKK_EC_EDWARDS | CKK_EC_MONTGOMERY)) => {
            let spec = curve_of(required(template, CKA_EC_PARAMS, "CKA_EC_PARAMS")?, key_type)?;
            der::ec_spki(spec, required(template, CKA_EC_POINT, "CKA_EC_POINT")?).map_err(p11)
        }
        Some(other) => Err(Error::p11(
            CKR_ATTRIBUTE_VALUE_INVALID,
            format!("public keys of type 0x{other:X} are not supported"),
        )),
        None => Err(incomplete("CKA_KEY_TYPE is required")),
    }
}

fn base_plain(kind: Kind, template: &Template) -> Result<AttributeMap> {
    let mut map = super::defaults::from_template(kind, None, template, &[], Provenance::Supplied)?;
    map.insert(CKA_CLASS, ulong(kind.class()));
    Ok(map)
}

pub(super) fn certificate_map(template: &Template) -> Result<AttributeMap> {
    if template.ulong(CKA_CERTIFICATE_TYPE).unwrap_or(CKC_X_509) != CKC_X_509 {
        return Err(Error::p11(CKR_ATTRIBUTE_VALUE_INVALID, "only X.509 certificates are supported"));
    }
    let value = required(template, CKA_VALUE, "CKA_VALUE")?;
    let fields = certificate_fields(value).map_err(p11)?;
    let mut map = base_plain(Kind::Certificate, template)?;
    map.insert(CKA_CERTIFICATE_TYPE, ulong(CKC_X_509));
    map.entry(CKA_SUBJECT).or_insert(fields.subject.to_vec());
    map.entry(CKA_ISSUER).or_insert(fields.issuer.to_vec());
    map.entry(CKA_SERIAL_NUMBER).or_insert(fields.serial_number.to_vec());
    map.entry(CKA_PUBLIC_KEY_INFO).or_insert(fields.subject_public_key_info.to_vec());
    for attribute in [
        CKA_ID,
        CKA_START_DATE,
        CKA_END_DATE,
        CKA_URL,
        CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
        CKA_HASH_OF_ISSUER_PUBLIC_KEY,
        CKA_CHECK_VALUE,
    ] {
        map.entry(attribute).or_default();
    }
    map.entry(CKA_TRUSTED).or_insert(boolean(false));
    map.entry(CKA_CERTIFICATE_CATEGORY).or_insert(ulong(0));
    map.entry(CKA_JAVA_MIDP_SECURITY_DOMAIN).or_insert(ulong(0));
    map.entry(CKA_NAME_HASH_ALGORITHM).or_insert(ulong(CKM_SHA_1));
    Ok(map)
}

pub(super) fn data_map(template: &Template) -> Result<AttributeMap> {
    let mut map = base_plain(Kind::Data, template)?;
    for attribute in [CKA_APPLICATION, CKA_OBJECT_ID, CKA_VALUE] {
        map.entry(attribute).or_default();
    }
    Ok(map)
}

/// The spec of a secret key from its CKA_KEY_TYPE and length.
pub(super) fn secret_spec(key_type: Option<u64>, len: usize) -> Result<KeySpec> {
    match key_type {
        Some(CKK_AES) => match len {
            16 => Ok(KeySpec::Aes128),
            24 => Ok(KeySpec::Aes192),
            32 => Ok(KeySpec::Aes256),
            _ => Err(Error::p11(
                CKR_ATTRIBUTE_VALUE_INVALID,
                format!("an AES key is 16, 24 or 32 bytes, not {len}"),
            )),
        },
        Some(
            CKK_GENERIC_SECRET | CKK_SHA_1_HMAC | CKK_SHA224_HMAC | CKK_SHA256_HMAC | CKK_SHA384_HMAC
            | CKK_SHA512_HMAC,
        ) => {
            if !(1..=MAX_GENERIC_SECRET_BYTES).contains(&len) {
                return Err(Error::p11(
                    CKR_ATTRIBUTE_VALUE_INVALID,
                    format!("a generic secret is 1 to {MAX_GENERIC_SECRET_BYTES} bytes, not {len}"),
                ));
            }
            Ok(KeySpec::GenericSecret)
        }
        Some(other) => {
            Err(Error::p11(CKR_ATTRIBUTE_VALUE_INVALID, format!("key type 0x{other:X} is not supported")))
        }
        None => Err(incomplete("CKA_KEY_TYPE is required")),
    }
}

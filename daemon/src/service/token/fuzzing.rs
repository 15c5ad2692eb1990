//! The fuzzing door into C_CreateObject (built only with the `fuzzing` feature): the template
//! checks and DER work `TokenService::create_object` does before it touches a session or the
//! store, reached without either. The class dispatch mirrors `create_object` step for step;
//! a change there belongs here too.

use cryptoki_sys::*;

use super::attributes::incomplete;
use super::attributes::{AttributeMap, Template};
use super::create::public_key_map;
use super::crypto_rv::p11;
use super::defaults::{self, Provenance};
use super::schema::Kind;
use super::stored_forms::{
    certificate_map, data_map, private_key_material, public_key_spki, secret_spec, without,
};
use crate::crypto::der;
use crate::error::{Error, Result};
use crate::keys::KeySpec;
use crate::secure_mem::SecretBuf;

/// The CKA_ID a key made here gets when the template names none.
const DEFAULT_ID: &[u8] = b"fuzz";

/// What C_CreateObject would store for `template`: the attributes of the new object (for a key,
/// of its private or secret half), after every check `create_object` makes on the template.
pub fn new_object_attributes(template: &Template) -> Result<AttributeMap> {
    let class = template.ulong(CKA_CLASS).ok_or_else(|| incomplete("CKA_CLASS is required"))?;
    match class {
        CKO_SECRET_KEY => {
            let value = template.get(CKA_VALUE).ok_or_else(|| incomplete("CKA_VALUE is required"))?;
            let spec = secret_spec(template.ulong(CKA_KEY_TYPE), value.len())?;
            if template.ulong(CKA_VALUE_LEN).is_some_and(|len| len as usize != value.len()) {
                return Err(Error::p11(CKR_TEMPLATE_INCONSISTENT, "CKA_VALUE_LEN does not match CKA_VALUE"));
            }
            let material = SecretBuf::copy_from(value)?;
            key_attributes(spec, &material, template)
        }
        CKO_PRIVATE_KEY => {
            let material = private_key_material(template)?;
            let spec = der::pkcs8_spec(material.as_slice()).map_err(p11)?.into();
            key_attributes(spec, &material, template)
        }
        CKO_PUBLIC_KEY => {
            let spki = public_key_spki(template)?;
            let rest = without(template, &[CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_EC_POINT, CKA_EC_PARAMS]);
            public_key_map(&spki, &rest)
        }
        CKO_CERTIFICATE => certificate_map(template),
        CKO_DATA => data_map(template),
        other => Err(Error::p11(
            CKR_ATTRIBUTE_VALUE_INVALID,
            format!("objects of class 0x{other:X} are not supported"),
        )),
    }
}

/// The stored attributes of a new key's secret or private half, once its material loads as the
/// keyring would load it.
fn key_attributes(spec: KeySpec, material: &SecretBuf, template: &Template) -> Result<AttributeMap> {
    spec.parse(material)?;
    defaults::from_template(Kind::of_key(spec, false), Some(spec), template, DEFAULT_ID, Provenance::Supplied)
}

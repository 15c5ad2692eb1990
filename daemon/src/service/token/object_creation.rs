//! C_CreateObject and C_CopyObject: objects from a caller's template (keys from their
//! material or components, public keys, certificates, data) and copies of objects.

use cryptoki_sys::*;

use super::TokenObjects;
use super::app::AppCall;
use super::attributes::{Template, boolean, incomplete, inconsistent};
use super::create::{NewKey, public_key_map};
use super::defaults::Provenance;
use super::key_access::require_enabled;
use super::object::{Body, Lookup, Object, public_plain_attributes};
use super::object_calls::check_changes;
use super::schema::Kind;
use super::stored_forms::{
    certificate_map, data_map, private_key_material, public_key_spki, secret_spec, template_p11, without,
};
use crate::crypto::der;
use crate::error::{Error, Result};
use crate::policy::Action;
use crate::secure_mem::SecretBuf;

impl TokenObjects {
    pub async fn create_object(&self, at: AppCall<'_>, session: u64, template: &Template) -> Result<u64> {
        let AppCall { app, call } = at;
        app.session(session)?;
        let class = template.ulong(CKA_CLASS).ok_or_else(|| incomplete("CKA_CLASS is required"))?;
        let token = template.bool(CKA_TOKEN).unwrap_or(false);
        match class {
            CKO_SECRET_KEY => {
                let value = template.get(CKA_VALUE).ok_or_else(|| incomplete("CKA_VALUE is required"))?;
                let spec = secret_spec(template.ulong(CKA_KEY_TYPE), value.len())?;
                if template.ulong(CKA_VALUE_LEN).is_some_and(|len| len as usize != value.len()) {
                    return Err(inconsistent("CKA_VALUE_LEN does not match CKA_VALUE"));
                }
                let material = SecretBuf::copy_from(value)?;
                let new = NewKey::supplied(spec, material, template);
                Ok(self.token.add_key(AppCall { app, call }, session, new).await?.0)
            }
            CKO_PRIVATE_KEY => {
                let material = private_key_material(template)?;
                let spec = der::pkcs8_spec(material.as_slice()).map_err(template_p11)?.into();
                let new = NewKey::supplied(spec, material, template);
                let (handle, _) = self.token.add_private_only(AppCall { app, call }, session, new).await?;
                Ok(handle)
            }
            CKO_PUBLIC_KEY => {
                let spki = public_key_spki(template)?;
                let map = public_key_map(
                    &spki,
                    &without(template, &[CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_EC_POINT, CKA_EC_PARAMS]),
                )?;
                self.token.add_plain(app, session, map, token).await
            }
            CKO_CERTIFICATE => self.token.add_plain(app, session, certificate_map(template)?, token).await,
            CKO_DATA => self.token.add_plain(app, session, data_map(template)?, token).await,
            other => Err(Error::p11(
                CKR_ATTRIBUTE_VALUE_INVALID,
                format!("objects of class 0x{other:X} are not supported"),
            )),
        }
    }

    pub async fn copy_object(
        &self,
        at: AppCall<'_>,
        session: u64,
        handle: u64,
        template: &Template,
    ) -> Result<u64> {
        let AppCall { app, call } = at;
        let (object, _) = self.token.object(app, handle)?;
        if !object.flag(CKA_COPYABLE) {
            return Err(Error::p11(
                CKR_ACTION_PROHIBITED,
                "the object is not copyable (CKA_COPYABLE is false)",
            ));
        }
        let authorized = self.token.authorize(call, &object, Action::CopyKey)?;
        check_changes(&object, template, true)?;
        let kind = object.kind();
        let token = template.bool(CKA_TOKEN).unwrap_or(false);
        match (&object.body, kind) {
            (Body::Key { key, public: false }, _) => {
                require_enabled(&object)?;
                let authorized = authorized.ok_or_else(|| Error::p11(CKR_KEY_HANDLE_INVALID, "not a key"))?;
                let merged = merge_plain(&object, template)?.with_default(CKA_TOKEN, boolean(token));
                let material = SecretBuf::copy_from(super::operation::material(&authorized)?)?;
                let provenance = match object.attribute(CKA_KEY_GEN_MECHANISM) {
                    Lookup::Value(v) if object.flag(CKA_LOCAL) => Provenance::Generated(
                        super::attributes::decode_ulong(&v).unwrap_or(CK_UNAVAILABLE_INFORMATION),
                    ),
                    _ => Provenance::Supplied,
                };
                let new = NewKey {
                    spec: key.metadata.spec,
                    material,
                    template: &merged,
                    public_template: None,
                    provenance,
                    // The copy keeps the source's policy: copying must not widen who may use the key.
                    policy: Some(key.metadata.policy.clone()),
                };
                if key.metadata.spec.is_secret() {
                    Ok(self.token.add_key(AppCall { app, call }, session, new).await?.0)
                } else {
                    Ok(self.token.add_private_only(AppCall { app, call }, session, new).await?.0)
                }
            }
            (_, Kind::Public(_)) => {
                let map = public_key_map(&object.public_key_der()?, &merge_plain(&object, template)?)?;
                self.token.add_plain(app, session, map, token).await
            }
            _ => {
                let mut map = public_plain_attributes(&object);
                for (attribute, value) in template.iter() {
                    map.insert(attribute, value.to_vec());
                }
                self.token.add_plain(app, session, map, token).await
            }
        }
    }
}

/// The stored attributes of a key half, as a template for a copy.
fn stored_attributes(object: &Object) -> Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)> {
    let kind = object.kind();
    let settable = |a: &CK_ATTRIBUTE_TYPE| {
        !super::defaults::is_computed(*a)
            && !matches!(*a, CKA_LOCAL | CKA_KEY_GEN_MECHANISM | CKA_ALWAYS_SENSITIVE | CKA_NEVER_EXTRACTABLE)
    };
    super::schema::all_attributes(kind)
        .filter(settable)
        .filter_map(|a| match object.attribute(a) {
            Lookup::Value(v) => Some((a, v)),
            _ => None,
        })
        .collect()
}

fn merge_plain(object: &Object, template: &Template) -> Result<Template> {
    let mut pairs = stored_attributes(object);
    pairs.retain(|(k, _)| !template.contains(*k));
    Template::parse(pairs.into_iter().chain(template.iter().map(|(k, v)| (k, v.to_vec()))))
}

//! C_GenerateKey, C_GenerateKeyPair, C_CreateObject and C_CopyObject.

use cryptoki_sys::*;

use super::TokenService;
use super::app::AppCall;
use super::attributes::{AttributeMap, Template, boolean, ulong};
use super::create::{NewHandles, NewKey, public_key_map};
use super::crypto_rv::p11;
use super::defaults::{Provenance, generation_mechanism};
use super::import::{certificate_map, data_map, private_key_material, public_key_spki, without};
use super::mechanisms::{self, Mechanism};
use super::object::{Body, Lookup, Object};
use super::objects::check_changes;
use super::schema::Kind;
use crate::crypto::der;
use crate::crypto::key::generate_pkcs8;
use crate::error::{Error, Result};
use crate::keys::{KeySpec, MAX_GENERIC_SECRET_BYTES};
use crate::policy::Action;
use crate::secure_mem::SecretBuf;

pub(super) fn incomplete(what: &str) -> Error {
    Error::p11(CKR_TEMPLATE_INCOMPLETE, what.to_owned())
}

fn inconsistent(what: &str) -> Error {
    Error::p11(CKR_TEMPLATE_INCONSISTENT, what.to_owned())
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
        Some(CKK_GENERIC_SECRET | CKK_SHA256_HMAC | CKK_SHA384_HMAC | CKK_SHA512_HMAC) => {
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

fn check_class(template: &Template, class: CK_OBJECT_CLASS) -> Result<()> {
    template.require(CKA_CLASS, &ulong(class), "CKA_CLASS does not match the mechanism")
}

fn value_len(template: &Template) -> Result<usize> {
    template
        .ulong(CKA_VALUE_LEN)
        .map(|len| len as usize)
        .ok_or_else(|| incomplete("CKA_VALUE_LEN is required"))
}

impl TokenService {
    pub async fn generate_key(
        &self,
        at: AppCall<'_>,
        session: u64,
        mechanism: &Mechanism,
        template: &Template,
    ) -> Result<u64> {
        let AppCall { app, call } = at;
        app.session(session)?;
        mechanisms::require(mechanism.kind, CKF_GENERATE)?;
        check_class(template, CKO_SECRET_KEY)?;
        if template.contains(CKA_VALUE) {
            return Err(Error::p11(CKR_ATTRIBUTE_READ_ONLY, "CKA_VALUE is made by the token"));
        }
        let key_type = match mechanism.kind {
            CKM_AES_KEY_GEN => CKK_AES,
            _ => template.ulong(CKA_KEY_TYPE).unwrap_or(CKK_GENERIC_SECRET),
        };
        template.require(CKA_KEY_TYPE, &ulong(key_type), "CKA_KEY_TYPE does not match the mechanism")?;
        let len = value_len(template)?;
        let spec = secret_spec(Some(key_type), len)?;
        let material = SecretBuf::random(len)?;
        let template = template.clone().with_default(CKA_KEY_TYPE, ulong(key_type));
        let new = NewKey {
            spec,
            material,
            template: &template,
            public_template: None,
            provenance: Provenance::Generated(mechanism.kind),
            policy: None,
        };
        Ok(self.add_key(AppCall { app, call }, session, new).await?.0)
    }

    pub async fn generate_key_pair(
        &self,
        at: AppCall<'_>,
        session: u64,
        mechanism: &Mechanism,
        public: &Template,
        private: &Template,
    ) -> Result<(u64, u64)> {
        let AppCall { app, call } = at;
        app.session(session)?;
        mechanisms::require(mechanism.kind, CKF_GENERATE_KEY_PAIR)?;
        check_class(public, CKO_PUBLIC_KEY)?;
        check_class(private, CKO_PRIVATE_KEY)?;
        let (spec, key_type) = match mechanism.kind {
            CKM_RSA_PKCS_KEY_PAIR_GEN => (rsa_spec(public)?, CKK_RSA),
            _ => {
                let params = public.get(CKA_EC_PARAMS).or(private.get(CKA_EC_PARAMS));
                (
                    der::ec_spec_from_params(params.ok_or_else(|| incomplete("CKA_EC_PARAMS is required"))?)
                        .map_err(p11)?
                        .into(),
                    CKK_EC,
                )
            }
        };
        for template in [public, private] {
            template.require(CKA_KEY_TYPE, &ulong(key_type), "CKA_KEY_TYPE does not match the mechanism")?;
        }
        let mut private = private.clone();
        if let Some(token) = public.get(CKA_TOKEN).filter(|_| !private.contains(CKA_TOKEN)) {
            private = private.with_default(CKA_TOKEN, token.to_vec());
        }
        let provenance = Provenance::Generated(generation_mechanism(spec));
        let planned =
            self.plan_key(AppCall { app, call }, session, spec, (&private, Some(public)), provenance)?;
        let pair = spec.pair().ok_or_else(|| Error::Crypto(format!("{} is not a key pair", spec.name())))?;
        let material = self
            .kms
            .off_reactor_with_deadline("key pair generation", move || generate_pkcs8(pair).map_err(p11))
            .await?;
        let (private, public) =
            self.commit_key(AppCall { app, call }, session, planned, material, None).await?;
        let public = public.ok_or_else(|| Error::Crypto("a key pair without a public half".into()))?;
        Ok((public, private))
    }

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
                let new = NewKey {
                    spec,
                    material,
                    template,
                    public_template: None,
                    provenance: Provenance::Supplied,
                    policy: None,
                };
                Ok(self.add_key(AppCall { app, call }, session, new).await?.0)
            }
            CKO_PRIVATE_KEY => {
                let material = private_key_material(template)?;
                let spec = der::pkcs8_spec(material.as_slice()).map_err(p11)?.into();
                let new = NewKey {
                    spec,
                    material,
                    template,
                    public_template: None,
                    provenance: Provenance::Supplied,
                    policy: None,
                };
                let (handle, _) = self.add_private_only(AppCall { app, call }, session, new).await?;
                Ok(handle)
            }
            CKO_PUBLIC_KEY => {
                let spki = public_key_spki(template)?;
                let map = public_key_map(
                    &spki,
                    &without(template, &[CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_EC_POINT, CKA_EC_PARAMS]),
                )?;
                self.add_plain(app, session, map, token).await
            }
            CKO_CERTIFICATE => self.add_plain(app, session, certificate_map(template)?, token).await,
            CKO_DATA => self.add_plain(app, session, data_map(template)?, token).await,
            other => Err(Error::p11(
                CKR_ATTRIBUTE_VALUE_INVALID,
                format!("objects of class 0x{other:X} are not supported"),
            )),
        }
    }

    /// An imported, unwrapped or copied key: the public half of a private key is not an object
    /// of its own.
    pub(super) async fn add_private_only(
        &self,
        at: AppCall<'_>,
        session: u64,
        new: NewKey<'_>,
    ) -> Result<NewHandles> {
        let AppCall { app, call } = at;
        let handles = self.add_key(AppCall { app, call }, session, new).await?;
        if let Some(public) = handles.1 {
            let (object, _) = self.object(app, public)?;
            if object.token {
                self.destroy(AppCall { app, call }, session, public).await?;
            } else {
                app.forget(public)?;
            }
        }
        Ok((handles.0, None))
    }

    pub async fn copy_object(
        &self,
        at: AppCall<'_>,
        session: u64,
        handle: u64,
        template: &Template,
    ) -> Result<u64> {
        let AppCall { app, call } = at;
        let (object, _) = self.object(app, handle)?;
        if !object.flag(CKA_COPYABLE) {
            return Err(Error::p11(
                CKR_ACTION_PROHIBITED,
                "the object is not copyable (CKA_COPYABLE is false)",
            ));
        }
        self.authorize(call, &object, Action::CopyKey)?;
        check_changes(&object, template, true)?;
        let kind = object.kind();
        let token = template.bool(CKA_TOKEN).unwrap_or(false);
        match (&object.body, kind) {
            (Body::Key { key, public: false }, _) => {
                super::wrap::require_enabled(&object)?;
                let merged = merge_plain(&object, template)?.with_default(CKA_TOKEN, boolean(token));
                let material = SecretBuf::copy_from(super::operation::material(key)?)?;
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
                    Ok(self.add_key(AppCall { app, call }, session, new).await?.0)
                } else {
                    Ok(self.add_private_only(AppCall { app, call }, session, new).await?.0)
                }
            }
            (_, Kind::Public(_)) => {
                let map = public_key_map(&object.public_key_der()?, &merge_plain(&object, template)?)?;
                self.add_plain(app, session, map, token).await
            }
            _ => {
                let mut map = public_plain_attributes(&object);
                for (attribute, value) in template.iter() {
                    map.insert(attribute, value.to_vec());
                }
                self.add_plain(app, session, map, token).await
            }
        }
    }
}

fn rsa_spec(public: &Template) -> Result<KeySpec> {
    let bits = public.ulong(CKA_MODULUS_BITS).ok_or_else(|| incomplete("CKA_MODULUS_BITS is required"))?;
    if let Some(exponent) = public.get(CKA_PUBLIC_EXPONENT) {
        let significant: Vec<u8> = exponent.iter().copied().skip_while(|b| *b == 0).collect();
        if significant != [1, 0, 1] {
            return Err(Error::p11(CKR_ATTRIBUTE_VALUE_INVALID, "the public exponent must be 65537"));
        }
    }
    match bits {
        2048 => Ok(KeySpec::Rsa2048),
        3072 => Ok(KeySpec::Rsa3072),
        4096 => Ok(KeySpec::Rsa4096),
        _ => Err(Error::p11(CKR_KEY_SIZE_RANGE, format!("RSA keys of 2048, 3072 or 4096 bits, not {bits}"))),
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

/// Every attribute of a plain object, or of a key half as a plain public key.
fn public_plain_attributes(object: &Object) -> AttributeMap {
    super::schema::all_attributes(object.kind())
        .filter(|a| *a != CKA_TOKEN && *a != CKA_UNIQUE_ID)
        .filter_map(|a| match object.attribute(a) {
            Lookup::Value(v) => Some((a, v)),
            _ => None,
        })
        .collect()
}

/// The public half of a key pair as a stored public key (when its private half goes).
pub(super) fn public_key_attributes(public: &Object) -> Result<AttributeMap> {
    let mut map = public_plain_attributes(public);
    map.insert(CKA_LOCAL, boolean(false));
    let spki = public.public_key_der()?;
    map.insert(CKA_PUBLIC_KEY_INFO, spki);
    Ok(map)
}

//! New objects: keys made from material (generated, imported, unwrapped, derived) become keyring
//! keys (token objects) or session keys; public keys, certificates and data become plain objects.

use std::sync::Arc;

use cryptoki_sys::*;
use sha2::Digest;

use super::app::{AppCall, Handle, TokenRef};
use super::attributes::{AttributeMap, Template, boolean, ulong};
use super::crypto_rv::p11;
use super::defaults::{self, Provenance};
use super::object::{Body, Lookup, Object, key_type, modulus_bits, public_key_attributes};
use super::schema::Kind;
use super::stored_forms::secret_spec;
use super::{App, Login, TokenService};
use crate::crypto::der;
use crate::error::{Error, Result};
use crate::keys::{Imported, Key, KeyId, KeyMetadata, KeyOrigin, KeySpec, KeyState, KeyUsage, KeyVersion};
use crate::operation::Operation;
use crate::policy::Action;
use crate::secure_mem::SecretBuf;

/// A key about to exist: its material and the templates of its halves.
pub(super) struct NewKey<'a> {
    pub spec: KeySpec,
    pub material: SecretBuf,
    pub template: &'a Template,
    /// For key pairs: the public half's template.
    pub public_template: Option<&'a Template>,
    pub provenance: Provenance,
    /// The key policy; `None` gives the default (the caller and the administrators).
    pub policy: Option<crate::policy::Policy>,
}

impl<'a> NewKey<'a> {
    /// A key from material the caller supplied (C_CreateObject, C_UnwrapKey, C_DeriveKey), with
    /// the default policy.
    pub(super) fn supplied(spec: KeySpec, material: SecretBuf, template: &'a Template) -> Self {
        Self {
            spec,
            material,
            template,
            public_template: None,
            provenance: Provenance::Supplied,
            policy: None,
        }
    }
}

/// A new key checked and ready for its material (see `TokenService::plan_key`).
pub(super) struct PlannedKey {
    id: KeyId,
    spec: KeySpec,
    halves: crate::keys::TokenAttributes,
    token: bool,
    provenance: Provenance,
}

/// Handles of a new key: (secret or private, public).
pub(super) type NewHandles = (u64, Option<u64>);

fn usage_of(spec: KeySpec, object: &AttributeMap) -> KeyUsage {
    if spec.is_aes() {
        KeyUsage::EncryptDecrypt
    } else if spec.is_secret() {
        KeyUsage::GenerateVerifyMac
    } else if spec == KeySpec::X25519 {
        KeyUsage::KeyAgreement
    } else if spec.is_ecc() || object.get(&CKA_SIGN).is_some_and(|v| v == &[1]) {
        KeyUsage::SignVerify
    } else {
        KeyUsage::EncryptDecrypt
    }
}

impl TokenService {
    /// Checks that the application may create an object with these attributes in this session.
    pub(super) fn check_creation(&self, app: &App, session: u64, token: bool, private: bool) -> Result<()> {
        self.require_writable(app, session, token)?;
        if private && app.login()? != Login::User {
            return Err(Error::p11(CKR_USER_NOT_LOGGED_IN, "private objects need the user logged in"));
        }
        Ok(())
    }

    /// Makes a key of the keyring (CKA_TOKEN true) or of the session, and hands out its handles.
    pub(super) async fn add_key(&self, at: AppCall<'_>, session: u64, new: NewKey<'_>) -> Result<NewHandles> {
        let AppCall { app, call } = at;
        let planned = self.plan_key(
            AppCall { app, call },
            session,
            new.spec,
            (new.template, new.public_template),
            new.provenance,
        )?;
        self.commit_key(AppCall { app, call }, session, planned, new.material, new.policy).await
    }

    /// Checks everything about a new key that does not need its material: the templates of both
    /// halves, the session, the login and the role. Key generation calls this first, so a bad
    /// template never costs an RSA key pair.
    pub(super) fn plan_key(
        &self,
        at: AppCall<'_>,
        session: u64,
        spec: KeySpec,
        (template, public_template): (&Template, Option<&Template>),
        provenance: Provenance,
    ) -> Result<PlannedKey> {
        let AppCall { app, call } = at;
        let id = KeyId::generate();
        let pair = !spec.is_secret();
        let mut object = defaults::from_template(
            Kind::of_key(spec, false),
            Some(spec),
            template,
            id.as_bytes(),
            provenance,
        )?;
        let mut public = AttributeMap::new();
        if pair {
            let public_template = public_template.cloned().unwrap_or_default();
            // Both halves share CKA_ID unless the application set them apart.
            let shared_id =
                template.get(CKA_ID).or(public_template.get(CKA_ID)).unwrap_or(id.as_bytes()).to_vec();
            public = defaults::from_template(
                Kind::of_key(spec, true),
                Some(spec),
                &public_template,
                &shared_id,
                provenance,
            )?;
            object.entry(CKA_ID).and_modify(|v| *v = shared_id.clone());
            public.insert(CKA_ID, shared_id);
        }
        let token = template.bool(CKA_TOKEN).unwrap_or(false);
        let private = object.get(&CKA_PRIVATE).is_some_and(|v| v == &[1]);
        self.check_creation(app, session, token, private)?;
        if token {
            // A token key is a key of the keyring: made by the crypto-officer role, as CreateKey.
            self.keystore.require_administrator(call, Operation::CreateKey).map_err(|denied| {
                Error::p11(CKR_ACTION_PROHIBITED, format!("{denied}; session keys need no administrator"))
            })?;
        }
        let halves = crate::keys::TokenAttributes { object, public, public_destroyed: false };
        Ok(PlannedKey { id, spec, halves, token, provenance })
    }

    /// Gives a planned key its material and makes it a keyring or a session key.
    pub(super) async fn commit_key(
        &self,
        at: AppCall<'_>,
        session: u64,
        planned: PlannedKey,
        material: SecretBuf,
        policy: Option<crate::policy::Policy>,
    ) -> Result<NewHandles> {
        let AppCall { app, call } = at;
        let PlannedKey { id, spec, halves, token, provenance } = planned;
        let pair = !spec.is_secret();
        let policy = policy.unwrap_or_else(|| self.keystore.default_policy(call));
        let key = self.key_from(id, spec, material, halves, provenance, policy)?;
        if token {
            self.keystore.keyring()?.insert(key).await?;
            let secret = app.token_handle(TokenRef::Key { id, public: false })?;
            let public = pair.then(|| app.token_handle(TokenRef::Key { id, public: true })).transpose()?;
            tracing::info!(key_id = %id, spec = spec.name(), "token key created through PKCS#11");
            return Ok((secret, public));
        }
        let key = Arc::new(key);
        let secret = app.add_session_object(
            session,
            Object { body: Body::Key { key: Arc::clone(&key), public: false }, token: false },
        )?;
        let public = pair
            .then(|| {
                app.add_session_object(
                    session,
                    Object { body: Body::Key { key, public: true }, token: false },
                )
            })
            .transpose()?;
        Ok((secret, public))
    }

    fn key_from(
        &self,
        id: KeyId,
        spec: KeySpec,
        material: SecretBuf,
        halves: crate::keys::TokenAttributes,
        provenance: Provenance,
        policy: crate::policy::Policy,
    ) -> Result<Key> {
        let usage = usage_of(spec, &halves.object);
        let now = self.keystore.now();
        let (origin, imported) = match provenance {
            Provenance::Generated(_) => (KeyOrigin::Arca, None),
            Provenance::Supplied => {
                let digest = sha2::Sha256::digest(material.as_slice()).to_vec();
                (KeyOrigin::External, Some(Imported { digest, expires_at: None }))
            }
        };
        let label = halves
            .object
            .get(&CKA_LABEL)
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .unwrap_or_default();
        let version = KeyVersion::new(spec, 1, now, material)?;
        let metadata = KeyMetadata {
            id,
            // The description is printable text, as CreateKey requires; a label's control
            // characters stay in CKA_LABEL only.
            description: label
                .chars()
                .filter(|c| !c.is_control())
                .take(super::super::limits::MAX_DESCRIPTION_CHARS)
                .collect(),
            spec,
            usage,
            origin,
            state: KeyState::Enabled,
            created_at: now,
            tags: Default::default(),
            rotation: None,
            policy,
            imported,
            token: halves,
        };
        Ok(Key { metadata, versions: vec![version] })
    }

    /// Stores a plain object (public key, certificate, data) and hands out its handle.
    pub(super) async fn add_plain(
        &self,
        app: &App,
        session: u64,
        mut map: AttributeMap,
        token: bool,
    ) -> Result<u64> {
        let private = map.get(&CKA_PRIVATE).is_some_and(|v| v == &[1]);
        self.check_creation(app, session, token, private)?;
        map.remove(&CKA_TOKEN);
        if token {
            let id = *KeyId::generate().as_bytes();
            map.insert(CKA_UNIQUE_ID, KeyId::from_bytes(id).to_string().into_bytes());
            self.keystore.keyring()?.put_object(id, map).await?;
            return app.token_handle(TokenRef::Stored(id));
        }
        map.insert(CKA_UNIQUE_ID, KeyId::generate().to_string().into_bytes());
        app.add_session_object(session, Object { body: Body::Plain(Arc::new(map)), token: false })
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

    /// A secret or private key from material that came out of an unwrap or a derivation.
    pub(super) async fn add_supplied_key(
        &self,
        at: AppCall<'_>,
        session: u64,
        material: SecretBuf,
        template: &Template,
    ) -> Result<u64> {
        let AppCall { app, call } = at;
        let class = template
            .ulong(CKA_CLASS)
            .ok_or_else(|| Error::p11(CKR_TEMPLATE_INCOMPLETE, "CKA_CLASS is required"))?;
        let spec = match class {
            CKO_SECRET_KEY => {
                if template.ulong(CKA_VALUE_LEN).is_some_and(|len| len as usize != material.len()) {
                    return Err(Error::p11(
                        CKR_TEMPLATE_INCONSISTENT,
                        "CKA_VALUE_LEN does not match the key",
                    ));
                }
                secret_spec(template.ulong(CKA_KEY_TYPE), material.len())?
            }
            CKO_PRIVATE_KEY => der::pkcs8_spec(material.as_slice()).map_err(p11)?.into(),
            _ => {
                return Err(Error::p11(
                    CKR_TEMPLATE_INCONSISTENT,
                    "only secret and private keys can be unwrapped",
                ));
            }
        };
        let new = NewKey::supplied(spec, material, template);
        Ok(self.add_private_only(AppCall { app, call }, session, new).await?.0)
    }

    pub async fn destroy(&self, at: AppCall<'_>, session: u64, handle: u64) -> Result<()> {
        let AppCall { app, call } = at;
        let (object, named) = self.object(app, handle)?;
        self.require_writable(app, session, object.token)?;
        if !object.flag(CKA_DESTROYABLE) {
            return Err(Error::p11(
                CKR_ACTION_PROHIBITED,
                "the object is not destroyable (CKA_DESTROYABLE is false)",
            ));
        }
        self.authorize(call, &object, Action::ScheduleKeyDeletion)?;
        let keyring = self.keystore.keyring()?;
        match named {
            Handle::Session { .. } => {}
            Handle::Token(TokenRef::Stored(id)) => keyring.delete_object(id).await?,
            Handle::Token(TokenRef::Key { id, public: true }) => {
                let key = keyring.get(id)?;
                let mut metadata = key.metadata.clone();
                metadata.token.public_destroyed = true;
                keyring.replace(&key, key.with_metadata(metadata)?).await?;
            }
            Handle::Token(TokenRef::Key { id, public: false }) => {
                let key = keyring.get(id)?;
                let keeps_public = !key.metadata.spec.is_secret() && !key.metadata.token.public_destroyed;
                if keeps_public {
                    // The public half outlives its private key as a stored public key.
                    let public =
                        Object { body: Body::Key { key: Arc::clone(&key), public: true }, token: true };
                    let mut map = public_key_attributes(&public)?;
                    if let Lookup::Value(unique) = public.attribute(CKA_UNIQUE_ID) {
                        map.insert(CKA_UNIQUE_ID, unique);
                    }
                    keyring.put_object(*id.as_bytes(), map).await?;
                }
                keyring.destroy(id).await?;
                if keeps_public {
                    // Every application keeps its handle of the public half.
                    let (from, to) = (TokenRef::Key { id, public: true }, TokenRef::Stored(*id.as_bytes()));
                    for other in self.all_apps()? {
                        other.rebind(from, to)?;
                    }
                }
                tracing::info!(key_id = %id, "key destroyed through PKCS#11");
            }
        }
        app.forget(handle)
    }
}

/// The full attribute set of a public key given as SubjectPublicKeyInfo, over `template`.
pub(super) fn public_key_map(spki: &[u8], template: &Template) -> Result<AttributeMap> {
    use crate::crypto::der;
    let spec = der::spki_spec(spki).map_err(super::stored_forms::template_p11)?.into();
    let kind = Kind::of_key(spec, true);
    let mut map = defaults::from_template(kind, Some(spec), template, &[], Provenance::Supplied)?;
    map.insert(CKA_CLASS, ulong(CKO_PUBLIC_KEY));
    map.insert(CKA_KEY_TYPE, ulong(key_type(spec)));
    map.insert(CKA_PUBLIC_KEY_INFO, spki.to_vec());
    if spec.is_rsa() {
        let (modulus, exponent) = der::rsa_public_components(spki).map_err(super::crypto_rv::p11)?;
        map.insert(CKA_MODULUS_BITS, ulong(modulus_bits(&modulus)));
        map.insert(CKA_MODULUS, modulus);
        map.insert(CKA_PUBLIC_EXPONENT, exponent);
    } else {
        let params = spec
            .pair()
            .and_then(der::ec_params)
            .ok_or_else(|| Error::p11(CKR_CURVE_NOT_SUPPORTED, "unknown curve"))?;
        map.insert(CKA_EC_PARAMS, params.to_vec());
        map.insert(CKA_EC_POINT, der::ec_point_from_spki(spki).map_err(super::crypto_rv::p11)?);
    }
    map.entry(CKA_TRUSTED).or_insert_with(|| boolean(false));
    Ok(map)
}

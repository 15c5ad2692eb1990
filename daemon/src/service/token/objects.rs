//! Finding objects, reading and changing their attributes, destroying them.

use std::sync::Arc;

use cryptoki_sys::*;

use super::app::AppCall;
use super::app::{Handle, TokenRef};
use super::attributes::{AttributeMap, Template, decode_bool};
use super::object::{Body, Lookup, Object};
use super::schema::{Change, change_rule};
use super::{App, Login, TokenService};
use crate::crypto::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::keys::{Key, KeyMetadata};
use crate::policy::Action;
use crate::service::Call;

fn handle_invalid(handle: u64) -> Error {
    Error::p11(CKR_OBJECT_HANDLE_INVALID, format!("no object {handle}"))
}

impl TokenService {
    /// The object a handle names, if the application may use it now.
    pub(super) fn object(&self, app: &App, handle: u64) -> Result<(Object, Handle)> {
        let named = app.handle(handle)?;
        let object = match &named {
            Handle::Session { object, .. } => object.clone(),
            Handle::Token(TokenRef::Key { id, public }) => {
                let key = match self.kms.keyring()?.get(*id) {
                    Err(Error::KeyNotFound(_)) => return Err(handle_invalid(handle)),
                    other => other?,
                };
                if *public && (key.metadata.spec.is_secret() || key.metadata.token.public_destroyed) {
                    return Err(handle_invalid(handle));
                }
                Object { body: Body::Key { key, public: *public }, token: true }
            }
            Handle::Token(TokenRef::Stored(id)) => {
                let attributes = self.kms.keyring()?.object(id)?.ok_or_else(|| handle_invalid(handle))?;
                Object { body: Body::Plain(attributes), token: true }
            }
        };
        if object.is_private() && app.login()? != Login::User {
            return Err(Error::p11(CKR_USER_NOT_LOGGED_IN, "private objects need the user logged in"));
        }
        Ok((object, named))
    }

    /// Checks the key policy of a key for `action`. Session keys have one too: the default for
    /// the principal that made them, or the policy of the token key they were copied from.
    pub(super) fn authorize(&self, call: &Call, object: &Object, action: Action) -> Result<()> {
        match &object.body {
            Body::Key { key, .. } => {
                self.kms.authorize(call, Arc::clone(key), action, &EncryptionContext::new()).map(drop)
            }
            Body::Plain(_) => Ok(()),
        }
    }

    pub fn get_attributes(
        &self,
        at: AppCall<'_>,
        session: u64,
        handle: u64,
        types: &[u64],
    ) -> Result<Vec<Lookup>> {
        let AppCall { app, call } = at;
        app.session(session)?;
        let (object, _) = self.object(app, handle)?;
        self.authorize(call, &object, Action::DescribeKey)?;
        Ok(types.iter().map(|kind| object.attribute(*kind)).collect())
    }

    pub fn object_size(&self, app: &App, session: u64, handle: u64) -> Result<u64> {
        app.session(session)?;
        Ok(self.object(app, handle)?.0.size())
    }

    pub fn find_init(&self, at: AppCall<'_>, session: u64, template: &Template) -> Result<()> {
        let AppCall { app, call } = at;
        let session = app.session(session)?;
        let mut session = session.lock().map_err(|_| super::poisoned())?;
        if session.search.is_some() {
            return Err(Error::p11(CKR_OPERATION_ACTIVE, "a search is active: call C_FindObjectsFinal"));
        }
        let user = app.login()? == Login::User;
        let visible = |object: &Object| (user || !object.is_private()) && object.matches(template);
        let mut found = std::collections::VecDeque::new();
        if template.bool(CKA_TOKEN) != Some(false) {
            let keyring = self.kms.keyring()?;
            for key in keyring.all()? {
                for public in [false, true] {
                    if public && (key.metadata.spec.is_secret() || key.metadata.token.public_destroyed) {
                        continue;
                    }
                    let object = Object { body: Body::Key { key: Arc::clone(&key), public }, token: true };
                    if visible(&object) && self.kms.permits(call, &key, Action::DescribeKey) {
                        found.push_back(app.token_handle(TokenRef::Key { id: key.metadata.id, public })?);
                    }
                }
            }
            for (id, attributes) in keyring.objects()? {
                if visible(&Object { body: Body::Plain(attributes), token: true }) {
                    found.push_back(app.token_handle(TokenRef::Stored(id))?);
                }
            }
        }
        if template.bool(CKA_TOKEN) != Some(true) {
            let mut own: Vec<u64> =
                app.session_objects()?.into_iter().filter(|(_, o)| visible(o)).map(|(h, _)| h).collect();
            own.sort_unstable();
            found.extend(own);
        }
        session.search = Some(found);
        Ok(())
    }

    pub fn find(&self, app: &App, session: u64, max: usize) -> Result<Vec<u64>> {
        let session = app.session(session)?;
        let mut session = session.lock().map_err(|_| super::poisoned())?;
        let search = session
            .search
            .as_mut()
            .ok_or_else(|| Error::p11(CKR_OPERATION_NOT_INITIALIZED, "call C_FindObjectsInit first"))?;
        let take = max.min(search.len());
        Ok(search.drain(..take).collect())
    }

    pub fn find_final(&self, app: &App, session: u64) -> Result<()> {
        let session = app.session(session)?;
        let mut session = session.lock().map_err(|_| super::poisoned())?;
        match session.search.take() {
            Some(_) => Ok(()),
            None => Err(Error::p11(CKR_OPERATION_NOT_INITIALIZED, "no search is active")),
        }
    }

    /// Token objects may only change in a R/W session.
    pub(super) fn require_writable(&self, app: &App, session: u64, token: bool) -> Result<()> {
        let rw = app.session(session)?.lock().map_err(|_| super::poisoned())?.rw;
        if token && !rw {
            return Err(Error::p11(CKR_SESSION_READ_ONLY, "token objects change only in a R/W session"));
        }
        Ok(())
    }

    pub async fn set_attributes(
        &self,
        at: AppCall<'_>,
        session: u64,
        handle: u64,
        template: &Template,
    ) -> Result<()> {
        let AppCall { app, call } = at;
        let (object, named) = self.object(app, handle)?;
        self.require_writable(app, session, object.token)?;
        if !object.flag(CKA_MODIFIABLE) {
            return Err(Error::p11(
                CKR_ACTION_PROHIBITED,
                "the object is not modifiable (CKA_MODIFIABLE is false)",
            ));
        }
        self.authorize(call, &object, Action::UpdateKeyDescription)?;
        check_changes(&object, template, false)?;
        match (&object.body, named) {
            (Body::Key { key, public }, named) => {
                let changed = with_token_attributes(key, *public, template)?;
                match named {
                    Handle::Token(_) => self.kms.keyring()?.replace(key, changed).await.map(|_| ()),
                    Handle::Session { .. } => {
                        let object = Object {
                            body: Body::Key { key: Arc::new(changed), public: *public },
                            token: false,
                        };
                        app.replace_session_object(handle, object)
                    }
                }
            }
            (Body::Plain(map), named) => {
                let mut map = AttributeMap::clone(map);
                for (attribute, value) in template.iter() {
                    map.insert(attribute, value.to_vec());
                }
                match named {
                    Handle::Token(TokenRef::Stored(id)) => self.kms.keyring()?.put_object(id, map).await,
                    _ => app.replace_session_object(
                        handle,
                        Object { body: Body::Plain(Arc::new(map)), token: false },
                    ),
                }
            }
        }
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
        let keyring = self.kms.keyring()?;
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
                    let mut map = super::keygen::public_key_attributes(&public)?;
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

/// Checks every attribute of a template against the object's kind and the change rules.
pub(super) fn check_changes(object: &Object, template: &Template, copying: bool) -> Result<()> {
    let kind = object.kind();
    for (attribute, value) in template.iter() {
        if !kind.has(attribute) {
            return Err(Error::p11(CKR_ATTRIBUTE_TYPE_INVALID, format!("no attribute 0x{attribute:08X}")));
        }
        check_change(object, attribute, value, copying)?;
    }
    Ok(())
}

/// Checks one attribute change against PKCS#11's rules (`copying`: C_CopyObject may also set
/// CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE and CKA_DESTROYABLE).
pub(super) fn check_change(
    object: &Object,
    attribute: CK_ATTRIBUTE_TYPE,
    value: &[u8],
    copying: bool,
) -> Result<()> {
    let current = match object.attribute(attribute) {
        Lookup::Value(v) => decode_bool(&v),
        _ => None,
    };
    let wanted = decode_bool(value);
    let read_only =
        || Error::p11(CKR_ATTRIBUTE_READ_ONLY, format!("attribute 0x{attribute:08X} cannot be changed"));
    match change_rule(attribute) {
        Change::Free => Ok(()),
        Change::OnlyToTrue if wanted == Some(true) || wanted == current => Ok(()),
        Change::OnlyToFalse if wanted == Some(false) || wanted == current => Ok(()),
        Change::OnCopy if copying => {
            if attribute == CKA_MODIFIABLE && current == Some(false) && wanted == Some(true) {
                return Err(read_only());
            }
            Ok(())
        }
        _ => Err(read_only()),
    }
}

/// The same key with `template` applied to the stored attributes of one half.
pub(super) fn with_token_attributes(key: &Key, public: bool, template: &Template) -> Result<Key> {
    let mut metadata: KeyMetadata = key.metadata.clone();
    for half in [false, true] {
        let map = if half { &mut metadata.token.public } else { &mut metadata.token.object };
        if map.is_empty() && !(half && key.metadata.spec.is_secret()) {
            *map = super::defaults::for_kms_key(&key.metadata, half);
        }
    }
    let map = if public { &mut metadata.token.public } else { &mut metadata.token.object };
    for (attribute, value) in template.iter() {
        if !super::defaults::is_computed(attribute) {
            map.insert(attribute, value.to_vec());
        }
    }
    key.with_metadata(metadata)
}

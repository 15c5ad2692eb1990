//! Finding objects, reading and changing their attributes, destroying them.

use std::sync::Arc;

use cryptoki_sys::*;

use super::app::AppCall;
use super::app::{Handle, TokenRef};
use super::attributes::{AttributeMap, Template, decode_bool};
use super::object::{Body, Lookup, Object};
use super::schema::{Change, change_rule};
use super::{App, Login, TokenObjects};
use crate::error::{Error, Result};
use crate::keys::{Key, KeyMetadata};
use crate::policy::Action;

impl TokenObjects {
    /// C_DestroyObject.
    pub async fn destroy(&self, at: AppCall<'_>, session: u64, handle: u64) -> Result<()> {
        self.token.destroy(at, session, handle).await
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
        let (object, _) = self.token.object(app, handle)?;
        self.token.authorize(call, &object, Action::DescribeKey)?;
        Ok(types.iter().map(|kind| object.attribute(*kind)).collect())
    }

    pub fn object_size(&self, app: &App, session: u64, handle: u64) -> Result<u64> {
        app.session(session)?;
        Ok(self.token.object(app, handle)?.0.size())
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
            let keyring = self.token.keystore.keyring()?;
            for key in keyring.all()? {
                for public in [false, true] {
                    if public && (key.metadata.spec.is_secret() || key.metadata.token.public_destroyed) {
                        continue;
                    }
                    let object = Object { body: Body::Key { key: Arc::clone(&key), public }, token: true };
                    if visible(&object) && self.token.keystore.permits(call, &key, Action::DescribeKey) {
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

    pub async fn set_attributes(
        &self,
        at: AppCall<'_>,
        session: u64,
        handle: u64,
        template: &Template,
    ) -> Result<()> {
        let AppCall { app, call } = at;
        let (object, named) = self.token.object(app, handle)?;
        self.token.require_writable(app, session, object.token)?;
        if !object.flag(CKA_MODIFIABLE) {
            return Err(Error::p11(
                CKR_ACTION_PROHIBITED,
                "the object is not modifiable (CKA_MODIFIABLE is false)",
            ));
        }
        self.token.authorize(call, &object, Action::UpdateKeyDescription)?;
        check_changes(&object, template, false)?;
        match (&object.body, named) {
            (Body::Key { key, public }, named) => {
                let changed = with_token_attributes(key, *public, template)?;
                match named {
                    Handle::Token(_) => {
                        self.token.keystore.keyring()?.replace(key, changed).await.map(|_| ())
                    }
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
                    Handle::Token(TokenRef::Stored(id)) => {
                        self.token.keystore.keyring()?.put_object(id, map).await
                    }
                    _ => app.replace_session_object(
                        handle,
                        Object { body: Body::Plain(Arc::new(map)), token: false },
                    ),
                }
            }
        }
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

//! ListKeys: pages of key ids in id order, filtered by spec, usage, state, origin and tag before
//! paging (a page holds only matching keys; the page token is the last id of the previous page,
//! so tokens keep working as keys come and go).

use super::KeyService;
use crate::error::{Error, Result};
use crate::keys::{KeyId, KeyMetadata, KeyOrigin, KeySpec, KeyState, KeyUsage};
use crate::service::limits::{DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};

/// A key state to list by; `Unavailable` is a key whose stored record failed its integrity check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    Enabled,
    Disabled,
    PendingDeletion,
    PendingImport,
    Unavailable,
}

impl StateFilter {
    fn matches(self, state: KeyState) -> bool {
        matches!(
            (self, state),
            (Self::Enabled, KeyState::Enabled)
                | (Self::Disabled, KeyState::Disabled)
                | (Self::PendingDeletion, KeyState::PendingDeletion { .. })
                | (Self::PendingImport, KeyState::PendingImport)
        )
    }
}

/// ListKeys filters; `None` matches any key. A key is listed when it matches every filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFilter {
    pub spec: Option<KeySpec>,
    pub usage: Option<KeyUsage>,
    pub state: Option<StateFilter>,
    pub origin: Option<KeyOrigin>,
    /// A tag key, and the value it must have (`None`: any value).
    pub tag: Option<(String, Option<String>)>,
}

impl KeyFilter {
    /// Whether a key matches; `None` is a key whose record is unavailable, which only the
    /// `Unavailable` state filter lists (it has no metadata to match anything else against).
    pub fn matches(&self, metadata: Option<&KeyMetadata>) -> bool {
        let Some(meta) = metadata else {
            return *self == Self { state: Some(StateFilter::Unavailable), ..Self::default() }
                || *self == Self::default();
        };
        self.spec.is_none_or(|spec| spec == meta.spec)
            && self.usage.is_none_or(|usage| usage == meta.usage)
            && self.state.is_none_or(|state| state.matches(meta.state))
            && self.origin.is_none_or(|origin| origin == meta.origin)
            && self.tag.as_ref().is_none_or(|(key, value)| match (meta.tags.get(key), value) {
                (Some(found), Some(wanted)) => found == wanted,
                (found, None) => found.is_some(),
                (None, Some(_)) => false,
            })
    }
}

impl KeyService {
    /// One page of the ids of matching keys, and the token of the next page when more match.
    pub fn list_keys(
        &self,
        limit: usize,
        page_token: &str,
        filter: &KeyFilter,
    ) -> Result<(Vec<KeyId>, Option<String>)> {
        let limit = match limit {
            0 => DEFAULT_LIST_LIMIT,
            n if n <= MAX_LIST_LIMIT => n,
            n => return Err(Error::invalid(format!("limit is {n}; it must be 1 to {MAX_LIST_LIMIT}"))),
        };
        let after = match page_token {
            "" => None,
            token => Some(
                token
                    .parse::<KeyId>()
                    .map_err(|_| Error::invalid("page_token is not a token ListKeys returned"))?,
            ),
        };
        if filter.tag.as_ref().is_some_and(|(key, _)| key.is_empty()) {
            return Err(Error::invalid("the tag filter needs a tag key"));
        }
        let (ids, more) = self.keystore.keyring()?.list(after, limit, |metadata| filter.matches(metadata))?;
        let next = if more { ids.last().map(ToString::to_string) } else { None };
        Ok((ids, next))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn metadata(spec: KeySpec, state: KeyState, tags: &[(&str, &str)]) -> KeyMetadata {
        KeyMetadata {
            id: KeyId::generate(),
            description: String::new(),
            spec,
            usage: spec.usages().first().copied().unwrap_or(KeyUsage::EncryptDecrypt),
            origin: KeyOrigin::Arca,
            state,
            created_at: 0,
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
            rotation: None,
            policy: crate::policy::Policy::default_for("uid:1", &[]),
            imported: None,
            token: Default::default(),
        }
    }

    #[test]
    fn every_filter_must_match() {
        let signer = metadata(KeySpec::EccNistP256, KeyState::Enabled, &[("team", "a")]);
        let pending = metadata(KeySpec::Aes256, KeyState::PendingDeletion { at: 9 }, &[("team", "b")]);
        let any = KeyFilter::default();
        assert!(any.matches(Some(&signer)) && any.matches(Some(&pending)) && any.matches(None));

        let spec = KeyFilter { spec: Some(KeySpec::EccNistP256), ..any.clone() };
        assert!(spec.matches(Some(&signer)) && !spec.matches(Some(&pending)) && !spec.matches(None));
        let usage = KeyFilter { usage: Some(KeyUsage::EncryptDecrypt), ..any.clone() };
        assert!(!usage.matches(Some(&signer)) && usage.matches(Some(&pending)));
        let state = KeyFilter { state: Some(StateFilter::PendingDeletion), ..any.clone() };
        assert!(!state.matches(Some(&signer)) && state.matches(Some(&pending)));
        let origin = KeyFilter { origin: Some(KeyOrigin::External), ..any.clone() };
        assert!(!origin.matches(Some(&signer)));

        let tag = |key: &str, value: Option<&str>| KeyFilter {
            tag: Some((key.to_owned(), value.map(str::to_owned))),
            ..KeyFilter::default()
        };
        assert!(tag("team", Some("a")).matches(Some(&signer)));
        assert!(!tag("team", Some("a")).matches(Some(&pending)));
        assert!(tag("team", None).matches(Some(&pending)));
        assert!(!tag("owner", None).matches(Some(&signer)));
        let both = KeyFilter { spec: Some(KeySpec::EccNistP256), ..tag("team", Some("b")) };
        assert!(!both.matches(Some(&signer)) && !both.matches(Some(&pending)));
    }

    #[test]
    fn unavailable_keys_match_only_their_own_state_filter() {
        let unavailable = KeyFilter { state: Some(StateFilter::Unavailable), ..KeyFilter::default() };
        assert!(unavailable.matches(None));
        let enabled = metadata(KeySpec::Aes256, KeyState::Enabled, &[]);
        assert!(!unavailable.matches(Some(&enabled)));
        let with_spec = KeyFilter { spec: Some(KeySpec::Aes256), ..unavailable };
        assert!(!with_spec.matches(None));
    }
}

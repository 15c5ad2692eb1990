//! A key's tags and description after its creation: TagResource, UntagResource,
//! ListResourceTags and UpdateKeyDescription. Each change is one store transaction on the key
//! record, like EnableKey; a key pending deletion keeps what it has (as KMS, KMSInvalidState).
//! The tag rules are KMS's, and CreateKey checks its tags with the same function.

use std::collections::BTreeMap;

use super::KeyService;
use crate::error::{Echo, Error, Result};
use crate::keys::{KeyMetadata, KeyState};
use crate::policy::Action;
use crate::service::limits::{MAX_DESCRIPTION_CHARS, MAX_TAGS, check_printable};
use crate::service::{Authorized, Call};

/// Tag keys are 1 to 128 characters, values 0 to 256.
pub(crate) const MAX_TAG_KEY_CHARS: usize = 128;
pub(crate) const MAX_TAG_VALUE_CHARS: usize = 256;
/// ListResourceTags pages: 1 to 50 tags, 50 when the caller gives no limit.
pub(crate) const MAX_TAG_LIST_LIMIT: usize = 50;
/// Tag keys under this prefix are the cloud provider's own; KMS refuses them, and so does Arca.
const RESERVED_TAG_PREFIX: &str = "aws:";

/// One tag key as KMS accepts it: 1 to 128 printable characters, not `aws:…`.
fn check_tag_key(key: &str) -> Result<()> {
    let chars = key.chars().count();
    if !(1..=MAX_TAG_KEY_CHARS).contains(&chars) {
        return Err(Error::invalid(format!(
            "tag key {:?} has {chars} characters; a tag key has 1 to {MAX_TAG_KEY_CHARS}",
            Echo(key)
        )));
    }
    check_printable("tag key", key)?;
    if key.get(..RESERVED_TAG_PREFIX.len()).is_some_and(|head| head.eq_ignore_ascii_case(RESERVED_TAG_PREFIX))
    {
        return Err(Error::invalid(format!(
            "tag key {:?}: tag keys starting with {RESERVED_TAG_PREFIX:?} are reserved",
            Echo(key)
        )));
    }
    Ok(())
}

/// Tags as KMS accepts them: each key and value within its bounds, printable, and at most
/// [`MAX_TAGS`] on one key.
pub(crate) fn check_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    for (key, value) in tags {
        check_tag_key(key)?;
        let field = format!("the value of tag {:?}", Echo(key));
        if value.chars().count() > MAX_TAG_VALUE_CHARS {
            return Err(Error::invalid(format!("{field} exceeds {MAX_TAG_VALUE_CHARS} characters")));
        }
        check_printable(&field, value)?;
    }
    if tags.len() > MAX_TAGS {
        return Err(Error::invalid(format!("{} tags given, at most {MAX_TAGS} allowed", tags.len())));
    }
    Ok(())
}

/// A description as KMS accepts it: at most 8192 printable characters.
pub(crate) fn check_description(description: &str) -> Result<()> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Error::invalid(format!("description exceeds {MAX_DESCRIPTION_CHARS} characters")));
    }
    check_printable("description", description)
}

/// One page of ListResourceTags and the marker of the next page when more follow.
pub type TagPage = (Vec<(String, String)>, Option<String>);

impl KeyService {
    /// Adds `tags` to the key, a value given for a key it already carries replacing the old one.
    pub async fn tag_resource(
        &self,
        call: &Call,
        key_ref: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<()> {
        check_tags(&tags)?;
        let key = self.metadata_key(call, key_ref, Action::TagResource)?;
        let mut merged = key.metadata.tags.clone();
        merged.extend(tags);
        if merged.len() > MAX_TAGS {
            return Err(Error::invalid(format!(
                "the key would carry {} tags; at most {MAX_TAGS} allowed",
                merged.len()
            )));
        }
        self.store_metadata(&key, KeyMetadata { tags: merged, ..key.metadata.clone() }).await
    }

    /// Removes the tags of these keys; a tag key the key does not carry is no error.
    pub async fn untag_resource(&self, call: &Call, key_ref: &str, tag_keys: &[String]) -> Result<()> {
        if tag_keys.is_empty() {
            return Err(Error::invalid("tag_keys is empty: name at least one tag key"));
        }
        for key in tag_keys {
            check_tag_key(key)?;
        }
        let key = self.metadata_key(call, key_ref, Action::UntagResource)?;
        let mut tags = key.metadata.tags.clone();
        tags.retain(|name, _| !tag_keys.contains(name));
        if tags == key.metadata.tags {
            return Ok(());
        }
        self.store_metadata(&key, KeyMetadata { tags, ..key.metadata.clone() }).await
    }

    /// One page of the key's tags in tag-key order; `marker` is the last tag key of the previous
    /// page (empty for the first), `limit` 1 to 50 (0 for 50).
    pub fn list_resource_tags(
        &self,
        call: &Call,
        key_ref: &str,
        limit: usize,
        marker: &str,
    ) -> Result<TagPage> {
        let limit = match limit {
            0 => MAX_TAG_LIST_LIMIT,
            n if n <= MAX_TAG_LIST_LIMIT => n,
            n => return Err(Error::invalid(format!("limit is {n}; it must be 1 to {MAX_TAG_LIST_LIMIT}"))),
        };
        let key = self.metadata_key(call, key_ref, Action::ListResourceTags)?;
        let mut rest =
            key.metadata.tags.iter().filter(|(name, _)| marker.is_empty() || name.as_str() > marker);
        let page: Vec<(String, String)> =
            rest.by_ref().take(limit).map(|(k, v)| (k.clone(), v.clone())).collect();
        let next = if rest.next().is_some() { page.last().map(|(name, _)| name.clone()) } else { None };
        Ok((page, next))
    }

    pub async fn update_key_description(&self, call: &Call, key_ref: &str, description: &str) -> Result<()> {
        check_description(description)?;
        let key = self.metadata_key(call, key_ref, Action::UpdateKeyDescription)?;
        if key.metadata.description == description {
            return Ok(());
        }
        let changed = KeyMetadata { description: description.to_owned(), ..key.metadata.clone() };
        self.store_metadata(&key, changed).await
    }

    /// The key `key_ref` names, authorised for `action`, in a state whose metadata may change or
    /// be read: anything but PendingDeletion.
    fn metadata_key(&self, call: &Call, key_ref: &str, action: Action) -> Result<Authorized> {
        let key = self.keystore.authorized_key(call, key_ref, action)?;
        match key.metadata.state {
            KeyState::Enabled | KeyState::Disabled | KeyState::PendingImport => Ok(key),
            state @ KeyState::PendingDeletion { .. } => Err(Error::KeyNotEnabled {
                key: key.metadata.id,
                state: state.name(),
                operation: action.name(),
            }),
        }
    }

    /// The key with new metadata, durably, in one transaction (refused with `Conflict` if another
    /// request changed it meanwhile).
    async fn store_metadata(&self, key: &Authorized, metadata: KeyMetadata) -> Result<()> {
        let keyring = self.keystore.keyring()?;
        keyring.replace(key, key.with_metadata(metadata)?).await?;
        tracing::info!(key_id = %key.metadata.id, "key metadata changed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn tags_follow_the_kms_rules() {
        assert!(check_tags(&tags(&[("team", ""), (&"k".repeat(128), &"v".repeat(256))])).is_ok());
        for bad in [
            tags(&[("", "v")]),
            tags(&[(&"k".repeat(129), "v")]),
            tags(&[("team", &"v".repeat(257))]),
            tags(&[("aws:owner", "v")]),
            tags(&[("AWS:owner", "v")]),
            tags(&[("tab\t", "v")]),
        ] {
            assert!(matches!(check_tags(&bad), Err(Error::InvalidArgument(_))), "{bad:?}");
        }
        let many: BTreeMap<_, _> = (0..51).map(|n| (format!("k{n}"), String::new())).collect();
        assert!(check_tags(&many).is_err());
        assert!(
            check_description(&"d".repeat(8192)).is_ok() && check_description(&"d".repeat(8193)).is_err()
        );
    }
}

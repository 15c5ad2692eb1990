//! Key references (id or alias), aliases, and enabling or disabling keys.

use super::KeyService;
use crate::crypto::context::EncryptionContext;
use crate::error::{Echo, Error, Result};
use crate::keys::{KeyId, KeyState};
use crate::policy::Action;
use crate::service::Call;
use crate::service::limits::{DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};

pub(crate) const ALIAS_PREFIX: &str = "alias/";

/// An alias name and the key it points at.
pub(crate) type Alias = (String, KeyId);
/// Names under these prefixes are Arca's own, and the ones KMS keeps for its AWS managed keys.
const RESERVED_PREFIXES: [&str; 2] = ["alias/arca/", "alias/aws/"];
const MAX_ALIAS_BYTES: usize = 256;

fn check_alias_name(name: &str) -> Result<()> {
    let invalid = |why: String| Err(Error::InvalidAliasName(why));
    let Some(rest) = name.strip_prefix(ALIAS_PREFIX) else {
        return invalid(format!("alias name {:?} must start with {ALIAS_PREFIX:?}", Echo(name)));
    };
    if rest.is_empty() || name.len() > MAX_ALIAS_BYTES {
        return invalid(format!("alias name {:?} must be 7 to {MAX_ALIAS_BYTES} bytes", Echo(name)));
    }
    if !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b)) {
        return invalid(format!(
            "alias name {:?} may only hold letters, digits, '/', '_' and '-'",
            Echo(name)
        ));
    }
    if let Some(reserved) = RESERVED_PREFIXES.iter().find(|prefix| name.starts_with(**prefix)) {
        return invalid(format!("alias names under {reserved:?} are reserved"));
    }
    Ok(())
}

impl KeyService {
    pub async fn create_alias(&self, call: &Call, name: &str, target: &str) -> Result<()> {
        check_alias_name(name)?;
        let target = self.alias_target(call, target, Action::CreateAlias)?;
        self.keystore.keyring()?.put_alias(name, target, true).await
    }

    pub async fn update_alias(&self, call: &Call, name: &str, target: &str) -> Result<()> {
        check_alias_name(name)?;
        let target = self.alias_target(call, target, Action::UpdateAlias)?;
        self.keystore.keyring()?.put_alias(name, target, false).await
    }

    pub async fn delete_alias(&self, call: &Call, name: &str) -> Result<()> {
        check_alias_name(name)?;
        let keyring = self.keystore.keyring()?;
        if let Some(target) = keyring.alias(name)? {
            self.keystore.authorize(
                call,
                keyring.get(target)?,
                Action::DeleteAlias,
                &EncryptionContext::new(),
            )?;
        }
        keyring.delete_alias(name).await
    }

    /// One page of aliases, optionally of one key; the page token is the last name returned.
    pub fn list_aliases(
        &self,
        call: &Call,
        key_ref: &str,
        limit: usize,
        page_token: &str,
    ) -> Result<(Vec<Alias>, Option<String>)> {
        let limit = match limit {
            0 => DEFAULT_LIST_LIMIT,
            n if n <= MAX_LIST_LIMIT => n,
            n => return Err(Error::invalid(format!("limit is {n}; it must be 1 to {MAX_LIST_LIMIT}"))),
        };
        let target = if key_ref.is_empty() { None } else { Some(self.keystore.resolve(call, key_ref)?) };
        let after = (!page_token.is_empty()).then_some(page_token);
        let (page, more) = self.keystore.keyring()?.list_aliases(target, after, limit)?;
        let next = if more { page.last().map(|(name, _)| name.clone()) } else { None };
        Ok((page, next))
    }

    /// An alias points at a key by id, never at another alias.
    fn alias_target(&self, call: &Call, target: &str, action: Action) -> Result<KeyId> {
        if target.starts_with(ALIAS_PREFIX) {
            return Err(Error::invalid("an alias must point at a key id, not at another alias"));
        }
        Ok(self.keystore.authorized_key(call, target, action)?.metadata.id)
    }

    pub async fn enable_key(&self, call: &Call, key_ref: &str) -> Result<()> {
        self.set_state(call, key_ref, KeyState::Enabled, Action::EnableKey).await
    }

    pub async fn disable_key(&self, call: &Call, key_ref: &str) -> Result<()> {
        self.set_state(call, key_ref, KeyState::Disabled, Action::DisableKey).await
    }

    async fn set_state(&self, call: &Call, key_ref: &str, state: KeyState, action: Action) -> Result<()> {
        let keyring = self.keystore.keyring()?;
        let key = self.keystore.authorized_key(call, key_ref, action)?;
        let operation = action.name();
        match key.metadata.state {
            current if current == state => return Ok(()),
            KeyState::Enabled | KeyState::Disabled => {}
            other => {
                return Err(Error::KeyNotEnabled { key: key.metadata.id, state: other.name(), operation });
            }
        }
        keyring.replace(&key, key.with_state(state)?).await?;
        tracing::info!(key_id = %key.metadata.id, state = state.name(), "key state changed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names_follow_the_rules() {
        for good in ["alias/orders", "alias/team_a/prod-1", "alias/x"] {
            assert!(check_alias_name(good).is_ok(), "{good}");
        }
        for bad in ["orders", "alias/", "alias/with space", "alias/arca/internal", "alias/aws/s3", "alias/é"]
        {
            assert!(matches!(check_alias_name(bad), Err(Error::InvalidAliasName(_))), "{bad}");
        }
        assert!(check_alias_name(&format!("alias/{}", "a".repeat(251))).is_err());
    }
}

//! ARNs: how the AWS front names keys and aliases (`arn:aws:kms:us-east-1:000000000000:key/<id>`,
//! `…:alias/<name>`) under the configured partition, region and account, and how it reads a
//! `KeyId` the way AWS does: a key id, a key ARN, an alias name or an alias ARN.

use crate::config::AwsIdentity;
use crate::error::{Echo, Error, Result};
use crate::keys::KeyId;

/// The ARN prefix of this appliance's keys and aliases: `arn:<partition>:kms:<region>:<account>:`.
#[derive(Debug, Clone)]
pub(crate) struct Arns {
    prefix: String,
    account_id: String,
}

impl Arns {
    pub(crate) fn new(identity: &AwsIdentity) -> Self {
        Self {
            prefix: format!("arn:{}:kms:{}:{}:", identity.partition, identity.region, identity.account_id),
            account_id: identity.account_id.clone(),
        }
    }

    pub(crate) fn account_id(&self) -> &str {
        &self.account_id
    }

    pub(crate) fn key(&self, id: KeyId) -> String {
        format!("{}key/{id}", self.prefix)
    }

    pub(crate) fn alias(&self, alias_name: &str) -> String {
        format!("{}{alias_name}", self.prefix)
    }

    /// A `KeyId` member as the services take it: a key id or `alias/NAME`. An ARN must name this
    /// appliance's partition, region and account (another's names no key here).
    pub(crate) fn key_ref<'a>(&self, key_id: &'a str) -> Result<&'a str> {
        if !key_id.starts_with("arn:") {
            return Ok(key_id);
        }
        let resource = key_id
            .strip_prefix(&self.prefix)
            .ok_or_else(|| Error::KeyNotFound(format!("{} (not an ARN of this appliance)", Echo(key_id))))?;
        if let Some(id) = resource.strip_prefix("key/") {
            return Ok(id);
        }
        if resource.starts_with("alias/") {
            return Ok(resource);
        }
        Err(Error::invalid(format!("{} is neither a key ARN nor an alias ARN", Echo(key_id))))
    }

    /// A `KeyId` that must name a key itself (CreateAlias's target, grants' key): no alias.
    pub(crate) fn key_only<'a>(&self, key_id: &'a str) -> Result<&'a str> {
        let reference = self.key_ref(key_id)?;
        if reference.starts_with("alias/") {
            return Err(Error::invalid(format!("{} names an alias; give a key id or key ARN", Echo(key_id))));
        }
        Ok(reference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arns() -> Arns {
        Arns::new(&AwsIdentity {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account_id: "111122223333".into(),
        })
    }

    #[test]
    fn every_form_of_key_id_reads_as_aws_reads_it() {
        let arns = arns();
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(arns.key_ref(id).unwrap(), id);
        assert_eq!(arns.key_ref("alias/orders").unwrap(), "alias/orders");
        let key_arn = format!("arn:aws:kms:eu-west-1:111122223333:key/{id}");
        assert_eq!(arns.key_ref(&key_arn).unwrap(), id);
        assert_eq!(arns.key_ref("arn:aws:kms:eu-west-1:111122223333:alias/orders").unwrap(), "alias/orders");
        assert_eq!(arns.key(KeyId::parse(id).unwrap()), key_arn);
    }

    #[test]
    fn another_account_region_or_resource_is_refused() {
        let arns = arns();
        let other_account = "arn:aws:kms:eu-west-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert!(matches!(arns.key_ref(other_account), Err(Error::KeyNotFound(_))));
        let other_region = "arn:aws:kms:us-east-1:111122223333:alias/x";
        assert!(matches!(arns.key_ref(other_region), Err(Error::KeyNotFound(_))));
        let other_resource = "arn:aws:kms:eu-west-1:111122223333:grant/x";
        assert!(matches!(arns.key_ref(other_resource), Err(Error::InvalidArgument(_))));
        assert!(matches!(arns.key_only("alias/x"), Err(Error::InvalidArgument(_))));
    }
}

//! Who administers the daemon: the configuration's `administrators`, together with the principals
//! named when the store was initialised (Admin.Initialize; by default whoever called it), which
//! the store keeps beside the sealed master key.

use super::Call;
use super::Keystore;
use crate::error::{Error, Result};

/// At most this many administrators may be named at initialisation.
pub(super) const MAX_INITIAL_ADMINISTRATORS: usize = 32;

/// Checks that `text` is a principal as the daemon identifies callers (`arca_proto::principal`);
/// a refusal is an invalid argument that echoes the text bounded.
pub fn parse_principal(text: &str) -> Result<String> {
    arca_proto::principal::parse_principal(text)
        .map(str::to_owned)
        .map_err(|error| Error::invalid(error.describe(&crate::error::Echo(text))))
}

/// Checks every principal and drops repeats, keeping the first occurrence's place.
pub fn parse_principals(list: &[String]) -> Result<Vec<String>> {
    if list.len() > MAX_INITIAL_ADMINISTRATORS {
        return Err(Error::invalid(format!(
            "{} administrators given, at most {MAX_INITIAL_ADMINISTRATORS} allowed",
            list.len()
        )));
    }
    let mut principals: Vec<String> = Vec::with_capacity(list.len());
    for text in list {
        let principal = parse_principal(text)?;
        if !principals.contains(&principal) {
            principals.push(principal);
        }
    }
    Ok(principals)
}

/// The effective administrators: the configuration's, then the stored ones it does not name.
pub(super) fn merge(configured: &[String], stored: &[String]) -> Vec<String> {
    let mut merged = configured.to_vec();
    for principal in stored {
        if !merged.contains(principal) {
            merged.push(principal.clone());
        }
    }
    merged
}

/// What Initialize stores: the requested principals, or else the caller. (A key-file store the
/// daemon initialises by itself stores none.)
pub(super) fn initial_administrators(call: &Call, requested: &[String]) -> Result<Vec<String>> {
    if !requested.is_empty() {
        return parse_principals(requested);
    }
    Ok(vec![parse_principal(call.principal())?])
}

impl Keystore {
    /// The effective administrators (the crypto-officer role): the configuration's `administrators`
    /// and those stored at initialisation.
    pub fn administrators(&self) -> Vec<String> {
        // A poisoned lock still holds a list that was whole when written; the configured
        // administrators are always there.
        let stored = match self.stored_administrators.read() {
            Ok(stored) => stored.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        merge(&self.options.administrators, &stored)
    }

    /// Whether `principal` is an administrator now (the listeners keep connections in reserve
    /// for them).
    pub fn is_administrator(&self, principal: &str) -> bool {
        self.options.administrators.iter().any(|admin| admin == principal)
            || self
                .stored_administrators
                .read()
                .is_ok_and(|stored| stored.iter().any(|admin| admin == principal))
    }

    pub(super) fn set_stored_administrators(&self, principals: Vec<String>) -> Result<()> {
        *self.stored_administrators.write().map_err(|_| super::threads::poisoned())? = principals;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use arca_proto::principal::MAX_PRINCIPAL_BYTES;

    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn principals_are_uids_or_certificate_subjects() {
        for good in ["uid:0", "uid:1000", "uid:4294967295", "cert:CN=ops,O=Example", "cert:CN=*.example.com"]
        {
            assert_eq!(parse_principal(good).unwrap(), good);
        }
        for bad in [
            "",
            "1000",
            "uid:",
            "uid:-1",
            "uid:+1",
            "uid:01",
            "uid:4294967296",
            "uid:10 ",
            "uid:*",
            "cert:",
            "cert:  ",
            "cert:CN=a\nCN=b",
            "user:alice",
            "UID:1",
            "*",
            "unknown",
        ] {
            let error = parse_principal(bad).unwrap_err();
            assert!(matches!(error, Error::InvalidArgument(_)), "{bad:?}: {error:?}");
        }
        let long = format!("cert:CN={}", "a".repeat(MAX_PRINCIPAL_BYTES));
        assert!(parse_principal(&long).is_err());
    }

    #[test]
    fn lists_are_checked_whole_and_deduplicated_in_order() {
        let parsed = parse_principals(&strings(&["uid:7", "cert:CN=a", "uid:7", "uid:0"])).unwrap();
        assert_eq!(parsed, strings(&["uid:7", "cert:CN=a", "uid:0"]));
        assert!(parse_principals(&strings(&["uid:7", "seven"])).is_err());
        let too_many: Vec<String> = (0..=MAX_INITIAL_ADMINISTRATORS).map(|n| format!("uid:{n}")).collect();
        assert!(parse_principals(&too_many).is_err());
        assert_eq!(parse_principals(&[]).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn the_effective_list_is_the_union_configuration_first() {
        let configured = strings(&["uid:0", "uid:998"]);
        assert_eq!(merge(&configured, &[]), configured);
        assert_eq!(
            merge(&configured, &strings(&["uid:1000", "uid:0", "cert:CN=ops"])),
            strings(&["uid:0", "uid:998", "uid:1000", "cert:CN=ops"])
        );
        assert_eq!(merge(&[], &strings(&["uid:1000"])), strings(&["uid:1000"]));
    }

    #[tokio::test]
    async fn initialize_defaults_to_its_caller() {
        let root = Call::new("uid:0");
        assert_eq!(initial_administrators(&root, &[]).unwrap(), strings(&["uid:0"]));
        let requested = strings(&["uid:1000", "uid:1000"]);
        assert_eq!(initial_administrators(&root, &requested).unwrap(), strings(&["uid:1000"]));
        let unknown = Call::new("unknown");
        assert!(
            initial_administrators(&unknown, &[]).is_err(),
            "an unidentified caller cannot become an administrator"
        );
    }
}

//! The form of a principal, the name the daemon gives a caller: `uid:<n>` on the Unix socket,
//! `cert:<subject>` over mutual TLS. Administrators and policies name callers this way, so the
//! daemon and every client (arcactl checks `--administrator` before asking for a passphrase) check
//! the form by the same rules, here.

use std::fmt;

/// A principal longer than this is refused (certificate subjects are far shorter in practice).
pub const MAX_PRINCIPAL_BYTES: usize = 1024;

/// Why a text is not a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalError {
    #[error("a principal is longer than {MAX_PRINCIPAL_BYTES} bytes")]
    TooLong,
    #[error("the uid is not a number from 0 to 4294967295")]
    UidNotNumber,
    #[error("write the uid in decimal without a sign or leading zeros")]
    UidNotCanonical,
    #[error("the certificate subject is empty")]
    EmptySubject,
    #[error("the certificate subject holds control characters")]
    ControlCharacters,
    #[error("unknown kind")]
    UnknownKind,
}

impl PrincipalError {
    /// The whole message about the refused text, which `shown` displays (`{:?}`) as the caller
    /// wants it echoed (the daemon bounds what it echoes; a local tool may show it whole).
    pub fn describe(&self, shown: &dyn fmt::Debug) -> String {
        match self {
            Self::TooLong => self.to_string(),
            Self::UidNotNumber
            | Self::UidNotCanonical
            | Self::EmptySubject
            | Self::ControlCharacters
            | Self::UnknownKind => format!(
                "{shown:?} is not a principal ({self}; expected \"uid:<number>\" or \"cert:<subject>\")"
            ),
        }
    }
}

/// Checks that `text` is a principal as the daemon identifies callers: `uid:<n>` (decimal, no
/// leading zeros, as SO_PEERCRED's uid is displayed) or `cert:<subject>` (a certificate subject in
/// RFC 4514 form). Anything else could never match a caller, so it is refused rather than kept.
pub fn parse_principal(text: &str) -> Result<&str, PrincipalError> {
    if text.len() > MAX_PRINCIPAL_BYTES {
        return Err(PrincipalError::TooLong);
    }
    if let Some(uid) = text.strip_prefix("uid:") {
        let number: u32 = uid.parse().map_err(|_| PrincipalError::UidNotNumber)?;
        if number.to_string() != uid {
            return Err(PrincipalError::UidNotCanonical);
        }
        return Ok(text);
    }
    if let Some(subject) = text.strip_prefix("cert:") {
        if subject.trim().is_empty() {
            return Err(PrincipalError::EmptySubject);
        }
        if subject.chars().any(char::is_control) {
            return Err(PrincipalError::ControlCharacters);
        }
        return Ok(text);
    }
    Err(PrincipalError::UnknownKind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_are_uids_or_certificate_subjects() {
        for good in ["uid:0", "uid:1000", "uid:4294967295", "cert:CN=ops,O=Example", "cert:CN=*.example.com"]
        {
            assert_eq!(parse_principal(good), Ok(good));
        }
        let refused = [
            ("", PrincipalError::UnknownKind),
            ("1000", PrincipalError::UnknownKind),
            ("uid:", PrincipalError::UidNotNumber),
            ("uid:-1", PrincipalError::UidNotNumber),
            ("uid:+1", PrincipalError::UidNotCanonical),
            ("uid:01", PrincipalError::UidNotCanonical),
            ("uid:4294967296", PrincipalError::UidNotNumber),
            ("uid:10 ", PrincipalError::UidNotNumber),
            ("cert:  ", PrincipalError::EmptySubject),
            ("cert:CN=a\nCN=b", PrincipalError::ControlCharacters),
            ("UID:1", PrincipalError::UnknownKind),
        ];
        for (bad, why) in refused {
            assert_eq!(parse_principal(bad), Err(why), "{bad:?}");
        }
        let long = format!("cert:CN={}", "a".repeat(MAX_PRINCIPAL_BYTES));
        assert_eq!(parse_principal(&long), Err(PrincipalError::TooLong));
    }

    #[test]
    fn the_message_names_the_text_and_the_expected_forms() {
        assert_eq!(
            PrincipalError::UnknownKind.describe(&"seven"),
            "\"seven\" is not a principal (unknown kind; expected \"uid:<number>\" or \"cert:<subject>\")"
        );
        assert_eq!(PrincipalError::TooLong.describe(&"x"), "a principal is longer than 1024 bytes");
    }
}

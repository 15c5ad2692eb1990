//! The token's persistent state: label, SO and user PINs (Argon2id hashes only) and their retry
//! counters, stored in the Meta table so a lockout survives a restart.

use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use cryptoki_sys::*;

use crate::error::{Error, Result};

/// Consecutive wrong PINs after which a PIN is locked.
pub(super) const MAX_PIN_FAILURES: u32 = 10;
pub(super) const MIN_PIN_LEN: usize = 4;
pub(super) const MAX_PIN_LEN: usize = 255;

pub(super) const TOKEN_RECORD_KEY: &[u8] = b"token";

/// As stored.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct TokenRecord {
    /// 32 bytes, blank padded; empty until C_InitToken.
    #[prost(bytes = "vec", tag = "1")]
    pub label: Vec<u8>,
    /// PHC strings (Argon2id); empty when unset.
    #[prost(string, tag = "2")]
    pub so_pin_hash: String,
    #[prost(string, tag = "3")]
    pub user_pin_hash: String,
    #[prost(uint32, tag = "4")]
    pub so_failures: u32,
    #[prost(uint32, tag = "5")]
    pub user_failures: u32,
    /// Hex, 16 characters, made at the first C_InitToken.
    #[prost(string, tag = "6")]
    pub serial: String,
}

/// Which PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    SecurityOfficer,
    User,
}

impl TokenRecord {
    pub(super) fn initialized(&self) -> bool {
        !self.so_pin_hash.is_empty()
    }

    pub(super) fn user_pin_initialized(&self) -> bool {
        !self.user_pin_hash.is_empty()
    }

    pub(super) fn failures(&self, role: Role) -> u32 {
        match role {
            Role::SecurityOfficer => self.so_failures,
            Role::User => self.user_failures,
        }
    }

    pub(super) fn failures_mut(&mut self, role: Role) -> &mut u32 {
        match role {
            Role::SecurityOfficer => &mut self.so_failures,
            Role::User => &mut self.user_failures,
        }
    }

    pub(super) fn hash(&self, role: Role) -> &str {
        match role {
            Role::SecurityOfficer => &self.so_pin_hash,
            Role::User => &self.user_pin_hash,
        }
    }

    pub(super) fn set_hash(&mut self, role: Role, hash: String) {
        match role {
            Role::SecurityOfficer => self.so_pin_hash = hash,
            Role::User => self.user_pin_hash = hash,
        }
        *self.failures_mut(role) = 0;
    }

    /// CK_TOKEN_INFO flags.
    pub(super) fn flags(&self) -> CK_FLAGS {
        let mut flags = CKF_RNG | CKF_LOGIN_REQUIRED;
        if self.initialized() {
            flags |= CKF_TOKEN_INITIALIZED;
        }
        if self.user_pin_initialized() {
            flags |= CKF_USER_PIN_INITIALIZED;
        }
        flags |= pin_flags(
            self.user_failures,
            CKF_USER_PIN_COUNT_LOW,
            CKF_USER_PIN_FINAL_TRY,
            CKF_USER_PIN_LOCKED,
        );
        flags |= pin_flags(self.so_failures, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);
        flags
    }
}

fn pin_flags(failures: u32, low: CK_FLAGS, final_try: CK_FLAGS, locked: CK_FLAGS) -> CK_FLAGS {
    match failures {
        0 => 0,
        n if n >= MAX_PIN_FAILURES => locked,
        n if n + 1 == MAX_PIN_FAILURES => low | final_try,
        _ => low,
    }
}

pub(super) fn check_pin_length(pin: &[u8]) -> Result<()> {
    if !(MIN_PIN_LEN..=MAX_PIN_LEN).contains(&pin.len()) {
        return Err(Error::p11(
            CKR_PIN_LEN_RANGE,
            format!("a PIN has {MIN_PIN_LEN} to {MAX_PIN_LEN} bytes, not {}", pin.len()),
        ));
    }
    Ok(())
}

/// An Argon2id PHC string for a PIN (run off the reactor: it costs tens of milliseconds).
pub(super) fn hash_pin(pin: &[u8]) -> Result<String> {
    let mut salt = [0u8; 16];
    crate::secure_mem::fill_random(&mut salt)?;
    argon2::Argon2::default()
        .hash_password_with_salt(pin, &salt)
        .map(|hash: PasswordHash| hash.to_string())
        .map_err(|e| Error::Crypto(format!("PIN hashing: {e}")))
}

/// Whether `pin` matches a PHC string (constant time inside argon2).
pub(super) fn verify_pin(pin: &[u8], phc: &str) -> Result<bool> {
    let parsed =
        PasswordHash::new(phc).map_err(|_| Error::Integrity("a stored PIN hash is malformed".into()))?;
    Ok(argon2::Argon2::default().verify_password(pin, &parsed).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_hash_and_verify_and_never_appear_in_the_hash() {
        let hash = hash_pin(b"123456").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("123456"));
        assert!(verify_pin(b"123456", &hash).unwrap());
        assert!(!verify_pin(b"123457", &hash).unwrap());
    }

    #[test]
    fn retry_flags_follow_the_failure_count() {
        let mut record = TokenRecord { so_pin_hash: "x".into(), ..Default::default() };
        assert_eq!(record.flags() & CKF_USER_PIN_COUNT_LOW, 0);
        record.user_failures = 1;
        assert_ne!(record.flags() & CKF_USER_PIN_COUNT_LOW, 0);
        record.user_failures = MAX_PIN_FAILURES - 1;
        assert_ne!(record.flags() & CKF_USER_PIN_FINAL_TRY, 0);
        record.user_failures = MAX_PIN_FAILURES;
        assert_ne!(record.flags() & CKF_USER_PIN_LOCKED, 0);
        assert_ne!(record.flags() & CKF_TOKEN_INITIALIZED, 0);
    }

    #[test]
    fn pin_lengths_are_checked() {
        assert!(check_pin_length(b"123").is_err());
        assert!(check_pin_length(b"1234").is_ok());
        assert!(check_pin_length(&[b'1'; 256]).is_err());
    }
}

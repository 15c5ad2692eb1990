//! C_InitToken, C_InitPIN, C_SetPIN, C_Login and C_Logout. PINs are kept only as Argon2id hashes;
//! wrong PINs count towards a lockout that survives restarts.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::app::AppCall;
use super::pin::{self, MAX_PIN_FAILURES, Role, TokenRecord};
use super::{App, Login, TokenLogin};
use crate::error::{Error, Result};
use crate::operation::Operation;
use crate::service::Call;

fn locked(role: Role) -> Error {
    let who = if role == Role::User { "user" } else { "SO" };
    Error::p11(CKR_PIN_LOCKED, format!("the {who} PIN is locked after {MAX_PIN_FAILURES} wrong attempts"))
}

impl TokenLogin {
    /// Checks `pin` against the stored hash, counting a failure durably.
    async fn check_pin(&self, role: Role, pin: &[u8]) -> Result<()> {
        let record = self.token.record()?;
        if record.failures(role) >= MAX_PIN_FAILURES {
            return Err(locked(role));
        }
        let hash = record.hash(role).to_owned();
        let candidate = Zeroizing::new(pin.to_vec());
        let matches = super::super::threads::blocking(move || pin::verify_pin(&candidate, &hash)).await?;
        let failures = self.count_attempt(role, matches).await?;
        if matches && failures == 0 {
            return Ok(());
        }
        if failures >= MAX_PIN_FAILURES {
            return Err(locked(role));
        }
        Err(Error::p11(CKR_PIN_INCORRECT, "the PIN is incorrect"))
    }

    /// Records an attempt durably: a failure counts one more, a success clears the count unless
    /// the PIN locked meanwhile. If another node changed the record since it was read, the
    /// attempt is counted again on the record as it now stands: no failure is ever lost. Returns
    /// the failure count after the attempt.
    async fn count_attempt(&self, role: Role, matched: bool) -> Result<u32> {
        const ATTEMPTS: usize = 16;
        let mut outcome = Err(Error::Conflict("the token record kept changing".into()));
        for _ in 0..ATTEMPTS {
            let mut updated = self.token.record()?;
            let failures = match (matched, updated.failures(role)) {
                (_, locked) if locked >= MAX_PIN_FAILURES => return Ok(locked),
                (true, 0) => return Ok(0),
                (true, _) => 0,
                (false, count) => count + 1,
            };
            *updated.failures_mut(role) = failures;
            outcome = self.token.put_record(updated).await.map(|()| failures);
            match outcome {
                Err(Error::Conflict(_)) => self.token.keystore.catch_up().await?,
                _ => return outcome,
            }
        }
        outcome
    }

    async fn hash(pin: &[u8]) -> Result<String> {
        pin::check_pin_length(pin)?;
        let pin = Zeroizing::new(pin.to_vec());
        super::super::threads::blocking(move || pin::hash_pin(&pin)).await
    }

    /// Sets up a new token, or re-initialises one with the SO PIN: stored objects are destroyed,
    /// and every key becomes pending deletion with the default window, so that the PKCS#11 face
    /// never takes away a key's waiting period. Administrators only, as the SO's other acts.
    pub async fn init_token(&self, call: &Call, so_pin: &[u8], label: &[u8]) -> Result<()> {
        self.require_security_officer(call, CKR_TOKEN_WRITE_PROTECTED, Operation::InitToken)?;
        let _change = self.token.changes.lock().await;
        let keyring = self.token.keystore.keyring()?;
        for app in self.token.all_apps()? {
            if app.session_counts()?.0 > 0 {
                return Err(Error::p11(CKR_SESSION_EXISTS, "close every session before C_InitToken"));
            }
        }
        let label = padded_label(label)?;
        let record = self.token.record()?;
        if record.initialized() {
            self.check_pin(Role::SecurityOfficer, so_pin).await?;
            let scheduled = self.token.keystore.schedule_every_deletion().await?;
            for (id, _) in keyring.objects()? {
                keyring.delete_object(id).await?;
            }
            tracing::warn!(
                scheduled,
                "token re-initialised: stored objects destroyed, keys pending deletion"
            );
        }
        let so_hash = Self::hash(so_pin).await?;
        let serial = if record.serial.is_empty() { new_serial()? } else { record.serial.clone() };
        let mut fresh = TokenRecord { label, serial, ..TokenRecord::default() };
        fresh.set_hash(Role::SecurityOfficer, so_hash);
        // In place of the record as it stands after the SO PIN check (which may have reset its count).
        self.token.put_record(self.token.record()?.replaced_by(fresh)).await
    }

    /// The SO is a role of the daemon's administrators: anyone else is refused with `refusal`
    /// before any PIN is looked at, so that no other caller can count towards the SO PIN's lockout.
    fn require_security_officer(&self, call: &Call, refusal: CK_RV, operation: Operation) -> Result<()> {
        self.token.keystore.require_administrator(call, operation).map_err(|_| {
            Error::p11(
                refusal,
                format!("{operation}: the SO role belongs to the daemon's administrators only"),
            )
        })
    }

    /// The administrators' way out of a locked or forgotten SO PIN: the SO PIN's failure count
    /// is cleared and, when `new_so_pin` is given, the SO PIN is replaced. Being an administrator
    /// on the socket is the appliance's root of trust (it already suffices to make, use and
    /// delete every key), so no other proof is asked for. Token objects are left alone.
    pub async fn unlock_so_pin(&self, call: &Call, new_so_pin: Option<&[u8]>) -> Result<()> {
        self.token.keystore.require_administrator(call, Operation::UnlockSoPin)?;
        self.token.keystore.keyring()?;
        let hash = match new_so_pin {
            Some(pin) => Some(Self::hash(pin).await?),
            None => None,
        };
        let _change = self.token.changes.lock().await;
        let mut record = self.token.record()?;
        if !record.initialized() {
            return Err(Error::p11(
                CKR_USER_PIN_NOT_INITIALIZED,
                "the token is not initialised (C_InitToken)",
            ));
        }
        match hash {
            Some(hash) => record.set_hash(Role::SecurityOfficer, hash),
            None => *record.failures_mut(Role::SecurityOfficer) = 0,
        }
        self.token.put_record(record).await?;
        tracing::warn!(replaced = new_so_pin.is_some(), "SO PIN unlocked by an administrator");
        Ok(())
    }

    pub async fn init_pin(&self, app: &App, session: u64, pin: &[u8]) -> Result<()> {
        let _change = self.token.changes.lock().await;
        let rw = app.session(session)?.lock().map_err(|_| super::poisoned())?.rw;
        if app.login()? != Login::SecurityOfficer || !rw {
            return Err(Error::p11(
                CKR_USER_NOT_LOGGED_IN,
                "C_InitPIN needs the SO logged in, in a R/W session",
            ));
        }
        let hash = Self::hash(pin).await?;
        let mut record = self.token.record()?;
        record.set_hash(Role::User, hash);
        self.token.put_record(record).await
    }

    pub async fn set_pin(&self, app: &App, session: u64, old: &[u8], new: &[u8]) -> Result<()> {
        let _change = self.token.changes.lock().await;
        let rw = app.session(session)?.lock().map_err(|_| super::poisoned())?.rw;
        if !rw {
            return Err(Error::p11(CKR_SESSION_READ_ONLY, "C_SetPIN needs a R/W session"));
        }
        let role = if app.login()? == Login::SecurityOfficer { Role::SecurityOfficer } else { Role::User };
        if role == Role::User && !self.token.record()?.user_pin_initialized() {
            return Err(Error::p11(CKR_USER_PIN_NOT_INITIALIZED, "the user PIN is not set (C_InitPIN)"));
        }
        pin::check_pin_length(new)?;
        self.check_pin(role, old).await?;
        let hash = Self::hash(new).await?;
        let mut record = self.token.record()?;
        record.set_hash(role, hash);
        self.token.put_record(record).await
    }

    /// C_Login(CKU_CONTEXT_SPECIFIC): the user's PIN again, for the session's operation whose key
    /// says CKA_ALWAYS_AUTHENTICATE (PKCS#11 §4.9, §5.6). A wrong PIN counts as any other.
    async fn context_login(&self, app: &App, session: u64, pin: &[u8]) -> Result<()> {
        if app.login()? != Login::User {
            return Err(Error::p11(
                CKR_USER_NOT_LOGGED_IN,
                "a context-specific login follows the user's login",
            ));
        }
        let waiting: Vec<u64> = {
            let session = app.session(session)?;
            let session = session.lock().map_err(|_| super::poisoned())?;
            session.operations.values().filter(|o| o.awaiting_context_login).map(|o| o.serial).collect()
        };
        if waiting.is_empty() {
            return Err(Error::p11(
                CKR_OPERATION_NOT_INITIALIZED,
                "no operation of this session needs a context-specific login",
            ));
        }
        let _change = self.token.changes.lock().await;
        self.check_pin(Role::User, pin).await?;
        let session = app.session(session)?;
        let mut session = session.lock().map_err(|_| super::poisoned())?;
        for operation in session.operations.values_mut().filter(|o| waiting.contains(&o.serial)) {
            operation.awaiting_context_login = false;
        }
        Ok(())
    }

    pub async fn login(
        &self,
        at: AppCall<'_>,
        session: u64,
        user_type: CK_USER_TYPE,
        pin: &[u8],
    ) -> Result<()> {
        let AppCall { app, call } = at;
        app.session(session)?;
        self.token.keystore.keyring()?;
        let (role, login) = match user_type {
            CKU_SO => (Role::SecurityOfficer, Login::SecurityOfficer),
            CKU_USER => (Role::User, Login::User),
            CKU_CONTEXT_SPECIFIC => return self.context_login(app, session, pin).await,
            other => {
                return Err(Error::p11(CKR_USER_TYPE_INVALID, format!("user type {other} is not valid")));
            }
        };
        // One login or PIN check at a time: the state checks below and the PIN check then see
        // the same login state, and concurrent wrong PINs all count.
        let _change = self.token.changes.lock().await;
        match (app.login()?, login) {
            (Login::Public, _) => {}
            (current, wanted) if current == wanted => {
                return Err(Error::p11(CKR_USER_ALREADY_LOGGED_IN, "already logged in"));
            }
            _ => return Err(Error::p11(CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "another user is logged in")),
        }
        let record = self.token.record()?;
        if !record.initialized() {
            return Err(Error::p11(
                CKR_USER_PIN_NOT_INITIALIZED,
                "the token is not initialised (C_InitToken)",
            ));
        }
        if role == Role::User && !record.user_pin_initialized() {
            return Err(Error::p11(CKR_USER_PIN_NOT_INITIALIZED, "the user PIN is not set (C_InitPIN)"));
        }
        if role == Role::SecurityOfficer {
            self.require_security_officer(call, CKR_USER_TYPE_INVALID, Operation::Login)?;
        }
        if role == Role::SecurityOfficer && app.has_read_only_session()? {
            return Err(Error::p11(
                CKR_SESSION_READ_ONLY_EXISTS,
                "the SO cannot log in while R/O sessions are open",
            ));
        }
        self.check_pin(role, pin).await?;
        app.set_login(login)
    }

    pub fn logout(&self, app: &App, session: u64) -> Result<()> {
        app.session(session)?;
        if app.login()? == Login::Public {
            return Err(Error::p11(CKR_USER_NOT_LOGGED_IN, "nobody is logged in"));
        }
        app.drop_private_session_objects()?;
        app.set_login(Login::Public)
    }
}

fn padded_label(label: &[u8]) -> Result<Vec<u8>> {
    if label.len() > 32 {
        return Err(Error::p11(CKR_ARGUMENTS_BAD, "a token label has at most 32 bytes"));
    }
    let printable = std::str::from_utf8(label).is_ok_and(|text| !text.chars().any(char::is_control));
    if !printable {
        return Err(Error::p11(
            CKR_ARGUMENTS_BAD,
            "the token label must be UTF-8 without control characters",
        ));
    }
    let mut padded = label.to_vec();
    padded.resize(32, b' ');
    Ok(padded)
}

fn new_serial() -> Result<String> {
    let mut bytes = [0u8; 8];
    crate::secure_mem::fill_random(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

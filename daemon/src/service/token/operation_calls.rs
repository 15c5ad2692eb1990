//! C_*Init, single-part calls, C_*Update and C_*Final in a session, with the two-call convention:
//! a length query or a short buffer leaves the operation as it was; any other failure ends it.
//! A call's input may arrive in pieces (`operation_stage`), joined when its last piece comes.

use arca_proto::limits::MAX_OPERATION_DATA_BYTES;
use cryptoki_sys::*;

use super::app::AppCall;
use super::app::Staged;
use super::mechanisms::{self, Mechanism};
use super::operation::{Kind, Operation, Output, Space};
use super::{App, TokenOperations};
use crate::error::{Error, Result};
use crate::policy::Action;
use crate::service::Call;

fn not_initialized() -> Error {
    Error::p11(CKR_OPERATION_NOT_INITIALIZED, "no such operation is active in this session")
}

/// A data call of an operation whose key needs C_Login(CKU_CONTEXT_SPECIFIC) first; the
/// operation stays active for the login.
fn context_login_needed() -> Error {
    Error::p11(CKR_USER_NOT_LOGGED_IN, "this key needs C_Login(CKU_CONTEXT_SPECIFIC) for each use")
}

/// What each operation needs of the mechanism, of the key, and of the key policy.
fn requirements(kind: Kind, mechanism: &Mechanism) -> (CK_FLAGS, CK_ATTRIBUTE_TYPE, Action) {
    let mac = mechanisms::is_mac(mechanism.kind);
    match kind {
        Kind::Encrypt => (CKF_ENCRYPT, CKA_ENCRYPT, Action::Encrypt),
        Kind::Decrypt => (CKF_DECRYPT, CKA_DECRYPT, Action::Decrypt),
        Kind::Sign if mac => (CKF_SIGN, CKA_SIGN, Action::GenerateMac),
        Kind::Sign => (CKF_SIGN, CKA_SIGN, Action::Sign),
        Kind::Verify if mac => (CKF_VERIFY, CKA_VERIFY, Action::VerifyMac),
        Kind::Verify => (CKF_VERIFY, CKA_VERIFY, Action::Verify),
        Kind::Digest => (CKF_DIGEST, 0, Action::Digest),
    }
}

/// The key and version a multi-part operation uses, for the audit record of each of its calls.
fn note_operation_key(call: &Call, operation: &Operation) {
    if let Some((key, version)) = &operation.audit_key {
        call.use_key(*key);
        call.use_version(*version);
    }
}

/// Input past the per-call limit: PKCS#11's code for the operation's kind of input.
fn too_long(kind: Kind) -> Error {
    let rv = if kind == Kind::Decrypt { CKR_ENCRYPTED_DATA_LEN_RANGE } else { CKR_DATA_LEN_RANGE };
    Error::p11(rv, format!("at most {MAX_OPERATION_DATA_BYTES} bytes of input per call"))
}

/// A call's whole input: the pieces held for it, then the last piece. Checked against the
/// per-call limit, as the module cannot be trusted to have checked it.
fn whole_input<'a>(kind: Kind, staged: Option<Staged>, last: &'a [u8]) -> Result<Input<'a>> {
    let held = staged.as_ref().map_or(0, |staged| staged.len());
    if held.saturating_add(last.len()) > MAX_OPERATION_DATA_BYTES {
        return Err(too_long(kind));
    }
    Ok(match staged {
        None => Input::Last(last),
        Some(mut staged) => {
            staged.extend_from_slice(last);
            Input::Joined(staged)
        }
    })
}

/// The input of a data call, as it came or joined from its pieces (wiped when dropped).
enum Input<'a> {
    Last(&'a [u8]),
    Joined(Staged),
}

impl std::ops::Deref for Input<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Last(data) => data,
            Self::Joined(data) => data,
        }
    }
}

/// Answers a length query or a short buffer, or says the output fits.
fn fits(space: Space, needed: usize) -> Option<Output> {
    if space.length_only {
        return Some(Output::Length { needed, too_small: false });
    }
    (space.capacity < needed).then_some(Output::Length { needed, too_small: true })
}

impl TokenOperations {
    /// Starts an operation; returns what its single-part call outputs at most: (bytes, plus the
    /// input's length).
    pub fn operation_init(
        &self,
        at: AppCall<'_>,
        session: u64,
        kind: Kind,
        mechanism: &Mechanism,
        key: u64,
    ) -> Result<(usize, bool)> {
        let AppCall { app, call } = at;
        let session = app.session(session)?;
        if session.lock().map_err(|_| super::poisoned())?.operations.contains_key(&kind) {
            return Err(Error::p11(CKR_OPERATION_ACTIVE, "this operation is already active in the session"));
        }
        let (function, capability, action) = requirements(kind, mechanism);
        mechanisms::require(mechanism.kind, function)?;
        let operation = if kind == Kind::Digest {
            Operation::digest(mechanism)?
        } else {
            let (object, key) =
                self.token.usable_key(AppCall { app, call }, key, mechanism, capability, action)?;
            let mut operation = match kind {
                Kind::Encrypt => Operation::encrypt(mechanism, &object, key.as_ref())?,
                Kind::Decrypt => Operation::decrypt(mechanism, &object, key.as_ref())?,
                Kind::Sign => Operation::sign(mechanism, &object, key.as_ref())?,
                _ => Operation::verify(mechanism, &object, key.as_ref())?,
            };
            operation.audit_key =
                object.key().filter(|_| object.token).map(|k| (k.metadata.id, k.current_version()));
            // PKCS#11 §4.9: a key that says CKA_ALWAYS_AUTHENTICATE needs the PIN for each
            // signature or decryption it makes.
            operation.awaiting_context_login =
                matches!(kind, Kind::Sign | Kind::Decrypt) && object.flag(CKA_ALWAYS_AUTHENTICATE);
            operation
        };
        let mut session = session.lock().map_err(|_| super::poisoned())?;
        if session.operations.contains_key(&kind) {
            return Err(Error::p11(CKR_OPERATION_ACTIVE, "this operation is already active in the session"));
        }
        let rule = operation.length_rule();
        session.operations.insert(kind, operation);
        Ok(rule)
    }

    /// C_Encrypt, C_Decrypt, C_Sign, C_Verify (with `signature`), C_Digest.
    pub fn operation_one_shot(
        &self,
        at: AppCall<'_>,
        session: u64,
        kind: Kind,
        data: &[u8],
        signature: Option<&[u8]>,
        space: Space,
    ) -> Result<Output> {
        let AppCall { app, call } = at;
        let session = app.session(session)?;
        let mut session = session.lock().map_err(|_| super::poisoned())?;
        let staged = session.staged.remove(&kind);
        let operation = session.operations.remove(&kind).ok_or_else(not_initialized)?;
        note_operation_key(call, &operation);
        if operation.awaiting_context_login {
            session.operations.insert(kind, operation);
            return Err(context_login_needed());
        }
        let data = whole_input(kind, staged, data)?;
        if !operation.verifies()
            && !operation.was_updated()
            && let Some(answer) = fits(space, operation.one_shot_len(data.len()))
        {
            session.operations.insert(kind, operation);
            return Ok(answer);
        }
        operation.one_shot(&data, signature).map(Output::Data)
    }

    /// A piece of a data call's input that more pieces follow (`OperationDataRequest.more`):
    /// held until the call's last piece. Input past the limit ends the operation.
    pub fn operation_stage(&self, app: &App, session: u64, kind: Kind, data: &[u8]) -> Result<()> {
        let session = app.session(session)?;
        let mut session = session.lock().map_err(|_| super::poisoned())?;
        if !session.operations.contains_key(&kind) {
            session.staged.remove(&kind);
            return Err(not_initialized());
        }
        let held = session.staged.get(&kind).map_or(0, |staged| staged.len());
        if held.saturating_add(data.len()) > MAX_OPERATION_DATA_BYTES {
            session.staged.remove(&kind);
            session.operations.remove(&kind);
            return Err(too_long(kind));
        }
        session.staged.entry(kind).or_default().extend_from_slice(data);
        Ok(())
    }

    /// Ends the session's operation of `kind`, if one is active (`OperationInit` without a
    /// mechanism: the module ends an operation whose call failed on its side).
    pub fn operation_cancel(&self, app: &App, session: u64, kind: Kind) -> Result<()> {
        let session = app.session(session)?;
        let mut session = session.lock().map_err(|_| super::poisoned())?;
        session.staged.remove(&kind);
        session.operations.remove(&kind);
        Ok(())
    }

    pub fn operation_update(
        &self,
        at: AppCall<'_>,
        session: u64,
        kind: Kind,
        data: &[u8],
        space: Space,
    ) -> Result<Output> {
        let AppCall { app, call } = at;
        let session = app.session(session)?;
        let mut session = session.lock().map_err(|_| super::poisoned())?;
        let staged = session.staged.remove(&kind);
        let data = match whole_input(kind, staged, data) {
            Ok(data) => data,
            Err(error) => {
                session.operations.remove(&kind);
                return Err(error);
            }
        };
        let operation = session.operations.get_mut(&kind).ok_or_else(not_initialized)?;
        note_operation_key(call, operation);
        if operation.awaiting_context_login {
            return Err(context_login_needed());
        }
        if matches!(kind, Kind::Encrypt | Kind::Decrypt)
            && let Some(answer) = fits(space, operation.update_len(data.len()))
        {
            return Ok(answer);
        }
        match operation.update(&data) {
            Ok(output) => Ok(Output::Data(output)),
            Err(error) => {
                session.operations.remove(&kind);
                Err(error)
            }
        }
    }

    /// C_*Final; for C_VerifyFinal `data` is the signature.
    pub fn operation_final(
        &self,
        at: AppCall<'_>,
        session: u64,
        kind: Kind,
        data: &[u8],
        space: Space,
    ) -> Result<Output> {
        let AppCall { app, call } = at;
        let session = app.session(session)?;
        let mut session = session.lock().map_err(|_| super::poisoned())?;
        session.staged.remove(&kind);
        let operation = session.operations.remove(&kind).ok_or_else(not_initialized)?;
        note_operation_key(call, &operation);
        if operation.awaiting_context_login {
            session.operations.insert(kind, operation);
            return Err(context_login_needed());
        }
        if operation.verifies() {
            return operation.finish(Some(data)).map(Output::Data);
        }
        if let Some(answer) = fits(space, operation.final_len()) {
            session.operations.insert(kind, operation);
            return Ok(answer);
        }
        operation.finish(None).map(Output::Data)
    }

    /// C_DigestKey: the value of a secret key joins an active digest.
    pub fn digest_key(&self, at: AppCall<'_>, session_handle: u64, key: u64) -> Result<()> {
        let AppCall { app, call } = at;
        let (object, _) = self.token.object(app, key).map_err(super::key_access::key_handle_invalid)?;
        if !object.key().is_some_and(|k| k.metadata.spec.is_secret()) {
            return Err(Error::p11(CKR_KEY_INDIGESTIBLE, "only secret keys can be digested"));
        }
        let secret = self
            .token
            .authorize(call, &object, Action::Digest)?
            .ok_or_else(|| Error::p11(CKR_KEY_INDIGESTIBLE, "only secret keys can be digested"))?;
        super::key_access::require_enabled(&object)?;
        let material = crate::secure_mem::SecretBuf::copy_from(super::operation::material(&secret)?)?;
        let session = app.session(session_handle)?;
        let mut session = session.lock().map_err(|_| super::poisoned())?;
        let operation = session.operations.get_mut(&Kind::Digest).ok_or_else(not_initialized)?;
        operation.update(material.as_slice()).map(|_| ())
    }
}

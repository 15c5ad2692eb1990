//! What every check shares: the context, the failure type, and helpers that turn PKCS#11 results
//! into readable failures (`C_Encrypt returned CKR_KEY_HANDLE_INVALID`).

use std::cell::{Ref, RefCell};
use std::path::PathBuf;

use cryptoki::context::Pkcs11;
use cryptoki::error::{Error, RvError};
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use crate::keys::{self, Pair};

/// Which implementation is under test: decides the checks that only one of them can pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    Arca,
    Softhsm,
}

/// Why a check did not pass.
#[derive(Debug)]
pub enum Fail {
    Failed(String),
    Skipped(String),
}

pub type Outcome = Result<(), Fail>;

/// Fails the current check with a formatted reason.
macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err($crate::suite::Fail::Failed(format!($($why)+)));
        }
    };
}
pub(crate) use ensure;

pub fn fail<T>(why: impl Into<String>) -> Result<T, Fail> {
    Err(Fail::Failed(why.into()))
}

pub fn skip(why: impl Into<String>) -> Outcome {
    Err(Fail::Skipped(why.into()))
}

/// `PinIncorrect` -> `CKR_PIN_INCORRECT`.
pub fn ckr(rv: RvError) -> String {
    let name = format!("{rv:?}");
    let mut out = String::from("CKR");
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

pub fn describe(error: &Error) -> String {
    match error {
        Error::Pkcs11(rv, function) => format!("C_{function:?} returned {}", ckr(*rv)),
        other => other.to_string(),
    }
}

/// Adds what was being done to a cryptoki error.
pub trait At<T> {
    fn at(self, what: &str) -> Result<T, Fail>;
}

impl<T> At<T> for cryptoki::error::Result<T> {
    fn at(self, what: &str) -> Result<T, Fail> {
        self.map_err(|e| Fail::Failed(format!("{what}: {}", describe(&e))))
    }
}

/// Expects the call to fail with one of `allowed` (the first is the one the spec prescribes);
/// returns the value it failed with.
pub fn expect_rv<T>(
    result: cryptoki::error::Result<T>,
    allowed: &[RvError],
    what: &str,
) -> Result<RvError, Fail> {
    let wanted = allowed.iter().map(|rv| ckr(*rv)).collect::<Vec<_>>().join(" or ");
    match result {
        Ok(_) => fail(format!("{what}: succeeded, expected {wanted}")),
        Err(Error::Pkcs11(rv, _)) if allowed.contains(&rv) => Ok(rv),
        Err(e) => fail(format!("{what}: expected {wanted}, {}", describe(&e))),
    }
}

/// What SoftHSM 2.6.1 does instead of what PKCS#11 prescribes.
#[derive(Debug, Clone, Copy)]
pub enum SoftHsm {
    /// It returns this value.
    Gives(RvError),
    /// It accepts the call.
    Succeeds,
}

/// Expects `spec`; on the SoftHSM profile a known SoftHSM deviation is accepted and noted.
/// Returns true when the call succeeded (a deviation whose operation the caller may need to end).
pub fn expect_spec<T>(
    ctx: &Ctx,
    result: cryptoki::error::Result<T>,
    spec: RvError,
    softhsm: SoftHsm,
    what: &str,
) -> Result<bool, Fail> {
    if ctx.arca() {
        return expect_rv(result, &[spec], what).map(|_| false);
    }
    let got = match (&result, softhsm) {
        (Ok(_), SoftHsm::Succeeds) => "success".to_owned(),
        (Err(Error::Pkcs11(rv, _)), SoftHsm::Gives(known)) if *rv == known => ckr(*rv),
        _ => return expect_rv(result, &[spec], what).map(|_| false),
    };
    ctx.note(format!("SoftHSM deviation: {what} gave {got}, PKCS#11 says {}", ckr(spec)));
    Ok(result.is_ok())
}

/// The run-wide state the checks share.
#[derive(Debug)]
pub struct Ctx {
    pub pkcs11: Pkcs11,
    pub slot: Slot,
    pub profile: Profile,
    pub so_pin: String,
    pub pin: String,
    pub socket: Option<PathBuf>,
    /// A R/W session with the user logged in; replaced after a daemon restart.
    session: RefCell<Session>,
    notes: RefCell<Vec<String>>,
    rsa: RefCell<Option<Pair>>,
    ec: RefCell<Option<Pair>>,
}

impl Ctx {
    pub fn new(
        pkcs11: Pkcs11,
        slot: Slot,
        profile: Profile,
        pins: (String, String),
        socket: Option<PathBuf>,
    ) -> Result<Self, Fail> {
        let session = pkcs11.open_rw_session(slot).at("open the main session")?;
        let ctx = Self {
            pkcs11,
            slot,
            profile,
            so_pin: pins.0,
            pin: pins.1,
            socket,
            session: RefCell::new(session),
            notes: RefCell::new(Vec::new()),
            rsa: RefCell::new(None),
            ec: RefCell::new(None),
        };
        ctx.s().login(UserType::User, Some(&ctx.user_pin())).at("log the user in")?;
        Ok(ctx)
    }

    pub fn arca(&self) -> bool {
        self.profile == Profile::Arca
    }

    /// The main R/W user session.
    pub fn s(&self) -> Ref<'_, Session> {
        self.session.borrow()
    }

    /// Installs a new main session (its predecessor is returned) and forgets the shared keys,
    /// which were session objects of the old one.
    pub fn replace_session(&self, session: Session) -> Session {
        *self.rsa.borrow_mut() = None;
        *self.ec.borrow_mut() = None;
        self.session.replace(session)
    }

    pub fn user_pin(&self) -> AuthPin {
        AuthPin::from(self.pin.as_str())
    }

    pub fn so_pin(&self) -> AuthPin {
        AuthPin::from(self.so_pin.as_str())
    }

    pub fn rw(&self) -> Result<Session, Fail> {
        self.pkcs11.open_rw_session(self.slot).at("C_OpenSession (R/W)")
    }

    pub fn ro(&self) -> Result<Session, Fail> {
        self.pkcs11.open_ro_session(self.slot).at("C_OpenSession (R/O)")
    }

    /// An RSA-2048 session key pair shared by the checks that only use it.
    pub fn rsa(&self) -> Result<Pair, Fail> {
        if let Some(pair) = *self.rsa.borrow() {
            return Ok(pair);
        }
        let pair = keys::gen_rsa(&self.s(), 2048, false, "shared-rsa")?;
        *self.rsa.borrow_mut() = Some(pair);
        Ok(pair)
    }

    /// A P-256 session key pair shared by the checks that only use it.
    pub fn ec(&self) -> Result<Pair, Fail> {
        if let Some(pair) = *self.ec.borrow() {
            return Ok(pair);
        }
        let pair = keys::gen_ec(&self.s(), false, "shared-ec", &[])?;
        *self.ec.borrow_mut() = Some(pair);
        Ok(pair)
    }

    /// After a failed check: a fresh main session, so that an operation the check left active
    /// cannot fail the next one. The old session's objects go with it.
    pub fn reset_session(&self) {
        if let Ok(fresh) = self.pkcs11.open_rw_session(self.slot) {
            drop(self.replace_session(fresh));
        }
    }

    /// Records something worth reporting beside `ok` (e.g. which of two allowed values came back).
    pub fn note(&self, note: impl Into<String>) {
        self.notes.borrow_mut().push(note.into());
    }

    /// The notes so far, each once, in order.
    pub fn take_notes(&self) -> Vec<String> {
        let mut notes = std::mem::take(&mut *self.notes.borrow_mut());
        let mut seen = std::collections::HashSet::new();
        notes.retain(|note| seen.insert(note.clone()));
        notes
    }

    /// Puts the application back into the state every check starts from: the user logged in.
    pub fn restore_login(&self) {
        let s = self.s();
        let state = s.get_session_info().map(|info| info.session_state());
        if matches!(state, Ok(SessionState::RwUser)) {
            return;
        }
        let _ = s.logout();
        let _ = s.login(UserType::User, Some(&self.user_pin()));
    }
}

/// The bytes of a byte-string attribute.
pub fn bytes_of(attribute: &Attribute) -> Option<Vec<u8>> {
    use Attribute as A;
    match attribute {
        A::Value(v)
        | A::Label(v)
        | A::Id(v)
        | A::Modulus(v)
        | A::PublicExponent(v)
        | A::EcPoint(v)
        | A::EcParams(v)
        | A::Subject(v)
        | A::Issuer(v)
        | A::SerialNumber(v)
        | A::CheckValue(v)
        | A::PrivateExponent(v)
        | A::Prime1(v)
        | A::Prime2(v)
        | A::Exponent1(v)
        | A::Exponent2(v)
        | A::Coefficient(v)
        | A::Application(v) => Some(v.clone()),
        A::VendorDefined((_, v)) => Some(v.clone()),
        _ => None,
    }
}

/// Reads one attribute; fails when the object does not reveal it.
pub fn get(s: &Session, object: ObjectHandle, kind: AttributeType) -> Result<Attribute, Fail> {
    let mut values = s.get_attributes(object, &[kind]).at(&format!("C_GetAttributeValue({kind:?})"))?;
    match values.pop() {
        Some(value) if value.attribute_type() == kind => Ok(value),
        _ => {
            // cryptoki drops unavailable values; ask again for the reason.
            let why = s.get_attribute_info(object, &[kind]).map(|info| format!("{info:?}"));
            fail(format!(
                "C_GetAttributeValue({kind:?}) returned no value: {}",
                why.unwrap_or_else(|e| describe(&e))
            ))
        }
    }
}

pub fn get_bytes(s: &Session, object: ObjectHandle, kind: AttributeType) -> Result<Vec<u8>, Fail> {
    let value = get(s, object, kind)?;
    bytes_of(&value).map_or_else(|| fail(format!("{kind:?} is not a byte string: {value:?}")), Ok)
}

pub fn get_ulong(s: &Session, object: ObjectHandle, kind: AttributeType) -> Result<u64, Fail> {
    match get(s, object, kind)? {
        Attribute::ValueLen(v) | Attribute::ModulusBits(v) => Ok(*v),
        other => fail(format!("{kind:?} is not a CK_ULONG: {other:?}")),
    }
}

/// Finds objects, failing on a PKCS#11 error.
pub fn find(s: &Session, template: &[Attribute]) -> Result<Vec<ObjectHandle>, Fail> {
    s.find_objects(template).at("C_FindObjects")
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex to bytes (test vectors; panics on a typo, which is a bug in the suite).
pub fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
}

/// A deterministic test message of `len` bytes.
pub fn message(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

/// Odd-sized pieces (1, 5, 13, 7, 31, …) that cover `data`.
pub fn odd_chunks(data: &[u8]) -> Vec<&[u8]> {
    const SIZES: [usize; 6] = [1, 5, 13, 7, 31, 3];
    let mut out = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = SIZES[i % SIZES.len()].min(rest.len());
        let (head, tail) = rest.split_at(n);
        out.push(head);
        rest = tail;
        i += 1;
    }
    out
}

/// A label unique to this run, so that token objects from other checks never match.
pub fn label(name: &str) -> Vec<u8> {
    format!("chk-{name}-{}", std::process::id()).into_bytes()
}

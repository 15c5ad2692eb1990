//! The PKCS#11 token, set up the way `pkcs11-tool --init-token` / `--init-pin` / `--change-pin`
//! do it, through the same Token service the PKCS#11 module uses: one application (Attach), one
//! R/W session, the PKCS#11 login rules.

use arca_proto::APPLICATION_HEADER;
use arca_proto::v1 as pb;
use tonic::Request;
use tonic::metadata::AsciiMetadataValue;

use crate::cli::{TokenInitArgs, TokenInitPinArgs, TokenSetPinArgs, TokenUnlockSoArgs};
use crate::error::CliError;
use crate::output::{Record, Value};
use crate::passphrase::{Passphrase, SecretKind, read_secret};
use crate::session::Session;

const SO_PIN: SecretKind = SecretKind { env: "ARCA_SO_PIN", name: "SO PIN" };
const USER_PIN: SecretKind = SecretKind { env: "ARCA_PIN", name: "user PIN" };
const NEW_SO_PIN: SecretKind = SecretKind { env: "ARCA_NEW_SO_PIN", name: "new SO PIN" };
const NEW_USER_PIN: SecretKind = SecretKind { env: "ARCA_NEW_PIN", name: "new user PIN" };

const CKF_SERIAL_SESSION: u64 = 0x4;
const CKF_RW_SESSION: u64 = 0x2;
const CKU_SO: u64 = 0;
/// CK_TOKEN_INFO flags shown by `token info`, by name.
const FLAGS: &[(u64, &str)] = &[
    (0x1, "RNG"),
    (0x4, "LOGIN_REQUIRED"),
    (0x8, "USER_PIN_INITIALIZED"),
    (0x400, "TOKEN_INITIALIZED"),
    (0x10000, "USER_PIN_COUNT_LOW"),
    (0x20000, "USER_PIN_FINAL_TRY"),
    (0x40000, "USER_PIN_LOCKED"),
    (0x100000, "SO_PIN_COUNT_LOW"),
    (0x200000, "SO_PIN_FINAL_TRY"),
    (0x400000, "SO_PIN_LOCKED"),
];

pub(crate) async fn info(session: &Session) -> Result<Record, CliError> {
    let info =
        session.call(session.token().get_token_info(session.request(pb::GetTokenInfoRequest {}))).await?;
    let flags = FLAGS.iter().filter(|(bit, _)| info.flags & bit != 0).map(|(_, name)| Value::Enum(name));
    Ok(Record::new()
        .with("label", info.label.trim_end().to_owned())
        .with("serial_number", info.serial_number)
        .with("flags", Value::List(flags.collect()))
        .with("session_count", info.session_count)
        .with("rw_session_count", info.rw_session_count))
}

/// C_InitToken: a new token's SO PIN and label, or (with the SO PIN) a re-initialisation that
/// destroys every token object.
pub(crate) async fn init(session: &Session, args: TokenInitArgs) -> Result<Record, CliError> {
    let so_pin = read_secret(SO_PIN, args.so_pin_file.as_deref(), true)?;
    let request =
        pb::InitTokenRequest { so_pin: so_pin.as_bytes().to_vec(), label: args.label.clone().into_bytes() };
    session.call(session.token().init_token(session.request(request))).await?;
    Ok(Record::new().with("label", args.label).with("initialized", true))
}

/// C_InitPIN: the SO logs in and sets (or resets and unlocks) the user PIN.
pub(crate) async fn init_pin(session: &Session, args: TokenInitPinArgs) -> Result<Record, CliError> {
    let so_pin = read_secret(SO_PIN, args.so_pin_file.as_deref(), false)?;
    let pin = read_secret(USER_PIN, args.pin_file.as_deref(), true)?;
    let app = Application::attach(session).await?;
    let handle = app.open_rw_session().await?;
    app.login(handle, CKU_SO, &so_pin).await?;
    let request = app.request(pb::InitPinRequest { session: handle, pin: pin.as_bytes().to_vec() });
    session.call(session.token().init_pin(request)).await?;
    app.close(handle).await?;
    Ok(Record::new().with("user_pin_initialized", true))
}

/// C_SetPIN: the user PIN (or with --so the SO PIN) changes, given the old one.
pub(crate) async fn set_pin(session: &Session, args: TokenSetPinArgs) -> Result<Record, CliError> {
    let (old_kind, new_kind) = if args.so { (SO_PIN, NEW_SO_PIN) } else { (USER_PIN, NEW_USER_PIN) };
    let old = read_secret(old_kind, args.old_pin_file.as_deref(), false)?;
    let new = read_secret(new_kind, args.new_pin_file.as_deref(), true)?;
    let app = Application::attach(session).await?;
    let handle = app.open_rw_session().await?;
    if args.so {
        app.login(handle, CKU_SO, &old).await?;
    }
    let request = app.request(pb::SetPinRequest {
        session: handle,
        old_pin: old.as_bytes().to_vec(),
        new_pin: new.as_bytes().to_vec(),
    });
    session.call(session.token().set_pin(request)).await?;
    app.close(handle).await?;
    Ok(Record::new().with("pin_changed", if args.so { "SO" } else { "user" }))
}

/// The administrators' recovery of the SO PIN: its lockout cleared, and with --new-so-pin a new
/// SO PIN set (for a lost one).
pub(crate) async fn unlock_so(session: &Session, args: TokenUnlockSoArgs) -> Result<Record, CliError> {
    let replace = args.new_so_pin || args.new_so_pin_file.is_some();
    let new_so_pin =
        if replace { Some(read_secret(NEW_SO_PIN, args.new_so_pin_file.as_deref(), true)?) } else { None };
    let bytes = new_so_pin.as_ref().map(|pin| pin.as_bytes().to_vec()).unwrap_or_default();
    let request = pb::UnlockSoPinRequest { new_so_pin: bytes };
    session.call(session.token().unlock_so_pin(session.request(request))).await?;
    Ok(Record::new().with("so_pin_unlocked", true).with("so_pin_replaced", replace))
}

/// A PKCS#11 application of the daemon's, alive while `_events` is open.
struct Application<'a> {
    session: &'a Session,
    id: AsciiMetadataValue,
    _events: tonic::Streaming<pb::AttachEvent>,
}

impl<'a> Application<'a> {
    async fn attach(session: &'a Session) -> Result<Self, CliError> {
        let request = session.request(pb::AttachRequest { application_name: "arcactl".to_owned() });
        let mut events = session.call(session.token().attach(request)).await?;
        let first = session.call(async { events.message().await.map(tonic::Response::new) }).await?;
        let id = first
            .and_then(|event| AsciiMetadataValue::try_from(event.application_id).ok())
            .ok_or_else(|| CliError::Input("the daemon did not name the application".to_owned()))?;
        Ok(Self { session, id, _events: events })
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = self.session.request(message);
        request.metadata_mut().insert(APPLICATION_HEADER, self.id.clone());
        request
    }

    async fn open_rw_session(&self) -> Result<u64, CliError> {
        let request = self.request(pb::OpenSessionRequest { flags: CKF_SERIAL_SESSION | CKF_RW_SESSION });
        Ok(self.session.call(self.session.token().open_session(request)).await?.session)
    }

    async fn login(&self, handle: u64, user_type: u64, pin: &Passphrase) -> Result<(), CliError> {
        let request =
            self.request(pb::LoginRequest { session: handle, user_type, pin: pin.as_bytes().to_vec() });
        self.session.call(self.session.token().login(request)).await.map(drop)
    }

    async fn close(&self, handle: u64) -> Result<(), CliError> {
        let request = self.request(pb::SessionRequest { session: handle });
        self.session.call(self.session.token().close_session(request)).await.map(drop)
    }
}

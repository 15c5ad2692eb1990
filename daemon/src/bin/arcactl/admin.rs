//! The Admin service commands: status, init, unseal (backup has its own module).

use std::io::Write as _;

use arca_proto::v1 as pb;
use tonic::{Code, Status};

use crate::cli::{InitArgs, PassphraseArgs};
use crate::error::CliError;
use crate::output::{Record, Value};
use crate::passphrase;
use crate::session::Session;

/// What to do when init finds the store already initialized.
const ALREADY_INITIALIZED_HINT: &str = "init is for a new store only; open this one with `arcactl unseal`";

/// Printed on stderr beside a generated passphrase.
const GENERATED_WARNING: &str = "arcactl: WARNING: write the generated passphrase down and keep it \
     safe now. It is shown only this once and it is the only way to unseal the store: without it, \
     every key in the store is lost.";

pub async fn status(session: &Session) -> Result<Record, CliError> {
    let response = session.call(session.admin().status(session.request(pb::StatusRequest {}))).await?;
    let seal_mode = pb::SealMode::try_from(response.seal_mode)
        .map_or(Value::Int(response.seal_mode.into()), |mode| Value::Enum(mode.as_str_name()));
    Ok(Record::new()
        .with("initialized", response.initialized)
        .with("sealed", response.sealed)
        .with("version", response.version)
        .with("key_count", response.key_count)
        .with("seal_mode", seal_mode)
        .with("caller", response.caller)
        .with("administrators", principals(response.administrators)))
}

fn principals(list: Vec<String>) -> Value {
    Value::List(list.into_iter().map(Value::Str).collect())
}

/// First-time setup of a passphrase-sealed store: the passphrase is read (or generated), the
/// store initialized with its first administrators (the `--administrator`s, else the caller), and
/// a generated passphrase printed once. The output names the effective administrators. An
/// initialized store is refused before any passphrase is asked for, and again by the daemon if
/// another caller got there first.
pub async fn init(session: &Session, args: InitArgs) -> Result<Record, CliError> {
    let status = session.call(session.admin().status(session.request(pb::StatusRequest {}))).await?;
    if status.initialized {
        let refusal = Status::failed_precondition("already initialized: the store already has a master key");
        return Err(CliError::from(refusal).hint(ALREADY_INITIALIZED_HINT));
    }
    let passphrase = if args.generate_passphrase {
        passphrase::generate()?
    } else {
        passphrase::read(args.passphrase.passphrase_file.as_deref(), true)?
    };
    let request = session.request(pb::InitializeRequest {
        passphrase: passphrase.to_string(),
        administrators: args.administrators,
    });
    let response = session.call(session.admin().initialize(request)).await.map_err(|error| match error {
        CliError::Rpc(ref status)
            if status.code() == Code::FailedPrecondition
                && status.message().contains("already initialized") =>
        {
            error.hint(ALREADY_INITIALIZED_HINT)
        }
        other => other,
    })?;
    let record =
        Record::new().with("initialized", true).with("administrators", principals(response.administrators));
    if !args.generate_passphrase {
        return Ok(record);
    }
    let _ = writeln!(std::io::stderr().lock(), "{GENERATED_WARNING}");
    Ok(record.with("passphrase", passphrase.to_string()))
}

pub async fn unseal(session: &Session, args: PassphraseArgs) -> Result<Record, CliError> {
    let passphrase = passphrase::read(args.passphrase_file.as_deref(), false)?;
    let request = session.request(pb::UnsealRequest { passphrase: passphrase.to_string() });
    let response = session.call(session.admin().unseal(request)).await?;
    Ok(Record::new().with("sealed", response.sealed))
}

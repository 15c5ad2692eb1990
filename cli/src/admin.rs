//! The Admin service commands: status, init, unseal (backup has its own module).

use std::io::Write as _;

use arca_proto::v1 as pb;
use tonic::{Code, Status};

use crate::cli::{InitArgs, UnsealArgs};
use crate::error::CliError;
use crate::output::{Record, Value};
use crate::passphrase::{self, Passphrase};
use crate::session::Session;
use crate::{share_set, shares};

/// What to do when init finds the store already initialized.
const ALREADY_INITIALIZED_HINT: &str = "init is for a new store only; open this one with `arcactl unseal`";

/// Printed on stderr beside a generated passphrase.
const GENERATED_WARNING: &str = "arcactl: WARNING: write the generated passphrase down and keep it \
     safe now. It is shown only this once and it is the only way to unseal the store: without it, \
     every key in the store is lost.";

/// Printed on stderr beside the shares of a generated passphrase (after the threshold and count).
const SHARES_WARNING: &str = "of these shares unseal the store; fewer reveal nothing. Give each \
     custodian one share now: they are shown only this once, the passphrase itself is never shown, \
     and with fewer shares left than needed every key in the store is lost.";

pub(crate) async fn status(session: &Session) -> Result<Record, CliError> {
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
        .with("administrators", principals(response.administrators))
        .with("disk_free_bytes", response.disk_free_bytes)
        .with("min_free_disk_bytes", response.min_free_disk_bytes))
}

fn principals(list: Vec<String>) -> Value {
    Value::List(list.into_iter().map(Value::Str).collect())
}

/// First-time setup of a passphrase-sealed store: the passphrase is read (or generated), the
/// store initialized with its first administrators (the `--administrator`s, else the caller), and
/// a generated passphrase printed once, or split into custodians' shares that are printed
/// instead. The output names the effective administrators. An initialized store is refused
/// before any passphrase is asked for, and again by the daemon if another caller got there first.
/// The shares are made and checked before the store is, so a failure leaves no store behind.
pub(crate) async fn init(session: &Session, args: InitArgs) -> Result<Record, CliError> {
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
    let shares = args
        .custody()
        .map(|(threshold, count)| {
            shares::split_passphrase(&passphrase, threshold, count).map(|s| (threshold, s))
        })
        .transpose()?;
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
    let mut stderr = std::io::stderr().lock();
    let Some((threshold, shares)) = shares else {
        let _ = writeln!(stderr, "{GENERATED_WARNING}");
        return Ok(record.with("passphrase", passphrase.to_string()));
    };
    let _ = writeln!(stderr, "arcactl: WARNING: any {threshold} {SHARES_WARNING}");
    let shares = shares.iter().map(|share| Value::Str(share.to_string())).collect();
    Ok(record.with("threshold", u32::from(threshold)).with("shares", Value::List(shares)))
}

/// Unseals with the passphrase, or with the passphrase rebuilt from custodians' shares.
pub(crate) async fn unseal(session: &Session, args: UnsealArgs) -> Result<Record, CliError> {
    let passphrase: Passphrase = if args.shares || !args.share_files.is_empty() {
        share_set::read(&args.share_files)?
    } else {
        passphrase::read(args.passphrase.passphrase_file.as_deref(), false)?
    };
    let request = session.request(pb::UnsealRequest { passphrase: passphrase.to_string() });
    let response = session.call(session.admin().unseal(request)).await?;
    Ok(Record::new().with("sealed", response.sealed))
}

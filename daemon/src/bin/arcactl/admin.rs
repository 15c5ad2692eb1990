//! The Admin service commands: status, initialize, unseal.

use arca_proto::v1 as pb;

use crate::cli::PassphraseArgs;
use crate::error::CliError;
use crate::input::passphrase;
use crate::output::{Record, Value};
use crate::session::Session;

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
        .with("caller", response.caller))
}

pub async fn initialize(session: &Session, args: PassphraseArgs) -> Result<Record, CliError> {
    let passphrase = passphrase(args.passphrase_file.as_deref(), true)?;
    let request = session.request(pb::InitializeRequest { passphrase });
    session.call(session.admin().initialize(request)).await?;
    Ok(Record::new())
}

pub async fn unseal(session: &Session, args: PassphraseArgs) -> Result<Record, CliError> {
    let passphrase = passphrase(args.passphrase_file.as_deref(), false)?;
    let response =
        session.call(session.admin().unseal(session.request(pb::UnsealRequest { passphrase }))).await?;
    Ok(Record::new().with("sealed", response.sealed))
}

//! arcactl: the admin CLI of the Arca key daemon. One subcommand per RPC; output is a table for
//! people or one JSON object for scripts; errors go to stderr as `arcactl: CODE: message`.
//! Exit status: 0 on success, 1 on any error, 2 on a command line clap refuses, 3 when verify or
//! verify-mac finds the signature or MAC not valid, or audit verify finds the audit log not intact
//! (on any node of an --endpoint list, which it verifies one by one; a node it cannot ask is 1).
#![forbid(unsafe_code)]
// `pub` is for what another crate uses, and no crate uses a binary: items here are pub(crate).
#![warn(unreachable_pub)]

mod access_keys;
mod admin;
mod asymmetric;
mod audit;
mod backup;
mod cli;
mod crypto;
mod error;
mod governance;
mod import;
mod input;
mod keys;
mod output;
mod passphrase;
mod progress;
mod session;
mod shamir;
mod share_set;
mod shares;
mod token;

use std::io::Write as _;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};

use crate::cli::{AccessKeyCommand, AuditCommand, Cli, Command, TokenCommand};
use crate::error::CliError;
use crate::output::{Reply, Verdict};
use crate::session::Session;

/// The exit status of verify and verify-mac when the signature or MAC is not valid, and of audit
/// verify when the audit log is not intact.
const EXIT_NOT_VALID: u8 = 3;
/// What stderr says when a report is printed but not every endpoint could be asked.
const UNANSWERED: &str = "not every endpoint could be asked: see the report";

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(message) = cli.command.check() {
        Cli::command().error(clap::error::ErrorKind::ValueValidation, message).exit();
    }
    match run(cli) {
        Ok(Verdict::Done) => ExitCode::SUCCESS,
        Ok(Verdict::NotValid) => ExitCode::from(EXIT_NOT_VALID),
        Ok(Verdict::Unanswered) => {
            let _ = writeln!(std::io::stderr().lock(), "arcactl: {UNANSWERED}");
            ExitCode::FAILURE
        }
        Err(error) => {
            let _ = writeln!(std::io::stderr().lock(), "arcactl: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<Verdict, CliError> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(CliError::Runtime)?;
    let reply = runtime.block_on(async {
        if matches!(cli.command, Command::Audit(AuditCommand::Verify)) {
            let endpoints = session::endpoints(&cli.global)?;
            if endpoints.as_slice().len() > 1 {
                return audit::verify_each(&endpoints, &cli.global).await;
            }
        }
        let session = Session::connect(&cli.global).await?;
        execute(&session, cli.command).await
    })?;
    output::print(&reply, cli.global.output).map_err(CliError::io("cannot write the output"))?;
    Ok(reply.verdict)
}

async fn execute(session: &Session, command: Command) -> Result<Reply, CliError> {
    Ok(match command {
        Command::Status => admin::status(session).await?.into(),
        Command::Init(args) => admin::init(session, args).await?.into(),
        Command::Unseal(args) => admin::unseal(session, args).await?.into(),
        Command::Backup(args) => backup::backup(session, args).await?.into(),
        Command::CreateKey(args) => keys::create_key(session, args).await?.into(),
        Command::DescribeKey(args) => keys::describe_key(session, args).await?.into(),
        Command::ListKeys(args) => keys::list_keys(session, args).await?.into(),
        Command::Encrypt(args) => crypto::encrypt(session, args).await?.into(),
        Command::Decrypt(args) => crypto::decrypt(session, args).await?.into(),
        Command::ReEncrypt(args) => crypto::re_encrypt(session, args).await?.into(),
        Command::GenerateDataKey(args) => crypto::generate_data_key(session, args).await?.into(),
        Command::GenerateDataKeyWithoutPlaintext(args) => {
            crypto::generate_data_key_without_plaintext(session, args).await?.into()
        }
        Command::GenerateRandom(args) => crypto::generate_random(session, args).await?.into(),
        Command::Sign(args) => asymmetric::sign(session, args).await?.into(),
        Command::Verify(args) => asymmetric::verify(session, args).await?,
        Command::GetPublicKey(args) => asymmetric::get_public_key(session, args).await?,
        Command::GenerateMac(args) => asymmetric::generate_mac(session, args).await?.into(),
        Command::VerifyMac(args) => asymmetric::verify_mac(session, args).await?,
        Command::GenerateDataKeyPair(args) => asymmetric::generate_data_key_pair(session, args).await?.into(),
        Command::GenerateDataKeyPairWithoutPlaintext(args) => {
            asymmetric::generate_data_key_pair_without_plaintext(session, args).await?.into()
        }
        Command::EnableKey(args) => governance::enable_key(session, args).await?.into(),
        Command::DisableKey(args) => governance::disable_key(session, args).await?.into(),
        Command::CreateAlias(args) => governance::create_alias(session, args).await?.into(),
        Command::UpdateAlias(args) => governance::update_alias(session, args).await?.into(),
        Command::DeleteAlias(args) => governance::delete_alias(session, args).await?.into(),
        Command::ListAliases(args) => governance::list_aliases(session, args).await?.into(),
        Command::RotateKey(args) => governance::rotate_key(session, args).await?.into(),
        Command::EnableKeyRotation(args) => governance::enable_key_rotation(session, args).await?.into(),
        Command::DisableKeyRotation(args) => governance::disable_key_rotation(session, args).await?.into(),
        Command::GetKeyRotationStatus(args) => {
            governance::get_key_rotation_status(session, args).await?.into()
        }
        Command::ListKeyRotations(args) => governance::list_key_rotations(session, args).await?.into(),
        Command::ScheduleKeyDeletion(args) => governance::schedule_key_deletion(session, args).await?.into(),
        Command::CancelKeyDeletion(args) => governance::cancel_key_deletion(session, args).await?.into(),
        Command::PutKeyPolicy(args) => governance::put_key_policy(session, args).await?.into(),
        Command::GetKeyPolicy(args) => governance::get_key_policy(session, args).await?,
        Command::CreateGrant(args) => governance::create_grant(session, args).await?.into(),
        Command::ListGrants(args) => governance::list_grants(session, args).await?.into(),
        Command::ListRetirableGrants(args) => governance::list_retirable_grants(session, args).await?.into(),
        Command::RetireGrant(args) => governance::retire_grant(session, args).await?.into(),
        Command::RevokeGrant(args) => governance::revoke_grant(session, args).await?.into(),
        Command::GetParametersForImport(args) => {
            import::get_parameters_for_import(session, args).await?.into()
        }
        Command::ImportKeyMaterial(args) => import::import_key_material(session, args).await?.into(),
        Command::DeleteImportedKeyMaterial(args) => {
            import::delete_imported_key_material(session, args).await?.into()
        }
        Command::Audit(AuditCommand::Verify) => audit::verify(session).await?,
        Command::Audit(AuditCommand::Tail(args)) => audit::tail(session, args).await?,
        Command::Audit(AuditCommand::Rotate) => audit::rotate(session).await?.into(),
        Command::Token(TokenCommand::Info) => token::info(session).await?.into(),
        Command::Token(TokenCommand::Init(args)) => token::init(session, args).await?.into(),
        Command::Token(TokenCommand::InitPin(args)) => token::init_pin(session, args).await?.into(),
        Command::Token(TokenCommand::SetPin(args)) => token::set_pin(session, args).await?.into(),
        Command::Token(TokenCommand::UnlockSo(args)) => token::unlock_so(session, args).await?.into(),
        Command::AccessKey(AccessKeyCommand::Create(args)) => {
            access_keys::create(session, args).await?.into()
        }
        Command::AccessKey(AccessKeyCommand::List) => access_keys::list(session).await?.into(),
        Command::AccessKey(AccessKeyCommand::Delete(args)) => {
            access_keys::delete(session, args).await?.into()
        }
    })
}

//! arcactl: the admin CLI of the Arca key daemon. One subcommand per RPC; output is a table for
//! people or one JSON object for scripts; errors go to stderr as `arcactl: CODE: message`.
#![forbid(unsafe_code)]

mod admin;
mod cli;
mod crypto;
mod error;
mod input;
mod keys;
mod output;
mod session;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command};
use crate::error::CliError;
use crate::output::Record;
use crate::session::Session;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr().lock(), "arcactl: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(CliError::Runtime)?;
    let record = runtime.block_on(async {
        let session = Session::connect(&cli.global).await?;
        execute(&session, cli.command).await
    })?;
    output::print(&record, cli.global.output).map_err(CliError::io("cannot write the output"))
}

async fn execute(session: &Session, command: Command) -> Result<Record, CliError> {
    match command {
        Command::Status => admin::status(session).await,
        Command::Initialize(args) => admin::initialize(session, args).await,
        Command::Unseal(args) => admin::unseal(session, args).await,
        Command::CreateKey(args) => keys::create_key(session, args).await,
        Command::DescribeKey(args) => keys::describe_key(session, args).await,
        Command::ListKeys(args) => keys::list_keys(session, args).await,
        Command::Encrypt(args) => crypto::encrypt(session, args).await,
        Command::Decrypt(args) => crypto::decrypt(session, args).await,
        Command::ReEncrypt(args) => crypto::re_encrypt(session, args).await,
        Command::GenerateDataKey(args) => crypto::generate_data_key(session, args).await,
        Command::GenerateDataKeyWithoutPlaintext(args) => {
            crypto::generate_data_key_without_plaintext(session, args).await
        }
        Command::GenerateRandom(args) => crypto::generate_random(session, args).await,
    }
}

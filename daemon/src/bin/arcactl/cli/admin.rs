//! The arguments of the Admin service commands: init, unseal, backup.

use std::path::PathBuf;

use clap::Args;

/// The help text of init and unseal on where the passphrase comes from.
pub const PASSPHRASE_SOURCES: &str = "The passphrase comes from --passphrase-file, else $ARCA_PASSPHRASE, \
     else stdin: typed without echo when stdin is a terminal (twice for init), otherwise the first \
     line of stdin.";

/// The passphrase comes from --passphrase-file, else $ARCA_PASSPHRASE, else stdin: typed without
/// echo when stdin is a terminal, otherwise its first line.
#[derive(Debug, Args)]
pub struct PassphraseArgs {
    /// Read the passphrase from this file (one trailing newline is ignored).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    /// Generate a strong random passphrase (about 148 bits) and print it once, instead of reading
    /// one; $ARCA_PASSPHRASE is then ignored.
    #[arg(long, conflicts_with = "passphrase_file")]
    pub generate_passphrase: bool,
    /// Make PRINCIPAL an administrator of the new store (repeatable, at most 32): `uid:N` or
    /// `cert:SUBJECT`. The store keeps them; they administer it beside the configuration's
    /// `administrators`. Default: whoever runs `arcactl init`.
    #[arg(long = "administrator", value_name = "PRINCIPAL", value_parser = principal)]
    pub administrators: Vec<String>,
}

/// Checks a principal's form as the daemon will, before any passphrase is asked for.
fn principal(text: &str) -> Result<String, String> {
    arca_daemon::service::parse_principal(text).map_err(|error| match error {
        arca_daemon::Error::InvalidArgument(message) => message,
        other => other.to_string(),
    })
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Write the archive here (mode 0600). It is received into FILE.partial and renamed to FILE
    /// only once complete, so a failed or interrupted backup never leaves a truncated FILE.
    /// --timeout bounds the wait for each part of the archive, not the whole transfer.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

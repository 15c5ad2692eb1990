//! The arguments of the Admin service commands: init, unseal, backup.

use std::path::PathBuf;

use clap::Args;

/// The help text of init and unseal on where the passphrase comes from.
pub(super) const PASSPHRASE_SOURCES: &str = "The passphrase comes from --passphrase-file, else $ARCA_PASSPHRASE, \
     else stdin: typed without echo when stdin is a terminal (twice for init), otherwise the first \
     line of stdin.";

/// The help text of unseal: the passphrase, or custodians' shares of it.
pub(super) const UNSEAL_SOURCES: &str = "The passphrase comes from --passphrase-file, else $ARCA_PASSPHRASE, \
     else stdin: typed without echo when stdin is a terminal, otherwise the first line of stdin. \
     With --shares it is rebuilt from custodians' shares (`arcactl init --shares N --threshold M`): \
     at least M distinct shares of one split, from --share-file FILEs, else one share per line on \
     stdin (typed without echo on a terminal until M are given). A mistyped share, a share of \
     another split or one given twice is named and refused; the passphrase is never shown.";

/// The passphrase comes from --passphrase-file, else $ARCA_PASSPHRASE, else stdin: typed without
/// echo when stdin is a terminal, otherwise its first line.
#[derive(Debug, Args)]
pub(crate) struct PassphraseArgs {
    /// Read the passphrase from this file (one trailing newline is ignored).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    /// Generate a strong random passphrase (about 148 bits) and print it once, instead of reading
    /// one; $ARCA_PASSPHRASE is then ignored.
    #[arg(long, conflicts_with = "passphrase_file")]
    pub generate_passphrase: bool,
    /// Split the generated passphrase into N shares for custodians (2 to 255) and print the
    /// shares once instead of the passphrase, which is never shown: any --threshold of them
    /// unseal the store, fewer reveal nothing. Needs --generate-passphrase and --threshold.
    #[arg(
        long,
        value_name = "N",
        requires_all = ["generate_passphrase", "threshold"],
        value_parser = clap::value_parser!(u8).range(2..=255)
    )]
    pub shares: Option<u8>,
    /// How many of the --shares unseal the store (2 to N).
    #[arg(long, value_name = "M", requires = "shares", value_parser = clap::value_parser!(u8).range(2..=255))]
    pub threshold: Option<u8>,
    /// Make PRINCIPAL an administrator of the new store (repeatable, at most 32): `uid:N` or
    /// `cert:SUBJECT`. The store keeps them; they administer it beside the configuration's
    /// `administrators`. Default: whoever runs `arcactl init`.
    #[arg(long = "administrator", value_name = "PRINCIPAL", value_parser = principal)]
    pub administrators: Vec<String>,
}

impl InitArgs {
    /// --threshold at most --shares.
    pub(crate) fn check(&self) -> Result<(), String> {
        match (self.threshold, self.shares) {
            (Some(threshold), Some(count)) if threshold > count => Err(format!(
                "--threshold {threshold} is more than --shares {count}: the store could never be unsealed"
            )),
            _ => Ok(()),
        }
    }

    /// (threshold, count) when the generated passphrase is to be split into shares.
    pub(crate) fn custody(&self) -> Option<(u8, u8)> {
        self.threshold.zip(self.shares)
    }
}

/// Checks a principal's form as the daemon will, before any passphrase is asked for.
fn principal(text: &str) -> Result<String, String> {
    arca_proto::principal::parse_principal(text).map(str::to_owned).map_err(|error| error.describe(&text))
}

#[derive(Debug, Args)]
pub(crate) struct UnsealArgs {
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    /// Rebuild the passphrase from custodians' shares (see `arcactl init --shares`) read from
    /// stdin, one per line; $ARCA_PASSPHRASE is then ignored.
    #[arg(long, conflicts_with = "passphrase_file")]
    pub shares: bool,
    /// Read shares from FILE (repeatable; one share per line, blank lines ignored). Implies
    /// --shares.
    #[arg(long = "share-file", value_name = "FILE", conflicts_with = "passphrase_file")]
    pub share_files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// Write the archive here (mode 0600). It is received into FILE.partial and renamed to FILE
    /// only once complete, so a failed or interrupted backup never leaves a truncated FILE.
    /// --timeout bounds the wait for each part of the archive, not the whole transfer.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;
    use clap::error::ErrorKind;

    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<Command, ErrorKind> {
        let cli = Cli::try_parse_from([&["arcactl"], args].concat()).map_err(|error| error.kind())?;
        cli.command.check().map_err(|_| ErrorKind::ValueValidation)?;
        Ok(cli.command)
    }

    #[test]
    fn shares_and_threshold_go_together_with_a_generated_passphrase() {
        let init =
            |n: &str, m: &str| parse(&["init", "--generate-passphrase", "--shares", n, "--threshold", m]);
        let Ok(Command::Init(args)) = init("5", "3") else { panic!("5 shares, 3 needed") };
        assert_eq!(args.custody(), Some((3, 5)));
        assert!(init("2", "2").is_ok() && init("255", "255").is_ok());
        assert_eq!(init("3", "4").unwrap_err(), ErrorKind::ValueValidation);
        assert_eq!(init("1", "1").unwrap_err(), ErrorKind::ValueValidation);
        assert_eq!(init("5", "1").unwrap_err(), ErrorKind::ValueValidation);
        assert_eq!(init("256", "3").unwrap_err(), ErrorKind::ValueValidation);
        assert_eq!(init("0", "0").unwrap_err(), ErrorKind::ValueValidation);
        let missing = ErrorKind::MissingRequiredArgument;
        assert_eq!(parse(&["init", "--shares", "5", "--threshold", "3"]).unwrap_err(), missing);
        assert_eq!(parse(&["init", "--generate-passphrase", "--shares", "5"]).unwrap_err(), missing);
        assert_eq!(parse(&["init", "--generate-passphrase", "--threshold", "3"]).unwrap_err(), missing);
        let Ok(Command::Init(plain)) = parse(&["init", "--generate-passphrase"]) else {
            panic!("plain init")
        };
        assert_eq!(plain.custody(), None);
    }

    #[test]
    fn unseal_takes_shares_or_a_passphrase_file() {
        let Ok(Command::Unseal(args)) = parse(&["unseal", "--share-file", "a", "--share-file", "b"]) else {
            panic!("share files")
        };
        assert_eq!(args.share_files.len(), 2);
        assert!(matches!(parse(&["unseal", "--shares"]), Ok(Command::Unseal(args)) if args.shares));
        let conflict = parse(&["unseal", "--shares", "--passphrase-file", "p"]).unwrap_err();
        assert_eq!(conflict, ErrorKind::ArgumentConflict);
        let conflict = parse(&["unseal", "--share-file", "a", "--passphrase-file", "p"]).unwrap_err();
        assert_eq!(conflict, ErrorKind::ArgumentConflict);
    }
}

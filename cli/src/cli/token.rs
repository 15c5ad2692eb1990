//! `arcactl token …`: the PKCS#11 token's setup.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// The token's setup, as pkcs11-tool does it through the module.
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Show the token's label, serial number and flags (PIN state, lockout).
    Info,
    /// Initialise the token with an SO PIN and a label (C_InitToken; administrators only). On an
    /// initialised token the SO PIN is required: stored objects are destroyed and every key of the
    /// daemon is scheduled for deletion (30 days; cancel-key-deletion brings one back).
    Init(TokenInitArgs),
    /// Set, reset or unlock the user PIN as the SO (C_InitPIN).
    InitPin(TokenInitPinArgs),
    /// Change the user PIN, or with --so the SO PIN, given the current one (C_SetPIN).
    SetPin(TokenSetPinArgs),
    /// Administrators only: clear the SO PIN's lockout and, with --new-so-pin, replace a lost SO
    /// PIN. Token objects are left alone; the call is audited as UnlockSoPin.
    UnlockSo(TokenUnlockSoArgs),
}

#[derive(Debug, Args)]
pub(crate) struct TokenUnlockSoArgs {
    /// Also set a new SO PIN (from --new-so-pin-file, else $ARCA_NEW_SO_PIN, else stdin).
    #[arg(long)]
    pub new_so_pin: bool,
    /// Read the new SO PIN from this file (implies --new-so-pin).
    #[arg(long, value_name = "FILE")]
    pub new_so_pin_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct TokenInitArgs {
    /// The token label (at most 32 bytes).
    #[arg(long, value_name = "TEXT")]
    pub label: String,
    /// Read the SO PIN from this file, else $ARCA_SO_PIN, else stdin.
    #[arg(long, value_name = "FILE")]
    pub so_pin_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct TokenInitPinArgs {
    /// Read the SO PIN from this file, else $ARCA_SO_PIN, else stdin.
    #[arg(long, value_name = "FILE")]
    pub so_pin_file: Option<PathBuf>,
    /// Read the new user PIN from this file, else $ARCA_PIN, else stdin.
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct TokenSetPinArgs {
    /// Change the SO PIN instead of the user PIN.
    #[arg(long)]
    pub so: bool,
    /// Read the current PIN from this file, else $ARCA_PIN ($ARCA_SO_PIN with --so), else stdin.
    #[arg(long, value_name = "FILE")]
    pub old_pin_file: Option<PathBuf>,
    /// Read the new PIN from this file, else $ARCA_NEW_PIN ($ARCA_NEW_SO_PIN with --so), else stdin.
    #[arg(long, value_name = "FILE")]
    pub new_pin_file: Option<PathBuf>,
}

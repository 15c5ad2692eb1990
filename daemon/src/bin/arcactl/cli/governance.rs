//! The arguments of the key governance commands (state, aliases, rotation, deletion, policy) and
//! of the audit commands.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// The help text of `audit verify` on its exit status.
pub const EXIT_STATUS_AUDIT: &str = "Exit status: 0 when the audit log is intact, 3 when it is not \
     (the first bad record's sequence number and the reason are printed), 1 on any error.";

/// A command that takes one key and nothing else.
#[derive(Debug, Args)]
pub struct KeyIdArgs {
    /// The key's id (a UUID).
    pub key_id: String,
}

#[derive(Debug, Args)]
pub struct AliasArgs {
    /// The alias name (`alias/...`).
    pub alias_name: String,
    /// The key id the alias points to (not another alias).
    pub target_key_id: String,
}

#[derive(Debug, Args)]
pub struct DeleteAliasArgs {
    /// The alias name (`alias/...`).
    pub alias_name: String,
}

#[derive(Debug, Args)]
pub struct ListAliasesArgs {
    /// Only the aliases of this key.
    #[arg(long, value_name = "KEY_ID")]
    pub key_id: Option<String>,
    /// Page size, 1..1000 (the daemon's default is 100).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Start at this page (the `next_page_token` of the previous one).
    #[arg(long, value_name = "TOKEN")]
    pub page_token: Option<String>,
    /// Follow `next_page_token` until the last page.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct EnableKeyRotationArgs {
    /// The key's id (a UUID).
    pub key_id: String,
    /// Rotate every N days, 90..2560 [default: the daemon's, 365].
    #[arg(long, value_name = "N")]
    pub period_days: Option<u32>,
}

#[derive(Debug, Args)]
pub struct ScheduleKeyDeletionArgs {
    /// The key's id (a UUID).
    pub key_id: String,
    /// Delete the key after N days, 7..30 [default: the daemon's, 30].
    #[arg(long, value_name = "N")]
    pub pending_window_days: Option<u32>,
}

#[derive(Debug, Args)]
pub struct PutKeyPolicyArgs {
    /// The key's id (a UUID).
    pub key_id: String,
    /// Read the JSON policy document from this file.
    #[arg(long, value_name = "FILE")]
    pub policy_file: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain and MACs.
    #[command(after_help = EXIT_STATUS_AUDIT)]
    Verify,
    /// Print the newest audit records, one JSON line each (with --output json: one object holding
    /// them as strings).
    Tail(AuditTailArgs),
}

#[derive(Debug, Args)]
pub struct AuditTailArgs {
    /// How many records, 1..1000 [default: the daemon's, 100].
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Only records about this key.
    #[arg(long, value_name = "KEY_ID")]
    pub key: Option<String>,
    /// Only records of this caller.
    #[arg(long, value_name = "PRINCIPAL")]
    pub principal: Option<String>,
}

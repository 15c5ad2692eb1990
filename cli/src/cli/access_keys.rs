//! `arcactl access-key …`: the access keys the AWS KMS front's callers sign requests with.

use clap::{Args, Subcommand};

/// Access keys (AWS-style credentials bound to a principal); administrators only.
#[derive(Debug, Subcommand)]
pub(crate) enum AccessKeyCommand {
    /// Make an access key bound to a principal and print its id and secret. The secret is shown
    /// this once: the daemon keeps it sealed and never shows it again.
    Create(AccessKeyCreateArgs),
    /// List the access keys (ids, principals, descriptions, dates; never secrets).
    List,
    /// Delete an access key: requests signed with it are refused from then on.
    Delete(AccessKeyDeleteArgs),
}

#[derive(Debug, Args)]
pub(crate) struct AccessKeyCreateArgs {
    /// The principal whose permissions requests signed with the key have (`uid:N`,
    /// `cert:SUBJECT`).
    #[arg(long, value_name = "PRINCIPAL")]
    pub principal: String,
    /// What the key is for (printable text).
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub description: String,
}

#[derive(Debug, Args)]
pub(crate) struct AccessKeyDeleteArgs {
    /// The access key id (`AKIA…`).
    #[arg(value_name = "ACCESS_KEY_ID")]
    pub access_key_id: String,
}

//! The arguments of the key governance commands (state, aliases, rotation, deletion, policy,
//! grants, imported key material) and of the audit commands.

use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::{ArgGroup, Args, Subcommand};

use super::Pair;
use crate::input::{parse_pair, parse_valid_to};

/// The help text of `audit verify` on its exit status.
pub(super) const EXIT_STATUS_AUDIT: &str = "Exit status: 0 when the audit log is intact, 3 when it is not \
     (the first bad record's sequence number, its file and the reason are printed), 1 on any error.";

/// A command that takes one key and nothing else.
#[derive(Debug, Args)]
pub(crate) struct KeyIdArgs {
    /// The key's id (a UUID).
    pub key_id: String,
}

#[derive(Debug, Args)]
pub(crate) struct AliasArgs {
    /// The alias name (`alias/...`).
    pub alias_name: String,
    /// The key id the alias points to (not another alias).
    pub target_key_id: String,
}

#[derive(Debug, Args)]
pub(crate) struct DeleteAliasArgs {
    /// The alias name (`alias/...`).
    pub alias_name: String,
}

#[derive(Debug, Args)]
pub(crate) struct ListAliasesArgs {
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
pub(crate) struct EnableKeyRotationArgs {
    /// The key's id (a UUID).
    pub key_id: String,
    /// Rotate every N days, 90..2560 [default: the daemon's, 365].
    #[arg(long, value_name = "N")]
    pub period_days: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct ScheduleKeyDeletionArgs {
    /// The key's id (a UUID).
    pub key_id: String,
    /// Delete the key after N days, 7..30 [default: the daemon's, 30].
    #[arg(long, value_name = "N")]
    pub pending_window_days: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct PutKeyPolicyArgs {
    /// The key's id (a UUID).
    pub key_id: String,
    /// Read the JSON policy document from this file.
    #[arg(long, value_name = "FILE")]
    pub policy_file: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the audit log's hash chain and MACs.
    #[command(after_help = EXIT_STATUS_AUDIT)]
    Verify,
    /// Print the newest audit records, one JSON line each (with --output json: one object holding
    /// them as strings), read across rotated files.
    Tail(AuditTailArgs),
    /// Set the current audit file aside as audit.log.<first-seq>-<last-seq> and start a new one
    /// that continues the hash chain (administrators only).
    Rotate,
}

#[derive(Debug, Args)]
pub(crate) struct AuditTailArgs {
    /// How many records, 1..1000 [default: the daemon's, 100].
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Only records about this key.
    #[arg(long, value_name = "KEY_ID")]
    pub key: Option<String>,
    /// Only records of this caller.
    #[arg(long, value_name = "PRINCIPAL")]
    pub principal: Option<String>,
    /// Only calls that came this way.
    #[arg(long, value_name = "SOURCE", value_parser = PossibleValuesParser::new(AUDIT_SOURCES))]
    pub source: Option<String>,
}

/// The sources an audit record names: the face, then the transport.
const AUDIT_SOURCES: [&str; 4] = ["grpc/unix", "grpc/tls", "pkcs11/unix", "pkcs11/tls"];

/// The wrapping algorithms GetParametersForImport offers.
pub(super) const WRAPPING_ALGORITHMS: [&str; 3] =
    ["RSA_AES_KEY_WRAP_SHA_256", "RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"];
/// The wrapping key specs GetParametersForImport offers.
pub(super) const WRAPPING_KEY_SPECS: [&str; 3] = ["RSA_2048", "RSA_3072", "RSA_4096"];

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("constraint").multiple(false)))]
pub(crate) struct CreateGrantArgs {
    /// The key the grant is for (id or alias).
    pub key_id: String,
    /// Who receives the permissions: `uid:N` or `cert:SUBJECT`.
    #[arg(long, value_name = "PRINCIPAL")]
    pub grantee_principal: String,
    /// An operation the grant allows (Encrypt, Decrypt, GenerateDataKey, Sign, …); repeat, or
    /// separate with commas.
    #[arg(long = "operation", value_name = "OP", value_delimiter = ',', required = true)]
    pub operations: Vec<String>,
    /// Who may retire the grant besides the key's administrators.
    #[arg(long, value_name = "PRINCIPAL")]
    pub retiring_principal: Option<String>,
    /// A name for the grant.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Constraint: the request's encryption context must contain this pair; repeat for more.
    #[arg(long = "encryption-context-subset", value_name = "K=V", value_parser = parse_pair, group = "constraint")]
    pub context_subset: Vec<Pair>,
    /// Constraint: the request's encryption context must be exactly these pairs; repeat for more.
    #[arg(long = "encryption-context-equals", value_name = "K=V", value_parser = parse_pair, group = "constraint")]
    pub context_equals: Vec<Pair>,
}

#[derive(Debug, Args)]
pub(crate) struct ListRetirableGrantsArgs {
    /// The retiring principal whose grants to list (`uid:N` or `cert:SUBJECT`).
    #[arg(long, value_name = "PRINCIPAL")]
    pub retiring_principal: String,
}

#[derive(Debug, Args)]
pub(crate) struct RetireGrantArgs {
    /// The grant id (or its token, which is the same).
    pub grant_id: String,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeGrantArgs {
    /// The key the grant is for (id or alias).
    pub key_id: String,
    /// The grant id.
    pub grant_id: String,
}

/// Which wrapping key and algorithm to ask for.
#[derive(Debug, Args)]
pub(crate) struct WrappingArgs {
    /// RSA_AES_KEY_WRAP_SHA_256 (any key; the only one for RSA and ECC keys), RSAES_OAEP_SHA_256 or
    /// RSAES_OAEP_SHA_1 (AES and HMAC keys).
    #[arg(long, value_name = "ALG", default_value = "RSA_AES_KEY_WRAP_SHA_256",
          value_parser = PossibleValuesParser::new(WRAPPING_ALGORITHMS))]
    pub wrapping_algorithm: String,
    /// The size of the daemon's one-off RSA wrapping key.
    #[arg(long, value_name = "SPEC", default_value = "RSA_3072",
          value_parser = PossibleValuesParser::new(WRAPPING_KEY_SPECS))]
    pub wrapping_key_spec: String,
}

#[derive(Debug, Args)]
pub(crate) struct GetParametersForImportArgs {
    /// A key of origin EXTERNAL.
    pub key_id: String,
    #[command(flatten)]
    pub wrapping: WrappingArgs,
    /// Write the wrapping public key (DER SubjectPublicKeyInfo) here.
    #[arg(long, value_name = "FILE")]
    pub public_key_out: Option<PathBuf>,
    /// Write the import token here.
    #[arg(long, value_name = "FILE")]
    pub import_token_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("material").required(true)))]
pub(crate) struct ImportKeyMaterialArgs {
    /// A key of origin EXTERNAL.
    pub key_id: String,
    /// The plaintext key material: raw bytes for AES_256 and HMAC keys, a PKCS#8 private key (DER,
    /// or PEM `PRIVATE KEY`) of the key's spec for RSA and ECC keys. arcactl fetches import
    /// parameters and wraps it itself.
    #[arg(long, value_name = "FILE", group = "material")]
    pub material_file: Option<PathBuf>,
    /// Material wrapped already (with parameters from get-parameters-for-import).
    #[arg(long, value_name = "FILE", group = "material", requires = "import_token_file")]
    pub encrypted_material_file: Option<PathBuf>,
    /// The import token the wrapped material goes with.
    #[arg(long, value_name = "FILE", requires = "encrypted_material_file")]
    pub import_token_file: Option<PathBuf>,
    #[command(flatten)]
    pub wrapping: WrappingArgs,
    /// When the material expires and is deleted: seconds since the Unix epoch, `YYYY-MM-DD` or
    /// `YYYY-MM-DDTHH:MM:SSZ` (UTC) [default: never].
    #[arg(long, value_name = "WHEN", value_parser = parse_valid_to)]
    pub valid_to: Option<i64>,
}

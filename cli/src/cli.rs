//! The command line: global connection and output options, one subcommand per RPC.

mod access_keys;
mod admin;
mod asymmetric;
mod governance;
mod token;

use std::path::PathBuf;

use arca_proto::DEFAULT_SOCKET;

use arca_proto::v1 as pb;
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

pub(crate) use self::access_keys::{AccessKeyCommand, AccessKeyCreateArgs, AccessKeyDeleteArgs};
pub(crate) use self::admin::{BackupArgs, InitArgs, UnsealArgs};
pub(crate) use self::asymmetric::{
    DataKeyPairArgs, GenerateMacArgs, GetPublicKeyArgs, MacSource, MessageSource, PrivateDataKeyPairArgs,
    SignArgs, SignatureSource, VerifyArgs, VerifyMacArgs,
};
pub(crate) use self::governance::{
    AliasArgs, AuditCommand, AuditTailArgs, CreateGrantArgs, DeleteAliasArgs, EnableKeyRotationArgs,
    GetParametersForImportArgs, ImportKeyMaterialArgs, KeyIdArgs, ListAliasesArgs, ListRetirableGrantsArgs,
    PutKeyPolicyArgs, RetireGrantArgs, RevokeGrantArgs, ScheduleKeyDeletionArgs, WrappingArgs,
};
pub(crate) use self::token::{
    TokenCommand, TokenInitArgs, TokenInitPinArgs, TokenSetPinArgs, TokenUnlockSoArgs,
};
use crate::input::{
    Bytes, parse_base64, parse_data_key_spec, parse_encryption_algorithm, parse_key_spec, parse_key_state,
    parse_key_usage, parse_origin, parse_pair, parse_request_id, parse_tag_filter,
};

/// The default of --encryption-algorithm.
const DEFAULT_ALG: &str = "SYMMETRIC_DEFAULT";

/// A `key=value` pair given on the command line.
pub(crate) type Pair = (String, String);

/// Administer an Arca key daemon over its gRPC API.
#[derive(Debug, Parser)]
#[command(name = "arcactl", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the daemon is and how to talk to it.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct Global {
    /// The daemon's Unix socket [default: /run/arca/arca.sock].
    #[arg(long, global = true, env = "ARCA_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Connect here instead of --socket: `https://host:port` (with the three TLS files) or
    /// `unix:PATH`; several nodes comma-separated, all of one kind, are tried in order (and
    /// `audit verify` verifies each).
    #[arg(long, global = true, value_name = "URL[,URL…]")]
    pub endpoint: Option<String>,
    /// PEM CA certificate that signed the daemon's TLS certificate.
    #[arg(long, global = true, value_name = "FILE", requires_all = ["endpoint", "client_cert", "client_key"])]
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate presented to the daemon.
    #[arg(long, global = true, value_name = "FILE", requires_all = ["endpoint", "ca_cert", "client_key"])]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of --client-cert.
    #[arg(long, global = true, value_name = "FILE", requires_all = ["endpoint", "ca_cert", "client_cert"])]
    pub client_key: Option<PathBuf>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Request id sent as `x-request-id` metadata (the daemon logs it; one is generated if absent).
    #[arg(long, global = true, value_name = "ID", value_parser = parse_request_id)]
    pub request_id: Option<String>,
    /// Give up on the call after this many seconds.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
}

impl Global {
    pub(crate) fn socket(&self) -> PathBuf {
        self.socket.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// One JSON object: proto field names, bytes in base64, enums by name.
    Json,
    /// Aligned `field  value` lines.
    Table,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show whether the store is initialized and sealed, who the daemon sees calling, and who
    /// administers it.
    Status,
    /// First-time setup of a passphrase-sealed store: create its master key and its first
    /// administrators (and unseal it).
    #[command(alias = "initialize", after_help = admin::PASSPHRASE_SOURCES)]
    Init(InitArgs),
    /// Unseal a passphrase-sealed store, with its passphrase or custodians' shares of it.
    #[command(after_help = admin::UNSEAL_SOURCES)]
    Unseal(UnsealArgs),
    /// Save a consistent copy of the sealed store to a file (restore it offline with `arcad restore`).
    Backup(BackupArgs),
    /// Create a key.
    CreateKey(CreateKeyArgs),
    /// Show a key's metadata.
    DescribeKey(DescribeKeyArgs),
    /// List key ids, one page or (--all) every page.
    ListKeys(ListKeysArgs),
    /// Encrypt up to 4 KiB under a key.
    Encrypt(EncryptArgs),
    /// Decrypt a ciphertext blob.
    Decrypt(DecryptArgs),
    /// Decrypt a blob and encrypt its plaintext under another key, inside the daemon.
    ReEncrypt(ReEncryptArgs),
    /// Generate a data key: its plaintext and its ciphertext under a key.
    GenerateDataKey(DataKeyArgs),
    /// Generate a data key and return only its ciphertext.
    GenerateDataKeyWithoutPlaintext(DataKeyArgs),
    /// Get random bytes from the daemon.
    GenerateRandom(RandomArgs),
    /// Sign a message (or its digest) with an RSA or ECC key of usage SIGN_VERIFY.
    Sign(SignArgs),
    /// Check a signature inside the daemon.
    #[command(after_help = asymmetric::EXIT_STATUS_SIGNATURE)]
    Verify(VerifyArgs),
    /// Get the public key of an RSA or ECC key (DER SubjectPublicKeyInfo, or PEM).
    GetPublicKey(GetPublicKeyArgs),
    /// Compute the HMAC of a message with a key of usage GENERATE_VERIFY_MAC.
    GenerateMac(GenerateMacArgs),
    /// Check an HMAC inside the daemon.
    #[command(after_help = asymmetric::EXIT_STATUS_MAC)]
    VerifyMac(VerifyMacArgs),
    /// Generate an RSA or ECC key pair: its private key in the clear and sealed under a key.
    GenerateDataKeyPair(PrivateDataKeyPairArgs),
    /// Generate an RSA or ECC key pair and return only its sealed private key and public key.
    GenerateDataKeyPairWithoutPlaintext(DataKeyPairArgs),
    /// Enable a disabled key.
    EnableKey(KeyIdArgs),
    /// Disable a key: it refuses cryptographic operations until enabled again.
    DisableKey(KeyIdArgs),
    /// Create an alias for a key.
    CreateAlias(AliasArgs),
    /// Point an existing alias at another key.
    UpdateAlias(AliasArgs),
    /// Delete an alias (not its key).
    DeleteAlias(DeleteAliasArgs),
    /// List aliases, one page or (--all) every page.
    ListAliases(ListAliasesArgs),
    /// Rotate a key's material now: new encryptions use a new version.
    RotateKey(KeyIdArgs),
    /// Rotate a key automatically every --period-days.
    EnableKeyRotation(EnableKeyRotationArgs),
    /// Stop rotating a key automatically.
    DisableKeyRotation(KeyIdArgs),
    /// Show whether and when a key rotates automatically.
    GetKeyRotationStatus(KeyIdArgs),
    /// List a key's versions and when each was created.
    ListKeyRotations(KeyIdArgs),
    /// Delete a key after a waiting period (it is disabled meanwhile).
    ScheduleKeyDeletion(ScheduleKeyDeletionArgs),
    /// Cancel a scheduled deletion; the key stays disabled until enabled.
    CancelKeyDeletion(KeyIdArgs),
    /// Replace a key's policy with a JSON document.
    PutKeyPolicy(PutKeyPolicyArgs),
    /// Show a key's policy (the JSON document itself in table output).
    GetKeyPolicy(KeyIdArgs),
    /// Give a principal permission to use a key for some operations.
    CreateGrant(CreateGrantArgs),
    /// List a key's grants.
    ListGrants(KeyIdArgs),
    /// List the grants a principal may retire.
    ListRetirableGrants(ListRetirableGrantsArgs),
    /// Retire a grant (as its retiring principal, its grantee, or a key administrator).
    RetireGrant(RetireGrantArgs),
    /// Revoke a grant of a key.
    RevokeGrant(RevokeGrantArgs),
    /// Get a one-off wrapping public key and import token for a key of origin EXTERNAL.
    GetParametersForImport(GetParametersForImportArgs),
    /// Import key material into a key of origin EXTERNAL (wrapped here, from a plaintext file).
    ImportKeyMaterial(ImportKeyMaterialArgs),
    /// Delete a key's imported material; the key waits in PENDING_IMPORT for the same material.
    DeleteImportedKeyMaterial(KeyIdArgs),
    /// Check or read the daemon's audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Set up the PKCS#11 token (what pkcs11-tool's --init-token, --init-pin and --change-pin do).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Create, list or delete the access keys of the AWS KMS front (administrators only).
    #[command(subcommand)]
    AccessKey(AccessKeyCommand),
}

impl Command {
    /// What clap cannot check alone (it exits with status 2 like clap's own refusals).
    pub(crate) fn check(&self) -> Result<(), String> {
        match self {
            Self::Init(args) => args.check(),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct CreateKeyArgs {
    /// Free text about the key.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// The key spec: AES_256, RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384,
    /// ECC_NIST_P521, ECC_SECG_P256K1 (SIGN_VERIFY only), ECC_NIST_EDWARDS25519 (SIGN_VERIFY only),
    /// HMAC_224, HMAC_256, HMAC_384 or HMAC_512.
    #[arg(long, value_name = "SPEC", default_value = "AES_256", value_parser = parse_key_spec)]
    pub key_spec: pb::KeySpec,
    /// ENCRYPT_DECRYPT, SIGN_VERIFY or GENERATE_VERIFY_MAC [default: the spec's first: ENCRYPT_DECRYPT
    /// for AES and RSA, SIGN_VERIFY for ECC, GENERATE_VERIFY_MAC for HMAC].
    #[arg(long, value_name = "USAGE", value_parser = parse_key_usage)]
    pub key_usage: Option<pb::KeyUsage>,
    /// A tag; repeat for more.
    #[arg(long = "tag", value_name = "K=V", value_parser = parse_pair)]
    pub tags: Vec<Pair>,
    /// ARCA (the daemon generates the material) or EXTERNAL (the key waits in PENDING_IMPORT for
    /// import-key-material).
    #[arg(long, value_name = "ORIGIN", default_value = "ARCA", value_parser = parse_origin)]
    pub origin: pb::KeyOrigin,
}

#[derive(Debug, Args)]
pub(crate) struct DescribeKeyArgs {
    /// The key's id (a UUID).
    pub key_id: String,
}

#[derive(Debug, Args)]
pub(crate) struct ListKeysArgs {
    /// Page size, 1..1000 (the daemon's default is 100).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Start at this page (the `next_page_token` of the previous one).
    #[arg(long, value_name = "TOKEN")]
    pub page_token: Option<String>,
    /// Follow `next_page_token` until the last page.
    #[arg(long)]
    pub all: bool,
    /// Only keys of this spec (AES_256, RSA_2048, ECC_NIST_P256, HMAC_256, …).
    #[arg(long, value_name = "SPEC", value_parser = parse_key_spec)]
    pub spec: Option<pb::KeySpec>,
    /// Only keys of this usage: ENCRYPT_DECRYPT, SIGN_VERIFY or GENERATE_VERIFY_MAC.
    #[arg(long, value_name = "USAGE", value_parser = parse_key_usage)]
    pub usage: Option<pb::KeyUsage>,
    /// Only keys in this state: ENABLED, DISABLED, PENDING_DELETION, PENDING_IMPORT or UNAVAILABLE.
    #[arg(long, value_name = "STATE", value_parser = parse_key_state)]
    pub state: Option<pb::KeyState>,
    /// Only keys of this origin: ARCA or EXTERNAL.
    #[arg(long, value_name = "ORIGIN", value_parser = parse_origin)]
    pub origin: Option<pb::KeyOrigin>,
    /// Only keys with this tag: `K=V`, or `K` for any value.
    #[arg(long, value_name = "K[=V]", value_parser = parse_tag_filter)]
    pub tag: Option<pb::TagFilter>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("plaintext_source").required(true)))]
pub(crate) struct EncryptArgs {
    /// The key to encrypt under.
    #[arg(long, value_name = "KEY_ID")]
    pub key_id: String,
    /// The plaintext, base64.
    #[arg(long, value_name = "B64", group = "plaintext_source", value_parser = parse_base64)]
    pub plaintext_base64: Option<Bytes>,
    /// Read the plaintext from this file.
    #[arg(long, value_name = "FILE", group = "plaintext_source")]
    pub plaintext_file: Option<PathBuf>,
    /// The plaintext as text (its UTF-8 bytes).
    #[arg(long, value_name = "TEXT", group = "plaintext_source")]
    pub plaintext: Option<String>,
    /// An encryption context entry (SYMMETRIC_DEFAULT only); repeat for more.
    #[arg(long = "context", value_name = "K=V", value_parser = parse_pair)]
    pub context: Vec<Pair>,
    /// SYMMETRIC_DEFAULT (AES_256 keys), RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256 (RSA keys).
    #[arg(long, value_name = "ALG", default_value = DEFAULT_ALG, value_parser = parse_encryption_algorithm)]
    pub encryption_algorithm: pb::EncryptionAlgorithm,
    /// Write the raw ciphertext blob here instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// A ciphertext blob given inline or as a file.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct CiphertextSource {
    /// The ciphertext blob, base64.
    #[arg(long, value_name = "B64", value_parser = parse_base64)]
    pub ciphertext_base64: Option<Bytes>,
    /// Read the raw ciphertext blob from this file.
    #[arg(long, value_name = "FILE")]
    pub ciphertext_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct DecryptArgs {
    #[command(flatten)]
    pub ciphertext: CiphertextSource,
    /// Fail unless the blob was made under this key (required with RSAES_OAEP algorithms).
    #[arg(long, value_name = "KEY_ID")]
    pub key_id: Option<String>,
    /// An encryption context entry (SYMMETRIC_DEFAULT only); repeat for more.
    #[arg(long = "context", value_name = "K=V", value_parser = parse_pair)]
    pub context: Vec<Pair>,
    /// SYMMETRIC_DEFAULT (AES_256 keys), RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256 (RSA keys).
    #[arg(long, value_name = "ALG", default_value = DEFAULT_ALG, value_parser = parse_encryption_algorithm)]
    pub encryption_algorithm: pb::EncryptionAlgorithm,
    /// Write the raw plaintext here (mode 0600) instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ReEncryptArgs {
    #[command(flatten)]
    pub ciphertext: CiphertextSource,
    /// The key to encrypt the plaintext under again.
    #[arg(long, value_name = "KEY_ID")]
    pub destination_key_id: String,
    /// Fail unless the blob was made under this key.
    #[arg(long, value_name = "KEY_ID")]
    pub source_key_id: Option<String>,
    /// The blob's encryption context entry; repeat for more.
    #[arg(long = "source-context", value_name = "K=V", value_parser = parse_pair)]
    pub source_context: Vec<Pair>,
    /// The new blob's encryption context entry; repeat for more.
    #[arg(long = "destination-context", value_name = "K=V", value_parser = parse_pair)]
    pub destination_context: Vec<Pair>,
    /// Write the raw new ciphertext blob here instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("size").required(true).args(["key_spec", "number_of_bytes"])))]
pub(crate) struct DataKeyArgs {
    /// The key that encrypts the data key.
    #[arg(long, value_name = "KEY_ID")]
    pub key_id: String,
    /// AES_128 or AES_256.
    #[arg(long, value_name = "SPEC", value_parser = parse_data_key_spec)]
    pub key_spec: Option<pb::DataKeySpec>,
    /// The data key length in bytes, 1..1024.
    #[arg(long, value_name = "N")]
    pub number_of_bytes: Option<u32>,
    /// An encryption context entry; repeat for more.
    #[arg(long = "context", value_name = "K=V", value_parser = parse_pair)]
    pub context: Vec<Pair>,
}

#[derive(Debug, Args)]
pub(crate) struct RandomArgs {
    /// How many bytes, 1..1024.
    #[arg(long, value_name = "N")]
    pub number_of_bytes: u32,
    /// Write the raw bytes here (mode 0600) instead of printing them.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    #[test]
    fn arguments_are_consistent() {
        Cli::command().debug_assert();
    }
}

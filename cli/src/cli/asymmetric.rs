//! The arguments of the key pair and MAC commands: sign, verify, get-public-key, generate-mac,
//! verify-mac and the data key pairs.

use std::path::PathBuf;

use arca_proto::v1 as pb;
use clap::Args;

use super::Pair;
use crate::input::{
    Bytes, parse_base64, parse_key_pair_spec, parse_mac_algorithm, parse_message_type, parse_pair,
    parse_signing_algorithm,
};

pub(super) const EXIT_STATUS_SIGNATURE: &str =
    "Exit status: 0 when the signature is valid, 3 when it is not, 1 on any error.";
pub(super) const EXIT_STATUS_MAC: &str =
    "Exit status: 0 when the MAC is valid, 3 when it is not, 1 on any error.";

/// The message given as text, base64 or a file.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct MessageSource {
    /// The message as text (its UTF-8 bytes).
    #[arg(long, value_name = "TEXT")]
    pub message: Option<String>,
    /// The message, base64.
    #[arg(long, value_name = "B64", value_parser = parse_base64)]
    pub message_base64: Option<Bytes>,
    /// Read the message from this file.
    #[arg(long, value_name = "FILE")]
    pub message_file: Option<PathBuf>,
}

/// A signature given inline or as a file.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct SignatureSource {
    /// The signature, base64.
    #[arg(long, value_name = "B64", value_parser = parse_base64)]
    pub signature_base64: Option<Bytes>,
    /// Read the raw signature from this file.
    #[arg(long, value_name = "FILE")]
    pub signature_file: Option<PathBuf>,
}

/// A MAC given inline or as a file.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct MacSource {
    /// The MAC, base64.
    #[arg(long, value_name = "B64", value_parser = parse_base64)]
    pub mac_base64: Option<Bytes>,
    /// Read the raw MAC from this file.
    #[arg(long, value_name = "FILE")]
    pub mac_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// The signing key.
    #[arg(long, value_name = "KEY_ID")]
    pub key_id: String,
    /// RSASSA_PKCS1_V1_5_SHA_256|384|512, RSASSA_PSS_SHA_256|384|512 (RSA keys), ECDSA_SHA_256 (P-256,
    /// secp256k1), ECDSA_SHA_384 (P-384) or ECDSA_SHA_512 (P-521).
    #[arg(long, value_name = "ALG", value_parser = parse_signing_algorithm)]
    pub signing_algorithm: pb::SigningAlgorithm,
    #[command(flatten)]
    pub message: MessageSource,
    /// RAW (up to 4096 bytes, hashed by the daemon) or DIGEST (the algorithm's hash of the message).
    #[arg(long, value_name = "TYPE", default_value = "RAW", value_parser = parse_message_type)]
    pub message_type: pb::MessageType,
    /// Write the raw signature here instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The key that made the signature.
    #[arg(long, value_name = "KEY_ID")]
    pub key_id: String,
    /// The algorithm the signature was made with (as for sign).
    #[arg(long, value_name = "ALG", value_parser = parse_signing_algorithm)]
    pub signing_algorithm: pb::SigningAlgorithm,
    #[command(flatten)]
    pub message: MessageSource,
    /// RAW or DIGEST, as for sign.
    #[arg(long, value_name = "TYPE", default_value = "RAW", value_parser = parse_message_type)]
    pub message_type: pb::MessageType,
    #[command(flatten)]
    pub signature: SignatureSource,
}

#[derive(Debug, Args)]
pub(crate) struct GetPublicKeyArgs {
    /// The key's id (a UUID).
    pub key_id: String,
    /// Give the key as PEM (`-----BEGIN PUBLIC KEY-----`) instead of base64 DER; in table output,
    /// only the PEM is printed.
    #[arg(long)]
    pub pem: bool,
    /// Write the public key (DER, or PEM with --pem) here instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct GenerateMacArgs {
    /// The HMAC key.
    #[arg(long, value_name = "KEY_ID")]
    pub key_id: String,
    /// HMAC_SHA_256, HMAC_SHA_384 or HMAC_SHA_512 (the one matching the key spec).
    #[arg(long, value_name = "ALG", value_parser = parse_mac_algorithm)]
    pub mac_algorithm: pb::MacAlgorithm,
    #[command(flatten)]
    pub message: MessageSource,
    /// Write the raw MAC here instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyMacArgs {
    /// The HMAC key.
    #[arg(long, value_name = "KEY_ID")]
    pub key_id: String,
    /// HMAC_SHA_256, HMAC_SHA_384 or HMAC_SHA_512 (the one matching the key spec).
    #[arg(long, value_name = "ALG", value_parser = parse_mac_algorithm)]
    pub mac_algorithm: pb::MacAlgorithm,
    #[command(flatten)]
    pub message: MessageSource,
    #[command(flatten)]
    pub mac: MacSource,
}

#[derive(Debug, Args)]
pub(crate) struct DataKeyPairArgs {
    /// The AES_256 key that encrypts the private key.
    #[arg(long, value_name = "KEY_ID")]
    pub key_id: String,
    /// RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1 or
    /// ECC_NIST_EDWARDS25519.
    #[arg(long, value_name = "SPEC", value_parser = parse_key_pair_spec)]
    pub key_pair_spec: pb::KeySpec,
    /// An encryption context entry of the sealed private key; repeat for more.
    #[arg(long = "context", value_name = "K=V", value_parser = parse_pair)]
    pub context: Vec<Pair>,
}

#[derive(Debug, Args)]
pub(crate) struct PrivateDataKeyPairArgs {
    #[command(flatten)]
    pub pair: DataKeyPairArgs,
    /// Write the private key (PKCS#8 DER) here (mode 0600) instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub private_key_out: Option<PathBuf>,
}

//! Key pair and MAC commands: sign, verify, get-public-key, generate-mac, verify-mac and the data
//! key pairs.

use arca_proto::v1 as pb;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::cli::{
    DataKeyPairArgs, GenerateMacArgs, GetPublicKeyArgs, PrivateDataKeyPairArgs, SignArgs, VerifyArgs,
    VerifyMacArgs,
};
use crate::crypto::bytes_field;
use crate::error::CliError;
use crate::input::{mac, message, pairs_to_map, signature, write_out};
use crate::keys::{enum_list, enum_name};
use crate::output::{Record, Reply, Value, Verdict};
use crate::progress::{rsa_generation, spin};
use crate::session::Session;

/// The width of a PEM body line (RFC 7468).
const PEM_LINE: usize = 64;

fn signing_algorithm(raw: i32) -> Value {
    enum_name(raw, pb::SigningAlgorithm::as_str_name)
}

fn mac_algorithm(raw: i32) -> Value {
    enum_name(raw, pb::MacAlgorithm::as_str_name)
}

fn key_spec(raw: i32) -> Value {
    enum_name(raw, pb::KeySpec::as_str_name)
}

/// A PEM document: the base64 of `der` in lines of 64 characters between the two labels.
fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for (index, character) in body.chars().enumerate() {
        if index > 0 && index % PEM_LINE == 0 {
            text.push('\n');
        }
        text.push(character);
    }
    if !body.is_empty() {
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

pub(crate) async fn sign(session: &Session, args: SignArgs) -> Result<Record, CliError> {
    let request = pb::SignRequest {
        key_id: args.key_id,
        message: message(args.message)?,
        message_type: args.message_type.into(),
        signing_algorithm: args.signing_algorithm.into(),
        grant_tokens: Default::default(),
    };
    let response = session.call(session.kms().sign(session.request(request))).await?;
    let record = Record::new().with("key_id", response.key_id);
    Ok(bytes_field(record, "signature", response.signature, args.out.as_deref())?
        .with("signing_algorithm", signing_algorithm(response.signing_algorithm)))
}

/// Exits 3 (through [`Verdict::NotValid`]) when the signature does not match.
pub(crate) async fn verify(session: &Session, args: VerifyArgs) -> Result<Reply, CliError> {
    let request = pb::VerifyRequest {
        key_id: args.key_id,
        message: message(args.message)?,
        message_type: args.message_type.into(),
        signature: signature(args.signature)?,
        signing_algorithm: args.signing_algorithm.into(),
        grant_tokens: Default::default(),
    };
    let response = session.call(session.kms().verify(session.request(request))).await?;
    let record = Record::new()
        .with("key_id", response.key_id)
        .with("signature_valid", response.signature_valid)
        .with("signing_algorithm", signing_algorithm(response.signing_algorithm));
    Ok(Reply::check(record, response.signature_valid))
}

/// The key as base64 DER or (--pem) PEM text, or written to --out; with --pem and no --out, table
/// output is the PEM document alone.
pub(crate) async fn get_public_key(session: &Session, args: GetPublicKeyArgs) -> Result<Reply, CliError> {
    let request =
        session.request(pb::GetPublicKeyRequest { key_id: args.key_id, grant_tokens: Default::default() });
    let response = session.call(session.kms().get_public_key(request)).await?;
    let record = Record::new().with("key_id", response.key_id);
    let (record, table_text) = match (args.out, args.pem) {
        (Some(path), as_pem) => {
            let der = response.public_key;
            write_out(&path, &if as_pem { pem("PUBLIC KEY", &der).into_bytes() } else { der })?;
            (record, None)
        }
        (None, true) => {
            let text = pem("PUBLIC KEY", &response.public_key);
            (record.with("public_key_pem", text.clone()), Some(text))
        }
        (None, false) => (record.with("public_key", Value::Bytes(response.public_key)), None),
    };
    let record = record
        .with("key_spec", key_spec(response.key_spec))
        .with("key_usage", enum_name(response.key_usage, pb::KeyUsage::as_str_name))
        .with(
            "signing_algorithms",
            enum_list(&response.signing_algorithms, pb::SigningAlgorithm::as_str_name),
        )
        .with(
            "encryption_algorithms",
            enum_list(&response.encryption_algorithms, pb::EncryptionAlgorithm::as_str_name),
        );
    Ok(Reply { record, table_text, verdict: Verdict::Done })
}

pub(crate) async fn generate_mac(session: &Session, args: GenerateMacArgs) -> Result<Record, CliError> {
    let request = pb::GenerateMacRequest {
        key_id: args.key_id,
        message: message(args.message)?,
        mac_algorithm: args.mac_algorithm.into(),
        grant_tokens: Default::default(),
    };
    let response = session.call(session.kms().generate_mac(session.request(request))).await?;
    let record = Record::new().with("key_id", response.key_id);
    Ok(bytes_field(record, "mac", response.mac, args.out.as_deref())?
        .with("mac_algorithm", mac_algorithm(response.mac_algorithm)))
}

/// Exits 3 (through [`Verdict::NotValid`]) when the MAC does not match.
pub(crate) async fn verify_mac(session: &Session, args: VerifyMacArgs) -> Result<Reply, CliError> {
    let request = pb::VerifyMacRequest {
        key_id: args.key_id,
        message: message(args.message)?,
        mac: mac(args.mac)?,
        mac_algorithm: args.mac_algorithm.into(),
        grant_tokens: Default::default(),
    };
    let response = session.call(session.kms().verify_mac(session.request(request))).await?;
    let record = Record::new()
        .with("key_id", response.key_id)
        .with("mac_valid", response.mac_valid)
        .with("mac_algorithm", mac_algorithm(response.mac_algorithm));
    Ok(Reply::check(record, response.mac_valid))
}

fn data_key_pair_request(args: DataKeyPairArgs) -> Result<pb::GenerateDataKeyPairRequest, CliError> {
    Ok(pb::GenerateDataKeyPairRequest {
        key_id: args.key_id,
        key_pair_spec: args.key_pair_spec.into(),
        encryption_context: pairs_to_map(args.context, "context")?,
        grant_tokens: Default::default(),
    })
}

pub(crate) async fn generate_data_key_pair(
    session: &Session,
    args: PrivateDataKeyPairArgs,
) -> Result<Record, CliError> {
    let label = rsa_generation(args.pair.key_pair_spec, 2048);
    let request = session.request(data_key_pair_request(args.pair)?);
    let response = spin(label, session.call(session.kms().generate_data_key_pair(request))).await?;
    let record = Record::new()
        .with("key_id", response.key_id)
        .with("key_version", response.key_version)
        .with("key_pair_spec", key_spec(response.key_pair_spec))
        .with("private_key_ciphertext_blob", Value::Bytes(response.private_key_ciphertext_blob));
    let out = args.private_key_out.as_deref();
    Ok(bytes_field(record, "private_key_plaintext", response.private_key_plaintext, out)?
        .with("public_key", Value::Bytes(response.public_key)))
}

pub(crate) async fn generate_data_key_pair_without_plaintext(
    session: &Session,
    args: DataKeyPairArgs,
) -> Result<Record, CliError> {
    let label = rsa_generation(args.key_pair_spec, 2048);
    let request = session.request(data_key_pair_request(args)?);
    let mut kms = session.kms();
    let response = spin(label, session.call(kms.generate_data_key_pair_without_plaintext(request))).await?;
    Ok(Record::new()
        .with("key_id", response.key_id)
        .with("key_version", response.key_version)
        .with("key_pair_spec", key_spec(response.key_pair_spec))
        .with("private_key_ciphertext_blob", Value::Bytes(response.private_key_ciphertext_blob))
        .with("public_key", Value::Bytes(response.public_key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_wraps_at_64_columns() {
        let text = pem("PUBLIC KEY", &[0u8; 60]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&"-----BEGIN PUBLIC KEY-----"));
        assert_eq!(lines.last(), Some(&"-----END PUBLIC KEY-----"));
        assert_eq!(lines.iter().map(|line| line.len()).collect::<Vec<_>>(), [26, 64, 16, 24]);
        assert!(text.ends_with("-----\n"));
        let exact = pem("X", &[0u8; 48]);
        assert_eq!(exact, format!("-----BEGIN X-----\n{}\n-----END X-----\n", "A".repeat(64)));
    }
}

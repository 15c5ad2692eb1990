//! Cryptographic commands: encrypt, decrypt, re-encrypt, data keys, random bytes.

use std::path::Path;

use arca_proto::v1 as pb;

use crate::cli::{DataKeyArgs, DecryptArgs, EncryptArgs, RandomArgs, ReEncryptArgs};
use crate::error::CliError;
use crate::input::{Bytes, ciphertext, pairs_to_map, read_file, write_out};
use crate::keys::enum_name;
use crate::output::{Record, Value};
use crate::session::Session;

/// Adds `bytes` as field `name`, or writes them to `out` and leaves the field out.
pub(crate) fn bytes_field(
    record: Record,
    name: &'static str,
    bytes: Vec<u8>,
    out: Option<&Path>,
) -> Result<Record, CliError> {
    match out {
        Some(path) => write_out(path, &bytes).map(|()| record),
        None => Ok(record.with(name, Value::Bytes(bytes))),
    }
}

fn algorithm(raw: i32) -> Value {
    enum_name(raw, pb::EncryptionAlgorithm::as_str_name)
}

fn plaintext(args: &EncryptArgs) -> Result<Vec<u8>, CliError> {
    match (&args.plaintext_base64, &args.plaintext_file, &args.plaintext) {
        (Some(Bytes(bytes)), _, _) => Ok(bytes.clone()),
        (None, Some(path), _) => read_file(path),
        (None, None, Some(text)) => Ok(text.clone().into_bytes()),
        (None, None, None) => {
            Err(CliError::Input("give --plaintext, --plaintext-base64 or --plaintext-file".into()))
        }
    }
}

pub(crate) async fn encrypt(session: &Session, args: EncryptArgs) -> Result<Record, CliError> {
    let plaintext = plaintext(&args)?;
    let request = pb::EncryptRequest {
        key_id: args.key_id,
        plaintext,
        encryption_context: pairs_to_map(args.context, "context")?,
        encryption_algorithm: args.encryption_algorithm.into(),
        grant_tokens: Default::default(),
    };
    let response = session.call(session.kms().encrypt(session.request(request))).await?;
    let record = Record::new().with("key_id", response.key_id);
    Ok(bytes_field(record, "ciphertext_blob", response.ciphertext_blob, args.out.as_deref())?
        .with("key_version", response.key_version)
        .with("encryption_algorithm", algorithm(response.encryption_algorithm)))
}

pub(crate) async fn decrypt(session: &Session, args: DecryptArgs) -> Result<Record, CliError> {
    let request = pb::DecryptRequest {
        ciphertext_blob: ciphertext(args.ciphertext)?,
        encryption_context: pairs_to_map(args.context, "context")?,
        key_id: args.key_id.unwrap_or_default(),
        encryption_algorithm: args.encryption_algorithm.into(),
        grant_tokens: Default::default(),
    };
    let response = session.call(session.kms().decrypt(session.request(request))).await?;
    let record = Record::new().with("key_id", response.key_id);
    Ok(bytes_field(record, "plaintext", response.plaintext, args.out.as_deref())?
        .with("key_version", response.key_version)
        .with("encryption_algorithm", algorithm(response.encryption_algorithm)))
}

pub(crate) async fn re_encrypt(session: &Session, args: ReEncryptArgs) -> Result<Record, CliError> {
    let request = pb::ReEncryptRequest {
        ciphertext_blob: ciphertext(args.ciphertext)?,
        source_encryption_context: pairs_to_map(args.source_context, "source context")?,
        source_key_id: args.source_key_id.unwrap_or_default(),
        destination_key_id: args.destination_key_id,
        destination_encryption_context: pairs_to_map(args.destination_context, "destination context")?,
        grant_tokens: Default::default(),
    };
    let response = session.call(session.kms().re_encrypt(session.request(request))).await?;
    let record = Record::new()
        .with("source_key_id", response.source_key_id)
        .with("source_key_version", response.source_key_version)
        .with("key_id", response.key_id)
        .with("key_version", response.key_version);
    bytes_field(record, "ciphertext_blob", response.ciphertext_blob, args.out.as_deref())
}

fn data_key_request(args: DataKeyArgs) -> Result<pb::GenerateDataKeyRequest, CliError> {
    Ok(pb::GenerateDataKeyRequest {
        key_id: args.key_id,
        encryption_context: pairs_to_map(args.context, "context")?,
        key_spec: args.key_spec.unwrap_or(pb::DataKeySpec::Unspecified).into(),
        number_of_bytes: args.number_of_bytes.unwrap_or(0),
        grant_tokens: Default::default(),
    })
}

pub(crate) async fn generate_data_key(session: &Session, args: DataKeyArgs) -> Result<Record, CliError> {
    let request = session.request(data_key_request(args)?);
    let response = session.call(session.kms().generate_data_key(request)).await?;
    Ok(Record::new()
        .with("key_id", response.key_id)
        .with("key_version", response.key_version)
        .with("ciphertext_blob", Value::Bytes(response.ciphertext_blob))
        .with("plaintext", Value::Bytes(response.plaintext)))
}

pub(crate) async fn generate_data_key_without_plaintext(
    session: &Session,
    args: DataKeyArgs,
) -> Result<Record, CliError> {
    let request = session.request(data_key_request(args)?);
    let response = session.call(session.kms().generate_data_key_without_plaintext(request)).await?;
    Ok(Record::new()
        .with("key_id", response.key_id)
        .with("key_version", response.key_version)
        .with("ciphertext_blob", Value::Bytes(response.ciphertext_blob)))
}

pub(crate) async fn generate_random(session: &Session, args: RandomArgs) -> Result<Record, CliError> {
    let request = session.request(pb::GenerateRandomRequest { number_of_bytes: args.number_of_bytes });
    let response = session.call(session.kms().generate_random(request)).await?;
    bytes_field(Record::new(), "plaintext", response.plaintext, args.out.as_deref())
}

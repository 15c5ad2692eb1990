//! Handlers of the KeyManagement calls on symmetric keys: Encrypt, Decrypt (also RSAES-OAEP,
//! which the same calls carry), ReEncrypt, data keys and random bytes.

use std::sync::Arc;

use arca_proto::v1 as pb;

use super::super::convert;
use super::SYMMETRIC_DEFAULT;
use crate::error::Result;
use crate::service::{Call, Services};

pub(super) async fn encrypt(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::EncryptRequest,
) -> Result<pb::EncryptResponse> {
    if let Some(hash) = convert::encryption_algorithm(r.encryption_algorithm)? {
        let (key_id, ciphertext) = services.crypto.encrypt_oaep(&call, &r.key_id, hash, &r.plaintext)?;
        return Ok(pb::EncryptResponse {
            key_id: key_id.to_string(),
            ciphertext_blob: ciphertext,
            key_version: 1,
            encryption_algorithm: convert::encryption_algorithm_to_pb(Some(hash)),
        });
    }
    let sealed =
        services.crypto.encrypt(&call, &r.key_id, &r.plaintext, &convert::context(r.encryption_context))?;
    Ok(pb::EncryptResponse {
        key_id: sealed.key_id.to_string(),
        ciphertext_blob: sealed.blob,
        key_version: sealed.key_version,
        encryption_algorithm: SYMMETRIC_DEFAULT,
    })
}

pub(super) async fn decrypt(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::DecryptRequest,
) -> Result<pb::DecryptResponse> {
    if let Some(hash) = convert::encryption_algorithm(r.encryption_algorithm)? {
        let (key_id, plaintext) = services.crypto.decrypt_oaep(&call, &r.key_id, hash, &r.ciphertext_blob)?;
        return Ok(pb::DecryptResponse {
            key_id: key_id.to_string(),
            plaintext: plaintext.as_slice().to_vec(),
            key_version: 1,
            encryption_algorithm: convert::encryption_algorithm_to_pb(Some(hash)),
        });
    }
    let context = convert::context(r.encryption_context);
    let opened = services.crypto.decrypt(&call, &r.ciphertext_blob, &context, Some(&r.key_id))?;
    Ok(pb::DecryptResponse {
        key_id: opened.key_id.to_string(),
        // Handed out on purpose: the caller asked for its plaintext.
        plaintext: opened.plaintext.as_slice().to_vec(),
        key_version: opened.key_version,
        encryption_algorithm: SYMMETRIC_DEFAULT,
    })
}

pub(super) async fn re_encrypt(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::ReEncryptRequest,
) -> Result<pb::ReEncryptResponse> {
    let (opened, sealed) = services.crypto.re_encrypt(
        &call,
        &r.ciphertext_blob,
        &convert::context(r.source_encryption_context),
        Some(&r.source_key_id),
        &r.destination_key_id,
        &convert::context(r.destination_encryption_context),
    )?;
    Ok(pb::ReEncryptResponse {
        source_key_id: opened.key_id.to_string(),
        source_key_version: opened.key_version,
        key_id: sealed.key_id.to_string(),
        key_version: sealed.key_version,
        ciphertext_blob: sealed.blob,
    })
}

pub(super) async fn generate_data_key(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::GenerateDataKeyRequest,
) -> Result<pb::GenerateDataKeyResponse> {
    let size = convert::data_key_size(r.key_spec, r.number_of_bytes)?;
    let (sealed, data_key) =
        services.crypto.generate_data_key(&call, &r.key_id, size, &convert::context(r.encryption_context))?;
    Ok(pb::GenerateDataKeyResponse {
        key_id: sealed.key_id.to_string(),
        key_version: sealed.key_version,
        ciphertext_blob: sealed.blob,
        plaintext: data_key.as_slice().to_vec(),
    })
}

pub(super) async fn generate_data_key_without_plaintext(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::GenerateDataKeyRequest,
) -> Result<pb::GenerateDataKeyWithoutPlaintextResponse> {
    let size = convert::data_key_size(r.key_spec, r.number_of_bytes)?;
    let (sealed, _data_key) =
        services.crypto.generate_data_key(&call, &r.key_id, size, &convert::context(r.encryption_context))?;
    Ok(pb::GenerateDataKeyWithoutPlaintextResponse {
        key_id: sealed.key_id.to_string(),
        key_version: sealed.key_version,
        ciphertext_blob: sealed.blob,
    })
}

pub(super) async fn generate_random(
    services: Arc<Services>,
    _call: Arc<Call>,
    r: pb::GenerateRandomRequest,
) -> Result<pb::GenerateRandomResponse> {
    Ok(pb::GenerateRandomResponse { plaintext: services.crypto.generate_random(r.number_of_bytes as usize)? })
}

//! Handler bodies for the key pair, MAC and key agreement operations of the KeyManagement service.

use std::sync::Arc;

use arca_proto::v1 as pb;

use super::super::convert;
use crate::error::Result;
use crate::service::{Call, Services};

pub(super) async fn sign(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::SignRequest,
) -> Result<pb::SignResponse> {
    let algorithm = convert::signing_algorithm(r.signing_algorithm)?;
    let message = convert::message(r.message_type, &r.message)?;
    let (key_id, signature) = services.crypto.sign(&call, &r.key_id, algorithm, message)?;
    Ok(pb::SignResponse {
        key_id: key_id.to_string(),
        signature,
        signing_algorithm: convert::signing_algorithm_to_pb(algorithm),
    })
}

pub(super) async fn verify(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::VerifyRequest,
) -> Result<pb::VerifyResponse> {
    let algorithm = convert::signing_algorithm(r.signing_algorithm)?;
    let message = convert::message(r.message_type, &r.message)?;
    let outcome = services.crypto.verify(&call, &r.key_id, algorithm, message, &r.signature)?;
    Ok(pb::VerifyResponse {
        key_id: outcome.key_id.to_string(),
        signature_valid: outcome.valid,
        signing_algorithm: convert::signing_algorithm_to_pb(algorithm),
    })
}

pub(super) async fn get_public_key(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::GetPublicKeyRequest,
) -> Result<pb::GetPublicKeyResponse> {
    let public = services.crypto.get_public_key(&call, &r.key_id)?;
    let algorithms = convert::algorithms(public.spec, public.usage);
    Ok(pb::GetPublicKeyResponse {
        key_id: public.key_id.to_string(),
        public_key: public.der,
        key_spec: convert::spec_to_pb(public.spec),
        key_usage: convert::usage_to_pb(public.usage),
        signing_algorithms: algorithms.signing,
        encryption_algorithms: algorithms.encryption,
        key_agreement_algorithms: algorithms.key_agreement,
    })
}

pub(super) async fn generate_mac(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::GenerateMacRequest,
) -> Result<pb::GenerateMacResponse> {
    let algorithm = convert::mac_algorithm(r.mac_algorithm)?;
    let (key_id, mac) = services.crypto.generate_mac(&call, &r.key_id, algorithm, &r.message)?;
    Ok(pb::GenerateMacResponse {
        key_id: key_id.to_string(),
        mac,
        mac_algorithm: convert::mac_algorithm_to_pb(algorithm),
    })
}

pub(super) async fn verify_mac(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::VerifyMacRequest,
) -> Result<pb::VerifyMacResponse> {
    let algorithm = convert::mac_algorithm(r.mac_algorithm)?;
    let outcome = services.crypto.verify_mac(&call, &r.key_id, algorithm, &r.message, &r.mac)?;
    Ok(pb::VerifyMacResponse {
        key_id: outcome.key_id.to_string(),
        mac_valid: outcome.valid,
        mac_algorithm: convert::mac_algorithm_to_pb(algorithm),
    })
}

pub(super) async fn generate_data_key_pair(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::GenerateDataKeyPairRequest,
) -> Result<pb::GenerateDataKeyPairResponse> {
    let spec = convert::key_spec(r.key_pair_spec)?;
    let pair = services
        .crypto
        .generate_data_key_pair(&call, &r.key_id, spec, &convert::context(r.encryption_context))
        .await?;
    Ok(pb::GenerateDataKeyPairResponse {
        key_id: pair.key_id.to_string(),
        key_version: pair.key_version,
        key_pair_spec: convert::spec_to_pb(pair.spec),
        private_key_ciphertext_blob: pair.private_key_blob,
        // Handed out on purpose: the caller asked for the private key.
        private_key_plaintext: pair.private_key.as_slice().to_vec(),
        public_key: pair.public_key,
    })
}

pub(super) async fn generate_data_key_pair_without_plaintext(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::GenerateDataKeyPairRequest,
) -> Result<pb::GenerateDataKeyPairWithoutPlaintextResponse> {
    let spec = convert::key_spec(r.key_pair_spec)?;
    let pair = services
        .crypto
        .generate_data_key_pair(&call, &r.key_id, spec, &convert::context(r.encryption_context))
        .await?;
    Ok(pb::GenerateDataKeyPairWithoutPlaintextResponse {
        key_id: pair.key_id.to_string(),
        key_version: pair.key_version,
        key_pair_spec: convert::spec_to_pb(pair.spec),
        private_key_ciphertext_blob: pair.private_key_blob,
        public_key: pair.public_key,
    })
}

pub(super) async fn derive_shared_secret(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::DeriveSharedSecretRequest,
) -> Result<pb::DeriveSharedSecretResponse> {
    let algorithm = convert::key_agreement_algorithm(r.key_agreement_algorithm)?;
    let shared = services.crypto.derive_shared_secret(&call, &r.key_id, algorithm, &r.public_key)?;
    Ok(pb::DeriveSharedSecretResponse {
        key_id: shared.key_id.to_string(),
        // Handed out on purpose: the caller asked for the shared secret.
        shared_secret: shared.secret.as_slice().to_vec(),
        key_agreement_algorithm: convert::key_agreement_algorithm_to_pb(shared.algorithm),
        key_origin: convert::origin_to_pb(shared.origin),
    })
}

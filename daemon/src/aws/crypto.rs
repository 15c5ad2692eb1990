//! The cryptographic calls in AWS's shapes: Encrypt, Decrypt (symmetric and RSAES-OAEP),
//! ReEncrypt, data keys and key pairs, random bytes, signatures and MACs. A plaintext the caller
//! asked for leaves locked memory only here, into the answer.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::AwsFront;
use super::metadata::{algorithms, oaep_name, spec_name};
use super::wire::{Blob, required, required_blob};
use crate::crypto::context::EncryptionContext;
use crate::crypto::ec::KeyAgreementAlgorithm;
use crate::crypto::hmac::MacAlgorithm;
use crate::crypto::rsa::OaepHash;
use crate::crypto::signing::{Message, SigningAlgorithm};
use crate::error::{Echo, Error, Result};
use crate::service::{Call, DataKeySize};

const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";

/// `None` is SYMMETRIC_DEFAULT (also when absent).
fn encryption_algorithm(name: &str) -> Result<Option<OaepHash>> {
    match name {
        "" | SYMMETRIC_DEFAULT => Ok(None),
        "RSAES_OAEP_SHA_1" => Ok(Some(OaepHash::Sha1)),
        "RSAES_OAEP_SHA_256" => Ok(Some(OaepHash::Sha256)),
        "SM2PKE" => Err(Error::Unsupported("SM2PKE is not offered by this appliance".into())),
        other => Err(Error::invalid(format!("EncryptionAlgorithm {} is not known", Echo(other)))),
    }
}

fn algorithm_name(hash: Option<OaepHash>) -> &'static str {
    hash.map_or(SYMMETRIC_DEFAULT, oaep_name)
}

fn context(map: BTreeMap<String, String>) -> EncryptionContext {
    map
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct EncryptRequest {
    pub(super) key_id: String,
    plaintext: Option<Blob>,
    pub(super) encryption_context: BTreeMap<String, String>,
    pub(super) grant_tokens: Vec<String>,
    encryption_algorithm: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct EncryptResponse {
    ciphertext_blob: Blob,
    key_id: String,
    encryption_algorithm: &'static str,
}

pub(super) async fn encrypt(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: EncryptRequest,
) -> Result<EncryptResponse> {
    let key = front.arns.key_ref(required(&r.key_id, "KeyId")?)?;
    let plaintext = required_blob(&r.plaintext, "Plaintext")?;
    let algorithm = encryption_algorithm(&r.encryption_algorithm)?;
    let (key_id, blob) = match algorithm {
        Some(hash) => front.services.crypto.encrypt_oaep(&call, key, hash, plaintext)?,
        None => {
            let sealed =
                front.services.crypto.encrypt(&call, key, plaintext, &context(r.encryption_context))?;
            (sealed.key_id, sealed.blob)
        }
    };
    Ok(EncryptResponse {
        ciphertext_blob: Blob(blob),
        key_id: front.arns.key(key_id),
        encryption_algorithm: algorithm_name(algorithm),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct DecryptRequest {
    ciphertext_blob: Option<Blob>,
    pub(super) encryption_context: BTreeMap<String, String>,
    pub(super) grant_tokens: Vec<String>,
    pub(super) key_id: String,
    encryption_algorithm: String,
    recipient: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DecryptResponse {
    key_id: String,
    plaintext: Blob,
    encryption_algorithm: &'static str,
}

pub(super) async fn decrypt(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: DecryptRequest,
) -> Result<DecryptResponse> {
    if r.recipient.is_some() {
        return Err(Error::Unsupported("Recipient (Nitro Enclaves attestation) is not offered".into()));
    }
    let blob = required_blob(&r.ciphertext_blob, "CiphertextBlob")?;
    let key = if r.key_id.is_empty() { "" } else { front.arns.key_ref(&r.key_id)? };
    let algorithm = encryption_algorithm(&r.encryption_algorithm)?;
    let (key_id, plaintext) = match algorithm {
        Some(hash) => front.services.crypto.decrypt_oaep(&call, required(key, "KeyId")?, hash, blob)?,
        None => {
            let opened =
                front.services.crypto.decrypt(&call, blob, &context(r.encryption_context), Some(key))?;
            (opened.key_id, opened.plaintext)
        }
    };
    Ok(DecryptResponse {
        key_id: front.arns.key(key_id),
        // Handed out on purpose: the caller asked for its plaintext.
        plaintext: Blob(plaintext.as_slice().to_vec()),
        encryption_algorithm: algorithm_name(algorithm),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct ReEncryptRequest {
    ciphertext_blob: Option<Blob>,
    source_encryption_context: BTreeMap<String, String>,
    source_key_id: String,
    pub(super) destination_key_id: String,
    pub(super) destination_encryption_context: BTreeMap<String, String>,
    source_encryption_algorithm: String,
    destination_encryption_algorithm: String,
    pub(super) grant_tokens: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ReEncryptResponse {
    ciphertext_blob: Blob,
    source_key_id: String,
    key_id: String,
    source_encryption_algorithm: &'static str,
    destination_encryption_algorithm: &'static str,
}

pub(super) async fn re_encrypt(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: ReEncryptRequest,
) -> Result<ReEncryptResponse> {
    if encryption_algorithm(&r.source_encryption_algorithm)?.is_some()
        || encryption_algorithm(&r.destination_encryption_algorithm)?.is_some()
    {
        return Err(Error::Unsupported("ReEncrypt serves SYMMETRIC_DEFAULT ciphertexts only".into()));
    }
    let blob = required_blob(&r.ciphertext_blob, "CiphertextBlob")?;
    let source = if r.source_key_id.is_empty() { "" } else { front.arns.key_ref(&r.source_key_id)? };
    let destination = front.arns.key_ref(required(&r.destination_key_id, "DestinationKeyId")?)?;
    let (opened, sealed) = front.services.crypto.re_encrypt(
        &call,
        blob,
        &context(r.source_encryption_context),
        Some(source),
        destination,
        &context(r.destination_encryption_context),
    )?;
    Ok(ReEncryptResponse {
        ciphertext_blob: Blob(sealed.blob),
        source_key_id: front.arns.key(opened.key_id),
        key_id: front.arns.key(sealed.key_id),
        source_encryption_algorithm: SYMMETRIC_DEFAULT,
        destination_encryption_algorithm: SYMMETRIC_DEFAULT,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct GenerateDataKeyRequest {
    pub(super) key_id: String,
    pub(super) encryption_context: BTreeMap<String, String>,
    number_of_bytes: Option<u32>,
    key_spec: String,
    pub(super) grant_tokens: Vec<String>,
    recipient: Option<serde_json::Value>,
}

fn data_key_size(spec: &str, number_of_bytes: Option<u32>) -> Result<DataKeySize> {
    match (spec, number_of_bytes) {
        ("", None) => Err(Error::invalid("give KeySpec or NumberOfBytes")),
        ("", Some(n)) if (1..=1024).contains(&n) => Ok(DataKeySize::Bytes(n as usize)),
        ("", Some(n)) => Err(Error::invalid(format!(
            "1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"
        ))),
        (_, Some(_)) => Err(Error::invalid("give KeySpec or NumberOfBytes, not both")),
        ("AES_128", None) => Ok(DataKeySize::Aes128),
        ("AES_256", None) => Ok(DataKeySize::Aes256),
        (other, None) => Err(Error::invalid(format!("KeySpec {} is not AES_128 or AES_256", Echo(other)))),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GenerateDataKeyResponse {
    ciphertext_blob: Blob,
    #[serde(skip_serializing_if = "Option::is_none")]
    plaintext: Option<Blob>,
    key_id: String,
}

async fn data_key(
    front: &AwsFront,
    call: &Call,
    r: GenerateDataKeyRequest,
    with_plaintext: bool,
) -> Result<GenerateDataKeyResponse> {
    if r.recipient.is_some() {
        return Err(Error::Unsupported("Recipient (Nitro Enclaves attestation) is not offered".into()));
    }
    let key = front.arns.key_ref(required(&r.key_id, "KeyId")?)?;
    let size = data_key_size(&r.key_spec, r.number_of_bytes)?;
    let (sealed, data_key) =
        front.services.crypto.generate_data_key(call, key, size, &context(r.encryption_context))?;
    Ok(GenerateDataKeyResponse {
        ciphertext_blob: Blob(sealed.blob),
        // Handed out on purpose: the caller asked for the data key.
        plaintext: with_plaintext.then(|| Blob(data_key.as_slice().to_vec())),
        key_id: front.arns.key(sealed.key_id),
    })
}

pub(super) async fn generate_data_key(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: GenerateDataKeyRequest,
) -> Result<GenerateDataKeyResponse> {
    data_key(&front, &call, r, true).await
}

pub(super) async fn generate_data_key_without_plaintext(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: GenerateDataKeyRequest,
) -> Result<GenerateDataKeyResponse> {
    data_key(&front, &call, r, false).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct GenerateDataKeyPairRequest {
    pub(super) encryption_context: BTreeMap<String, String>,
    pub(super) key_id: String,
    key_pair_spec: String,
    pub(super) grant_tokens: Vec<String>,
    recipient: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GenerateDataKeyPairResponse {
    private_key_ciphertext_blob: Blob,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key_plaintext: Option<Blob>,
    public_key: Blob,
    key_id: String,
    key_pair_spec: &'static str,
}

async fn data_key_pair(
    front: &AwsFront,
    call: &Call,
    r: GenerateDataKeyPairRequest,
    with_plaintext: bool,
) -> Result<GenerateDataKeyPairResponse> {
    if r.recipient.is_some() {
        return Err(Error::Unsupported("Recipient (Nitro Enclaves attestation) is not offered".into()));
    }
    let key = front.arns.key_ref(required(&r.key_id, "KeyId")?)?;
    let spec = super::metadata::spec_of(required(&r.key_pair_spec, "KeyPairSpec")?)?;
    let pair =
        front.services.crypto.generate_data_key_pair(call, key, spec, &context(r.encryption_context)).await?;
    Ok(GenerateDataKeyPairResponse {
        private_key_ciphertext_blob: Blob(pair.private_key_blob),
        // Handed out on purpose: the caller asked for the private key.
        private_key_plaintext: with_plaintext.then(|| Blob(pair.private_key.as_slice().to_vec())),
        public_key: Blob(pair.public_key),
        key_id: front.arns.key(pair.key_id),
        key_pair_spec: spec_name(pair.spec),
    })
}

pub(super) async fn generate_data_key_pair(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: GenerateDataKeyPairRequest,
) -> Result<GenerateDataKeyPairResponse> {
    data_key_pair(&front, &call, r, true).await
}

pub(super) async fn generate_data_key_pair_without_plaintext(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: GenerateDataKeyPairRequest,
) -> Result<GenerateDataKeyPairResponse> {
    data_key_pair(&front, &call, r, false).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct GenerateRandomRequest {
    number_of_bytes: Option<u32>,
    custom_key_store_id: String,
    recipient: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GenerateRandomResponse {
    plaintext: Blob,
}

pub(super) async fn generate_random(
    front: Arc<AwsFront>,
    _call: Arc<Call>,
    r: GenerateRandomRequest,
) -> Result<GenerateRandomResponse> {
    if r.recipient.is_some() || !r.custom_key_store_id.is_empty() {
        return Err(Error::Unsupported(
            "GenerateRandom takes neither Recipient nor CustomKeyStoreId here".into(),
        ));
    }
    let count = r.number_of_bytes.ok_or_else(|| super::wire::missing("NumberOfBytes"))?;
    if !(1..=1024).contains(&count) {
        return Err(Error::invalid(format!(
            "1 validation error detected: Value '{count}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"
        )));
    }
    Ok(GenerateRandomResponse { plaintext: Blob(front.services.crypto.generate_random(count as usize)?) })
}

fn signing_algorithm(name: &str) -> Result<SigningAlgorithm> {
    let name = required(name, "SigningAlgorithm")?;
    SigningAlgorithm::ALL
        .into_iter()
        .find(|algorithm| algorithm.name() == name)
        .ok_or_else(|| Error::invalid(format!("SigningAlgorithm {} is not served", Echo(name))))
}

fn message<'a>(message_type: &str, bytes: &'a [u8]) -> Result<Message<'a>> {
    match message_type {
        "" | "RAW" => Ok(Message::Raw(bytes)),
        "DIGEST" => Ok(Message::Digest(bytes)),
        "EXTERNAL_MU" => Err(Error::Unsupported("MessageType EXTERNAL_MU is for ML-DSA keys".into())),
        other => Err(Error::invalid(format!("MessageType {} is not known", Echo(other)))),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct SignRequest {
    pub(super) key_id: String,
    message: Option<Blob>,
    message_type: String,
    pub(super) grant_tokens: Vec<String>,
    signing_algorithm: String,
    signature: Option<Blob>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SignResponse {
    key_id: String,
    signature: Blob,
    signing_algorithm: &'static str,
}

pub(super) async fn sign(front: Arc<AwsFront>, call: Arc<Call>, r: SignRequest) -> Result<SignResponse> {
    let key = front.arns.key_ref(required(&r.key_id, "KeyId")?)?;
    let algorithm = signing_algorithm(&r.signing_algorithm)?;
    let message = message(&r.message_type, required_blob(&r.message, "Message")?)?;
    let (key_id, signature) = front.services.crypto.sign(&call, key, algorithm, message)?;
    Ok(SignResponse {
        key_id: front.arns.key(key_id),
        signature: Blob(signature),
        signing_algorithm: algorithm.name(),
    })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct VerifyResponse {
    key_id: String,
    signature_valid: bool,
    signing_algorithm: &'static str,
}

/// An invalid signature is `KMSInvalidSignatureException`, as AWS answers it.
pub(super) async fn verify(front: Arc<AwsFront>, call: Arc<Call>, r: SignRequest) -> Result<VerifyResponse> {
    let key = front.arns.key_ref(required(&r.key_id, "KeyId")?)?;
    let algorithm = signing_algorithm(&r.signing_algorithm)?;
    let message = message(&r.message_type, required_blob(&r.message, "Message")?)?;
    let signature = required_blob(&r.signature, "Signature")?;
    let outcome = front.services.crypto.verify(&call, key, algorithm, message, signature)?;
    if !outcome.valid {
        return Err(Error::SignatureNotValid);
    }
    Ok(VerifyResponse {
        key_id: front.arns.key(outcome.key_id),
        signature_valid: true,
        signing_algorithm: algorithm.name(),
    })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetPublicKeyResponse {
    key_id: String,
    public_key: Blob,
    customer_master_key_spec: &'static str,
    key_spec: &'static str,
    key_usage: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    encryption_algorithms: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    signing_algorithms: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    key_agreement_algorithms: Vec<&'static str>,
}

pub(super) async fn get_public_key(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: super::keys::KeyIdRequest,
) -> Result<GetPublicKeyResponse> {
    let public =
        front.services.crypto.get_public_key(&call, front.arns.key_ref(required(&r.key_id, "KeyId")?)?)?;
    let served = algorithms(public.spec, public.usage);
    Ok(GetPublicKeyResponse {
        key_id: front.arns.key(public.key_id),
        public_key: Blob(public.der),
        customer_master_key_spec: spec_name(public.spec),
        key_spec: spec_name(public.spec),
        key_usage: public.usage.name(),
        encryption_algorithms: served.encryption,
        signing_algorithms: served.signing,
        key_agreement_algorithms: served.key_agreement,
    })
}

fn mac_algorithm(name: &str) -> Result<MacAlgorithm> {
    match required(name, "MacAlgorithm")? {
        "HMAC_SHA_224" => Ok(MacAlgorithm::HmacSha224),
        "HMAC_SHA_256" => Ok(MacAlgorithm::HmacSha256),
        "HMAC_SHA_384" => Ok(MacAlgorithm::HmacSha384),
        "HMAC_SHA_512" => Ok(MacAlgorithm::HmacSha512),
        other => Err(Error::invalid(format!("MacAlgorithm {} is not known", Echo(other)))),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct MacRequest {
    message: Option<Blob>,
    pub(super) key_id: String,
    mac_algorithm: String,
    mac: Option<Blob>,
    pub(super) grant_tokens: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GenerateMacResponse {
    mac: Blob,
    mac_algorithm: &'static str,
    key_id: String,
}

pub(super) async fn generate_mac(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: MacRequest,
) -> Result<GenerateMacResponse> {
    let key = front.arns.key_ref(required(&r.key_id, "KeyId")?)?;
    let algorithm = mac_algorithm(&r.mac_algorithm)?;
    let (key_id, mac) =
        front.services.crypto.generate_mac(&call, key, algorithm, required_blob(&r.message, "Message")?)?;
    Ok(GenerateMacResponse {
        mac: Blob(mac),
        mac_algorithm: algorithm.name(),
        key_id: front.arns.key(key_id),
    })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct VerifyMacResponse {
    key_id: String,
    mac_valid: bool,
    mac_algorithm: &'static str,
}

/// An invalid MAC is `KMSInvalidMacException`, as AWS answers it.
pub(super) async fn verify_mac(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: MacRequest,
) -> Result<VerifyMacResponse> {
    let key = front.arns.key_ref(required(&r.key_id, "KeyId")?)?;
    let algorithm = mac_algorithm(&r.mac_algorithm)?;
    let message = required_blob(&r.message, "Message")?;
    let outcome =
        front.services.crypto.verify_mac(&call, key, algorithm, message, required_blob(&r.mac, "Mac")?)?;
    if !outcome.valid {
        return Err(Error::MacNotValid);
    }
    Ok(VerifyMacResponse {
        key_id: front.arns.key(outcome.key_id),
        mac_valid: true,
        mac_algorithm: algorithm.name(),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct DeriveSharedSecretRequest {
    pub(super) key_id: String,
    key_agreement_algorithm: String,
    public_key: Option<Blob>,
    pub(super) grant_tokens: Vec<String>,
    recipient: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeriveSharedSecretResponse {
    key_id: String,
    shared_secret: Blob,
    key_agreement_algorithm: &'static str,
    key_origin: &'static str,
}

pub(super) async fn derive_shared_secret(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: DeriveSharedSecretRequest,
) -> Result<DeriveSharedSecretResponse> {
    if r.recipient.is_some() {
        return Err(Error::Unsupported("Recipient (Nitro Enclaves attestation) is not offered".into()));
    }
    let key = front.arns.key_ref(required(&r.key_id, "KeyId")?)?;
    let algorithm = match required(&r.key_agreement_algorithm, "KeyAgreementAlgorithm")? {
        "ECDH" => KeyAgreementAlgorithm::Ecdh,
        other => return Err(Error::invalid(format!("KeyAgreementAlgorithm {} is not known", Echo(other)))),
    };
    let peer = required_blob(&r.public_key, "PublicKey")?;
    let derived = front.services.crypto.derive_shared_secret(&call, key, algorithm, peer)?;
    Ok(DeriveSharedSecretResponse {
        key_id: front.arns.key(derived.key_id),
        // Handed out on purpose: the caller asked for the shared secret.
        shared_secret: Blob(derived.secret.as_slice().to_vec()),
        key_agreement_algorithm: derived.algorithm.name(),
        key_origin: super::metadata::origin_name(derived.origin),
    })
}

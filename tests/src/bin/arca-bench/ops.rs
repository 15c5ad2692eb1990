//! The operations arca-bench measures: the key each runs on, its request, and the call.

use std::future::Future;
use std::time::Duration;

use arca_proto::v1 as pb;
use arca_proto::v1::key_management_client::KeyManagementClient;
use clap::ValueEnum;
use pb::EncryptionAlgorithm::{RsaesOaepSha256 as RsaOaep, SymmetricDefault as Symmetric};
use pb::KeySpec::{EccNistP256 as EccP256, Rsa2048};
use pb::SigningAlgorithm::{EcdsaSha256, RsassaPkcs1V15Sha256 as RsaPkcs1Sha256};
use tonic::transport::Channel;

use crate::BenchError;

/// Longest any single call may take before the run is abandoned.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

pub type Client = KeyManagementClient<Channel>;

/// One measured operation: an RPC with fixed parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Op {
    /// Encrypt 1 KiB under an AES_256 key.
    Encrypt,
    /// Decrypt a 1 KiB AES_256 blob.
    Decrypt,
    /// GenerateDataKey AES_256 under an AES_256 key.
    GenerateDataKey,
    /// Sign ECDSA_SHA_256, a RAW 32-byte message, with an ECC_NIST_P256 key.
    #[value(name = "sign-ecdsa-p256")]
    SignEcdsaP256,
    /// Sign RSASSA_PKCS1_V1_5_SHA_256, a RAW 32-byte message, with an RSA_2048 key.
    #[value(name = "sign-rsa-2048")]
    SignRsa2048,
    /// Decrypt RSAES_OAEP_SHA_256 of a 32-byte plaintext with an RSA_2048 key.
    #[value(name = "decrypt-rsa-oaep")]
    DecryptRsaOaep,
    /// GenerateMac HMAC_SHA_256 of 64 bytes with an HMAC_256 key.
    #[value(name = "hmac-256")]
    Hmac256,
    /// GenerateDataKeyPair ECC_NIST_P256 under an AES_256 key.
    #[value(name = "keypair-ecc-p256")]
    KeypairEccP256,
    /// GenerateDataKeyPair RSA_2048 under an AES_256 key.
    #[value(name = "keypair-rsa-2048")]
    KeypairRsa2048,
    /// CreateKey AES_256: a new key, durably stored, each call.
    CreateKey,
}

/// The keys the operations run on; arca-bench creates one of each kind it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyKind {
    Aes256,
    EccP256Signing,
    Rsa2048Signing,
    Rsa2048Encryption,
    Hmac256,
}

impl Op {
    /// The RPC, for error messages.
    pub fn rpc_name(self) -> &'static str {
        match self {
            Self::Encrypt => "Encrypt",
            Self::Decrypt | Self::DecryptRsaOaep => "Decrypt",
            Self::GenerateDataKey => "GenerateDataKey",
            Self::SignEcdsaP256 | Self::SignRsa2048 => "Sign",
            Self::Hmac256 => "GenerateMac",
            Self::KeypairEccP256 | Self::KeypairRsa2048 => "GenerateDataKeyPair",
            Self::CreateKey => "CreateKey",
        }
    }

    /// The RPC and its parameters, for the table.
    pub fn label(self) -> &'static str {
        match self {
            Self::Encrypt => "Encrypt",
            Self::Decrypt => "Decrypt",
            Self::GenerateDataKey => "GenerateDataKey",
            Self::SignEcdsaP256 => "Sign ECDSA P-256",
            Self::SignRsa2048 => "Sign RSA-2048 PKCS#1 v1.5",
            Self::DecryptRsaOaep => "Decrypt RSA-2048 OAEP-SHA256",
            Self::Hmac256 => "GenerateMac HMAC-SHA256",
            Self::KeypairEccP256 => "GenerateDataKeyPair ECC P-256",
            Self::KeypairRsa2048 => "GenerateDataKeyPair RSA-2048",
            Self::CreateKey => "CreateKey AES_256",
        }
    }

    pub fn key_kind(self) -> KeyKind {
        match self {
            Self::Encrypt
            | Self::Decrypt
            | Self::GenerateDataKey
            | Self::KeypairEccP256
            | Self::KeypairRsa2048
            | Self::CreateKey => KeyKind::Aes256,
            Self::SignEcdsaP256 => KeyKind::EccP256Signing,
            Self::SignRsa2048 => KeyKind::Rsa2048Signing,
            Self::DecryptRsaOaep => KeyKind::Rsa2048Encryption,
            Self::Hmac256 => KeyKind::Hmac256,
        }
    }
}

impl KeyKind {
    pub fn spec(self) -> pb::KeySpec {
        match self {
            Self::Aes256 => pb::KeySpec::Aes256,
            Self::EccP256Signing => pb::KeySpec::EccNistP256,
            Self::Rsa2048Signing | Self::Rsa2048Encryption => pb::KeySpec::Rsa2048,
            Self::Hmac256 => pb::KeySpec::Hmac256,
        }
    }

    pub fn usage(self) -> pb::KeyUsage {
        match self {
            Self::Aes256 | Self::Rsa2048Encryption => pb::KeyUsage::EncryptDecrypt,
            Self::EccP256Signing | Self::Rsa2048Signing => pb::KeyUsage::SignVerify,
            Self::Hmac256 => pb::KeyUsage::GenerateVerifyMac,
        }
    }
}

/// Sends one request of `op` on `key_id`; `input` is its plaintext, blob or message.
pub async fn send(client: &mut Client, op: Op, key_id: &str, input: &[u8]) -> Result<(), BenchError> {
    let (name, key_id, input) = (op.rpc_name(), key_id.to_owned(), input.to_vec());
    match op {
        Op::Encrypt => done(name, client.encrypt(encrypt_request(key_id, input, Symmetric))).await,
        Op::Decrypt => done(name, client.decrypt(decrypt_request(key_id, input, Symmetric))).await,
        Op::DecryptRsaOaep => done(name, client.decrypt(decrypt_request(key_id, input, RsaOaep))).await,
        Op::GenerateDataKey => done(name, client.generate_data_key(data_key_request(key_id))).await,
        Op::SignEcdsaP256 => done(name, client.sign(sign_request(key_id, input, EcdsaSha256))).await,
        Op::SignRsa2048 => done(name, client.sign(sign_request(key_id, input, RsaPkcs1Sha256))).await,
        Op::Hmac256 => done(name, client.generate_mac(mac_request(key_id, input))).await,
        Op::KeypairEccP256 => done(name, client.generate_data_key_pair(pair_request(key_id, EccP256))).await,
        Op::KeypairRsa2048 => done(name, client.generate_data_key_pair(pair_request(key_id, Rsa2048))).await,
        Op::CreateKey => {
            let request = pb::CreateKeyRequest { description: "arca-bench".into(), ..Default::default() };
            done(name, client.create_key(request)).await
        }
    }
}

/// Awaits one call for at most CALL_TIMEOUT and drops its response.
async fn done<T>(
    op: &'static str,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<(), BenchError> {
    bounded(op, call).await.map(drop)
}

/// Awaits one call for at most CALL_TIMEOUT.
pub async fn bounded<T>(
    op: &'static str,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, BenchError> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(outcome) => {
            outcome.map(tonic::Response::into_inner).map_err(|status| BenchError::Call { op, status })
        }
        Err(_) => Err(BenchError::Timeout(op)),
    }
}

pub fn encrypt_request(
    key_id: String,
    plaintext: Vec<u8>,
    algorithm: pb::EncryptionAlgorithm,
) -> pb::EncryptRequest {
    pb::EncryptRequest { key_id, plaintext, encryption_algorithm: algorithm.into(), ..Default::default() }
}

fn decrypt_request(
    key_id: String,
    ciphertext_blob: Vec<u8>,
    algorithm: pb::EncryptionAlgorithm,
) -> pb::DecryptRequest {
    let encryption_algorithm = algorithm.into();
    pb::DecryptRequest { ciphertext_blob, key_id, encryption_algorithm, ..Default::default() }
}

fn data_key_request(key_id: String) -> pb::GenerateDataKeyRequest {
    pb::GenerateDataKeyRequest { key_id, key_spec: pb::DataKeySpec::Aes256.into(), ..Default::default() }
}

fn sign_request(key_id: String, message: Vec<u8>, algorithm: pb::SigningAlgorithm) -> pb::SignRequest {
    pb::SignRequest {
        key_id,
        message,
        message_type: pb::MessageType::Raw.into(),
        signing_algorithm: algorithm.into(),
        grant_tokens: Default::default(),
    }
}

fn mac_request(key_id: String, message: Vec<u8>) -> pb::GenerateMacRequest {
    pb::GenerateMacRequest {
        key_id,
        message,
        mac_algorithm: pb::MacAlgorithm::HmacSha256.into(),
        grant_tokens: Default::default(),
    }
}

fn pair_request(key_id: String, spec: pb::KeySpec) -> pb::GenerateDataKeyPairRequest {
    pb::GenerateDataKeyPairRequest { key_id, key_pair_spec: spec.into(), ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_on_the_command_line_are_the_documented_ones() {
        let names: Vec<String> = Op::value_variants()
            .iter()
            .filter_map(|op| op.to_possible_value().map(|value| value.get_name().to_owned()))
            .collect();
        let expected = [
            "encrypt",
            "decrypt",
            "generate-data-key",
            "sign-ecdsa-p256",
            "sign-rsa-2048",
            "decrypt-rsa-oaep",
            "hmac-256",
            "keypair-ecc-p256",
            "keypair-rsa-2048",
            "create-key",
        ];
        assert_eq!(names, expected);
    }
}

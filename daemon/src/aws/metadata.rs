//! The AWS names of Arca's key vocabulary (specs, usages, origins, states, algorithms) and the
//! `KeyMetadata` structure DescribeKey, CreateKey and others answer with.

use serde::Serialize;

use super::arn::Arns;
use crate::crypto::rsa::OaepHash;
use crate::error::{Echo, Error, Result};
use crate::keys::{KeyOrigin, KeySpec, KeyState, KeyUsage};
use crate::service::{KeyInfo, key_algorithms};

/// AWS calls a 256-bit AES key `SYMMETRIC_DEFAULT`; Arca's other specs keep their names (AES_128,
/// AES_192 and GENERIC_SECRET keys come from the PKCS#11 face).
pub(super) fn spec_name(spec: KeySpec) -> &'static str {
    match spec {
        KeySpec::Aes256 => "SYMMETRIC_DEFAULT",
        other => other.name(),
    }
}

/// A `KeySpec` (or the older `CustomerMasterKeySpec`) of CreateKey; absent is SYMMETRIC_DEFAULT.
pub(super) fn spec_of(name: &str) -> Result<KeySpec> {
    const AWS_ONLY: &[&str] = &["SM2", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87"];
    match name {
        "" | "SYMMETRIC_DEFAULT" => Ok(KeySpec::Aes256),
        "RSA_2048"
        | "RSA_3072"
        | "RSA_4096"
        | "ECC_NIST_P256"
        | "ECC_NIST_P384"
        | "ECC_NIST_P521"
        | "ECC_SECG_P256K1"
        | "ECC_NIST_EDWARDS25519"
        | "HMAC_224"
        | "HMAC_256"
        | "HMAC_384"
        | "HMAC_512" => KeySpec::ALL
            .into_iter()
            .find(|spec| spec.name() == name)
            .ok_or_else(|| Error::invalid(format!("KeySpec {name} is not known"))),
        unsupported if AWS_ONLY.contains(&unsupported) => {
            Err(Error::Unsupported(format!("KeySpec {unsupported} is not offered by this appliance")))
        }
        other => Err(Error::invalid(format!(
            "1 validation error detected: Value '{}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set",
            Echo(other)
        ))),
    }
}

pub(super) fn usage_of(name: &str) -> Result<Option<KeyUsage>> {
    match name {
        "" => Ok(None),
        "ENCRYPT_DECRYPT" => Ok(Some(KeyUsage::EncryptDecrypt)),
        "SIGN_VERIFY" => Ok(Some(KeyUsage::SignVerify)),
        "GENERATE_VERIFY_MAC" => Ok(Some(KeyUsage::GenerateVerifyMac)),
        "KEY_AGREEMENT" => Ok(Some(KeyUsage::KeyAgreement)),
        other => Err(Error::invalid(format!(
            "1 validation error detected: Value '{}' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set",
            Echo(other)
        ))),
    }
}

pub(super) fn origin_of(name: &str) -> Result<KeyOrigin> {
    match name {
        "" | "AWS_KMS" => Ok(KeyOrigin::Arca),
        "EXTERNAL" => Ok(KeyOrigin::External),
        "AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE" => Err(Error::Unsupported(format!(
            "Origin {name} needs a custom key store, which this appliance does not offer"
        ))),
        other => Err(Error::invalid(format!("Origin {} is not known", Echo(other)))),
    }
}

pub(super) fn origin_name(origin: KeyOrigin) -> &'static str {
    match origin {
        KeyOrigin::Arca => "AWS_KMS",
        KeyOrigin::External => "EXTERNAL",
    }
}

fn state_name(state: KeyState) -> &'static str {
    match state {
        KeyState::Enabled => "Enabled",
        KeyState::Disabled => "Disabled",
        KeyState::PendingDeletion { .. } => "PendingDeletion",
        KeyState::PendingImport => "PendingImport",
    }
}

pub(super) fn oaep_name(hash: OaepHash) -> &'static str {
    match hash {
        OaepHash::Sha1 => "RSAES_OAEP_SHA_1",
        OaepHash::Sha256 => "RSAES_OAEP_SHA_256",
    }
}

/// The algorithms a key of this spec and usage serves, by AWS's names.
pub(super) struct AlgorithmNames {
    pub(super) encryption: Vec<&'static str>,
    pub(super) signing: Vec<&'static str>,
    pub(super) mac: Vec<&'static str>,
    pub(super) key_agreement: Vec<&'static str>,
}

pub(super) fn algorithms(spec: KeySpec, usage: KeyUsage) -> AlgorithmNames {
    let served = key_algorithms(spec, usage);
    AlgorithmNames {
        encryption: served
            .encryption
            .into_iter()
            .map(|hash| hash.map_or("SYMMETRIC_DEFAULT", oaep_name))
            .collect(),
        signing: served.signing.into_iter().map(|algorithm| algorithm.name()).collect(),
        mac: served.mac.into_iter().map(|algorithm| algorithm.name()).collect(),
        key_agreement: served.key_agreement.into_iter().map(|algorithm| algorithm.name()).collect(),
    }
}

/// DescribeKey's `KeyMetadata`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyMetadata {
    #[serde(rename = "AWSAccountId")]
    aws_account_id: String,
    key_id: String,
    arn: String,
    creation_date: i64,
    enabled: bool,
    description: String,
    key_usage: &'static str,
    key_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_date: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_to: Option<i64>,
    origin: &'static str,
    key_manager: &'static str,
    customer_master_key_spec: &'static str,
    key_spec: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    encryption_algorithms: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    signing_algorithms: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mac_algorithms: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    key_agreement_algorithms: Vec<&'static str>,
    multi_region: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_model: Option<&'static str>,
}

pub(super) fn key_metadata(arns: &Arns, info: &KeyInfo) -> KeyMetadata {
    let meta = &info.metadata;
    let served = algorithms(meta.spec, meta.usage);
    let expires_at = meta.imported.as_ref().and_then(|imported| imported.expires_at);
    KeyMetadata {
        aws_account_id: arns.account_id().to_owned(),
        key_id: meta.id.to_string(),
        arn: arns.key(meta.id),
        creation_date: meta.created_at,
        enabled: meta.state == KeyState::Enabled,
        description: meta.description.clone(),
        key_usage: meta.usage.name(),
        key_state: state_name(meta.state),
        deletion_date: match meta.state {
            KeyState::PendingDeletion { at } => Some(at),
            _ => None,
        },
        valid_to: expires_at,
        origin: origin_name(meta.origin),
        key_manager: "CUSTOMER",
        customer_master_key_spec: spec_name(meta.spec),
        key_spec: spec_name(meta.spec),
        encryption_algorithms: served.encryption,
        signing_algorithms: served.signing,
        mac_algorithms: served.mac,
        key_agreement_algorithms: served.key_agreement,
        multi_region: false,
        expiration_model: match (meta.origin, expires_at) {
            (KeyOrigin::Arca, _) => None,
            (KeyOrigin::External, Some(_)) => Some("KEY_MATERIAL_EXPIRES"),
            (KeyOrigin::External, None) => Some("KEY_MATERIAL_DOES_NOT_EXPIRE"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_read_and_written_as_aws_names_them() {
        assert_eq!(spec_of("").unwrap(), KeySpec::Aes256);
        assert_eq!(spec_of("SYMMETRIC_DEFAULT").unwrap(), KeySpec::Aes256);
        assert_eq!(spec_of("ECC_NIST_P384").unwrap(), KeySpec::EccNistP384);
        assert_eq!(spec_name(KeySpec::Aes256), "SYMMETRIC_DEFAULT");
        assert_eq!(spec_of("ECC_NIST_P521").unwrap(), KeySpec::EccNistP521);
        assert_eq!(spec_of("ECC_SECG_P256K1").unwrap(), KeySpec::EccSecgP256k1);
        assert!(matches!(spec_of("SM2"), Err(Error::Unsupported(_))));
        assert!(matches!(spec_of("AES_128"), Err(Error::InvalidArgument(_))));
        assert!(matches!(origin_of("AWS_CLOUDHSM"), Err(Error::Unsupported(_))));
        assert!(matches!(usage_of("NOPE"), Err(Error::InvalidArgument(_))));
    }
}

//! Protobuf <-> service types.

use std::collections::{BTreeMap, HashMap};

use arca_proto::v1 as pb;

use crate::crypto::context::EncryptionContext;
use crate::crypto::ec::KeyAgreementAlgorithm;
use crate::crypto::hmac::MacAlgorithm;
use crate::crypto::rsa::OaepHash;
use crate::crypto::signing::{Message, SigningAlgorithm};
use crate::error::{Error, Result};
use crate::keys::{KeyId, KeyOrigin, KeySpec, KeyState, KeyUsage};
use crate::service::{DataKeySize, Grant, KeyFilter, KeyInfo, StateFilter};

pub(super) fn context(map: HashMap<String, String>) -> EncryptionContext {
    map.into_iter().collect::<BTreeMap<_, _>>()
}

/// A key spec from the wire; unspecified means AES_256, as KMS's SYMMETRIC_DEFAULT.
pub(super) fn key_spec(value: i32) -> Result<KeySpec> {
    let spec = pb::KeySpec::try_from(value)
        .map_err(|_| Error::invalid(format!("key_spec {value} is not a known key spec")))?;
    Ok(match spec {
        pb::KeySpec::Unspecified | pb::KeySpec::Aes256 => KeySpec::Aes256,
        pb::KeySpec::Rsa2048 => KeySpec::Rsa2048,
        pb::KeySpec::Rsa3072 => KeySpec::Rsa3072,
        pb::KeySpec::Rsa4096 => KeySpec::Rsa4096,
        pb::KeySpec::EccNistP256 => KeySpec::EccNistP256,
        pb::KeySpec::EccNistP384 => KeySpec::EccNistP384,
        pb::KeySpec::EccNistP521 => KeySpec::EccNistP521,
        pb::KeySpec::EccSecgP256k1 => KeySpec::EccSecgP256k1,
        pb::KeySpec::EccNistEdwards25519 => KeySpec::Ed25519,
        pb::KeySpec::EccX25519 => KeySpec::X25519,
        pb::KeySpec::Hmac224 => KeySpec::Hmac224,
        pb::KeySpec::Hmac256 => KeySpec::Hmac256,
        pb::KeySpec::Hmac384 => KeySpec::Hmac384,
        pb::KeySpec::Hmac512 => KeySpec::Hmac512,
        pb::KeySpec::Aes128 => KeySpec::Aes128,
        pb::KeySpec::Aes192 => KeySpec::Aes192,
        pb::KeySpec::GenericSecret => KeySpec::GenericSecret,
        pb::KeySpec::RsaOther => {
            return Err(Error::invalid("RSA_OTHER keys are made through PKCS#11 (C_GenerateKeyPair)"));
        }
    })
}

/// A key usage from the wire; unspecified means the spec's default.
pub(super) fn key_usage(value: i32) -> Result<Option<KeyUsage>> {
    match pb::KeyUsage::try_from(value) {
        Ok(pb::KeyUsage::Unspecified) => Ok(None),
        Ok(pb::KeyUsage::EncryptDecrypt) => Ok(Some(KeyUsage::EncryptDecrypt)),
        Ok(pb::KeyUsage::SignVerify) => Ok(Some(KeyUsage::SignVerify)),
        Ok(pb::KeyUsage::GenerateVerifyMac) => Ok(Some(KeyUsage::GenerateVerifyMac)),
        Ok(pb::KeyUsage::KeyAgreement) => Ok(Some(KeyUsage::KeyAgreement)),
        Err(_) => Err(Error::invalid(format!("key_usage {value} is not a known key usage"))),
    }
}

pub(super) fn origin(value: i32) -> Result<KeyOrigin> {
    match pb::KeyOrigin::try_from(value) {
        Ok(pb::KeyOrigin::Unspecified | pb::KeyOrigin::Arca) => Ok(KeyOrigin::Arca),
        Ok(pb::KeyOrigin::External) => Ok(KeyOrigin::External),
        Err(_) => Err(Error::invalid(format!("origin {value} is not known"))),
    }
}

/// ListKeys's filters; unspecified enums match any key.
pub(super) fn key_filter(request: &pb::ListKeysRequest) -> Result<KeyFilter> {
    let spec = match request.key_spec {
        0 => None,
        value => Some(key_spec(value)?),
    };
    let origin = match request.origin {
        0 => None,
        value => Some(origin(value)?),
    };
    let state = match pb::KeyState::try_from(request.key_state) {
        Ok(pb::KeyState::Unspecified) => None,
        Ok(pb::KeyState::Enabled) => Some(StateFilter::Enabled),
        Ok(pb::KeyState::Disabled) => Some(StateFilter::Disabled),
        Ok(pb::KeyState::PendingDeletion) => Some(StateFilter::PendingDeletion),
        Ok(pb::KeyState::PendingImport) => Some(StateFilter::PendingImport),
        Ok(pb::KeyState::Unavailable) => Some(StateFilter::Unavailable),
        Err(_) => return Err(Error::invalid(format!("key_state {} is not known", request.key_state))),
    };
    let tag = request.tag.as_ref().map(|tag| (tag.tag_key.clone(), tag.tag_value.clone()));
    Ok(KeyFilter { spec, usage: key_usage(request.key_usage)?, state, origin, tag })
}

pub(super) fn signing_algorithm(value: i32) -> Result<SigningAlgorithm> {
    match pb::SigningAlgorithm::try_from(value) {
        Ok(pb::SigningAlgorithm::Unspecified) => Err(Error::invalid("signing_algorithm is required")),
        Ok(known) => {
            SigningAlgorithm::ALL.into_iter().find(|a| a.name() == known.as_str_name()).ok_or_else(|| {
                Error::invalid(format!("signing_algorithm {} is not served", known.as_str_name()))
            })
        }
        Err(_) => Err(Error::invalid(format!("signing_algorithm {value} is not known"))),
    }
}

pub(super) fn signing_algorithm_to_pb(algorithm: SigningAlgorithm) -> i32 {
    pb::SigningAlgorithm::from_str_name(algorithm.name()).map_or(0, Into::into)
}

pub(super) fn message<'a>(message_type: i32, bytes: &'a [u8]) -> Result<Message<'a>> {
    match pb::MessageType::try_from(message_type) {
        Ok(pb::MessageType::Unspecified | pb::MessageType::Raw) => Ok(Message::Raw(bytes)),
        Ok(pb::MessageType::Digest) => Ok(Message::Digest(bytes)),
        Err(_) => Err(Error::invalid(format!("message_type {message_type} is not known"))),
    }
}

pub(super) fn mac_algorithm(value: i32) -> Result<MacAlgorithm> {
    match pb::MacAlgorithm::try_from(value) {
        Ok(pb::MacAlgorithm::Unspecified) => Err(Error::invalid("mac_algorithm is required")),
        Ok(pb::MacAlgorithm::HmacSha224) => Ok(MacAlgorithm::HmacSha224),
        Ok(pb::MacAlgorithm::HmacSha256) => Ok(MacAlgorithm::HmacSha256),
        Ok(pb::MacAlgorithm::HmacSha384) => Ok(MacAlgorithm::HmacSha384),
        Ok(pb::MacAlgorithm::HmacSha512) => Ok(MacAlgorithm::HmacSha512),
        Err(_) => Err(Error::invalid(format!("mac_algorithm {value} is not known"))),
    }
}

pub(super) fn mac_algorithm_to_pb(algorithm: MacAlgorithm) -> i32 {
    pb::MacAlgorithm::from_str_name(algorithm.name()).map_or(0, Into::into)
}

pub(super) fn data_key_size(spec: i32, number_of_bytes: u32) -> Result<DataKeySize> {
    let spec = pb::DataKeySpec::try_from(spec)
        .map_err(|_| Error::invalid(format!("key_spec {spec} is not a known data key spec")))?;
    match (spec, number_of_bytes) {
        (pb::DataKeySpec::Unspecified, 0) => {
            Err(Error::invalid("either key_spec or number_of_bytes is required"))
        }
        (pb::DataKeySpec::Unspecified, n) => Ok(DataKeySize::Bytes(n as usize)),
        (_, n) if n != 0 => Err(Error::invalid("give key_spec or number_of_bytes, not both")),
        (pb::DataKeySpec::Aes128, _) => Ok(DataKeySize::Aes128),
        (pb::DataKeySpec::Aes256, _) => Ok(DataKeySize::Aes256),
    }
}

/// `None` is SYMMETRIC_DEFAULT (also when unspecified).
pub(super) fn encryption_algorithm(value: i32) -> Result<Option<OaepHash>> {
    match pb::EncryptionAlgorithm::try_from(value) {
        Ok(pb::EncryptionAlgorithm::Unspecified | pb::EncryptionAlgorithm::SymmetricDefault) => Ok(None),
        Ok(pb::EncryptionAlgorithm::RsaesOaepSha1) => Ok(Some(OaepHash::Sha1)),
        Ok(pb::EncryptionAlgorithm::RsaesOaepSha256) => Ok(Some(OaepHash::Sha256)),
        Err(_) => Err(Error::invalid(format!("encryption_algorithm {value} is not known"))),
    }
}

pub(super) fn encryption_algorithm_to_pb(hash: Option<OaepHash>) -> i32 {
    match hash {
        None => pb::EncryptionAlgorithm::SymmetricDefault.into(),
        Some(OaepHash::Sha1) => pb::EncryptionAlgorithm::RsaesOaepSha1.into(),
        Some(OaepHash::Sha256) => pb::EncryptionAlgorithm::RsaesOaepSha256.into(),
    }
}

pub(super) fn spec_to_pb(spec: KeySpec) -> i32 {
    pb::KeySpec::from_str_name(spec.name()).map_or(0, Into::into)
}

/// The algorithms a key serves, by kind, as KMS lists them in its metadata.
pub(super) struct Algorithms {
    pub(super) encryption: Vec<i32>,
    pub(super) signing: Vec<i32>,
    pub(super) mac: Vec<i32>,
    pub(super) key_agreement: Vec<i32>,
}

pub(super) fn key_agreement_algorithm(value: i32) -> Result<KeyAgreementAlgorithm> {
    match pb::KeyAgreementAlgorithm::try_from(value) {
        Ok(pb::KeyAgreementAlgorithm::Unspecified) => {
            Err(Error::invalid("key_agreement_algorithm is required"))
        }
        Ok(pb::KeyAgreementAlgorithm::Ecdh) => Ok(KeyAgreementAlgorithm::Ecdh),
        Err(_) => Err(Error::invalid(format!("key_agreement_algorithm {value} is not known"))),
    }
}

pub(super) fn key_agreement_algorithm_to_pb(algorithm: KeyAgreementAlgorithm) -> i32 {
    match algorithm {
        KeyAgreementAlgorithm::Ecdh => pb::KeyAgreementAlgorithm::Ecdh.into(),
    }
}

/// The algorithms a key serves, in the wire's enums.
pub(super) fn algorithms(spec: KeySpec, usage: KeyUsage) -> Algorithms {
    let served = crate::service::key_algorithms(spec, usage);
    Algorithms {
        encryption: served.encryption.into_iter().map(encryption_algorithm_to_pb).collect(),
        signing: served.signing.into_iter().map(signing_algorithm_to_pb).collect(),
        mac: served.mac.into_iter().map(mac_algorithm_to_pb).collect(),
        key_agreement: served.key_agreement.into_iter().map(key_agreement_algorithm_to_pb).collect(),
    }
}

pub(super) fn usage_to_pb(usage: KeyUsage) -> i32 {
    pb::KeyUsage::from_str_name(usage.name()).map_or(0, Into::into)
}

pub(super) fn origin_to_pb(origin: KeyOrigin) -> i32 {
    match origin {
        KeyOrigin::Arca => pb::KeyOrigin::Arca.into(),
        KeyOrigin::External => pb::KeyOrigin::External.into(),
    }
}

fn state_to_pb(state: KeyState) -> pb::KeyState {
    match state {
        KeyState::Enabled => pb::KeyState::Enabled,
        KeyState::Disabled => pb::KeyState::Disabled,
        KeyState::PendingDeletion { .. } => pb::KeyState::PendingDeletion,
        KeyState::PendingImport => pb::KeyState::PendingImport,
    }
}

pub(super) fn key_metadata(info: &KeyInfo) -> pb::KeyMetadata {
    let meta = &info.metadata;
    let algorithms = algorithms(meta.spec, meta.usage);
    pb::KeyMetadata {
        key_id: meta.id.to_string(),
        description: meta.description.clone(),
        key_spec: spec_to_pb(meta.spec),
        key_usage: usage_to_pb(meta.usage),
        origin: origin_to_pb(meta.origin),
        key_state: state_to_pb(meta.state).into(),
        creation_date: meta.created_at,
        current_version: info.current_version,
        encryption_algorithms: algorithms.encryption,
        tags: meta.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        signing_algorithms: algorithms.signing,
        mac_algorithms: algorithms.mac,
        key_agreement_algorithms: algorithms.key_agreement,
        deletion_date: match meta.state {
            KeyState::PendingDeletion { at } => at,
            _ => 0,
        },
        rotation_period_days: meta.rotation.map_or(0, |r| r.period_days),
        next_rotation_date: meta.rotation.map_or(0, |r| r.next_at),
        versions: info.versions.clone(),
        valid_to: meta.imported.as_ref().and_then(|i| i.expires_at).unwrap_or(0),
    }
}

pub(super) fn grant(grant: &Grant) -> pb::GrantListEntry {
    let key_id =
        <[u8; 16]>::try_from(grant.key_id.as_slice()).map(KeyId::from_bytes).map(|id| id.to_string());
    pb::GrantListEntry {
        key_id: key_id.unwrap_or_default(),
        grant_id: grant.grant_id(),
        name: grant.name.clone(),
        grantee_principal: grant.grantee.clone(),
        retiring_principal: grant.retiring_principal.clone(),
        operations: grant.operations.clone(),
        constraints: Some(pb::GrantConstraints {
            encryption_context_subset: grant
                .context_subset
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            encryption_context_equals: grant
                .context_equals
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }),
        issuing_principal: grant.creator.clone(),
        creation_date: grant.created_at,
    }
}

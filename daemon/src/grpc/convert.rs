//! Protobuf <-> service types.

use std::collections::{BTreeMap, HashMap};

use arca_proto::v1 as pb;

use crate::crypto::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::keys::{KeyOrigin, KeySpec, KeyState, KeyUsage};
use crate::service::{DataKeySize, KeyInfo};

pub fn context(map: HashMap<String, String>) -> EncryptionContext {
    map.into_iter().collect::<BTreeMap<_, _>>()
}

pub fn key_spec(value: i32) -> Result<KeySpec> {
    match pb::KeySpec::try_from(value) {
        Ok(pb::KeySpec::Unspecified | pb::KeySpec::Aes256) => Ok(KeySpec::Aes256),
        Ok(other) => Err(Error::Unsupported(format!("key spec {}", other.as_str_name()))),
        Err(_) => Err(Error::invalid(format!("key_spec {value} is not a known key spec"))),
    }
}

pub fn key_usage(value: i32) -> Result<KeyUsage> {
    match pb::KeyUsage::try_from(value) {
        Ok(pb::KeyUsage::Unspecified | pb::KeyUsage::EncryptDecrypt) => Ok(KeyUsage::EncryptDecrypt),
        Ok(pb::KeyUsage::SignVerify) => Ok(KeyUsage::SignVerify),
        Ok(pb::KeyUsage::GenerateVerifyMac) => Ok(KeyUsage::GenerateVerifyMac),
        Err(_) => Err(Error::invalid(format!("key_usage {value} is not a known key usage"))),
    }
}

pub fn data_key_size(spec: i32, number_of_bytes: u32) -> Result<DataKeySize> {
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

pub fn encryption_algorithm(value: i32) -> Result<()> {
    match pb::EncryptionAlgorithm::try_from(value) {
        Ok(pb::EncryptionAlgorithm::Unspecified | pb::EncryptionAlgorithm::SymmetricDefault) => Ok(()),
        Err(_) => Err(Error::invalid(format!("encryption_algorithm {value} is not known"))),
    }
}

fn spec_to_pb(spec: KeySpec) -> pb::KeySpec {
    match spec {
        KeySpec::Aes256 => pb::KeySpec::Aes256,
    }
}

fn usage_to_pb(usage: KeyUsage) -> pb::KeyUsage {
    match usage {
        KeyUsage::EncryptDecrypt => pb::KeyUsage::EncryptDecrypt,
        KeyUsage::SignVerify => pb::KeyUsage::SignVerify,
        KeyUsage::GenerateVerifyMac => pb::KeyUsage::GenerateVerifyMac,
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

pub fn key_metadata(info: &KeyInfo) -> pb::KeyMetadata {
    let meta = &info.metadata;
    pb::KeyMetadata {
        key_id: meta.id.to_string(),
        description: meta.description.clone(),
        key_spec: spec_to_pb(meta.spec).into(),
        key_usage: usage_to_pb(meta.usage).into(),
        origin: match meta.origin {
            KeyOrigin::Arca => pb::KeyOrigin::Arca,
            KeyOrigin::External => pb::KeyOrigin::External,
        }
        .into(),
        key_state: state_to_pb(meta.state).into(),
        creation_date: meta.created_at,
        current_version: info.current_version,
        encryption_algorithms: vec![pb::EncryptionAlgorithm::SymmetricDefault.into()],
        tags: meta.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    }
}

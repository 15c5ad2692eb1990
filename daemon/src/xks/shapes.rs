//! The XKS API's request and answer bodies (camelCase JSON, blobs in base64), and the
//! `requestMetadata` every request carries, which the audit record keeps.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::aws::wire::Blob;
use crate::error::{Error, Result};
use crate::front::Audited;
use crate::service::{XksCiphertext, XksHealth, XksKeyMetadata, XksSealed};

/// What every request shape shares: read from JSON, checked before the call.
pub(super) trait Requested: Audited + DeserializeOwned + Default + Send + 'static {
    fn metadata(&self) -> Option<&RequestMetadata>;

    /// The operation's own members: present and well formed.
    fn members(&self) -> Result<()> {
        Ok(())
    }

    /// `requestMetadata` with its required `kmsOperation` and `kmsRequestId`, then the members.
    fn checked(&self) -> Result<()> {
        let metadata = self.metadata().ok_or_else(|| Error::invalid("requestMetadata is required"))?;
        if metadata.kms_operation.is_empty() || metadata.kms_request_id.is_empty() {
            return Err(Error::invalid("requestMetadata needs kmsOperation and kmsRequestId"));
        }
        self.members()
    }
}

/// AWS KMS's account of the request (never validated beyond its presence, as the specification
/// asks; the audit record keeps it).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct RequestMetadata {
    #[serde(skip_serializing_if = "String::is_empty")]
    aws_principal_arn: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    aws_source_vpc: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    aws_source_vpce: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    kms_key_arn: String,
    kms_operation: String,
    kms_request_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    kms_via_service: String,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct MetadataOnly {
    request_metadata: Option<RequestMetadata>,
}

/// The `requestMetadata` of a body, as the audit record names it (empty when there is none).
pub(super) fn request_metadata_of(body: &[u8]) -> BTreeMap<String, String> {
    let Ok(parsed) = serde_json::from_slice::<MetadataOnly>(body) else { return BTreeMap::new() };
    let Some(metadata) = parsed.request_metadata else { return BTreeMap::new() };
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(metadata) else {
        return BTreeMap::new();
    };
    fields.into_iter().filter_map(|(name, value)| Some((name, value.as_str()?.to_owned()))).collect()
}

/// `Shape => members check` (the check a shape adds to the metadata's, if any).
macro_rules! requested {
    ($($shape:ty $(=> $members:ident)?),*) => {$(
        impl Audited for $shape {}
        impl Requested for $shape {
            fn metadata(&self) -> Option<&RequestMetadata> {
                self.request_metadata.as_ref()
            }
            $(fn members(&self) -> Result<()> {
                self.$members()
            })?
        }
    )*};
}

requested!(MetadataRequest, HealthRequest, EncryptRequest => check_members, DecryptRequest => check_members);

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct MetadataRequest {
    request_metadata: Option<RequestMetadata>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct HealthRequest {
    request_metadata: Option<RequestMetadata>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MetadataResponse {
    key_spec: &'static str,
    key_usage: Vec<&'static str>,
    key_status: &'static str,
}

impl From<XksKeyMetadata> for MetadataResponse {
    fn from(metadata: XksKeyMetadata) -> Self {
        let usages = [(metadata.encrypt, "ENCRYPT"), (metadata.decrypt, "DECRYPT")];
        Self {
            key_spec: "AES_256",
            key_usage: usages.into_iter().filter_map(|(allowed, name)| allowed.then_some(name)).collect(),
            key_status: if metadata.enabled { "ENABLED" } else { "DISABLED" },
        }
    }
}

const AES_GCM: &str = "AES_GCM";
const SHA_256: &str = "SHA_256";

fn check_algorithm(name: &str) -> Result<()> {
    match name {
        AES_GCM => Ok(()),
        "" => Err(Error::invalid("encryptionAlgorithm is required")),
        _ => Err(Error::invalid("encryptionAlgorithm must be AES_GCM")),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct EncryptRequest {
    request_metadata: Option<RequestMetadata>,
    pub(super) plaintext: Option<Blob>,
    encryption_algorithm: String,
    pub(super) additional_authenticated_data: Option<Blob>,
    ciphertext_data_integrity_value_algorithm: Option<String>,
}

impl EncryptRequest {
    /// Whether a CDIV is asked for (a name other than SHA_256 is refused by `check_members`).
    pub(super) fn wants_integrity_value(&self) -> bool {
        self.ciphertext_data_integrity_value_algorithm.is_some()
    }

    fn check_members(&self) -> Result<()> {
        check_algorithm(&self.encryption_algorithm)?;
        if self.plaintext.is_none() {
            return Err(Error::invalid("plaintext is required"));
        }
        match self.ciphertext_data_integrity_value_algorithm.as_deref() {
            None | Some(SHA_256) => Ok(()),
            Some(_) => Err(Error::invalid("ciphertextDataIntegrityValueAlgorithm must be SHA_256")),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EncryptResponse {
    ciphertext: Blob,
    ciphertext_metadata: Blob,
    initialization_vector: Blob,
    authentication_tag: Blob,
    #[serde(skip_serializing_if = "Option::is_none")]
    ciphertext_data_integrity_value: Option<Blob>,
}

impl From<XksCiphertext> for EncryptResponse {
    fn from(sealed: XksCiphertext) -> Self {
        Self {
            ciphertext: Blob(sealed.ciphertext),
            ciphertext_metadata: Blob(sealed.metadata),
            initialization_vector: Blob(sealed.iv),
            authentication_tag: Blob(sealed.tag),
            ciphertext_data_integrity_value: sealed.integrity_value.map(Blob),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct DecryptRequest {
    request_metadata: Option<RequestMetadata>,
    ciphertext: Option<Blob>,
    ciphertext_metadata: Option<Blob>,
    encryption_algorithm: String,
    additional_authenticated_data: Option<Blob>,
    authentication_tag: Option<Blob>,
    initialization_vector: Option<Blob>,
}

impl DecryptRequest {
    fn check_members(&self) -> Result<()> {
        check_algorithm(&self.encryption_algorithm)?;
        for (member, value) in [
            ("ciphertext", &self.ciphertext),
            ("authenticationTag", &self.authentication_tag),
            ("initializationVector", &self.initialization_vector),
        ] {
            if value.is_none() {
                return Err(Error::invalid(format!("{member} is required")));
            }
        }
        Ok(())
    }

    pub(super) fn sealed(&self) -> XksSealed<'_> {
        fn bytes(blob: &Option<Blob>) -> &[u8] {
            blob.as_ref().map_or(&[][..], |blob| blob.0.as_slice())
        }
        XksSealed {
            ciphertext: bytes(&self.ciphertext),
            tag: bytes(&self.authentication_tag),
            iv: bytes(&self.initialization_vector),
            metadata: bytes(&self.ciphertext_metadata),
            aad: bytes(&self.additional_authenticated_data),
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct DecryptResponse {
    plaintext: Blob,
}

impl DecryptResponse {
    pub(super) fn new(plaintext: &[u8]) -> Self {
        Self { plaintext: Blob(plaintext.to_vec()) }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FleetMember {
    id: String,
    model: String,
    health_status: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct HealthResponse {
    xks_proxy_fleet_size: u32,
    xks_proxy_vendor: &'static str,
    xks_proxy_model: String,
    ekm_vendor: &'static str,
    ekm_fleet_details: Vec<FleetMember>,
}

impl HealthResponse {
    pub(super) fn new(health: XksHealth) -> Self {
        let model = format!("Arca {}", env!("CARGO_PKG_VERSION"));
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        Self {
            xks_proxy_fleet_size: 1,
            xks_proxy_vendor: "Arca",
            xks_proxy_model: model.clone(),
            ekm_vendor: "Arca",
            ekm_fleet_details: vec![FleetMember {
                id: format!("arcad@{}", host.trim()),
                model,
                health_status: match health {
                    XksHealth::Active => "ACTIVE",
                    XksHealth::Unavailable => "UNAVAILABLE",
                },
            }],
        }
    }
}

//! Grants and imported key material in AWS's shapes. Grant lists are paged here (`Marker` is the
//! last grant id of the previous page): the service answers a key's grants whole.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::AwsFront;
use super::keys::Empty;
use super::wire::{Blob, limit, required, required_blob};
use crate::error::{Echo, Error, Result};
use crate::keys::KeyId;
use crate::service::{Call, Grant, NewGrant};

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct GrantConstraints {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    encryption_context_subset: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    encryption_context_equals: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct CreateGrantRequest {
    pub(super) key_id: String,
    grantee_principal: String,
    retiring_principal: String,
    operations: Vec<String>,
    constraints: Option<GrantConstraints>,
    pub(super) grant_tokens: Vec<String>,
    name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateGrantResponse {
    grant_token: String,
    grant_id: String,
}

pub(super) async fn create_grant(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: CreateGrantRequest,
) -> Result<CreateGrantResponse> {
    let key = front.arns.key_only(required(&r.key_id, "KeyId")?)?;
    let constraints = r.constraints.unwrap_or_default();
    let new = NewGrant {
        grantee: required(&r.grantee_principal, "GranteePrincipal")?.to_owned(),
        retiring_principal: r.retiring_principal,
        operations: r.operations,
        name: r.name,
        context_subset: constraints.encryption_context_subset,
        context_equals: constraints.encryption_context_equals,
    };
    let grant_id = front.services.grants.create_grant(&call, key, new).await?;
    Ok(CreateGrantResponse { grant_token: grant_id.clone(), grant_id })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GrantListEntry {
    key_id: String,
    grant_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    creation_date: i64,
    grantee_principal: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    retiring_principal: String,
    issuing_account: String,
    operations: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    constraints: Option<GrantConstraints>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListGrantsResponse {
    grants: Vec<GrantListEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    truncated: bool,
}

fn entry(front: &AwsFront, grant: Grant) -> GrantListEntry {
    let key_id = <[u8; 16]>::try_from(grant.key_id.as_slice()).map(KeyId::from_bytes);
    let constrained = !grant.context_subset.is_empty() || !grant.context_equals.is_empty();
    GrantListEntry {
        key_id: key_id.map(|id| front.arns.key(id)).unwrap_or_default(),
        grant_id: grant.grant_id(),
        name: grant.name,
        creation_date: grant.created_at,
        grantee_principal: grant.grantee,
        retiring_principal: grant.retiring_principal,
        issuing_account: grant.creator,
        operations: grant.operations,
        constraints: constrained.then_some(GrantConstraints {
            encryption_context_subset: grant.context_subset,
            encryption_context_equals: grant.context_equals,
        }),
    }
}

/// One page of `grants` after the grant `marker` (none: from the start).
fn page(front: &AwsFront, grants: Vec<Grant>, limit: usize, marker: &str) -> Result<ListGrantsResponse> {
    let start = match marker {
        "" => 0,
        marker => {
            let at = grants.iter().position(|grant| grant.grant_id() == marker).ok_or_else(|| {
                Error::invalid(format!("Marker {} is not one this call returned", Echo(marker)))
            })?;
            at + 1
        }
    };
    let rest: Vec<Grant> = grants.into_iter().skip(start).collect();
    let truncated = rest.len() > limit;
    let grants: Vec<GrantListEntry> = rest.into_iter().take(limit).map(|grant| entry(front, grant)).collect();
    let next_marker = truncated.then(|| grants.last().map(|grant| grant.grant_id.clone())).flatten();
    Ok(ListGrantsResponse { grants, next_marker, truncated })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct ListGrantsRequest {
    limit: Option<i64>,
    marker: String,
    pub(super) key_id: String,
    grant_id: String,
    grantee_principal: String,
    retiring_principal: String,
}

pub(super) async fn list_grants(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: ListGrantsRequest,
) -> Result<ListGrantsResponse> {
    let limit = limit(r.limit, 50, 100)?;
    let key = front.arns.key_only(required(&r.key_id, "KeyId")?)?;
    let grants = front
        .services
        .grants
        .list_grants(&call, key)?
        .into_iter()
        .filter(|grant| r.grant_id.is_empty() || grant.grant_id() == r.grant_id)
        .filter(|grant| r.grantee_principal.is_empty() || grant.grantee == r.grantee_principal)
        .collect();
    page(&front, grants, limit, &r.marker)
}

pub(super) async fn list_retirable_grants(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: ListGrantsRequest,
) -> Result<ListGrantsResponse> {
    let limit = limit(r.limit, 50, 100)?;
    let principal = required(&r.retiring_principal, "RetiringPrincipal")?;
    let grants = front.services.grants.list_retirable_grants(&call, principal)?;
    page(&front, grants, limit, &r.marker)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct RetireGrantRequest {
    grant_token: String,
    pub(super) key_id: String,
    grant_id: String,
}

/// By its token, or by key and grant id (Arca's token is the grant id).
pub(super) async fn retire_grant(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: RetireGrantRequest,
) -> Result<Empty> {
    let grant_id = match (r.grant_token.as_str(), r.grant_id.as_str()) {
        ("", "") => return Err(Error::invalid("give GrantToken, or KeyId and GrantId")),
        (token, "") => token,
        ("", id) => {
            front.arns.key_only(required(&r.key_id, "KeyId")?)?;
            id
        }
        (token, id) if token == id => id,
        _ => return Err(Error::invalid("GrantToken and GrantId name different grants")),
    };
    front.services.grants.retire_grant(&call, grant_id).await?;
    Ok(Empty {})
}

pub(super) async fn revoke_grant(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: RetireGrantRequest,
) -> Result<Empty> {
    let key = front.arns.key_only(required(&r.key_id, "KeyId")?)?;
    front.services.grants.revoke_grant(&call, key, required(&r.grant_id, "GrantId")?).await?;
    Ok(Empty {})
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct GetParametersForImportRequest {
    pub(super) key_id: String,
    wrapping_algorithm: String,
    wrapping_key_spec: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetParametersForImportResponse {
    key_id: String,
    import_token: Blob,
    public_key: Blob,
    parameters_valid_to: i64,
}

pub(super) async fn get_parameters_for_import(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: GetParametersForImportRequest,
) -> Result<GetParametersForImportResponse> {
    let key = front.arns.key_only(required(&r.key_id, "KeyId")?)?;
    let algorithm = required(&r.wrapping_algorithm, "WrappingAlgorithm")?;
    let spec = required(&r.wrapping_key_spec, "WrappingKeySpec")?;
    let parameters = front.services.imports.get_parameters_for_import(&call, key, algorithm, spec).await?;
    Ok(GetParametersForImportResponse {
        key_id: front.arns.key(parameters.key_id),
        import_token: Blob(parameters.import_token.into_bytes()),
        public_key: Blob(parameters.public_key),
        parameters_valid_to: parameters.valid_to,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct ImportKeyMaterialRequest {
    pub(super) key_id: String,
    import_token: Option<Blob>,
    encrypted_key_material: Option<Blob>,
    valid_to: Option<f64>,
    expiration_model: String,
}

pub(super) async fn import_key_material(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: ImportKeyMaterialRequest,
) -> Result<Empty> {
    let key = front.arns.key_only(required(&r.key_id, "KeyId")?)?;
    let token = String::from_utf8(required_blob(&r.import_token, "ImportToken")?.to_vec())
        .map_err(|_| Error::invalid("ImportToken is not one GetParametersForImport returned"))?;
    let material = required_blob(&r.encrypted_key_material, "EncryptedKeyMaterial")?;
    let valid_to = match (r.expiration_model.as_str(), r.valid_to) {
        ("" | "KEY_MATERIAL_EXPIRES", Some(at)) => Some(at as i64),
        ("KEY_MATERIAL_EXPIRES", None) => return Err(super::wire::missing("ValidTo")),
        ("" | "KEY_MATERIAL_DOES_NOT_EXPIRE", None) => None,
        ("KEY_MATERIAL_DOES_NOT_EXPIRE", Some(_)) => {
            return Err(Error::invalid("ValidTo is only given with KEY_MATERIAL_EXPIRES"));
        }
        (other, _) => return Err(Error::invalid(format!("ExpirationModel {} is not known", Echo(other)))),
    };
    front.services.imports.import_key_material(&call, key, &token, material, valid_to).await?;
    Ok(Empty {})
}

pub(super) async fn delete_imported_key_material(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: super::keys::KeyIdRequest,
) -> Result<Empty> {
    front
        .services
        .imports
        .delete_imported_key_material(&call, front.arns.key_only(required(&r.key_id, "KeyId")?)?)
        .await?;
    Ok(Empty {})
}

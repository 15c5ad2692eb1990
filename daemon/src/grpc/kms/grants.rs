//! Handlers of the KeyManagement calls on grants and on imported key material.

use std::sync::Arc;

use arca_proto::v1 as pb;

use super::super::convert;
use crate::error::Result;
use crate::service::{Call, NewGrant, Services};

pub(super) async fn create_grant(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::CreateGrantRequest,
) -> Result<pb::CreateGrantResponse> {
    let constraints = r.constraints.unwrap_or_default();
    let new = NewGrant {
        grantee: r.grantee_principal,
        retiring_principal: r.retiring_principal,
        operations: r.operations,
        name: r.name,
        context_subset: constraints.encryption_context_subset.into_iter().collect(),
        context_equals: constraints.encryption_context_equals.into_iter().collect(),
    };
    let grant_id = services.grants.create_grant(&call, &r.key_id, new).await?;
    Ok(pb::CreateGrantResponse { grant_token: grant_id.clone(), grant_id })
}

pub(super) async fn list_grants(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::ListGrantsRequest,
) -> Result<pb::ListGrantsResponse> {
    let grants = services.grants.list_grants(&call, &r.key_id)?;
    Ok(pb::ListGrantsResponse { grants: grants.iter().map(convert::grant).collect() })
}

pub(super) async fn list_retirable_grants(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::ListRetirableGrantsRequest,
) -> Result<pb::ListGrantsResponse> {
    let grants = services.grants.list_retirable_grants(&call, &r.retiring_principal)?;
    Ok(pb::ListGrantsResponse { grants: grants.iter().map(convert::grant).collect() })
}

pub(super) async fn retire_grant(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::RetireGrantRequest,
) -> Result<pb::RetireGrantResponse> {
    services.grants.retire_grant(&call, &r.grant_id).await?;
    Ok(pb::RetireGrantResponse {})
}

pub(super) async fn revoke_grant(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::RevokeGrantRequest,
) -> Result<pb::RevokeGrantResponse> {
    services.grants.revoke_grant(&call, &r.key_id, &r.grant_id).await?;
    Ok(pb::RevokeGrantResponse {})
}

pub(super) async fn get_parameters_for_import(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::GetParametersForImportRequest,
) -> Result<pb::GetParametersForImportResponse> {
    let parameters = services
        .imports
        .get_parameters_for_import(&call, &r.key_id, &r.wrapping_algorithm, &r.wrapping_key_spec)
        .await?;
    Ok(pb::GetParametersForImportResponse {
        key_id: parameters.key_id.to_string(),
        import_token: parameters.import_token.into_bytes(),
        public_key: parameters.public_key,
        parameters_valid_to: parameters.valid_to,
    })
}

pub(super) async fn import_key_material(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::ImportKeyMaterialRequest,
) -> Result<pb::ImportKeyMaterialResponse> {
    let token = String::from_utf8(r.import_token).unwrap_or_default();
    let valid_to = (r.valid_to != 0).then_some(r.valid_to);
    services
        .imports
        .import_key_material(&call, &r.key_id, &token, &r.encrypted_key_material, valid_to)
        .await?;
    Ok(pb::ImportKeyMaterialResponse {})
}

pub(super) async fn delete_imported_key_material(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::DeleteImportedKeyMaterialRequest,
) -> Result<pb::DeleteImportedKeyMaterialResponse> {
    services.imports.delete_imported_key_material(&call, &r.key_id).await?;
    Ok(pb::DeleteImportedKeyMaterialResponse {})
}

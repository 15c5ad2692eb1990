//! Handlers of the KeyManagement calls on a key's life: creation, description, listing,
//! enabling, aliases, rotation, scheduled deletion and key policies.

use std::sync::Arc;

use arca_proto::v1 as pb;

use super::super::convert;
use crate::error::Result;
use crate::service::{Call, NewKey, Services};

pub(super) async fn create_key(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::CreateKeyRequest,
) -> Result<pb::CreateKeyResponse> {
    let new_key = NewKey {
        description: r.description,
        spec: convert::key_spec(r.key_spec)?,
        usage: convert::key_usage(r.key_usage)?,
        tags: r.tags.into_iter().collect(),
        policy: r.policy,
        origin: convert::origin(r.origin)?,
    };
    let info = services.keys.create_key(&call, new_key).await?;
    Ok(pb::CreateKeyResponse { key_metadata: Some(convert::key_metadata(&info)) })
}

pub(super) async fn describe_key(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::DescribeKeyRequest,
) -> Result<pb::DescribeKeyResponse> {
    let info = services.keys.describe_key(&call, &r.key_id)?;
    Ok(pb::DescribeKeyResponse { key_metadata: Some(convert::key_metadata(&info)) })
}

pub(super) async fn list_keys(
    services: Arc<Services>,
    _call: Arc<Call>,
    r: pb::ListKeysRequest,
) -> Result<pb::ListKeysResponse> {
    let filter = convert::key_filter(&r)?;
    let (ids, next) = services.keys.list_keys(r.limit as usize, &r.page_token, &filter)?;
    Ok(pb::ListKeysResponse {
        keys: ids.iter().map(|id| pb::KeyListEntry { key_id: id.to_string() }).collect(),
        truncated: next.is_some(),
        next_page_token: next.unwrap_or_default(),
    })
}

pub(super) async fn enable_key(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::EnableKeyRequest,
) -> Result<pb::EnableKeyResponse> {
    services.keys.enable_key(&call, &r.key_id).await?;
    Ok(pb::EnableKeyResponse {})
}

pub(super) async fn disable_key(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::DisableKeyRequest,
) -> Result<pb::DisableKeyResponse> {
    services.keys.disable_key(&call, &r.key_id).await?;
    Ok(pb::DisableKeyResponse {})
}

pub(super) async fn create_alias(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::CreateAliasRequest,
) -> Result<pb::CreateAliasResponse> {
    services.keys.create_alias(&call, &r.alias_name, &r.target_key_id).await?;
    Ok(pb::CreateAliasResponse {})
}

pub(super) async fn update_alias(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::UpdateAliasRequest,
) -> Result<pb::UpdateAliasResponse> {
    services.keys.update_alias(&call, &r.alias_name, &r.target_key_id).await?;
    Ok(pb::UpdateAliasResponse {})
}

pub(super) async fn delete_alias(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::DeleteAliasRequest,
) -> Result<pb::DeleteAliasResponse> {
    services.keys.delete_alias(&call, &r.alias_name).await?;
    Ok(pb::DeleteAliasResponse {})
}

pub(super) async fn list_aliases(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::ListAliasesRequest,
) -> Result<pb::ListAliasesResponse> {
    let (page, next) = services.keys.list_aliases(&call, &r.key_id, r.limit as usize, &r.page_token)?;
    Ok(pb::ListAliasesResponse {
        aliases: page
            .into_iter()
            .map(|(alias_name, id)| pb::AliasListEntry { alias_name, target_key_id: id.to_string() })
            .collect(),
        truncated: next.is_some(),
        next_page_token: next.unwrap_or_default(),
    })
}

pub(super) async fn rotate_key_on_demand(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::RotateKeyOnDemandRequest,
) -> Result<pb::RotateKeyOnDemandResponse> {
    let key_version = services.keys.rotate_key_on_demand(&call, &r.key_id).await?;
    let key_id = services.keystore.resolve(&call, &r.key_id)?.to_string();
    Ok(pb::RotateKeyOnDemandResponse { key_id, key_version })
}

pub(super) async fn enable_key_rotation(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::EnableKeyRotationRequest,
) -> Result<pb::EnableKeyRotationResponse> {
    let period = (r.rotation_period_in_days != 0).then_some(r.rotation_period_in_days);
    services.keys.enable_key_rotation(&call, &r.key_id, period).await?;
    Ok(pb::EnableKeyRotationResponse {})
}

pub(super) async fn disable_key_rotation(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::DisableKeyRotationRequest,
) -> Result<pb::DisableKeyRotationResponse> {
    services.keys.disable_key_rotation(&call, &r.key_id).await?;
    Ok(pb::DisableKeyRotationResponse {})
}

pub(super) async fn get_key_rotation_status(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::GetKeyRotationStatusRequest,
) -> Result<pb::GetKeyRotationStatusResponse> {
    let status = services.keys.key_rotation_status(&call, &r.key_id)?;
    Ok(pb::GetKeyRotationStatusResponse {
        key_id: status.key_id.to_string(),
        key_rotation_enabled: status.rotation.is_some(),
        rotation_period_in_days: status.rotation.map_or(0, |r| r.period_days),
        next_rotation_date: status.rotation.map_or(0, |r| r.next_at),
    })
}

pub(super) async fn list_key_rotations(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::ListKeyRotationsRequest,
) -> Result<pb::ListKeyRotationsResponse> {
    let rotations = services
        .keys
        .list_key_rotations(&call, &r.key_id)?
        .into_iter()
        .map(|(key_version, rotation_date)| pb::KeyRotation { key_version, rotation_date })
        .collect();
    Ok(pb::ListKeyRotationsResponse { rotations })
}

pub(super) async fn schedule_key_deletion(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::ScheduleKeyDeletionRequest,
) -> Result<pb::ScheduleKeyDeletionResponse> {
    let window = (r.pending_window_in_days != 0).then_some(r.pending_window_in_days);
    let deletion_date = services.keys.schedule_key_deletion(&call, &r.key_id, window).await?;
    let key_id = services.keystore.resolve(&call, &r.key_id)?.to_string();
    Ok(pb::ScheduleKeyDeletionResponse { key_id, deletion_date })
}

pub(super) async fn cancel_key_deletion(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::CancelKeyDeletionRequest,
) -> Result<pb::CancelKeyDeletionResponse> {
    services.keys.cancel_key_deletion(&call, &r.key_id).await?;
    let key_id = services.keystore.resolve(&call, &r.key_id)?.to_string();
    Ok(pb::CancelKeyDeletionResponse { key_id })
}

pub(super) async fn put_key_policy(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::PutKeyPolicyRequest,
) -> Result<pb::PutKeyPolicyResponse> {
    services.keys.put_key_policy(&call, &r.key_id, &r.policy).await?;
    Ok(pb::PutKeyPolicyResponse {})
}

pub(super) async fn get_key_policy(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::GetKeyPolicyRequest,
) -> Result<pb::GetKeyPolicyResponse> {
    let (key_id, policy) = services.keys.get_key_policy(&call, &r.key_id)?;
    Ok(pb::GetKeyPolicyResponse { key_id: key_id.to_string(), policy })
}

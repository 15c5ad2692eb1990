//! The calls on a key's life in AWS's shapes: creation, description, listing, enabling,
//! aliases, rotation, scheduled deletion and key policies.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::AwsFront;
use super::metadata::{KeyMetadata, key_metadata, origin_of, spec_of, usage_of};
use super::wire::{limit, required};
use crate::error::{Error, Result};
use crate::service::{Call, KeyFilter, NewKey};

/// AWS's one key policy name.
const DEFAULT_POLICY_NAME: &str = "default";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct Tag {
    pub(super) tag_key: String,
    pub(super) tag_value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct CreateKeyRequest {
    policy: String,
    description: String,
    key_usage: String,
    customer_master_key_spec: String,
    key_spec: String,
    origin: String,
    custom_key_store_id: String,
    tags: Vec<Tag>,
    multi_region: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyMetadataResponse {
    key_metadata: KeyMetadata,
}

pub(super) async fn create_key(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: CreateKeyRequest,
) -> Result<KeyMetadataResponse> {
    if r.multi_region {
        return Err(Error::Unsupported("multi-Region keys are not offered by this appliance".into()));
    }
    if !r.custom_key_store_id.is_empty() {
        return Err(Error::Unsupported("custom key stores are not offered by this appliance".into()));
    }
    let spec = if r.key_spec.is_empty() { &r.customer_master_key_spec } else { &r.key_spec };
    let new_key = NewKey {
        description: r.description,
        spec: spec_of(spec)?,
        usage: usage_of(&r.key_usage)?,
        tags: r.tags.into_iter().map(|tag| (tag.tag_key, tag.tag_value)).collect(),
        policy: r.policy,
        origin: origin_of(&r.origin)?,
    };
    let info = front.services.keys.create_key(&call, new_key).await?;
    Ok(KeyMetadataResponse { key_metadata: key_metadata(&front.arns, &info) })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct KeyIdRequest {
    pub(super) key_id: String,
    pub(super) grant_tokens: Vec<String>,
}

pub(super) async fn describe_key(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: KeyIdRequest,
) -> Result<KeyMetadataResponse> {
    let key = front.arns.key_ref(required(&r.key_id, "KeyId")?)?;
    let info = front.services.keys.describe_key(&call, key)?;
    Ok(KeyMetadataResponse { key_metadata: key_metadata(&front.arns, &info) })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct ListRequest {
    pub(super) key_id: String,
    pub(super) limit: Option<i64>,
    pub(super) marker: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyListEntry {
    key_id: String,
    key_arn: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListKeysResponse {
    keys: Vec<KeyListEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    truncated: bool,
}

pub(super) async fn list_keys(
    front: Arc<AwsFront>,
    _call: Arc<Call>,
    r: ListRequest,
) -> Result<ListKeysResponse> {
    let limit = limit(r.limit, 1000, 1000)?;
    let (ids, next) = front.services.keys.list_keys(limit, &r.marker, &KeyFilter::default())?;
    Ok(ListKeysResponse {
        keys: ids
            .iter()
            .map(|id| KeyListEntry { key_id: id.to_string(), key_arn: front.arns.key(*id) })
            .collect(),
        truncated: next.is_some(),
        next_marker: next,
    })
}

/// A shape without members: the answer of calls that answer nothing.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Empty {}

pub(super) async fn enable_key(front: Arc<AwsFront>, call: Arc<Call>, r: KeyIdRequest) -> Result<Empty> {
    front.services.keys.enable_key(&call, front.arns.key_ref(required(&r.key_id, "KeyId")?)?).await?;
    Ok(Empty {})
}

pub(super) async fn disable_key(front: Arc<AwsFront>, call: Arc<Call>, r: KeyIdRequest) -> Result<Empty> {
    front.services.keys.disable_key(&call, front.arns.key_ref(required(&r.key_id, "KeyId")?)?).await?;
    Ok(Empty {})
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct AliasRequest {
    pub(super) alias_name: String,
    pub(super) target_key_id: String,
}

pub(super) async fn create_alias(front: Arc<AwsFront>, call: Arc<Call>, r: AliasRequest) -> Result<Empty> {
    let target = front.arns.key_only(required(&r.target_key_id, "TargetKeyId")?)?;
    front.services.keys.create_alias(&call, required(&r.alias_name, "AliasName")?, target).await?;
    Ok(Empty {})
}

pub(super) async fn update_alias(front: Arc<AwsFront>, call: Arc<Call>, r: AliasRequest) -> Result<Empty> {
    let target = front.arns.key_only(required(&r.target_key_id, "TargetKeyId")?)?;
    front.services.keys.update_alias(&call, required(&r.alias_name, "AliasName")?, target).await?;
    Ok(Empty {})
}

pub(super) async fn delete_alias(front: Arc<AwsFront>, call: Arc<Call>, r: AliasRequest) -> Result<Empty> {
    front.services.keys.delete_alias(&call, required(&r.alias_name, "AliasName")?).await?;
    Ok(Empty {})
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AliasListEntry {
    alias_name: String,
    alias_arn: String,
    target_key_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListAliasesResponse {
    aliases: Vec<AliasListEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    truncated: bool,
}

pub(super) async fn list_aliases(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: ListRequest,
) -> Result<ListAliasesResponse> {
    let limit = limit(r.limit, 100, 100)?;
    let key = if r.key_id.is_empty() { "" } else { front.arns.key_only(&r.key_id)? };
    let (page, next) = front.services.keys.list_aliases(&call, key, limit, &r.marker)?;
    let aliases = page
        .into_iter()
        .map(|(alias_name, id)| AliasListEntry {
            alias_arn: front.arns.alias(&alias_name),
            alias_name,
            target_key_id: id.to_string(),
        })
        .collect();
    Ok(ListAliasesResponse { aliases, truncated: next.is_some(), next_marker: next })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyIdResponse {
    key_id: String,
}

pub(super) async fn rotate_key_on_demand(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: KeyIdRequest,
) -> Result<KeyIdResponse> {
    let key = front.arns.key_ref(required(&r.key_id, "KeyId")?)?;
    front.services.keys.rotate_key_on_demand(&call, key).await?;
    Ok(KeyIdResponse { key_id: front.arns.key(front.services.keystore.resolve(&call, key)?) })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct EnableKeyRotationRequest {
    pub(super) key_id: String,
    rotation_period_in_days: Option<u32>,
}

pub(super) async fn enable_key_rotation(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: EnableKeyRotationRequest,
) -> Result<Empty> {
    let key = front.arns.key_ref(required(&r.key_id, "KeyId")?)?;
    front.services.keys.enable_key_rotation(&call, key, r.rotation_period_in_days).await?;
    Ok(Empty {})
}

pub(super) async fn disable_key_rotation(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: KeyIdRequest,
) -> Result<Empty> {
    front
        .services
        .keys
        .disable_key_rotation(&call, front.arns.key_ref(required(&r.key_id, "KeyId")?)?)
        .await?;
    Ok(Empty {})
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RotationStatusResponse {
    key_id: String,
    key_rotation_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_period_in_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_rotation_date: Option<i64>,
}

pub(super) async fn get_key_rotation_status(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: KeyIdRequest,
) -> Result<RotationStatusResponse> {
    let status =
        front.services.keys.key_rotation_status(&call, front.arns.key_ref(required(&r.key_id, "KeyId")?)?)?;
    Ok(RotationStatusResponse {
        key_id: front.arns.key(status.key_id),
        key_rotation_enabled: status.rotation.is_some(),
        rotation_period_in_days: status.rotation.map(|rotation| rotation.period_days),
        next_rotation_date: status.rotation.map(|rotation| rotation.next_at),
    })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Rotation {
    key_id: String,
    rotation_date: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListKeyRotationsResponse {
    rotations: Vec<Rotation>,
    truncated: bool,
}

pub(super) async fn list_key_rotations(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: ListRequest,
) -> Result<ListKeyRotationsResponse> {
    let key = front.arns.key_ref(required(&r.key_id, "KeyId")?)?;
    let _ = limit(r.limit, 100, 1000)?;
    let id = front.services.keystore.resolve(&call, key)?;
    let rotations = front
        .services
        .keys
        .list_key_rotations(&call, key)?
        .into_iter()
        // Version 1 is the key's first material, not a rotation.
        .filter(|(version, _)| *version > 1)
        .map(|(_, rotation_date)| Rotation { key_id: id.to_string(), rotation_date })
        .collect();
    Ok(ListKeyRotationsResponse { rotations, truncated: false })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct ScheduleKeyDeletionRequest {
    pub(super) key_id: String,
    pending_window_in_days: Option<u32>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ScheduleKeyDeletionResponse {
    key_id: String,
    deletion_date: i64,
    key_state: &'static str,
    pending_window_in_days: u32,
}

pub(super) async fn schedule_key_deletion(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: ScheduleKeyDeletionRequest,
) -> Result<ScheduleKeyDeletionResponse> {
    let key = front.arns.key_ref(required(&r.key_id, "KeyId")?)?;
    let deletion_date =
        front.services.keys.schedule_key_deletion(&call, key, r.pending_window_in_days).await?;
    let id = front.services.keystore.resolve(&call, key)?;
    let days = (deletion_date - front.services.keystore.now()).max(0).div_euclid(86_400) as u32;
    Ok(ScheduleKeyDeletionResponse {
        key_id: front.arns.key(id),
        deletion_date,
        key_state: "PendingDeletion",
        pending_window_in_days: r.pending_window_in_days.unwrap_or(days.max(1)),
    })
}

pub(super) async fn cancel_key_deletion(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: KeyIdRequest,
) -> Result<KeyIdResponse> {
    let key = front.arns.key_ref(required(&r.key_id, "KeyId")?)?;
    front.services.keys.cancel_key_deletion(&call, key).await?;
    Ok(KeyIdResponse { key_id: front.arns.key(front.services.keystore.resolve(&call, key)?) })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct KeyPolicyRequest {
    pub(super) key_id: String,
    policy_name: String,
    policy: String,
}

/// Keys have one policy, named `default`; absent means it.
fn policy_name(name: &str) -> Result<()> {
    match name {
        "" | DEFAULT_POLICY_NAME => Ok(()),
        _ => Err(Error::KeyNotFound(format!(
            "policy {:?} (a key has one policy, \"default\")",
            crate::error::Echo(name)
        ))),
    }
}

pub(super) async fn put_key_policy(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: KeyPolicyRequest,
) -> Result<Empty> {
    policy_name(&r.policy_name)?;
    let key = front.arns.key_only(required(&r.key_id, "KeyId")?)?;
    front.services.keys.put_key_policy(&call, key, required(&r.policy, "Policy")?).await?;
    Ok(Empty {})
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetKeyPolicyResponse {
    policy: String,
    policy_name: &'static str,
}

pub(super) async fn get_key_policy(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: KeyPolicyRequest,
) -> Result<GetKeyPolicyResponse> {
    policy_name(&r.policy_name)?;
    let key = front.arns.key_only(required(&r.key_id, "KeyId")?)?;
    let (_, policy) = front.services.keys.get_key_policy(&call, key)?;
    Ok(GetKeyPolicyResponse { policy, policy_name: DEFAULT_POLICY_NAME })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListKeyPoliciesResponse {
    policy_names: Vec<&'static str>,
    truncated: bool,
}

/// The policy names of a key: always `default`, once the caller may read the policy.
pub(super) async fn list_key_policies(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: ListRequest,
) -> Result<ListKeyPoliciesResponse> {
    let key = front.arns.key_only(required(&r.key_id, "KeyId")?)?;
    let _ = limit(r.limit, 100, 1000)?;
    front.services.keys.get_key_policy(&call, key)?;
    Ok(ListKeyPoliciesResponse { policy_names: vec![DEFAULT_POLICY_NAME], truncated: false })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct TagResourceRequest {
    pub(super) key_id: String,
    tags: Vec<Tag>,
    tag_keys: Vec<String>,
}

/// Tag rules broken are `TagException`, as AWS answers them.
fn tag_error(error: Error) -> Error {
    match error {
        Error::InvalidArgument(message) => Error::TagRule(message),
        other => other,
    }
}

pub(super) async fn tag_resource(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: TagResourceRequest,
) -> Result<Empty> {
    let key = front.arns.key_only(required(&r.key_id, "KeyId")?)?;
    let tags = r.tags.into_iter().map(|tag| (tag.tag_key, tag.tag_value)).collect();
    front.services.keys.tag_resource(&call, key, tags).await.map_err(tag_error)?;
    Ok(Empty {})
}

pub(super) async fn untag_resource(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: TagResourceRequest,
) -> Result<Empty> {
    let key = front.arns.key_only(required(&r.key_id, "KeyId")?)?;
    front.services.keys.untag_resource(&call, key, &r.tag_keys).await.map_err(tag_error)?;
    Ok(Empty {})
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagEntry {
    tag_key: String,
    tag_value: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListResourceTagsResponse {
    tags: Vec<TagEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    truncated: bool,
}

pub(super) async fn list_resource_tags(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: ListRequest,
) -> Result<ListResourceTagsResponse> {
    let key = front.arns.key_only(required(&r.key_id, "KeyId")?)?;
    let limit = limit(r.limit, 50, 50)?;
    let (tags, next) = front.services.keys.list_resource_tags(&call, key, limit, &r.marker)?;
    Ok(ListResourceTagsResponse {
        tags: tags.into_iter().map(|(tag_key, tag_value)| TagEntry { tag_key, tag_value }).collect(),
        truncated: next.is_some(),
        next_marker: next,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct UpdateKeyDescriptionRequest {
    pub(super) key_id: String,
    description: Option<String>,
}

pub(super) async fn update_key_description(
    front: Arc<AwsFront>,
    call: Arc<Call>,
    r: UpdateKeyDescriptionRequest,
) -> Result<Empty> {
    let key = front.arns.key_only(required(&r.key_id, "KeyId")?)?;
    let description = r.description.ok_or_else(|| super::wire::missing("Description"))?;
    front.services.keys.update_key_description(&call, key, &description).await?;
    Ok(Empty {})
}

//! Handlers of the KeyManagement calls on a key's tags and description: TagResource,
//! UntagResource, ListResourceTags, UpdateKeyDescription.

use std::sync::Arc;

use arca_proto::v1 as pb;

use crate::error::Result;
use crate::service::{Call, Services};

pub(super) async fn tag_resource(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::TagResourceRequest,
) -> Result<pb::TagResourceResponse> {
    services.keys.tag_resource(&call, &r.key_id, r.tags.into_iter().collect()).await?;
    Ok(pb::TagResourceResponse {})
}

pub(super) async fn untag_resource(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::UntagResourceRequest,
) -> Result<pb::UntagResourceResponse> {
    services.keys.untag_resource(&call, &r.key_id, &r.tag_keys).await?;
    Ok(pb::UntagResourceResponse {})
}

pub(super) async fn list_resource_tags(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::ListResourceTagsRequest,
) -> Result<pb::ListResourceTagsResponse> {
    let (page, next) = services.keys.list_resource_tags(&call, &r.key_id, r.limit as usize, &r.marker)?;
    Ok(pb::ListResourceTagsResponse {
        tags: page.into_iter().map(|(tag_key, tag_value)| pb::Tag { tag_key, tag_value }).collect(),
        truncated: next.is_some(),
        next_marker: next.unwrap_or_default(),
    })
}

pub(super) async fn update_key_description(
    services: Arc<Services>,
    call: Arc<Call>,
    r: pb::UpdateKeyDescriptionRequest,
) -> Result<pb::UpdateKeyDescriptionResponse> {
    services.keys.update_key_description(&call, &r.key_id, &r.description).await?;
    Ok(pb::UpdateKeyDescriptionResponse {})
}

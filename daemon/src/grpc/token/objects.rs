//! Handlers of the Token calls on objects: creation, copies, destruction, attributes, searches.

use std::sync::Arc;

use arca_proto::v1 as pb;

use super::convert::{attribute_results, template};
use super::unit;
use crate::error::Result;
use crate::service::token::{App, AppCall};
use crate::service::{Call, Services};

pub(super) async fn create_object(
    services: Arc<Services>,
    app: Arc<App>,
    call: Arc<Call>,
    r: pb::CreateObjectRequest,
) -> Result<pb::ObjectResponse> {
    let object = services
        .token_objects
        .create_object(AppCall { app: &app, call: &call }, r.session, &template(r.template)?)
        .await?;
    Ok(pb::ObjectResponse { object, additional_objects: Vec::new() })
}

pub(super) async fn copy_object(
    services: Arc<Services>,
    app: Arc<App>,
    call: Arc<Call>,
    r: pb::CopyObjectRequest,
) -> Result<pb::ObjectResponse> {
    let object = services
        .token_objects
        .copy_object(AppCall { app: &app, call: &call }, r.session, r.object, &template(r.template)?)
        .await?;
    Ok(pb::ObjectResponse { object, additional_objects: Vec::new() })
}

pub(super) async fn destroy_object(
    services: Arc<Services>,
    app: Arc<App>,
    call: Arc<Call>,
    r: pb::ObjectRequest,
) -> Result<pb::Empty> {
    unit(services.token_objects.destroy(AppCall { app: &app, call: &call }, r.session, r.object).await)
}

pub(super) async fn get_object_size(
    services: Arc<Services>,
    app: Arc<App>,
    _call: Arc<Call>,
    r: pb::ObjectRequest,
) -> Result<pb::GetObjectSizeResponse> {
    Ok(pb::GetObjectSizeResponse { size: services.token_objects.object_size(&app, r.session, r.object)? })
}

pub(super) async fn get_attribute_value(
    services: Arc<Services>,
    app: Arc<App>,
    call: Arc<Call>,
    r: pb::GetAttributeValueRequest,
) -> Result<pb::GetAttributeValueResponse> {
    let found = services.token_objects.get_attributes(
        AppCall { app: &app, call: &call },
        r.session,
        r.object,
        &r.types,
    )?;
    Ok(pb::GetAttributeValueResponse { attributes: attribute_results(&r.types, found) })
}

pub(super) async fn set_attribute_value(
    services: Arc<Services>,
    app: Arc<App>,
    call: Arc<Call>,
    r: pb::SetAttributeValueRequest,
) -> Result<pb::Empty> {
    unit(
        services
            .token_objects
            .set_attributes(AppCall { app: &app, call: &call }, r.session, r.object, &template(r.template)?)
            .await,
    )
}

pub(super) async fn find_objects_init(
    services: Arc<Services>,
    app: Arc<App>,
    call: Arc<Call>,
    r: pb::FindObjectsInitRequest,
) -> Result<pb::Empty> {
    unit(services.token_objects.find_init(
        AppCall { app: &app, call: &call },
        r.session,
        &template(r.template)?,
    ))
}

pub(super) async fn find_objects(
    services: Arc<Services>,
    app: Arc<App>,
    _call: Arc<Call>,
    r: pb::FindObjectsRequest,
) -> Result<pb::FindObjectsResponse> {
    let max = usize::try_from(r.max_objects).unwrap_or(usize::MAX);
    Ok(pb::FindObjectsResponse { objects: services.token_objects.find(&app, r.session, max)? })
}

pub(super) async fn find_objects_final(
    services: Arc<Services>,
    app: Arc<App>,
    _call: Arc<Call>,
    r: pb::SessionRequest,
) -> Result<pb::Empty> {
    unit(services.token_objects.find_final(&app, r.session))
}

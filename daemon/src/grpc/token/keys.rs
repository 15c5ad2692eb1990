//! Handlers of the Token calls that make or move keys: generation, wrapping, unwrapping, derivation.

use std::sync::Arc;

use arca_proto::v1 as pb;

use super::convert::{mechanism, output, space, template};
use crate::error::Result;
use crate::service::token::{App, AppCall};
use crate::service::{Call, Services};

pub(super) async fn generate_key(
    services: Arc<Services>,
    app: Arc<App>,
    call: Arc<Call>,
    r: pb::GenerateKeyRequest,
) -> Result<pb::ObjectResponse> {
    let object = services
        .token_keys
        .generate_key(
            AppCall { app: &app, call: &call },
            r.session,
            &mechanism(r.mechanism)?,
            &template(r.template)?,
        )
        .await?;
    Ok(pb::ObjectResponse { object, additional_objects: Vec::new() })
}

pub(super) async fn generate_key_pair(
    services: Arc<Services>,
    app: Arc<App>,
    call: Arc<Call>,
    r: pb::GenerateKeyPairRequest,
) -> Result<pb::GenerateKeyPairResponse> {
    let (public, private) = (template(r.public_template)?, template(r.private_template)?);
    let (public_key, private_key) = services
        .token_keys
        .generate_key_pair(
            AppCall { app: &app, call: &call },
            r.session,
            &mechanism(r.mechanism)?,
            &public,
            &private,
        )
        .await?;
    Ok(pb::GenerateKeyPairResponse { public_key, private_key })
}

pub(super) async fn wrap_key(
    services: Arc<Services>,
    app: Arc<App>,
    call: Arc<Call>,
    r: pb::WrapKeyRequest,
) -> Result<pb::OutputResponse> {
    let mechanism = mechanism(r.mechanism)?;
    output(services.token_keys.wrap_key(
        AppCall { app: &app, call: &call },
        r.session,
        &mechanism,
        r.wrapping_key,
        r.key,
        space(r.space),
    )?)
}

pub(super) async fn unwrap_key(
    services: Arc<Services>,
    app: Arc<App>,
    call: Arc<Call>,
    r: pb::UnwrapKeyRequest,
) -> Result<pb::ObjectResponse> {
    let (mechanism, template) = (mechanism(r.mechanism)?, template(r.template)?);
    let object = services
        .token_keys
        .unwrap_key(
            AppCall { app: &app, call: &call },
            r.session,
            &mechanism,
            r.unwrapping_key,
            &r.wrapped_key,
            &template,
        )
        .await?;
    Ok(pb::ObjectResponse { object, additional_objects: Vec::new() })
}

pub(super) async fn derive_key(
    services: Arc<Services>,
    app: Arc<App>,
    call: Arc<Call>,
    r: pb::DeriveKeyRequest,
) -> Result<pb::ObjectResponse> {
    let (mechanism, template) = (mechanism(r.mechanism)?, template(r.template)?);
    let (object, additional_objects) = services
        .token_keys
        .derive_key(AppCall { app: &app, call: &call }, r.session, &mechanism, r.base_key, &template)
        .await?;
    Ok(pb::ObjectResponse { object, additional_objects })
}

//! Handlers of the Token calls on PINs, login and sessions (and C_GenerateRandom, a session call).

use std::sync::Arc;

use arca_proto::v1 as pb;

use super::{pin, unit};
use crate::error::Result;
use crate::service::token::{App, AppCall};
use crate::service::{Call, Services};

pub(super) async fn init_pin(
    services: Arc<Services>,
    app: Arc<App>,
    _call: Arc<Call>,
    r: pb::InitPinRequest,
) -> Result<pb::Empty> {
    let pin = pin(r.pin)?;
    unit(services.token_login.init_pin(&app, r.session, &pin).await)
}

pub(super) async fn set_pin(
    services: Arc<Services>,
    app: Arc<App>,
    _call: Arc<Call>,
    r: pb::SetPinRequest,
) -> Result<pb::Empty> {
    let (old_pin, new_pin) = (pin(r.old_pin)?, pin(r.new_pin)?);
    unit(services.token_login.set_pin(&app, r.session, &old_pin, &new_pin).await)
}

pub(super) async fn login(
    services: Arc<Services>,
    app: Arc<App>,
    call: Arc<Call>,
    r: pb::LoginRequest,
) -> Result<pb::Empty> {
    let pin = pin(r.pin)?;
    unit(services.token_login.login(AppCall { app: &app, call: &call }, r.session, r.user_type, &pin).await)
}

pub(super) async fn logout(
    services: Arc<Services>,
    app: Arc<App>,
    _call: Arc<Call>,
    r: pb::LogoutRequest,
) -> Result<pb::Empty> {
    unit(services.token_login.logout(&app, r.session))
}

pub(super) async fn open_session(
    services: Arc<Services>,
    app: Arc<App>,
    _call: Arc<Call>,
    r: pb::OpenSessionRequest,
) -> Result<pb::OpenSessionResponse> {
    Ok(pb::OpenSessionResponse { session: services.token.open_session(&app, r.flags)? })
}

pub(super) async fn close_session(
    _services: Arc<Services>,
    app: Arc<App>,
    _call: Arc<Call>,
    r: pb::SessionRequest,
) -> Result<pb::Empty> {
    unit(app.close_session(r.session))
}

pub(super) async fn close_all_sessions(
    _services: Arc<Services>,
    app: Arc<App>,
    _call: Arc<Call>,
    _r: pb::CloseAllSessionsRequest,
) -> Result<pb::Empty> {
    unit(app.close_all_sessions())
}

pub(super) async fn get_session_info(
    services: Arc<Services>,
    app: Arc<App>,
    _call: Arc<Call>,
    r: pb::SessionRequest,
) -> Result<pb::SessionInfo> {
    let (state, flags) = services.token.session_info(&app, r.session)?;
    Ok(pb::SessionInfo { state, flags, device_error: 0 })
}

pub(super) async fn generate_random(
    services: Arc<Services>,
    app: Arc<App>,
    _call: Arc<Call>,
    r: pb::TokenRandomRequest,
) -> Result<pb::OutputResponse> {
    let len = usize::try_from(r.length).unwrap_or(usize::MAX);
    let random = services.token.generate_random(&app, r.session, len)?;
    Ok(pb::OutputResponse { length: random.len() as u64, output: random, buffer_too_small: false })
}

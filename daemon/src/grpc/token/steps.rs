//! PKCS#11 operations: C_*Init and C_DigestKey, and the data steps (single-part, update, final):
//! one handler for the three RPCs, and the PKCS#11 function name each call is logged and audited
//! under. A piece of a larger input (`more`) is held by the service until the call's last piece.

use std::sync::Arc;

use arca_proto::v1 as pb;
use cryptoki_sys::CKR_ARGUMENTS_BAD;
use tonic::{Request, Response, Status};

use super::convert::{mechanism, operation_kind, output, space};
use super::{TokenApi, unit};
use crate::error::{Error, Result};
use crate::operation::Operation;
use crate::service::token::{App, AppCall, OperationKind};
use crate::service::{Call, Services};

impl TokenApi {
    /// C_Encrypt / C_EncryptUpdate / C_EncryptFinal and their kin.
    pub(super) async fn data_step(
        &self,
        step: Step,
        request: Request<pb::OperationDataRequest>,
    ) -> std::result::Result<Response<pb::OutputResponse>, Status> {
        let operation = step_operation(request.get_ref().kind, step);
        self.call(operation, request, move |services, app, call, r| async move {
            let kind = operation_kind(r.kind)?;
            if r.more {
                if matches!(step, Step::Final) {
                    return Err(Error::p11(CKR_ARGUMENTS_BAD, "C_*Final takes its input in one request"));
                }
                services.token_operations.operation_stage(&app, r.session, kind, &r.data)?;
                return Ok(pb::OutputResponse { output: Vec::new(), length: 0, buffer_too_small: false });
            }
            let space = space(r.space);
            let answer = match step {
                Step::OneShot => {
                    let signature = (kind == OperationKind::Verify).then_some(r.signature.as_slice());
                    services.token_operations.operation_one_shot(
                        AppCall { app: &app, call: &call },
                        r.session,
                        kind,
                        &r.data,
                        signature,
                        space,
                    )?
                }
                Step::Update => services.token_operations.operation_update(
                    AppCall { app: &app, call: &call },
                    r.session,
                    kind,
                    &r.data,
                    space,
                )?,
                Step::Final => services.token_operations.operation_final(
                    AppCall { app: &app, call: &call },
                    r.session,
                    kind,
                    &r.data,
                    space,
                )?,
            };
            output(answer)
        })
        .await
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Step {
    OneShot,
    Update,
    Final,
}

pub(super) fn init_operation(kind: i32) -> Operation {
    match pb::OperationKind::try_from(kind) {
        Ok(pb::OperationKind::OperationEncrypt) => Operation::EncryptInit,
        Ok(pb::OperationKind::OperationDecrypt) => Operation::DecryptInit,
        Ok(pb::OperationKind::OperationSign) => Operation::SignInit,
        Ok(pb::OperationKind::OperationVerify) => Operation::VerifyInit,
        Ok(pb::OperationKind::OperationDigest) => Operation::DigestInit,
        _ => Operation::UnknownInit,
    }
}

fn step_operation(kind: i32, step: Step) -> Operation {
    use pb::OperationKind as K;
    match (pb::OperationKind::try_from(kind), step) {
        (Ok(K::OperationEncrypt), Step::OneShot) => Operation::TokenEncrypt,
        (Ok(K::OperationEncrypt), Step::Update) => Operation::EncryptUpdate,
        (Ok(K::OperationEncrypt), Step::Final) => Operation::EncryptFinal,
        (Ok(K::OperationDecrypt), Step::OneShot) => Operation::TokenDecrypt,
        (Ok(K::OperationDecrypt), Step::Update) => Operation::DecryptUpdate,
        (Ok(K::OperationDecrypt), Step::Final) => Operation::DecryptFinal,
        (Ok(K::OperationSign), Step::OneShot) => Operation::TokenSign,
        (Ok(K::OperationSign), Step::Update) => Operation::SignUpdate,
        (Ok(K::OperationSign), Step::Final) => Operation::SignFinal,
        (Ok(K::OperationVerify), Step::OneShot) => Operation::TokenVerify,
        (Ok(K::OperationVerify), Step::Update) => Operation::VerifyUpdate,
        (Ok(K::OperationVerify), Step::Final) => Operation::VerifyFinal,
        (Ok(K::OperationDigest), Step::OneShot) => Operation::Digest,
        (Ok(K::OperationDigest), Step::Update) => Operation::DigestUpdate,
        (Ok(K::OperationDigest), Step::Final) => Operation::DigestFinal,
        _ => Operation::UnknownStep,
    }
}

pub(super) async fn operation_init(
    services: Arc<Services>,
    app: Arc<App>,
    call: Arc<Call>,
    r: pb::OperationInitRequest,
) -> Result<pb::OperationInitResponse> {
    let kind = operation_kind(r.kind)?;
    if r.mechanism.is_none() {
        services.token_operations.operation_cancel(&app, r.session, kind)?;
        return Ok(pb::OperationInitResponse { output_length: 0, plus_input: false });
    }
    let (output_length, plus_input) = services.token_operations.operation_init(
        AppCall { app: &app, call: &call },
        r.session,
        kind,
        &mechanism(r.mechanism)?,
        r.key,
    )?;
    Ok(pb::OperationInitResponse { output_length: output_length as u64, plus_input })
}

pub(super) async fn digest_key(
    services: Arc<Services>,
    app: Arc<App>,
    call: Arc<Call>,
    r: pb::DigestKeyRequest,
) -> Result<pb::Empty> {
    unit(services.token_operations.digest_key(AppCall { app: &app, call: &call }, r.session, r.key))
}

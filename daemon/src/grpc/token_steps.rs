//! The data steps of PKCS#11 operations (single-part, update, final): one handler for the three
//! RPCs, and the PKCS#11 function name each call is logged and audited under. A piece of a larger
//! input (`more`) is held by the service until the call's last piece.

use std::sync::Arc;

use arca_proto::v1 as pb;
use cryptoki_sys::CKR_ARGUMENTS_BAD;
use tonic::{Request, Response, Status};

use super::token::TokenApi;
use super::token_convert::{operation_kind, output, space};
use crate::error::Error;
use crate::service::token::OperationKind;

impl TokenApi {
    /// C_Encrypt / C_EncryptUpdate / C_EncryptFinal and their kin.
    pub(super) async fn data_step(
        &self,
        step: Step,
        request: Request<pb::OperationDataRequest>,
    ) -> std::result::Result<Response<pb::OutputResponse>, Status> {
        let token = Arc::clone(self.token());
        let name = step_name(request.get_ref().kind, step);
        self.call(name, request, |app, r| async move {
            let kind = operation_kind(r.kind)?;
            if r.more {
                if matches!(step, Step::Final) {
                    return Err(Error::p11(CKR_ARGUMENTS_BAD, "C_*Final takes its input in one request"));
                }
                token.operation_stage(&app, r.session, kind, &r.data)?;
                return Ok(pb::OutputResponse { output: Vec::new(), length: 0, buffer_too_small: false });
            }
            let space = space(r.space);
            let answer = match step {
                Step::OneShot => {
                    let signature = (kind == OperationKind::Verify).then_some(r.signature.as_slice());
                    token.operation_one_shot(&app, r.session, kind, &r.data, signature, space)?
                }
                Step::Update => token.operation_update(&app, r.session, kind, &r.data, space)?,
                Step::Final => token.operation_final(&app, r.session, kind, &r.data, space)?,
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

pub(super) fn init_name(kind: i32) -> &'static str {
    match pb::OperationKind::try_from(kind) {
        Ok(pb::OperationKind::OperationEncrypt) => "C_EncryptInit",
        Ok(pb::OperationKind::OperationDecrypt) => "C_DecryptInit",
        Ok(pb::OperationKind::OperationSign) => "C_SignInit",
        Ok(pb::OperationKind::OperationVerify) => "C_VerifyInit",
        Ok(pb::OperationKind::OperationDigest) => "C_DigestInit",
        _ => "C_OperationInit",
    }
}

fn step_name(kind: i32, step: Step) -> &'static str {
    use pb::OperationKind as K;
    match (pb::OperationKind::try_from(kind), step) {
        (Ok(K::OperationEncrypt), Step::OneShot) => "C_Encrypt",
        (Ok(K::OperationEncrypt), Step::Update) => "C_EncryptUpdate",
        (Ok(K::OperationEncrypt), Step::Final) => "C_EncryptFinal",
        (Ok(K::OperationDecrypt), Step::OneShot) => "C_Decrypt",
        (Ok(K::OperationDecrypt), Step::Update) => "C_DecryptUpdate",
        (Ok(K::OperationDecrypt), Step::Final) => "C_DecryptFinal",
        (Ok(K::OperationSign), Step::OneShot) => "C_Sign",
        (Ok(K::OperationSign), Step::Update) => "C_SignUpdate",
        (Ok(K::OperationSign), Step::Final) => "C_SignFinal",
        (Ok(K::OperationVerify), Step::OneShot) => "C_Verify",
        (Ok(K::OperationVerify), Step::Update) => "C_VerifyUpdate",
        (Ok(K::OperationVerify), Step::Final) => "C_VerifyFinal",
        (Ok(K::OperationDigest), Step::OneShot) => "C_Digest",
        (Ok(K::OperationDigest), Step::Update) => "C_DigestUpdate",
        (Ok(K::OperationDigest), Step::Final) => "C_DigestFinal",
        _ => "C_Operation",
    }
}

//! What `serve` reads of each request before its handler runs: the key it names and its
//! encryption context (for the audit record), and the KMS grant tokens it carries (for the
//! `Call`).

use std::collections::BTreeMap;

use arca_proto::v1 as pb;

use crate::front::Audited;

impl Audited for pb::RetireGrantRequest {
    fn grant_tokens(&self) -> Vec<String> {
        self.grant_tokens.clone()
    }
}

macro_rules! audited {
    ($($request:ty),* $(,)?) => { $(impl Audited for $request {})* };
}

/// `Request => key field`, and `+ grant_tokens` for a request that carries them.
macro_rules! audited_key {
    ($($request:ty => $field:ident $(+ $tokens:ident)?),* $(,)?) => {
        $(impl Audited for $request {
            fn key_ref(&self) -> &str {
                &self.$field
            }

            $(fn grant_tokens(&self) -> Vec<String> {
                self.$tokens.clone()
            })?
        })*
    };
}

macro_rules! audited_key_and_context {
    ($($request:ty => $field:ident, $context:ident + $tokens:ident),* $(,)?) => {
        $(impl Audited for $request {
            fn key_ref(&self) -> &str {
                &self.$field
            }

            fn encryption_context(&self) -> BTreeMap<String, String> {
                self.$context.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            }

            fn grant_tokens(&self) -> Vec<String> {
                self.$tokens.clone()
            }
        })*
    };
}

audited!(
    pb::CreateKeyRequest,
    pb::ListKeysRequest,
    pb::GenerateRandomRequest,
    pb::StatusRequest,
    pb::InitializeRequest,
    pb::UnsealRequest,
    pb::BackupRequest,
    pb::VerifyAuditRequest,
    pb::ReadAuditRequest,
    pb::RotateAuditRequest,
    pb::AdvanceClockRequest,
    pb::CreateAccessKeyRequest,
    pb::ListAccessKeysRequest,
    pb::ListRetirableGrantsRequest,
    pb::AttachRequest,
    pb::GetTokenInfoRequest,
    pb::GetMechanismListRequest,
    pb::GetMechanismInfoRequest,
    pb::InitTokenRequest,
    pb::UnlockSoPinRequest,
    pb::InitPinRequest,
    pb::SetPinRequest,
    pb::LoginRequest,
    pb::LogoutRequest,
    pb::OpenSessionRequest,
    pb::SessionRequest,
    pb::CloseAllSessionsRequest,
    pb::CreateObjectRequest,
    pb::CopyObjectRequest,
    pb::ObjectRequest,
    pb::GetAttributeValueRequest,
    pb::SetAttributeValueRequest,
    pb::FindObjectsInitRequest,
    pb::FindObjectsRequest,
    pb::GenerateKeyRequest,
    pb::GenerateKeyPairRequest,
    pb::WrapKeyRequest,
    pb::UnwrapKeyRequest,
    pb::DeriveKeyRequest,
    pb::TokenRandomRequest,
    pb::OperationInitRequest,
    pb::OperationDataRequest,
    pb::DigestKeyRequest,
);

audited_key!(
    pb::DeleteAccessKeyRequest => access_key_id,
    pb::DescribeKeyRequest => key_id + grant_tokens,
    pb::EnableKeyRequest => key_id,
    pb::DisableKeyRequest => key_id,
    pb::CreateAliasRequest => target_key_id,
    pb::UpdateAliasRequest => target_key_id,
    pb::DeleteAliasRequest => alias_name,
    pb::ListAliasesRequest => key_id,
    pb::SignRequest => key_id + grant_tokens,
    pb::VerifyRequest => key_id + grant_tokens,
    pb::GetPublicKeyRequest => key_id + grant_tokens,
    pb::GenerateMacRequest => key_id + grant_tokens,
    pb::VerifyMacRequest => key_id + grant_tokens,
    pb::RotateKeyOnDemandRequest => key_id,
    pb::EnableKeyRotationRequest => key_id,
    pb::DisableKeyRotationRequest => key_id,
    pb::GetKeyRotationStatusRequest => key_id,
    pb::ListKeyRotationsRequest => key_id,
    pb::ScheduleKeyDeletionRequest => key_id,
    pb::CancelKeyDeletionRequest => key_id,
    pb::PutKeyPolicyRequest => key_id,
    pb::GetKeyPolicyRequest => key_id,
    pb::CreateGrantRequest => key_id + grant_tokens,
    pb::ListGrantsRequest => key_id,
    pb::RevokeGrantRequest => key_id,
    pb::GetParametersForImportRequest => key_id,
    pb::ImportKeyMaterialRequest => key_id,
    pb::DeleteImportedKeyMaterialRequest => key_id,
    pb::DeriveSharedSecretRequest => key_id + grant_tokens,
    pb::TagResourceRequest => key_id,
    pb::UntagResourceRequest => key_id,
    pb::ListResourceTagsRequest => key_id,
    pb::UpdateKeyDescriptionRequest => key_id,
);

audited_key_and_context!(
    pb::EncryptRequest => key_id, encryption_context + grant_tokens,
    pb::DecryptRequest => key_id, encryption_context + grant_tokens,
    pb::ReEncryptRequest => destination_key_id, destination_encryption_context + grant_tokens,
    pb::GenerateDataKeyRequest => key_id, encryption_context + grant_tokens,
    pb::GenerateDataKeyPairRequest => key_id, encryption_context + grant_tokens,
);

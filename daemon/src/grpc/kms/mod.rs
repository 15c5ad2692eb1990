//! The KeyManagement service: each call served through `serve` by a handler of its feature
//! (`symmetric.rs`, `asymmetric.rs`, `keys.rs`, `tags.rs`, `grants.rs`), which parses the request, calls the
//! service with the call's `Call` and builds the response.

mod asymmetric;
mod grants;
mod keys;
mod symmetric;
mod tags;

use std::future::Future;
use std::sync::Arc;

use arca_proto::v1 as pb;
use arca_proto::v1::key_management_server::KeyManagement;
use tonic::{Request, Response, Status};

use super::serve;
use crate::error::Result as ServiceResult;
use crate::front::Audited;
use crate::metrics::Metrics;
use crate::operation::Operation;
use crate::service::{Call, Services};

/// The gRPC face of the key management services.
#[derive(Debug, Clone)]
pub(crate) struct KmsApi {
    services: Arc<Services>,
    metrics: Arc<Metrics>,
}

impl KmsApi {
    pub(crate) fn new(services: Arc<Services>, metrics: Arc<Metrics>) -> Self {
        Self { services, metrics }
    }

    /// Serves one call with `handler`, which gets the services and the call's `Call`.
    async fn serve<Req, Resp, Fut>(
        &self,
        operation: Operation,
        request: Request<Req>,
        handler: impl FnOnce(Arc<Services>, Arc<Call>, Req) -> Fut,
    ) -> Result<Response<Resp>, Status>
    where
        Req: Audited,
        Fut: Future<Output = ServiceResult<Resp>>,
    {
        let services = Arc::clone(&self.services);
        serve(&self.metrics, &self.services.keystore, operation, request, |call, message| {
            handler(services, call, message)
        })
        .await
    }
}

pub(super) const SYMMETRIC_DEFAULT: i32 = pb::EncryptionAlgorithm::SymmetricDefault as i32;

#[tonic::async_trait]
impl KeyManagement for KmsApi {
    async fn create_key(
        &self,
        request: Request<pb::CreateKeyRequest>,
    ) -> Result<Response<pb::CreateKeyResponse>, Status> {
        self.serve(Operation::CreateKey, request, keys::create_key).await
    }

    async fn describe_key(
        &self,
        request: Request<pb::DescribeKeyRequest>,
    ) -> Result<Response<pb::DescribeKeyResponse>, Status> {
        self.serve(Operation::DescribeKey, request, keys::describe_key).await
    }

    async fn list_keys(
        &self,
        request: Request<pb::ListKeysRequest>,
    ) -> Result<Response<pb::ListKeysResponse>, Status> {
        self.serve(Operation::ListKeys, request, keys::list_keys).await
    }

    async fn encrypt(
        &self,
        request: Request<pb::EncryptRequest>,
    ) -> Result<Response<pb::EncryptResponse>, Status> {
        self.serve(Operation::Encrypt, request, symmetric::encrypt).await
    }

    async fn decrypt(
        &self,
        request: Request<pb::DecryptRequest>,
    ) -> Result<Response<pb::DecryptResponse>, Status> {
        self.serve(Operation::Decrypt, request, symmetric::decrypt).await
    }

    async fn re_encrypt(
        &self,
        request: Request<pb::ReEncryptRequest>,
    ) -> Result<Response<pb::ReEncryptResponse>, Status> {
        self.serve(Operation::ReEncrypt, request, symmetric::re_encrypt).await
    }

    async fn generate_data_key(
        &self,
        request: Request<pb::GenerateDataKeyRequest>,
    ) -> Result<Response<pb::GenerateDataKeyResponse>, Status> {
        self.serve(Operation::GenerateDataKey, request, symmetric::generate_data_key).await
    }

    async fn generate_data_key_without_plaintext(
        &self,
        request: Request<pb::GenerateDataKeyRequest>,
    ) -> Result<Response<pb::GenerateDataKeyWithoutPlaintextResponse>, Status> {
        self.serve(
            Operation::GenerateDataKeyWithoutPlaintext,
            request,
            symmetric::generate_data_key_without_plaintext,
        )
        .await
    }

    async fn generate_random(
        &self,
        request: Request<pb::GenerateRandomRequest>,
    ) -> Result<Response<pb::GenerateRandomResponse>, Status> {
        self.serve(Operation::GenerateRandom, request, symmetric::generate_random).await
    }

    async fn sign(&self, request: Request<pb::SignRequest>) -> Result<Response<pb::SignResponse>, Status> {
        self.serve(Operation::Sign, request, asymmetric::sign).await
    }

    async fn verify(
        &self,
        request: Request<pb::VerifyRequest>,
    ) -> Result<Response<pb::VerifyResponse>, Status> {
        self.serve(Operation::Verify, request, asymmetric::verify).await
    }

    async fn get_public_key(
        &self,
        request: Request<pb::GetPublicKeyRequest>,
    ) -> Result<Response<pb::GetPublicKeyResponse>, Status> {
        self.serve(Operation::GetPublicKey, request, asymmetric::get_public_key).await
    }

    async fn generate_mac(
        &self,
        request: Request<pb::GenerateMacRequest>,
    ) -> Result<Response<pb::GenerateMacResponse>, Status> {
        self.serve(Operation::GenerateMac, request, asymmetric::generate_mac).await
    }

    async fn verify_mac(
        &self,
        request: Request<pb::VerifyMacRequest>,
    ) -> Result<Response<pb::VerifyMacResponse>, Status> {
        self.serve(Operation::VerifyMac, request, asymmetric::verify_mac).await
    }

    async fn generate_data_key_pair(
        &self,
        request: Request<pb::GenerateDataKeyPairRequest>,
    ) -> Result<Response<pb::GenerateDataKeyPairResponse>, Status> {
        self.serve(Operation::GenerateDataKeyPair, request, asymmetric::generate_data_key_pair).await
    }

    async fn generate_data_key_pair_without_plaintext(
        &self,
        request: Request<pb::GenerateDataKeyPairRequest>,
    ) -> Result<Response<pb::GenerateDataKeyPairWithoutPlaintextResponse>, Status> {
        self.serve(
            Operation::GenerateDataKeyPairWithoutPlaintext,
            request,
            asymmetric::generate_data_key_pair_without_plaintext,
        )
        .await
    }

    async fn enable_key(
        &self,
        request: Request<pb::EnableKeyRequest>,
    ) -> Result<Response<pb::EnableKeyResponse>, Status> {
        self.serve(Operation::EnableKey, request, keys::enable_key).await
    }

    async fn disable_key(
        &self,
        request: Request<pb::DisableKeyRequest>,
    ) -> Result<Response<pb::DisableKeyResponse>, Status> {
        self.serve(Operation::DisableKey, request, keys::disable_key).await
    }

    async fn create_alias(
        &self,
        request: Request<pb::CreateAliasRequest>,
    ) -> Result<Response<pb::CreateAliasResponse>, Status> {
        self.serve(Operation::CreateAlias, request, keys::create_alias).await
    }

    async fn update_alias(
        &self,
        request: Request<pb::UpdateAliasRequest>,
    ) -> Result<Response<pb::UpdateAliasResponse>, Status> {
        self.serve(Operation::UpdateAlias, request, keys::update_alias).await
    }

    async fn delete_alias(
        &self,
        request: Request<pb::DeleteAliasRequest>,
    ) -> Result<Response<pb::DeleteAliasResponse>, Status> {
        self.serve(Operation::DeleteAlias, request, keys::delete_alias).await
    }

    async fn list_aliases(
        &self,
        request: Request<pb::ListAliasesRequest>,
    ) -> Result<Response<pb::ListAliasesResponse>, Status> {
        self.serve(Operation::ListAliases, request, keys::list_aliases).await
    }

    async fn rotate_key_on_demand(
        &self,
        request: Request<pb::RotateKeyOnDemandRequest>,
    ) -> Result<Response<pb::RotateKeyOnDemandResponse>, Status> {
        self.serve(Operation::RotateKeyOnDemand, request, keys::rotate_key_on_demand).await
    }

    async fn enable_key_rotation(
        &self,
        request: Request<pb::EnableKeyRotationRequest>,
    ) -> Result<Response<pb::EnableKeyRotationResponse>, Status> {
        self.serve(Operation::EnableKeyRotation, request, keys::enable_key_rotation).await
    }

    async fn disable_key_rotation(
        &self,
        request: Request<pb::DisableKeyRotationRequest>,
    ) -> Result<Response<pb::DisableKeyRotationResponse>, Status> {
        self.serve(Operation::DisableKeyRotation, request, keys::disable_key_rotation).await
    }

    async fn get_key_rotation_status(
        &self,
        request: Request<pb::GetKeyRotationStatusRequest>,
    ) -> Result<Response<pb::GetKeyRotationStatusResponse>, Status> {
        self.serve(Operation::GetKeyRotationStatus, request, keys::get_key_rotation_status).await
    }

    async fn list_key_rotations(
        &self,
        request: Request<pb::ListKeyRotationsRequest>,
    ) -> Result<Response<pb::ListKeyRotationsResponse>, Status> {
        self.serve(Operation::ListKeyRotations, request, keys::list_key_rotations).await
    }

    async fn schedule_key_deletion(
        &self,
        request: Request<pb::ScheduleKeyDeletionRequest>,
    ) -> Result<Response<pb::ScheduleKeyDeletionResponse>, Status> {
        self.serve(Operation::ScheduleKeyDeletion, request, keys::schedule_key_deletion).await
    }

    async fn cancel_key_deletion(
        &self,
        request: Request<pb::CancelKeyDeletionRequest>,
    ) -> Result<Response<pb::CancelKeyDeletionResponse>, Status> {
        self.serve(Operation::CancelKeyDeletion, request, keys::cancel_key_deletion).await
    }

    async fn put_key_policy(
        &self,
        request: Request<pb::PutKeyPolicyRequest>,
    ) -> Result<Response<pb::PutKeyPolicyResponse>, Status> {
        self.serve(Operation::PutKeyPolicy, request, keys::put_key_policy).await
    }

    async fn get_key_policy(
        &self,
        request: Request<pb::GetKeyPolicyRequest>,
    ) -> Result<Response<pb::GetKeyPolicyResponse>, Status> {
        self.serve(Operation::GetKeyPolicy, request, keys::get_key_policy).await
    }

    async fn create_grant(
        &self,
        request: Request<pb::CreateGrantRequest>,
    ) -> Result<Response<pb::CreateGrantResponse>, Status> {
        self.serve(Operation::CreateGrant, request, grants::create_grant).await
    }

    async fn list_grants(
        &self,
        request: Request<pb::ListGrantsRequest>,
    ) -> Result<Response<pb::ListGrantsResponse>, Status> {
        self.serve(Operation::ListGrants, request, grants::list_grants).await
    }

    async fn list_retirable_grants(
        &self,
        request: Request<pb::ListRetirableGrantsRequest>,
    ) -> Result<Response<pb::ListGrantsResponse>, Status> {
        self.serve(Operation::ListRetirableGrants, request, grants::list_retirable_grants).await
    }

    async fn retire_grant(
        &self,
        request: Request<pb::RetireGrantRequest>,
    ) -> Result<Response<pb::RetireGrantResponse>, Status> {
        self.serve(Operation::RetireGrant, request, grants::retire_grant).await
    }

    async fn revoke_grant(
        &self,
        request: Request<pb::RevokeGrantRequest>,
    ) -> Result<Response<pb::RevokeGrantResponse>, Status> {
        self.serve(Operation::RevokeGrant, request, grants::revoke_grant).await
    }

    async fn get_parameters_for_import(
        &self,
        request: Request<pb::GetParametersForImportRequest>,
    ) -> Result<Response<pb::GetParametersForImportResponse>, Status> {
        self.serve(Operation::GetParametersForImport, request, grants::get_parameters_for_import).await
    }

    async fn import_key_material(
        &self,
        request: Request<pb::ImportKeyMaterialRequest>,
    ) -> Result<Response<pb::ImportKeyMaterialResponse>, Status> {
        self.serve(Operation::ImportKeyMaterial, request, grants::import_key_material).await
    }

    async fn derive_shared_secret(
        &self,
        request: Request<pb::DeriveSharedSecretRequest>,
    ) -> Result<Response<pb::DeriveSharedSecretResponse>, Status> {
        self.serve(Operation::DeriveSharedSecret, request, asymmetric::derive_shared_secret).await
    }

    async fn tag_resource(
        &self,
        request: Request<pb::TagResourceRequest>,
    ) -> Result<Response<pb::TagResourceResponse>, Status> {
        self.serve(Operation::TagResource, request, tags::tag_resource).await
    }

    async fn untag_resource(
        &self,
        request: Request<pb::UntagResourceRequest>,
    ) -> Result<Response<pb::UntagResourceResponse>, Status> {
        self.serve(Operation::UntagResource, request, tags::untag_resource).await
    }

    async fn list_resource_tags(
        &self,
        request: Request<pb::ListResourceTagsRequest>,
    ) -> Result<Response<pb::ListResourceTagsResponse>, Status> {
        self.serve(Operation::ListResourceTags, request, tags::list_resource_tags).await
    }

    async fn update_key_description(
        &self,
        request: Request<pb::UpdateKeyDescriptionRequest>,
    ) -> Result<Response<pb::UpdateKeyDescriptionResponse>, Status> {
        self.serve(Operation::UpdateKeyDescription, request, tags::update_key_description).await
    }

    async fn delete_imported_key_material(
        &self,
        request: Request<pb::DeleteImportedKeyMaterialRequest>,
    ) -> Result<Response<pb::DeleteImportedKeyMaterialResponse>, Status> {
        self.serve(Operation::DeleteImportedKeyMaterial, request, grants::delete_imported_key_material).await
    }
}

//! The KeyManagement service.

use std::sync::Arc;

use arca_proto::v1 as pb;
use arca_proto::v1::key_management_server::KeyManagement;
use tonic::{Request, Response, Status};

use super::{asymmetric, convert, serve};
use crate::metrics::Metrics;
use crate::operation::Operation;
use crate::service::{NewGrant, NewKey, Services};

/// The gRPC face of [`Keystore`].
#[derive(Debug, Clone)]
pub(crate) struct KmsApi {
    services: Arc<Services>,
    metrics: Arc<Metrics>,
}

impl KmsApi {
    pub(crate) fn new(services: Arc<Services>, metrics: Arc<Metrics>) -> Self {
        Self { services, metrics }
    }
}

const SYMMETRIC_DEFAULT: i32 = pb::EncryptionAlgorithm::SymmetricDefault as i32;

#[tonic::async_trait]
impl KeyManagement for KmsApi {
    async fn create_key(
        &self,
        request: Request<pb::CreateKeyRequest>,
    ) -> Result<Response<pb::CreateKeyResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::CreateKey, request, |call, r| async move {
            let new_key = NewKey {
                description: r.description,
                spec: convert::key_spec(r.key_spec)?,
                usage: convert::key_usage(r.key_usage)?,
                tags: r.tags.into_iter().collect(),
                policy: r.policy,
                origin: convert::origin(r.origin)?,
            };
            let info = self.services.keys.create_key(&call, new_key).await?;
            Ok(pb::CreateKeyResponse { key_metadata: Some(convert::key_metadata(&info)) })
        })
        .await
    }

    async fn describe_key(
        &self,
        request: Request<pb::DescribeKeyRequest>,
    ) -> Result<Response<pb::DescribeKeyResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::DescribeKey, request, |call, r| async move {
            let info = self.services.keys.describe_key(&call, &r.key_id)?;
            Ok(pb::DescribeKeyResponse { key_metadata: Some(convert::key_metadata(&info)) })
        })
        .await
    }

    async fn list_keys(
        &self,
        request: Request<pb::ListKeysRequest>,
    ) -> Result<Response<pb::ListKeysResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::ListKeys, request, |_, r| async move {
            let filter = convert::key_filter(&r)?;
            let (ids, next) = self.services.keys.list_keys(r.limit as usize, &r.page_token, &filter)?;
            Ok(pb::ListKeysResponse {
                keys: ids.iter().map(|id| pb::KeyListEntry { key_id: id.to_string() }).collect(),
                truncated: next.is_some(),
                next_page_token: next.unwrap_or_default(),
            })
        })
        .await
    }

    async fn encrypt(
        &self,
        request: Request<pb::EncryptRequest>,
    ) -> Result<Response<pb::EncryptResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::Encrypt, request, |call, r| async move {
            if let Some(hash) = convert::encryption_algorithm(r.encryption_algorithm)? {
                let (key_id, ciphertext) =
                    self.services.crypto.encrypt_oaep(&call, &r.key_id, hash, &r.plaintext)?;
                return Ok(pb::EncryptResponse {
                    key_id: key_id.to_string(),
                    ciphertext_blob: ciphertext,
                    key_version: 1,
                    encryption_algorithm: convert::encryption_algorithm_to_pb(Some(hash)),
                });
            }
            let sealed = self.services.crypto.encrypt(
                &call,
                &r.key_id,
                &r.plaintext,
                &convert::context(r.encryption_context),
            )?;
            Ok(pb::EncryptResponse {
                key_id: sealed.key_id.to_string(),
                ciphertext_blob: sealed.blob,
                key_version: sealed.key_version,
                encryption_algorithm: SYMMETRIC_DEFAULT,
            })
        })
        .await
    }

    async fn decrypt(
        &self,
        request: Request<pb::DecryptRequest>,
    ) -> Result<Response<pb::DecryptResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::Decrypt, request, |call, r| async move {
            if let Some(hash) = convert::encryption_algorithm(r.encryption_algorithm)? {
                let (key_id, plaintext) =
                    self.services.crypto.decrypt_oaep(&call, &r.key_id, hash, &r.ciphertext_blob)?;
                return Ok(pb::DecryptResponse {
                    key_id: key_id.to_string(),
                    plaintext: plaintext.as_slice().to_vec(),
                    key_version: 1,
                    encryption_algorithm: convert::encryption_algorithm_to_pb(Some(hash)),
                });
            }
            let context = convert::context(r.encryption_context);
            let opened =
                self.services.crypto.decrypt(&call, &r.ciphertext_blob, &context, Some(&r.key_id))?;
            Ok(pb::DecryptResponse {
                key_id: opened.key_id.to_string(),
                // Handed out on purpose: the caller asked for its plaintext.
                plaintext: opened.plaintext.as_slice().to_vec(),
                key_version: opened.key_version,
                encryption_algorithm: SYMMETRIC_DEFAULT,
            })
        })
        .await
    }

    async fn re_encrypt(
        &self,
        request: Request<pb::ReEncryptRequest>,
    ) -> Result<Response<pb::ReEncryptResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::ReEncrypt, request, |call, r| async move {
            let (opened, sealed) = self.services.crypto.re_encrypt(
                &call,
                &r.ciphertext_blob,
                &convert::context(r.source_encryption_context),
                Some(&r.source_key_id),
                &r.destination_key_id,
                &convert::context(r.destination_encryption_context),
            )?;
            Ok(pb::ReEncryptResponse {
                source_key_id: opened.key_id.to_string(),
                source_key_version: opened.key_version,
                key_id: sealed.key_id.to_string(),
                key_version: sealed.key_version,
                ciphertext_blob: sealed.blob,
            })
        })
        .await
    }

    async fn generate_data_key(
        &self,
        request: Request<pb::GenerateDataKeyRequest>,
    ) -> Result<Response<pb::GenerateDataKeyResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::GenerateDataKey,
            request,
            |call, r| async move {
                let size = convert::data_key_size(r.key_spec, r.number_of_bytes)?;
                let (sealed, data_key) = self.services.crypto.generate_data_key(
                    &call,
                    &r.key_id,
                    size,
                    &convert::context(r.encryption_context),
                )?;
                Ok(pb::GenerateDataKeyResponse {
                    key_id: sealed.key_id.to_string(),
                    key_version: sealed.key_version,
                    ciphertext_blob: sealed.blob,
                    plaintext: data_key.as_slice().to_vec(),
                })
            },
        )
        .await
    }

    async fn generate_data_key_without_plaintext(
        &self,
        request: Request<pb::GenerateDataKeyRequest>,
    ) -> Result<Response<pb::GenerateDataKeyWithoutPlaintextResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::GenerateDataKeyWithoutPlaintext,
            request,
            |call, r| async move {
                let size = convert::data_key_size(r.key_spec, r.number_of_bytes)?;
                let (sealed, _data_key) = self.services.crypto.generate_data_key(
                    &call,
                    &r.key_id,
                    size,
                    &convert::context(r.encryption_context),
                )?;
                Ok(pb::GenerateDataKeyWithoutPlaintextResponse {
                    key_id: sealed.key_id.to_string(),
                    key_version: sealed.key_version,
                    ciphertext_blob: sealed.blob,
                })
            },
        )
        .await
    }

    async fn generate_random(
        &self,
        request: Request<pb::GenerateRandomRequest>,
    ) -> Result<Response<pb::GenerateRandomResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::GenerateRandom, request, |_, r| async move {
            Ok(pb::GenerateRandomResponse {
                plaintext: self.services.crypto.generate_random(r.number_of_bytes as usize)?,
            })
        })
        .await
    }

    async fn sign(&self, request: Request<pb::SignRequest>) -> Result<Response<pb::SignResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::Sign, request, |call, r| async move {
            asymmetric::sign(&self.services.crypto, &call, r).await
        })
        .await
    }

    async fn verify(
        &self,
        request: Request<pb::VerifyRequest>,
    ) -> Result<Response<pb::VerifyResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::Verify, request, |call, r| async move {
            asymmetric::verify(&self.services.crypto, &call, r).await
        })
        .await
    }

    async fn get_public_key(
        &self,
        request: Request<pb::GetPublicKeyRequest>,
    ) -> Result<Response<pb::GetPublicKeyResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::GetPublicKey,
            request,
            |call, r| async move { asymmetric::get_public_key(&self.services.crypto, &call, r).await },
        )
        .await
    }

    async fn generate_mac(
        &self,
        request: Request<pb::GenerateMacRequest>,
    ) -> Result<Response<pb::GenerateMacResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::GenerateMac, request, |call, r| async move {
            asymmetric::generate_mac(&self.services.crypto, &call, r).await
        })
        .await
    }

    async fn verify_mac(
        &self,
        request: Request<pb::VerifyMacRequest>,
    ) -> Result<Response<pb::VerifyMacResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::VerifyMac, request, |call, r| async move {
            asymmetric::verify_mac(&self.services.crypto, &call, r).await
        })
        .await
    }

    async fn generate_data_key_pair(
        &self,
        request: Request<pb::GenerateDataKeyPairRequest>,
    ) -> Result<Response<pb::GenerateDataKeyPairResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::GenerateDataKeyPair, request, |call, r| async move {
            asymmetric::generate_data_key_pair(&self.services.crypto, &call, r).await
        })
        .await
    }

    async fn generate_data_key_pair_without_plaintext(
        &self,
        request: Request<pb::GenerateDataKeyPairRequest>,
    ) -> Result<Response<pb::GenerateDataKeyPairWithoutPlaintextResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::GenerateDataKeyPairWithoutPlaintext,
            request,
            |call, r| async move {
                asymmetric::generate_data_key_pair_without_plaintext(&self.services.crypto, &call, r).await
            },
        )
        .await
    }

    async fn enable_key(
        &self,
        request: Request<pb::EnableKeyRequest>,
    ) -> Result<Response<pb::EnableKeyResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::EnableKey, request, |call, r| async move {
            self.services.keys.enable_key(&call, &r.key_id).await?;
            Ok(pb::EnableKeyResponse {})
        })
        .await
    }

    async fn disable_key(
        &self,
        request: Request<pb::DisableKeyRequest>,
    ) -> Result<Response<pb::DisableKeyResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::DisableKey, request, |call, r| async move {
            self.services.keys.disable_key(&call, &r.key_id).await?;
            Ok(pb::DisableKeyResponse {})
        })
        .await
    }

    async fn create_alias(
        &self,
        request: Request<pb::CreateAliasRequest>,
    ) -> Result<Response<pb::CreateAliasResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::CreateAlias, request, |call, r| async move {
            self.services.keys.create_alias(&call, &r.alias_name, &r.target_key_id).await?;
            Ok(pb::CreateAliasResponse {})
        })
        .await
    }

    async fn update_alias(
        &self,
        request: Request<pb::UpdateAliasRequest>,
    ) -> Result<Response<pb::UpdateAliasResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::UpdateAlias, request, |call, r| async move {
            self.services.keys.update_alias(&call, &r.alias_name, &r.target_key_id).await?;
            Ok(pb::UpdateAliasResponse {})
        })
        .await
    }

    async fn delete_alias(
        &self,
        request: Request<pb::DeleteAliasRequest>,
    ) -> Result<Response<pb::DeleteAliasResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::DeleteAlias, request, |call, r| async move {
            self.services.keys.delete_alias(&call, &r.alias_name).await?;
            Ok(pb::DeleteAliasResponse {})
        })
        .await
    }

    async fn list_aliases(
        &self,
        request: Request<pb::ListAliasesRequest>,
    ) -> Result<Response<pb::ListAliasesResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::ListAliases, request, |call, r| async move {
            let (page, next) =
                self.services.keys.list_aliases(&call, &r.key_id, r.limit as usize, &r.page_token)?;
            Ok(pb::ListAliasesResponse {
                aliases: page
                    .into_iter()
                    .map(|(alias_name, id)| pb::AliasListEntry { alias_name, target_key_id: id.to_string() })
                    .collect(),
                truncated: next.is_some(),
                next_page_token: next.unwrap_or_default(),
            })
        })
        .await
    }

    async fn rotate_key_on_demand(
        &self,
        request: Request<pb::RotateKeyOnDemandRequest>,
    ) -> Result<Response<pb::RotateKeyOnDemandResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::RotateKeyOnDemand,
            request,
            |call, r| async move {
                let key_version = self.services.keys.rotate_key_on_demand(&call, &r.key_id).await?;
                let key_id = self.services.keystore.resolve(&call, &r.key_id)?.to_string();
                Ok(pb::RotateKeyOnDemandResponse { key_id, key_version })
            },
        )
        .await
    }

    async fn enable_key_rotation(
        &self,
        request: Request<pb::EnableKeyRotationRequest>,
    ) -> Result<Response<pb::EnableKeyRotationResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::EnableKeyRotation,
            request,
            |call, r| async move {
                let period = (r.rotation_period_in_days != 0).then_some(r.rotation_period_in_days);
                self.services.keys.enable_key_rotation(&call, &r.key_id, period).await?;
                Ok(pb::EnableKeyRotationResponse {})
            },
        )
        .await
    }

    async fn disable_key_rotation(
        &self,
        request: Request<pb::DisableKeyRotationRequest>,
    ) -> Result<Response<pb::DisableKeyRotationResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::DisableKeyRotation,
            request,
            |call, r| async move {
                self.services.keys.disable_key_rotation(&call, &r.key_id).await?;
                Ok(pb::DisableKeyRotationResponse {})
            },
        )
        .await
    }

    async fn get_key_rotation_status(
        &self,
        request: Request<pb::GetKeyRotationStatusRequest>,
    ) -> Result<Response<pb::GetKeyRotationStatusResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::GetKeyRotationStatus,
            request,
            |call, r| async move {
                let status = self.services.keys.key_rotation_status(&call, &r.key_id)?;
                Ok(pb::GetKeyRotationStatusResponse {
                    key_id: status.key_id.to_string(),
                    key_rotation_enabled: status.rotation.is_some(),
                    rotation_period_in_days: status.rotation.map_or(0, |r| r.period_days),
                    next_rotation_date: status.rotation.map_or(0, |r| r.next_at),
                })
            },
        )
        .await
    }

    async fn list_key_rotations(
        &self,
        request: Request<pb::ListKeyRotationsRequest>,
    ) -> Result<Response<pb::ListKeyRotationsResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::ListKeyRotations,
            request,
            |call, r| async move {
                let rotations = self
                    .services
                    .keys
                    .list_key_rotations(&call, &r.key_id)?
                    .into_iter()
                    .map(|(key_version, rotation_date)| pb::KeyRotation { key_version, rotation_date })
                    .collect();
                Ok(pb::ListKeyRotationsResponse { rotations })
            },
        )
        .await
    }

    async fn schedule_key_deletion(
        &self,
        request: Request<pb::ScheduleKeyDeletionRequest>,
    ) -> Result<Response<pb::ScheduleKeyDeletionResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::ScheduleKeyDeletion,
            request,
            |call, r| async move {
                let window = (r.pending_window_in_days != 0).then_some(r.pending_window_in_days);
                let deletion_date =
                    self.services.keys.schedule_key_deletion(&call, &r.key_id, window).await?;
                let key_id = self.services.keystore.resolve(&call, &r.key_id)?.to_string();
                Ok(pb::ScheduleKeyDeletionResponse { key_id, deletion_date })
            },
        )
        .await
    }

    async fn cancel_key_deletion(
        &self,
        request: Request<pb::CancelKeyDeletionRequest>,
    ) -> Result<Response<pb::CancelKeyDeletionResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::CancelKeyDeletion,
            request,
            |call, r| async move {
                self.services.keys.cancel_key_deletion(&call, &r.key_id).await?;
                let key_id = self.services.keystore.resolve(&call, &r.key_id)?.to_string();
                Ok(pb::CancelKeyDeletionResponse { key_id })
            },
        )
        .await
    }

    async fn put_key_policy(
        &self,
        request: Request<pb::PutKeyPolicyRequest>,
    ) -> Result<Response<pb::PutKeyPolicyResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::PutKeyPolicy,
            request,
            |call, r| async move {
                self.services.keys.put_key_policy(&call, &r.key_id, &r.policy).await?;
                Ok(pb::PutKeyPolicyResponse {})
            },
        )
        .await
    }

    async fn get_key_policy(
        &self,
        request: Request<pb::GetKeyPolicyRequest>,
    ) -> Result<Response<pb::GetKeyPolicyResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::GetKeyPolicy,
            request,
            |call, r| async move {
                let (key_id, policy) = self.services.keys.get_key_policy(&call, &r.key_id)?;
                Ok(pb::GetKeyPolicyResponse { key_id: key_id.to_string(), policy })
            },
        )
        .await
    }

    async fn create_grant(
        &self,
        request: Request<pb::CreateGrantRequest>,
    ) -> Result<Response<pb::CreateGrantResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::CreateGrant, request, |call, r| async move {
            let constraints = r.constraints.unwrap_or_default();
            let new = NewGrant {
                grantee: r.grantee_principal,
                retiring_principal: r.retiring_principal,
                operations: r.operations,
                name: r.name,
                context_subset: constraints.encryption_context_subset.into_iter().collect(),
                context_equals: constraints.encryption_context_equals.into_iter().collect(),
            };
            let grant_id = self.services.grants.create_grant(&call, &r.key_id, new).await?;
            Ok(pb::CreateGrantResponse { grant_token: grant_id.clone(), grant_id })
        })
        .await
    }

    async fn list_grants(
        &self,
        request: Request<pb::ListGrantsRequest>,
    ) -> Result<Response<pb::ListGrantsResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::ListGrants, request, |call, r| async move {
            let grants = self.services.grants.list_grants(&call, &r.key_id)?;
            Ok(pb::ListGrantsResponse { grants: grants.iter().map(convert::grant).collect() })
        })
        .await
    }

    async fn list_retirable_grants(
        &self,
        request: Request<pb::ListRetirableGrantsRequest>,
    ) -> Result<Response<pb::ListGrantsResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::ListRetirableGrants,
            request,
            |call, r| async move {
                let grants = self.services.grants.list_retirable_grants(&call, &r.retiring_principal)?;
                Ok(pb::ListGrantsResponse { grants: grants.iter().map(convert::grant).collect() })
            },
        )
        .await
    }

    async fn retire_grant(
        &self,
        request: Request<pb::RetireGrantRequest>,
    ) -> Result<Response<pb::RetireGrantResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::RetireGrant, request, |call, r| async move {
            self.services.grants.retire_grant(&call, &r.grant_id).await?;
            Ok(pb::RetireGrantResponse {})
        })
        .await
    }

    async fn revoke_grant(
        &self,
        request: Request<pb::RevokeGrantRequest>,
    ) -> Result<Response<pb::RevokeGrantResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::RevokeGrant, request, |call, r| async move {
            self.services.grants.revoke_grant(&call, &r.key_id, &r.grant_id).await?;
            Ok(pb::RevokeGrantResponse {})
        })
        .await
    }

    async fn get_parameters_for_import(
        &self,
        request: Request<pb::GetParametersForImportRequest>,
    ) -> Result<Response<pb::GetParametersForImportResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::GetParametersForImport,
            request,
            |call, r| async move {
                let parameters = self
                    .services
                    .imports
                    .get_parameters_for_import(&call, &r.key_id, &r.wrapping_algorithm, &r.wrapping_key_spec)
                    .await?;
                Ok(pb::GetParametersForImportResponse {
                    key_id: parameters.key_id.to_string(),
                    import_token: parameters.import_token.into_bytes(),
                    public_key: parameters.public_key,
                    parameters_valid_to: parameters.valid_to,
                })
            },
        )
        .await
    }

    async fn import_key_material(
        &self,
        request: Request<pb::ImportKeyMaterialRequest>,
    ) -> Result<Response<pb::ImportKeyMaterialResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::ImportKeyMaterial,
            request,
            |call, r| async move {
                let token = String::from_utf8(r.import_token).unwrap_or_default();
                let valid_to = (r.valid_to != 0).then_some(r.valid_to);
                self.services
                    .imports
                    .import_key_material(&call, &r.key_id, &token, &r.encrypted_key_material, valid_to)
                    .await?;
                Ok(pb::ImportKeyMaterialResponse {})
            },
        )
        .await
    }

    async fn delete_imported_key_material(
        &self,
        request: Request<pb::DeleteImportedKeyMaterialRequest>,
    ) -> Result<Response<pb::DeleteImportedKeyMaterialResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::DeleteImportedKeyMaterial,
            request,
            |call, r| async move {
                self.services.imports.delete_imported_key_material(&call, &r.key_id).await?;
                Ok(pb::DeleteImportedKeyMaterialResponse {})
            },
        )
        .await
    }
}

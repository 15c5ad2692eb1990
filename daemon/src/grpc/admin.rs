//! The Admin service: status, initialisation and unsealing, backups, the audit log and the
//! access keys of the AWS KMS front.

use std::sync::Arc;

use arca_proto::v1 as pb;
use arca_proto::v1::admin_server::Admin;
use tonic::{Request, Response, Status};

use super::serve;
use crate::audit::{BadRecord, Filter};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::operation::Operation;
use crate::service::Services;
use crate::store::{AccessKeyEntry, SealMode};

#[derive(Debug, Clone)]
pub(crate) struct AdminApi {
    services: Arc<Services>,
    metrics: Arc<Metrics>,
}

impl AdminApi {
    pub(crate) fn new(services: Arc<Services>, metrics: Arc<Metrics>) -> Self {
        Self { services, metrics }
    }
}

/// Backup archives are streamed in chunks of this size.
const BACKUP_CHUNK_BYTES: usize = 1024 * 1024;

type BackupStream =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::BackupChunk, Status>> + Send>>;

fn passphrase(text: String) -> Result<String, Error> {
    if text.is_empty() {
        return Err(Error::invalid("passphrase is empty"));
    }
    Ok(text)
}

fn access_key(entry: AccessKeyEntry) -> pb::AccessKey {
    pb::AccessKey {
        access_key_id: entry.access_key_id,
        principal: entry.principal,
        description: entry.description,
        created_at: entry.created_at,
    }
}

#[tonic::async_trait]
impl Admin for AdminApi {
    async fn status(
        &self,
        request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::Status, request, |call, _| async move {
            let status = self.services.keystore.status()?;
            Ok(pb::StatusResponse {
                initialized: status.initialized,
                sealed: status.sealed,
                version: env!("CARGO_PKG_VERSION").to_owned(),
                key_count: status.key_count,
                seal_mode: match status.seal_mode {
                    SealMode::Passphrase => pb::SealMode::Passphrase,
                    SealMode::KeyFile(_) => pb::SealMode::KeyFile,
                }
                .into(),
                caller: call.principal().to_owned(),
                administrators: self.services.keystore.administrators(),
                disk_free_bytes: self.services.keystore.disk_reserve().free_bytes().unwrap_or_default(),
                min_free_disk_bytes: self.services.keystore.disk_reserve().min_free_bytes(),
            })
        })
        .await
    }

    async fn initialize(
        &self,
        request: Request<pb::InitializeRequest>,
    ) -> Result<Response<pb::InitializeResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::Initialize, request, |call, r| async move {
            if !matches!(self.services.keystore.status()?.seal_mode, SealMode::Passphrase) {
                return Err(Error::WrongSealMode(
                    "this store is sealed by a key file: it initializes itself",
                ));
            }
            self.services
                .keystore
                .initialize(&call, Some(passphrase(r.passphrase)?), &r.administrators)
                .await?;
            Ok(pb::InitializeResponse { administrators: self.services.keystore.administrators() })
        })
        .await
    }

    async fn unseal(
        &self,
        request: Request<pb::UnsealRequest>,
    ) -> Result<Response<pb::UnsealResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::Unseal, request, |call, r| async move {
            self.services.keystore.unseal(&call, Some(passphrase(r.passphrase)?)).await?;
            // Deletions and rotations that fell due while sealed happen now.
            self.services.keystore.run_due_work().await?;
            Ok(pb::UnsealResponse { sealed: self.services.keystore.status()?.sealed })
        })
        .await
    }

    type BackupStream = BackupStream;

    async fn backup(&self, request: Request<pb::BackupRequest>) -> Result<Response<BackupStream>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::Backup, request, |call, _| async move {
            let archive = self.services.keystore.backup(&call).await?;
            let chunks: Vec<Result<pb::BackupChunk, Status>> = archive
                .chunks(BACKUP_CHUNK_BYTES)
                .map(|chunk| Ok(pb::BackupChunk { data: chunk.to_vec() }))
                .collect();
            Ok(Box::pin(tokio_stream::iter(chunks)) as BackupStream)
        })
        .await
    }

    async fn verify_audit(
        &self,
        request: Request<pb::VerifyAuditRequest>,
    ) -> Result<Response<pb::VerifyAuditResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::VerifyAudit, request, |call, _| async move {
            let outcome = self.services.audit.verify(&call)?;
            let intact = outcome.first_bad.is_none();
            let bad =
                outcome.first_bad.unwrap_or(BadRecord { seq: 0, file: String::new(), reason: String::new() });
            Ok(pb::VerifyAuditResponse {
                intact,
                records: outcome.records,
                authenticated: outcome.authenticated,
                first_bad_seq: bad.seq,
                reason: bad.reason,
                first_bad_file: bad.file,
                files: outcome.files,
            })
        })
        .await
    }

    async fn read_audit(
        &self,
        request: Request<pb::ReadAuditRequest>,
    ) -> Result<Response<pb::ReadAuditResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::ReadAudit, request, |call, r| async move {
            let filter = Filter { key: &r.key, principal: &r.principal, source: &r.source };
            Ok(pb::ReadAuditResponse { records: self.services.audit.read(&call, r.limit, &filter)? })
        })
        .await
    }

    async fn rotate_audit(
        &self,
        request: Request<pb::RotateAuditRequest>,
    ) -> Result<Response<pb::RotateAuditResponse>, Status> {
        serve(&self.metrics, &self.services.keystore, Operation::RotateAudit, request, |call, _| async move {
            Ok(match self.services.audit.rotate(&call)? {
                Some(rotated) => pb::RotateAuditResponse {
                    rotated: true,
                    file: rotated.file,
                    first_seq: rotated.first_seq,
                    last_seq: rotated.last_seq,
                },
                None => pb::RotateAuditResponse::default(),
            })
        })
        .await
    }

    async fn advance_clock(
        &self,
        request: Request<pb::AdvanceClockRequest>,
    ) -> Result<Response<pb::AdvanceClockResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::AdvanceClock,
            request,
            |call, r| async move {
                let (now, changed) = self.services.keystore.advance_clock(&call, r.seconds).await?;
                Ok(pb::AdvanceClockResponse { now, keys_changed: u32::try_from(changed).unwrap_or(u32::MAX) })
            },
        )
        .await
    }

    async fn create_access_key(
        &self,
        request: Request<pb::CreateAccessKeyRequest>,
    ) -> Result<Response<pb::CreateAccessKeyResponse>, Status> {
        let operation = Operation::CreateAccessKey;
        serve(&self.metrics, &self.services.keystore, operation, request, |call, r| async move {
            let made = self.services.access_keys.create(&call, &r.principal, &r.description).await?;
            // The one copy that leaves: the response's heap string (wiped when freed).
            let secret_access_key = std::str::from_utf8(made.secret.as_slice())
                .map_err(|_| Error::Integrity("a new secret access key is not text".into()))?
                .to_owned();
            Ok(pb::CreateAccessKeyResponse { access_key: Some(access_key(made.entry)), secret_access_key })
        })
        .await
    }

    async fn list_access_keys(
        &self,
        request: Request<pb::ListAccessKeysRequest>,
    ) -> Result<Response<pb::ListAccessKeysResponse>, Status> {
        let operation = Operation::ListAccessKeys;
        serve(&self.metrics, &self.services.keystore, operation, request, |call, _| async move {
            let entries = self.services.access_keys.list(&call)?;
            Ok(pb::ListAccessKeysResponse { access_keys: entries.into_iter().map(access_key).collect() })
        })
        .await
    }

    async fn delete_access_key(
        &self,
        request: Request<pb::DeleteAccessKeyRequest>,
    ) -> Result<Response<pb::DeleteAccessKeyResponse>, Status> {
        let operation = Operation::DeleteAccessKey;
        serve(&self.metrics, &self.services.keystore, operation, request, |call, r| async move {
            self.services.access_keys.delete(&call, &r.access_key_id).await?;
            Ok(pb::DeleteAccessKeyResponse {})
        })
        .await
    }
}

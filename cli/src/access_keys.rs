//! The access key commands: access-key create, list and delete.

use arca_proto::v1 as pb;

use crate::cli::{AccessKeyCreateArgs, AccessKeyDeleteArgs};
use crate::error::CliError;
use crate::output::{Record, Value};
use crate::session::Session;

fn fields(record: Record, key: pb::AccessKey) -> Record {
    record
        .with("access_key_id", key.access_key_id)
        .with("principal", key.principal)
        .with("description", key.description)
        .with("created_at", Value::Timestamp(key.created_at))
}

/// The new key and, this once, its secret.
pub(crate) async fn create(session: &Session, args: AccessKeyCreateArgs) -> Result<Record, CliError> {
    let request = pb::CreateAccessKeyRequest { principal: args.principal, description: args.description };
    let response = session.call(session.admin().create_access_key(session.request(request))).await?;
    let record = fields(Record::new(), response.access_key.unwrap_or_default());
    Ok(record.with("secret_access_key", response.secret_access_key))
}

pub(crate) async fn list(session: &Session) -> Result<Record, CliError> {
    let request = session.request(pb::ListAccessKeysRequest {});
    let response = session.call(session.admin().list_access_keys(request)).await?;
    let keys = response.access_keys.into_iter().map(|key| Value::Object(fields(Record::new(), key)));
    Ok(Record::new().with("access_keys", Value::List(keys.collect())))
}

pub(crate) async fn delete(session: &Session, args: AccessKeyDeleteArgs) -> Result<Record, CliError> {
    let request = pb::DeleteAccessKeyRequest { access_key_id: args.access_key_id.clone() };
    session.call(session.admin().delete_access_key(session.request(request))).await?;
    Ok(Record::new().with("access_key_id", args.access_key_id).with("deleted", true))
}

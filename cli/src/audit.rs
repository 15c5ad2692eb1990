//! The audit log commands: audit verify, audit tail, audit rotate.

use arca_proto::v1 as pb;

use crate::cli::AuditTailArgs;
use crate::error::CliError;
use crate::output::{Record, Reply, Value};
use crate::session::Session;

/// The counts, and when the log is not intact the first bad record and why (exit status 3).
pub(crate) async fn verify(session: &Session) -> Result<Reply, CliError> {
    let request = session.request(pb::VerifyAuditRequest {});
    let response = session.call(session.admin().verify_audit(request)).await?;
    let mut record = Record::new()
        .with("intact", response.intact)
        .with("records", response.records)
        .with("authenticated", response.authenticated)
        .with("files", response.files);
    if !response.intact {
        record = record
            .with("first_bad_seq", response.first_bad_seq)
            .with("first_bad_file", response.first_bad_file)
            .with("reason", response.reason);
    }
    Ok(Reply::check(record, response.intact))
}

/// In table output the JSON lines exactly as the daemon returns them, oldest first as given.
pub(crate) async fn tail(session: &Session, args: AuditTailArgs) -> Result<Reply, CliError> {
    let request = pb::ReadAuditRequest {
        limit: args.limit.unwrap_or(0),
        key: args.key.unwrap_or_default(),
        principal: args.principal.unwrap_or_default(),
        source: args.source.unwrap_or_default(),
    };
    let response = session.call(session.admin().read_audit(session.request(request))).await?;
    let text = response.records.iter().map(|line| format!("{}\n", line.trim_end_matches('\n'))).collect();
    let record =
        Record::new().with("records", Value::List(response.records.into_iter().map(Value::from).collect()));
    Ok(Reply { table_text: Some(text), ..Reply::from(record) })
}

/// The name the current file got and the records it holds; `rotated: false` when it held none.
pub(crate) async fn rotate(session: &Session) -> Result<Record, CliError> {
    let request = session.request(pb::RotateAuditRequest {});
    let response = session.call(session.admin().rotate_audit(request)).await?;
    let record = Record::new().with("rotated", response.rotated);
    if !response.rotated {
        return Ok(record);
    }
    Ok(record
        .with("file", response.file)
        .with("first_seq", response.first_seq)
        .with("last_seq", response.last_seq))
}

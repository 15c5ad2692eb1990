//! The audit log commands: audit verify (on one node, or on every node of an --endpoint list,
//! since each node keeps its own audit chain), audit tail, audit rotate.

use arca_proto::DaemonEndpoints;
use arca_proto::v1 as pb;

use crate::cli::{AuditTailArgs, Global};
use crate::error::CliError;
use crate::output::{Record, Reply, Value, Verdict};
use crate::session::Session;

/// The counts, and when the log is not intact the first bad record and why (exit status 3).
pub(crate) async fn verify(session: &Session) -> Result<Reply, CliError> {
    let (record, intact) = verification(session, Record::new()).await?;
    Ok(Reply::check(record, intact))
}

/// `audit verify` on every node, in order: one entry per node (its endpoint, then its counts or
/// why it could not be asked) and `intact` true only when every node's chain is. A node that
/// cannot be reached fails the command (exit status 1) after the report; a broken chain on a
/// node that answered gives exit status 3.
pub(crate) async fn verify_each(endpoints: &DaemonEndpoints, global: &Global) -> Result<Reply, CliError> {
    let (mut nodes, mut all_intact, mut all_asked) = (Vec::new(), true, true);
    for endpoint in endpoints.as_slice() {
        let node = Record::new().with("endpoint", endpoint.to_string());
        let outcome = match Session::connect_to(endpoint, global).await {
            Ok(session) => verification(&session, node.clone()).await,
            Err(error) => Err(error),
        };
        let entry = match outcome {
            Ok((record, intact)) => {
                all_intact &= intact;
                record
            }
            Err(error) => {
                all_asked = false;
                node.with("error", error.to_string())
            }
        };
        nodes.push(Value::Object(entry));
    }
    let record = Record::new().with("intact", all_intact && all_asked).with("nodes", Value::List(nodes));
    let verdict = match (all_asked, all_intact) {
        (false, _) => Verdict::Unanswered,
        (true, false) => Verdict::NotValid,
        (true, true) => Verdict::Done,
    };
    Ok(Reply { verdict, ..Reply::from(record) })
}

/// Asks one node to verify its log; its answer follows the fields of `record`.
async fn verification(session: &Session, record: Record) -> Result<(Record, bool), CliError> {
    let request = session.request(pb::VerifyAuditRequest {});
    let response = session.call(session.admin().verify_audit(request)).await?;
    let mut record = record
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
    Ok((record, response.intact))
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

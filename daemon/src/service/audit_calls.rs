//! The audit log's calls (VerifyAudit, ReadAudit, RotateAudit): the administrators' view of the
//! log every other call writes to.

use std::sync::Arc;

use super::{Call, Keystore};
use crate::audit::{Filter, Rotated, Verification};
use crate::error::{Error, Result};
use crate::operation::Operation;

/// How many records ReadAudit returns when the request names no limit, and at most.
const DEFAULT_READ_RECORDS: u32 = 100;
const MAX_READ_RECORDS: u32 = 1000;

/// The audit log's calls, for the administrators.
#[derive(Debug)]
pub struct AuditService {
    keystore: Arc<Keystore>,
}

impl AuditService {
    pub fn new(keystore: Arc<Keystore>) -> Self {
        Self { keystore }
    }

    /// Checks the whole chain (hashes, MACs, the anchored head).
    pub fn verify(&self, call: &Call) -> Result<Verification> {
        self.keystore.require_administrator(call, Operation::VerifyAudit)?;
        self.keystore.audit().verify()
    }

    /// The newest records that match `filter`, at most `limit` (0: the default).
    pub fn read(&self, call: &Call, limit: u32, filter: &Filter<'_>) -> Result<Vec<String>> {
        self.keystore.require_administrator(call, Operation::ReadAudit)?;
        let limit = match limit {
            0 => DEFAULT_READ_RECORDS,
            n @ 1..=MAX_READ_RECORDS => n,
            n => return Err(Error::invalid(format!("limit is {n}; it must be 1 to {MAX_READ_RECORDS}"))),
        };
        self.keystore.audit().tail_records(limit as usize, filter)
    }

    /// Starts a new segment of the log now; `None` when the current one is empty.
    pub fn rotate(&self, call: &Call) -> Result<Option<Rotated>> {
        self.keystore.require_administrator(call, Operation::RotateAudit)?;
        self.keystore.audit().rotate()
    }
}

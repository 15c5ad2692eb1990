//! The audit log's anchored head, kept in the store's meta table: the log cannot be shortened
//! without the store noticing at the next start or verification.

use std::sync::Arc;

use crate::audit::{AnchorStore, Head};
use crate::error::{Error, Result};
use crate::store::{AUDIT_HEAD_RECORD_KEY, StoreBackend, Table, Write};

pub(super) struct StoreAnchor(pub(super) Arc<dyn StoreBackend>);

impl AnchorStore for StoreAnchor {
    fn load(&self) -> Result<Option<Head>> {
        let Some(bytes) = self.0.get(Table::Meta, AUDIT_HEAD_RECORD_KEY)? else { return Ok(None) };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Integrity(format!("the anchored audit log head is unreadable: {e}")))
    }

    fn save(&self, head: &Head) -> Result<()> {
        let value = serde_json::to_vec(head).map_err(|e| Error::Storage(format!("audit head: {e}")))?;
        let write = Write { table: Table::Meta, key: AUDIT_HEAD_RECORD_KEY.to_vec(), value: Some(value) };
        self.0.commit(vec![write])
    }
}

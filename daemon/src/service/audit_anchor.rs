//! The audit log's anchored head, kept in the store's meta table: the log cannot be shortened
//! without the store noticing at the next start or verification.

use std::sync::Arc;

use crate::audit::{AnchorStore, Head};
use crate::error::{Error, Result};
use crate::store::{StoreBackend, Table, Write};

/// The head of this node's log, under its record key (`audit_head`, or `audit_head/<node>`).
pub(super) struct StoreAnchor {
    pub(super) backend: Arc<dyn StoreBackend>,
    pub(super) key: Vec<u8>,
}

impl AnchorStore for StoreAnchor {
    fn load(&self) -> Result<Option<Head>> {
        let Some(bytes) = self.backend.get(Table::Meta, &self.key)? else { return Ok(None) };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Integrity(format!("the anchored audit log head is unreadable: {e}")))
    }

    fn save(&self, head: &Head) -> Result<()> {
        let value = serde_json::to_vec(head).map_err(|e| Error::Storage(format!("audit head: {e}")))?;
        let write = Write::put(Table::Meta, self.key.clone(), value);
        self.backend.commit(vec![write])
    }
}

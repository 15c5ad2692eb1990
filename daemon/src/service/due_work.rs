//! The daemon's own work on keys, done for no caller: rotations and deletions that fell due,
//! imported material that expired, and what C_InitToken does to the keyring. None of it is a
//! call, so none of it is authorised against a key policy; each change is one store transaction.

use super::Call;
use super::Keystore;
use super::keys::{DAY, DEFAULT_DELETION_WINDOW_DAYS};
use crate::error::{Error, Result};
use crate::keys::{Key, KeyMetadata, KeyState, Rotation};
use crate::operation::Operation;
use crate::store::{Expect, Table, Write, import_token_valid_to};

impl Keystore {
    /// Rotates keys whose rotation is due and destroys keys whose deletion is due: the daemon's
    /// own work, not subject to any caller's policy. Returns how many keys were changed. Sealed:
    /// nothing to do until unsealed.
    pub async fn run_due_work(&self) -> Result<usize> {
        // Of nodes sharing a store, one does it: the holder of the store's schedule lease.
        let backend = std::sync::Arc::clone(&self.backend);
        let leading = super::threads::blocking(move || {
            let leading = backend.holds_schedule_lease()?;
            if leading {
                backend.prune()?;
            }
            Ok(leading)
        })
        .await?;
        if !leading {
            return Ok(0);
        }
        self.catch_up().await?;
        let Ok(keyring) = self.keyring() else { return Ok(0) };
        let now = self.now();
        self.prune_expired_import_tokens(now).await?;
        let mut changed = 0;
        for key in keyring.all()? {
            match self.do_due_work_on(&key, now).await {
                Ok(done) => changed += usize::from(done),
                // Changed meanwhile (a deletion cancelled on another node): the next tick sees it.
                Err(Error::Conflict(message)) => {
                    tracing::info!(key_id = %key.metadata.id, message, "due work left for the next tick");
                }
                Err(other) => return Err(other),
            }
        }
        Ok(changed)
    }

    /// What fell due for one key, done; returns whether anything was.
    async fn do_due_work_on(&self, key: &Key, now: i64) -> Result<bool> {
        let expired = key.metadata.imported.as_ref().and_then(|i| i.expires_at).is_some_and(|at| at <= now);
        if expired && !key.versions.is_empty() {
            self.forget_material(key).await?;
            tracing::info!(key_id = %key.metadata.id, "imported key material expired and was deleted");
            return Ok(true);
        }
        match (key.metadata.state, key.metadata.rotation) {
            (KeyState::PendingDeletion { at }, _) if at <= now => {
                self.keyring()?.destroy(key.metadata.id).await?;
                tracing::info!(key_id = %key.metadata.id, "key deleted: its material is destroyed");
                Ok(true)
            }
            (KeyState::Enabled, Some(rotation)) if rotation.next_at <= now => {
                self.rotate(key).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Deletes the import tokens that expired unused (a token used meanwhile is left to its
    /// user: the deletion of the batch is then refused, and the next tick tries again).
    async fn prune_expired_import_tokens(&self, now: i64) -> Result<()> {
        let backend = std::sync::Arc::clone(&self.backend);
        let outcome = super::threads::blocking(move || {
            let expired: Vec<Write> = backend
                .scan(Table::ImportTokens)?
                .into_iter()
                .filter(|(_, stored)| import_token_valid_to(stored).is_none_or(|at| at <= now))
                .map(|(token, stored)| {
                    Write::delete(Table::ImportTokens, token).expecting(Expect::Stored(stored))
                })
                .collect();
            if expired.is_empty() { Ok(()) } else { backend.commit(expired) }
        })
        .await;
        match outcome {
            Err(Error::Conflict(_)) => Ok(()),
            other => other,
        }
    }

    /// Test clock only: moves time forward, then runs whatever became due.
    pub async fn advance_clock(&self, call: &Call, seconds: i64) -> Result<(i64, usize)> {
        self.require_administrator(call, Operation::AdvanceClock)?;
        let now = self.clock.advance(seconds)?;
        Ok((now, self.run_due_work().await?))
    }

    pub(super) async fn rotate(&self, key: &crate::keys::Key) -> Result<u32> {
        let now = self.now();
        let rotation =
            key.metadata.rotation.map(|r| Rotation { next_at: now + i64::from(r.period_days) * DAY, ..r });
        let rotated = key.with_new_version(key.metadata.spec.generate()?, now, rotation)?;
        let version = rotated.current_version();
        self.keyring()?.replace(key, rotated).await?;
        tracing::info!(key_id = %key.metadata.id, version, "key rotated");
        Ok(version)
    }

    /// Every key not already pending deletion becomes PendingDeletion with the default window:
    /// what `C_InitToken` does to the keyring, so that re-initialising the token never takes a
    /// key's waiting period away (CancelKeyDeletion still brings a key back). No key policy is
    /// consulted: the caller proved the SO PIN and is an administrator. Returns how many keys
    /// were scheduled.
    pub(super) async fn schedule_every_deletion(&self) -> Result<usize> {
        let keyring = self.keyring()?;
        let at = self.now() + i64::from(DEFAULT_DELETION_WINDOW_DAYS) * DAY;
        let mut scheduled = 0;
        for key in keyring.all()? {
            if matches!(key.metadata.state, KeyState::PendingDeletion { .. }) {
                continue;
            }
            keyring.replace(&key, key.with_state(KeyState::PendingDeletion { at })?).await?;
            tracing::info!(key_id = %key.metadata.id, at, "key deletion scheduled by C_InitToken");
            scheduled += 1;
        }
        Ok(scheduled)
    }

    /// Back to PENDING_IMPORT without material (the digest stays, to recognise a re-import); a
    /// key pending deletion stays so, as in KMS.
    pub(super) async fn forget_material(&self, key: &Key) -> Result<()> {
        let state = match key.metadata.state {
            pending @ KeyState::PendingDeletion { .. } => pending,
            _ => KeyState::PendingImport,
        };
        let metadata = KeyMetadata { state, ..key.metadata.clone() };
        self.keyring()?.replace(key, Key { metadata, versions: Vec::new() }).await.map(|_| ())
    }
}

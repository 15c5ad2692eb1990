//! Time-driven key life cycle: rotation (on demand and automatic) and scheduled deletion with
//! crypto-shredding. Each change is one store transaction, so a crash leaves the old state or the
//! new, never a mix; due work runs at start-up, periodically, and when the test clock moves.

use super::KmsService;
use crate::crypto::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::keys::{KeyId, KeyOrigin, KeySpec, KeyState, Rotation};

const DAY: i64 = 86_400;
pub const ROTATION_PERIOD_DAYS: std::ops::RangeInclusive<u32> = 90..=2560;
pub const DEFAULT_ROTATION_PERIOD_DAYS: u32 = 365;
pub const DELETION_WINDOW_DAYS: std::ops::RangeInclusive<u32> = 7..=30;
pub const DEFAULT_DELETION_WINDOW_DAYS: u32 = 30;

/// GetKeyRotationStatus's answer.
#[derive(Debug, Clone, Copy)]
pub struct RotationStatus {
    pub key_id: KeyId,
    pub rotation: Option<Rotation>,
}

/// One version in ListKeyRotations: its number and when it became current.
pub type RotationEntry = (u32, i64);

impl KmsService {
    /// Only AES_256 keys with Arca-generated material rotate (as KMS: asymmetric, HMAC and
    /// imported keys are rotated by moving an alias).
    fn rotatable(&self, key_ref: &str, operation: &'static str) -> Result<std::sync::Arc<crate::keys::Key>> {
        let key = self.keyring()?.get(self.resolve(key_ref)?)?;
        self.authorize(&key, operation, &EncryptionContext::new())?;
        let meta = &key.metadata;
        if meta.state != KeyState::Enabled {
            return Err(Error::KeyNotEnabled { key: meta.id, state: meta.state.name(), operation });
        }
        if meta.spec != KeySpec::Aes256 || meta.origin != KeyOrigin::Arca {
            return Err(Error::invalid(format!(
                "{operation}: key {} is {}; only AES_256 keys with Arca-generated material rotate",
                meta.id,
                meta.spec.name()
            )));
        }
        if !meta.token.object.is_empty() {
            // PKCS#11 ciphertexts (CBC, CTR, GCM …) carry no key version: new material would
            // leave them undecryptable.
            return Err(Error::invalid(format!(
                "{operation}: key {} was made through PKCS#11, whose ciphertexts name no key version; \
                 rotate it by creating a new key",
                meta.id
            )));
        }
        Ok(key)
    }

    /// Makes new material current; old versions stay for Decrypt. Returns the new version.
    pub async fn rotate_key_on_demand(&self, key_ref: &str) -> Result<u32> {
        let key = self.rotatable(key_ref, "RotateKeyOnDemand")?;
        let version = self.rotate(&key).await?;
        // The audit record names the version the rotation made.
        super::authz::note_key_version(version);
        Ok(version)
    }

    async fn rotate(&self, key: &crate::keys::Key) -> Result<u32> {
        let now = self.now();
        let rotation =
            key.metadata.rotation.map(|r| Rotation { next_at: now + i64::from(r.period_days) * DAY, ..r });
        let rotated = key.with_new_version(key.metadata.spec.generate()?, now, rotation)?;
        let version = rotated.current_version();
        self.keyring()?.replace(key, rotated).await?;
        tracing::info!(key_id = %key.metadata.id, version, "key rotated");
        Ok(version)
    }

    pub async fn enable_key_rotation(&self, key_ref: &str, period_days: Option<u32>) -> Result<()> {
        let period_days = period_days.unwrap_or(DEFAULT_ROTATION_PERIOD_DAYS);
        if !ROTATION_PERIOD_DAYS.contains(&period_days) {
            return Err(Error::invalid(format!(
                "rotation_period_in_days is {period_days}; it must be {} to {}",
                ROTATION_PERIOD_DAYS.start(),
                ROTATION_PERIOD_DAYS.end()
            )));
        }
        let key = self.rotatable(key_ref, "EnableKeyRotation")?;
        let rotation = Some(Rotation { period_days, next_at: self.now() + i64::from(period_days) * DAY });
        let changed = key.with_metadata(crate::keys::KeyMetadata { rotation, ..key.metadata.clone() })?;
        self.keyring()?.replace(&key, changed).await.map(|_| ())
    }

    pub async fn disable_key_rotation(&self, key_ref: &str) -> Result<()> {
        let key = self.rotatable(key_ref, "DisableKeyRotation")?;
        let changed =
            key.with_metadata(crate::keys::KeyMetadata { rotation: None, ..key.metadata.clone() })?;
        self.keyring()?.replace(&key, changed).await.map(|_| ())
    }

    pub fn key_rotation_status(&self, key_ref: &str) -> Result<RotationStatus> {
        let key = self.keyring()?.get(self.resolve(key_ref)?)?;
        self.authorize(&key, "GetKeyRotationStatus", &EncryptionContext::new())?;
        Ok(RotationStatus { key_id: key.metadata.id, rotation: key.metadata.rotation })
    }

    pub fn list_key_rotations(&self, key_ref: &str) -> Result<Vec<RotationEntry>> {
        let key = self.keyring()?.get(self.resolve(key_ref)?)?;
        self.authorize(&key, "ListKeyRotations", &EncryptionContext::new())?;
        Ok(key.versions.iter().map(|v| (v.version, v.created_at)).collect())
    }

    /// PendingDeletion for `window_days` (7..=30, default 30); returns the deletion time.
    pub async fn schedule_key_deletion(&self, key_ref: &str, window_days: Option<u32>) -> Result<i64> {
        let window_days = window_days.unwrap_or(DEFAULT_DELETION_WINDOW_DAYS);
        if !DELETION_WINDOW_DAYS.contains(&window_days) {
            return Err(Error::invalid(format!(
                "pending_window_in_days is {window_days}; it must be {} to {}",
                DELETION_WINDOW_DAYS.start(),
                DELETION_WINDOW_DAYS.end()
            )));
        }
        let keyring = self.keyring()?;
        let key = keyring.get(self.resolve(key_ref)?)?;
        self.authorize(&key, "ScheduleKeyDeletion", &EncryptionContext::new())?;
        if let KeyState::PendingDeletion { at } = key.metadata.state {
            return Ok(at);
        }
        let at = self.now() + i64::from(window_days) * DAY;
        keyring.replace(&key, key.with_state(KeyState::PendingDeletion { at })?).await?;
        tracing::info!(key_id = %key.metadata.id, at, "key deletion scheduled");
        Ok(at)
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

    /// Back to Disabled, as KMS does: the owner enables it deliberately (PendingImport when the key
    /// has no material).
    pub async fn cancel_key_deletion(&self, key_ref: &str) -> Result<()> {
        let keyring = self.keyring()?;
        let key = keyring.get(self.resolve(key_ref)?)?;
        self.authorize(&key, "CancelKeyDeletion", &EncryptionContext::new())?;
        if !matches!(key.metadata.state, KeyState::PendingDeletion { .. }) {
            return Err(Error::KeyNotEnabled {
                key: key.metadata.id,
                state: key.metadata.state.name(),
                operation: "CancelKeyDeletion (the key is not pending deletion)",
            });
        }
        // Imported material deleted or expired meanwhile: the key waits for it again.
        let state = if key.versions.is_empty() { KeyState::PendingImport } else { KeyState::Disabled };
        keyring.replace(&key, key.with_state(state)?).await.map(|_| ())
    }

    /// Rotates keys whose rotation is due and destroys keys whose deletion is due: the daemon's
    /// own work, not subject to any caller's policy. Returns how many keys were changed. Sealed:
    /// nothing to do until unsealed.
    pub async fn run_due_work(&self) -> Result<usize> {
        let Ok(keyring) = self.keyring() else { return Ok(0) };
        let now = self.now();
        let mut changed = 0;
        for key in keyring.all()? {
            let expired =
                key.metadata.imported.as_ref().and_then(|i| i.expires_at).is_some_and(|at| at <= now);
            if expired && !key.versions.is_empty() {
                self.forget_material(&key).await?;
                tracing::info!(key_id = %key.metadata.id, "imported key material expired and was deleted");
                changed += 1;
                continue;
            }
            match (key.metadata.state, key.metadata.rotation) {
                (KeyState::PendingDeletion { at }, _) if at <= now => {
                    keyring.destroy(key.metadata.id).await?;
                    tracing::info!(key_id = %key.metadata.id, "key deleted: its material is destroyed");
                    changed += 1;
                }
                (KeyState::Enabled, Some(rotation)) if rotation.next_at <= now => {
                    self.rotate(&key).await?;
                    changed += 1;
                }
                _ => {}
            }
        }
        Ok(changed)
    }

    /// Test clock only: moves time forward, then runs whatever became due.
    pub async fn advance_clock(&self, seconds: i64) -> Result<(i64, usize)> {
        self.require_administrator("AdvanceClock")?;
        let now = self.clock.advance(seconds)?;
        Ok((now, self.run_due_work().await?))
    }
}

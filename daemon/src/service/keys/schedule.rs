//! Time-driven key life cycle: rotation (on demand and automatic) and scheduled deletion with
//! crypto-shredding. Each change is one store transaction, so a crash leaves the old state or the
//! new, never a mix; due work runs at start-up, periodically, and when the test clock moves.

use super::KeyService;
use crate::error::{Error, Result};
use crate::keys::{KeyId, KeyOrigin, KeySpec, KeyState, Rotation};
use crate::policy::Action;
use crate::service::{Authorized, Call};

pub(crate) const DAY: i64 = 86_400;
pub(super) const ROTATION_PERIOD_DAYS: std::ops::RangeInclusive<u32> = 90..=2560;
pub(super) const DEFAULT_ROTATION_PERIOD_DAYS: u32 = 365;
pub(super) const DELETION_WINDOW_DAYS: std::ops::RangeInclusive<u32> = 7..=30;
pub(crate) const DEFAULT_DELETION_WINDOW_DAYS: u32 = 30;

/// GetKeyRotationStatus's answer.
#[derive(Debug, Clone, Copy)]
pub struct RotationStatus {
    pub key_id: KeyId,
    pub rotation: Option<Rotation>,
}

/// One version in ListKeyRotations: its number and when it became current.
pub type RotationEntry = (u32, i64);

impl KeyService {
    /// Only AES_256 keys with Arca-generated material rotate (as KMS: asymmetric, HMAC and
    /// imported keys are rotated by moving an alias).
    fn rotatable(&self, call: &Call, key_ref: &str, action: Action) -> Result<Authorized> {
        let key = self.keystore.authorized_key(call, key_ref, action)?;
        let operation = action.name();
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
    pub async fn rotate_key_on_demand(&self, call: &Call, key_ref: &str) -> Result<u32> {
        let key = self.rotatable(call, key_ref, Action::RotateKeyOnDemand)?;
        let version = self.keystore.rotate(&key).await?;
        // The audit record names the version the rotation made.
        call.use_version(version);
        Ok(version)
    }

    pub async fn enable_key_rotation(
        &self,
        call: &Call,
        key_ref: &str,
        period_days: Option<u32>,
    ) -> Result<()> {
        let period_days = period_days.unwrap_or(DEFAULT_ROTATION_PERIOD_DAYS);
        if !ROTATION_PERIOD_DAYS.contains(&period_days) {
            return Err(Error::invalid(format!(
                "rotation_period_in_days is {period_days}; it must be {} to {}",
                ROTATION_PERIOD_DAYS.start(),
                ROTATION_PERIOD_DAYS.end()
            )));
        }
        let key = self.rotatable(call, key_ref, Action::EnableKeyRotation)?;
        let rotation =
            Some(Rotation { period_days, next_at: self.keystore.now() + i64::from(period_days) * DAY });
        let changed = key.with_metadata(crate::keys::KeyMetadata { rotation, ..key.metadata.clone() })?;
        self.keystore.keyring()?.replace(&key, changed).await.map(|_| ())
    }

    pub async fn disable_key_rotation(&self, call: &Call, key_ref: &str) -> Result<()> {
        let key = self.rotatable(call, key_ref, Action::DisableKeyRotation)?;
        let changed =
            key.with_metadata(crate::keys::KeyMetadata { rotation: None, ..key.metadata.clone() })?;
        self.keystore.keyring()?.replace(&key, changed).await.map(|_| ())
    }

    pub fn key_rotation_status(&self, call: &Call, key_ref: &str) -> Result<RotationStatus> {
        let key = self.keystore.authorized_key(call, key_ref, Action::GetKeyRotationStatus)?;
        Ok(RotationStatus { key_id: key.metadata.id, rotation: key.metadata.rotation })
    }

    pub fn list_key_rotations(&self, call: &Call, key_ref: &str) -> Result<Vec<RotationEntry>> {
        let key = self.keystore.authorized_key(call, key_ref, Action::ListKeyRotations)?;
        Ok(key.versions.iter().map(|v| (v.version, v.created_at)).collect())
    }

    /// PendingDeletion for `window_days` (7..=30, default 30); returns the deletion time.
    pub async fn schedule_key_deletion(
        &self,
        call: &Call,
        key_ref: &str,
        window_days: Option<u32>,
    ) -> Result<i64> {
        let window_days = window_days.unwrap_or(DEFAULT_DELETION_WINDOW_DAYS);
        if !DELETION_WINDOW_DAYS.contains(&window_days) {
            return Err(Error::invalid(format!(
                "pending_window_in_days is {window_days}; it must be {} to {}",
                DELETION_WINDOW_DAYS.start(),
                DELETION_WINDOW_DAYS.end()
            )));
        }
        let keyring = self.keystore.keyring()?;
        let key = self.keystore.authorized_key(call, key_ref, Action::ScheduleKeyDeletion)?;
        if let KeyState::PendingDeletion { at } = key.metadata.state {
            return Ok(at);
        }
        let at = self.keystore.now() + i64::from(window_days) * DAY;
        keyring.replace(&key, key.with_state(KeyState::PendingDeletion { at })?).await?;
        tracing::info!(key_id = %key.metadata.id, at, "key deletion scheduled");
        Ok(at)
    }

    /// Back to Disabled, as KMS does: the owner enables it deliberately (PendingImport when the key
    /// has no material).
    pub async fn cancel_key_deletion(&self, call: &Call, key_ref: &str) -> Result<()> {
        let keyring = self.keystore.keyring()?;
        let key = self.keystore.authorized_key(call, key_ref, Action::CancelKeyDeletion)?;
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
}

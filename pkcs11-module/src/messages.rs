//! Message-based AES-GCM (PKCS#11 3.0 §5.7 and §5.10: `C_MessageEncryptInit`, `C_EncryptMessage`,
//! `C_MessageEncryptFinal` and their decryption twins) over the daemon's ordinary operations.
//!
//! `C_Message*Init` checks the mechanism and the key with an `OperationInit` that it ends at once
//! (so a bad key fails there, as PKCS#11 wants), and remembers the key for the session. Each
//! message is then one AES-GCM operation, init and single-part call, with that message's IV,
//! associated data and tag: the daemon decides everything a C_EncryptInit would (policy, key
//! state, audit). The IV is the application's (`CKG_NO_GENERATE`) or, with `CKG_GENERATE` and
//! `CKG_GENERATE_RANDOM`, its fixed leading bytes followed by bytes from the daemon's random
//! generator. Counter-generated IVs and multi-part messages (`C_EncryptMessageBegin`/`Next`) are
//! not offered.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use arca_proto::v1::mechanism::Parameter;
use arca_proto::v1::{GcmParameters, Mechanism, OperationKind, TokenRandomRequest};
use cryptoki_sys::*;

use crate::abi::operation::{end, init_with, one_shot};
use crate::client::Reach;
use crate::error::Error;
use crate::state::{self, rpc};

/// GCM's tag lengths, in bits, that PKCS#11 allows (32 to 128, whole bytes).
const TAG_BITS: std::ops::RangeInclusive<u64> = 32..=128;

/// One message's CK_GCM_MESSAGE_PARAMS, as read from the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcmMessage {
    /// The application's IV (its fixed part, when the token generates the rest).
    pub iv: Vec<u8>,
    pub iv_fixed_bits: u64,
    pub generator: CK_GENERATOR_FUNCTION,
    pub tag_bits: u64,
}

/// (session, operation kind) → the key of the message-based operation and the connection it
/// was started on.
type Contexts = HashMap<(u64, i32), (CK_OBJECT_HANDLE, Option<u64>)>;

static CONTEXTS: Mutex<Option<Contexts>> = Mutex::new(None);

fn contexts() -> MutexGuard<'static, Option<Contexts>> {
    CONTEXTS.lock().unwrap_or_else(PoisonError::into_inner)
}

fn gcm(iv: Vec<u8>, aad: Vec<u8>, tag_bits: u64) -> Mechanism {
    let iv_bits = (iv.len() as u64).saturating_mul(8);
    Mechanism {
        r#type: CKM_AES_GCM,
        parameter: Some(Parameter::Gcm(GcmParameters { iv, iv_bits, aad, tag_bits })),
    }
}

/// The key of the session's message-based operation of `kind`, if one is active on the live
/// connection.
fn active(session: u64, kind: OperationKind) -> Option<CK_OBJECT_HANDLE> {
    let contexts = contexts();
    let (key, generation) = contexts.as_ref()?.get(&(session, kind as i32))?;
    (*generation == state::generation()).then_some(*key)
}

/// Fails with CKR_OPERATION_NOT_INITIALIZED unless a message-based operation of `kind` is active.
pub fn check_active(session: u64, kind: OperationKind) -> Result<(), Error> {
    active(session, kind).map(drop).ok_or(Error::OperationNotInitialized)
}

/// `C_MessageEncryptInit` / `C_MessageDecryptInit` with CKM_AES_GCM (checked by the caller).
pub fn init(session: u64, kind: OperationKind, key: CK_OBJECT_HANDLE) -> Result<(), Error> {
    if active(session, kind).is_some() {
        return Err(Error::OperationActive);
    }
    init_with(session, kind, gcm(vec![0; 12], Vec::new(), 128), key)?;
    end(session, kind);
    contexts().get_or_insert_with(HashMap::new).insert((session, kind as i32), (key, state::generation()));
    Ok(())
}

/// `C_MessageEncryptFinal` / `C_MessageDecryptFinal`.
pub fn finish(session: u64, kind: OperationKind) -> Result<(), Error> {
    let removed = contexts().as_mut().and_then(|map| map.remove(&(session, kind as i32)));
    match removed {
        Some((_, generation)) if generation == state::generation() => Ok(()),
        _ => Err(Error::OperationNotInitialized),
    }
}

pub fn forget_session(session: u64) {
    if let Some(map) = contexts().as_mut() {
        map.retain(|(s, _), _| *s != session);
    }
}

pub fn clear() {
    *contexts() = None;
}

/// The key of the active operation, and the message's tag length in bytes.
fn message_key(
    session: u64,
    kind: OperationKind,
    message: &GcmMessage,
) -> Result<(CK_OBJECT_HANDLE, usize), Error> {
    let key = active(session, kind).ok_or(Error::OperationNotInitialized)?;
    Ok((key, tag_len(message.tag_bits)?))
}

/// The tag length in bytes of `ulTagBits`, if GCM takes it.
pub fn tag_len(tag_bits: u64) -> Result<usize, Error> {
    if !TAG_BITS.contains(&tag_bits) || !tag_bits.is_multiple_of(8) {
        return Err(Error::MechanismParamInvalid);
    }
    Ok((tag_bits / 8) as usize)
}

/// The IV of a message being encrypted: the application's, or its fixed leading bytes and
/// random ones from the daemon.
pub fn encryption_iv(session: u64, message: &GcmMessage) -> Result<Vec<u8>, Error> {
    let fixed_bits = message.iv_fixed_bits;
    match message.generator {
        // The fixed bits only matter when the token generates the rest.
        CKG_NO_GENERATE => Ok(message.iv.clone()),
        CKG_GENERATE | CKG_GENERATE_RANDOM
            if fixed_bits.is_multiple_of(8) && fixed_bits / 8 < message.iv.len() as u64 =>
        {
            let fixed = (fixed_bits / 8) as usize;
            let length = (message.iv.len() - fixed) as u64;
            let random =
                rpc!(Reach::Existing, GENERATE_RANDOM, TokenRandomRequest { session, length })?.output;
            if random.len() as u64 != length {
                return Err(Error::Protocol);
            }
            Ok([message.iv.get(..fixed).unwrap_or_default(), &random].concat())
        }
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// `C_EncryptMessage`: the ciphertext (as long as the plaintext) and the tag.
pub fn encrypt(
    session: u64,
    message: &GcmMessage,
    iv: Vec<u8>,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), Error> {
    const KIND: OperationKind = OperationKind::OperationEncrypt;
    let (key, tag_len) = message_key(session, KIND, message)?;
    init_with(session, KIND, gcm(iv, aad.to_vec(), message.tag_bits), key)?;
    let mut sealed = one_shot(session, KIND, plaintext.to_vec(), plaintext.len() + tag_len)?;
    if sealed.len() != plaintext.len() + tag_len {
        return Err(Error::Protocol);
    }
    let tag = sealed.split_off(plaintext.len());
    Ok((sealed, tag))
}

/// `C_DecryptMessage`: the plaintext, if the tag is right.
pub fn decrypt(
    session: u64,
    message: &GcmMessage,
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Result<Vec<u8>, Error> {
    const KIND: OperationKind = OperationKind::OperationDecrypt;
    let (key, tag_len) = message_key(session, KIND, message)?;
    if message.generator != CKG_NO_GENERATE || tag.len() != tag_len {
        return Err(Error::MechanismParamInvalid);
    }
    init_with(session, KIND, gcm(message.iv.clone(), aad.to_vec(), message.tag_bits), key)?;
    let plaintext = one_shot(session, KIND, [ciphertext, tag].concat(), ciphertext.len())?;
    if plaintext.len() != ciphertext.len() {
        return Err(Error::Protocol);
    }
    Ok(plaintext)
}

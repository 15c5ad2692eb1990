//! The service layer: the operations as plain async Rust, no protobuf types, no transport.
//!
//! One [`Keystore`] holds what every feature shares; each feature is a small service over it:
//! [`CryptoService`] (data and signatures), [`KeyService`] (life cycle, aliases, rotation,
//! deletion), [`GrantService`], [`ImportService`], and the PKCS#11 face's [`TokenService`]. A
//! front builds nothing: it is handed [`Services`] and calls the feature it serves, passing the
//! [`Call`] it authenticated. [`AccessKeyService`] keeps the credentials the AWS KMS front's
//! callers sign with.
//!
//! [`TokenService`]: token::TokenService

mod access;
mod access_keys;
mod administrators;
mod audit_anchor;
mod audit_calls;
mod authz;
mod call;
mod clock;
mod coherence;
mod crypto;
mod due_work;
mod grants;
mod import;
mod keyring;
mod keys;
mod keystore;
mod limits;
mod threads;
pub mod token;
mod xks;

use std::sync::Arc;

pub use access_keys::{AccessKeyService, Credential, DEV_CREDENTIALS_FILE, NewAccessKey, is_access_key_id};
pub use administrators::{parse_principal, parse_principals};
pub use audit_calls::AuditService;
pub use call::{Authorized, Call, Used};
pub use crypto::{
    CryptoService, DataKeyPair, DataKeySize, KeyAlgorithms, Opened, PublicKey, Sealed, SharedSecret,
    Verification, key_algorithms, mac_algorithm, signing_algorithms,
};
pub use grants::{Grant, GrantService, NewGrant};
pub use import::{ImportParameters, ImportService};
pub use keyring::KeyInfo;
pub use keys::{KeyFilter, KeyService, NewKey, RotationEntry, RotationStatus, StateFilter, TagPage};
pub use keystore::{Keystore, ServiceOptions, ServiceStatus, default_administrators};
pub use limits::*;
pub use xks::{XksCiphertext, XksHealth, XksKeyMetadata, XksSealed, XksService};

use crate::error::Result;

/// Every service, built once over an opened keystore.
#[derive(Debug)]
pub struct Services {
    pub keystore: Arc<Keystore>,
    pub crypto: CryptoService,
    pub keys: KeyService,
    pub grants: GrantService,
    pub imports: ImportService,
    pub audit: AuditService,
    pub access_keys: AccessKeyService,
    pub xks: XksService,
    pub token: Arc<token::TokenService>,
    pub token_login: token::TokenLogin,
    pub token_objects: token::TokenObjects,
    pub token_keys: token::TokenKeys,
    pub token_operations: token::TokenOperations,
}

impl Services {
    pub fn new(keystore: Arc<Keystore>) -> Result<Self> {
        let token = Arc::new(token::TokenService::new(Arc::clone(&keystore))?);
        Ok(Self {
            crypto: CryptoService::new(Arc::clone(&keystore)),
            keys: KeyService::new(Arc::clone(&keystore)),
            grants: GrantService::new(Arc::clone(&keystore)),
            imports: ImportService::new(Arc::clone(&keystore)),
            audit: AuditService::new(Arc::clone(&keystore)),
            access_keys: AccessKeyService::new(Arc::clone(&keystore)),
            xks: XksService::new(Arc::clone(&keystore)),
            token_login: token::TokenLogin::new(Arc::clone(&token)),
            token_objects: token::TokenObjects::new(Arc::clone(&token)),
            token_keys: token::TokenKeys::new(Arc::clone(&token)),
            token_operations: token::TokenOperations::new(Arc::clone(&token)),
            token,
            keystore,
        })
    }
}

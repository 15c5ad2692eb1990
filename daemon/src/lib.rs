//! arcad: the Arca key management daemon.
//!
//! Module arrows point one way: `grpc → service → {keys, crypto, store} → secure_mem`.
#![deny(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod config;
pub mod crypto;
pub mod disk;
pub mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod grpc;
mod key_id;
pub mod keys;
pub mod metrics;
pub mod notify;
pub mod operation;
pub mod policy;
pub mod quota;
#[allow(unsafe_code)]
pub mod secure_mem;
pub mod server;
pub mod service;
pub mod store;
pub mod transport;

pub use error::{Error, Result};

//! arcad: the Arca key management daemon.
//!
//! Module arrows point one way: `grpc → service → {keys, crypto, store} → secure_mem`.
#![deny(unsafe_code)]
#![warn(unreachable_pub)]

pub mod audit;
pub(crate) mod auth;
pub(crate) mod aws;
pub mod config;
pub mod crypto;
pub(crate) mod disk;
pub mod error;
pub(crate) mod front;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub(crate) mod grpc;
mod key_id;
pub mod keys;
pub(crate) mod metrics;
pub(crate) mod notify;
pub(crate) mod operation;
pub mod policy;
pub(crate) mod quota;
#[allow(unsafe_code)]
pub mod secure_mem;
pub mod server;
pub mod service;
pub mod store;
pub(crate) mod transport;
pub(crate) mod xks;

pub use error::{Error, Result};

//! The tonic adapters: protobuf in, service call, protobuf out. Errors become a `Status` in one
//! place (`status.rs`); every call gets a request id and one log line without secrets.

mod admin;
mod asymmetric;
mod convert;
mod kms;
mod status;

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use arca_proto::REQUEST_ID_HEADER;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

pub use admin::AdminApi;
pub use kms::KmsApi;

use crate::auth::{Caller, caller_of};
use crate::error::Error;

/// What a handler knows about the call besides its message.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub request_id: String,
    pub caller: Caller,
}

fn new_request_id() -> String {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).map_or(0, |()| u32::from_be_bytes(bytes))
    });
    format!("{prefix:08x}-{:08x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn request_id_of<T>(request: &Request<T>) -> String {
    request
        .metadata()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .map_or_else(new_request_id, str::to_owned)
}

/// Runs one call: context, handler, log line, request id echoed on success and failure alike.
async fn serve<Req, Resp, Fut>(
    operation: &'static str,
    request: Request<Req>,
    handler: impl FnOnce(CallContext, Req) -> Fut,
) -> Result<Response<Resp>, Status>
where
    Fut: Future<Output = Result<Resp, Error>>,
{
    let context = CallContext { request_id: request_id_of(&request), caller: caller_of(&request) };
    let request_id = context.request_id.clone();
    let caller = context.caller.to_string();
    let started = Instant::now();
    let outcome = handler(context, request.into_inner()).await;
    let micros = started.elapsed().as_micros() as u64;
    let header = MetadataValue::try_from(request_id.as_str()).ok();
    match outcome {
        Ok(message) => {
            tracing::info!(request_id, caller, operation, micros, "ok");
            let mut response = Response::new(message);
            if let Some(header) = header {
                response.metadata_mut().insert(REQUEST_ID_HEADER, header);
            }
            Ok(response)
        }
        Err(error) => {
            let mut status = status::to_status(&error);
            tracing::info!(request_id, caller, operation, micros, code = ?status.code(), %error, "failed");
            if let Some(header) = header {
                status.metadata_mut().insert(REQUEST_ID_HEADER, header);
            }
            Err(status)
        }
    }
}

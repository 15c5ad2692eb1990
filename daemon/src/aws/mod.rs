//! The AWS KMS front: the AWS JSON 1.1 protocol (`POST /`, `X-Amz-Target: TrentService.<Op>`),
//! authenticated by SigV4 with access keys bound to Arca principals, so aws-cli, boto3, the AWS
//! SDKs and the AWS Encryption SDK use Arca's keys by changing their endpoint URL. A thin adapter:
//! each request becomes a `Call` to the same services, policies, quotas and audit log as gRPC
//! and PKCS#11 (`front::run`), with AWS's shapes (`keys.rs`, `crypto.rs`, `grants.rs`), ARNs
//! (`arn.rs`) and exception names (`exceptions.rs`).

mod arn;
mod crypto;
mod dispatch;
mod exceptions;
mod grants;
mod keys;
mod listener;
mod metadata;
pub(crate) mod wire;

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

pub(crate) use listener::{TlsFiles, serve};

use crate::config::AwsIdentity;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::service::Services;
use crate::xks::XksFront;
use arn::Arns;
use exceptions::Exception;

/// The header AWS answers every request's id in (botocore reads it into `ResponseMetadata`).
const REQUEST_ID_HEADER: &str = "x-amzn-requestid";

/// What every AWS request is served with.
#[derive(Debug)]
pub(crate) struct AwsFront {
    services: Arc<Services>,
    metrics: Arc<Metrics>,
    arns: Arns,
    region: String,
    max_request_bytes: usize,
    /// The external key store API, served on the same listener under its path.
    xks: Option<Arc<XksFront>>,
}

impl AwsFront {
    pub(crate) fn new(
        services: Arc<Services>,
        metrics: Arc<Metrics>,
        identity: &AwsIdentity,
        max_request_bytes: usize,
        xks: Option<XksFront>,
    ) -> Self {
        Self {
            services,
            metrics,
            arns: Arns::new(identity),
            region: identity.region.clone(),
            max_request_bytes,
            xks: xks.map(Arc::new),
        }
    }
}

/// The audit record's `error_code` on this face: the exception name the caller got.
fn exception_name(error: &Error) -> Cow<'static, str> {
    Cow::Borrowed(exceptions::exception_of(error).name)
}

type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, body: Bytes, request_id: &str) -> Answer {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(wire::CONTENT_TYPE));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    response
}

fn error_answer(exception: Exception, message: &str, request_id: &str) -> Answer {
    let message = crate::error::bounded_message(message);
    answer(exception.status, wire::error_body(exception.name, &message), request_id)
}

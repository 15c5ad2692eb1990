//! `--fronts aws,xks`: the same load through the AWS KMS JSON protocol, as an AWS SDK sends it, and
//! through the external key store API, as AWS KMS sends it: one keep-alive HTTP/1.1 connection per
//! caller, every request signed with SigV4 (by `aws-sigv4`, the AWS SDK for Rust's signer) at the
//! time it is sent.

use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::task::JoinSet;

use crate::BenchError;
use crate::load::Window;
use crate::ops::{CALL_TIMEOUT, Op};

const REGION: &str = "us-east-1";
const PLAINTEXT_BYTES: usize = 1024;

/// The AWS front's address and the access key to sign with.
#[derive(Debug, Clone)]
pub struct AwsTarget {
    /// `host:port` of `http://host:port`.
    pub authority: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl AwsTarget {
    /// From the endpoint URL and an AWS shared-credentials file's first profile.
    pub fn new(endpoint: &str, credentials_file: &str) -> Result<Self, BenchError> {
        let authority = endpoint
            .strip_prefix("http://")
            .ok_or_else(|| {
                BenchError::Setup(format!("{endpoint}: the AWS load speaks plain HTTP (the --dev front)"))
            })?
            .trim_end_matches('/')
            .to_owned();
        let value = |name: &str| {
            credentials_file.lines().find_map(|line| {
                let (key, value) = line.split_once('=')?;
                (key.trim() == name).then(|| value.trim().to_owned())
            })
        };
        let missing = || BenchError::Setup("the credentials file has no access key".to_owned());
        Ok(Self {
            authority,
            access_key_id: value("aws_access_key_id").ok_or_else(missing)?,
            secret_access_key: value("aws_secret_access_key").ok_or_else(missing)?,
        })
    }

    fn signed(&self, prepared: &Prepared) -> Result<http::Request<Full<Bytes>>, BenchError> {
        let (call, body) = (&prepared.wire, &prepared.body);
        let setup = |e: &dyn std::fmt::Display| BenchError::Setup(format!("cannot sign a request: {e}"));
        let mut builder = http::Request::post(format!("http://{}{}", self.authority, prepared.path))
            .header("host", &self.authority)
            .header("content-type", call.content_type);
        if let Some(target) = call.target {
            builder = builder.header("x-amz-target", format!("TrentService.{target}"));
        }
        let mut request = builder.body(Full::new(body.clone())).map_err(|e| setup(&e))?;
        let identity =
            Credentials::new(&self.access_key_id, &self.secret_access_key, None, None, "arca-bench").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name(call.service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| setup(&e))?
            .into();
        let headers = request.headers().iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
        let uri = request.uri().to_string();
        let signable =
            SignableRequest::new("POST", &uri, headers, SignableBody::Bytes(body)).map_err(|e| setup(&e))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| setup(&e))?.into_parts();
        instructions.apply_to_request_http1x(&mut request);
        Ok(request)
    }
}

/// How one request travels: its SigV4 service, content type and AWS target.
#[derive(Debug, Clone, Copy)]
struct Wire {
    service: &'static str,
    content_type: &'static str,
    target: Option<&'static str>,
}

/// An XKS Encrypt as AWS KMS sends one for GenerateDataKey: a 32-byte data key, the KMS
/// ciphertext header as AAD, request metadata, and a CDIV asked for.
fn xks_encrypt(key_id: &str) -> (String, Bytes) {
    let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let body = serde_json::json!({
        "requestMetadata": {
            "awsPrincipalArn": "arn:aws:iam::111122223333:role/bench",
            "kmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/bench",
            "kmsOperation": "GenerateDataKey",
            "kmsRequestId": "bench",
        },
        "plaintext": encode(&[7u8; 32]),
        "additionalAuthenticatedData": encode(&[9u8; 64]),
        "encryptionAlgorithm": "AES_GCM",
        "ciphertextDataIntegrityValueAlgorithm": "SHA_256",
    });
    (format!("/kms/xks/v1/keys/{key_id}/encrypt"), Bytes::from(body.to_string()))
}

/// One request, ready to sign and send again and again.
#[derive(Debug, Clone)]
struct Prepared {
    wire: Wire,
    path: String,
    body: Bytes,
}

/// The request `op` is on `front` for `key_id`.
fn request_of(front: LoadFront, op: Op, key_id: &str) -> Result<Prepared, BenchError> {
    if front == LoadFront::Xks {
        if op != Op::Encrypt {
            return Err(BenchError::Setup(format!("{} is not measured on the XKS front", op.label())));
        }
        let (path, body) = xks_encrypt(key_id);
        let wire = Wire { service: "kms-xks-proxy", content_type: "application/json", target: None };
        return Ok(Prepared { wire, path, body });
    }
    let wire =
        Wire { service: "kms", content_type: "application/x-amz-json-1.1", target: Some(op.rpc_name()) };
    let body = match op {
        Op::Encrypt => {
            let plaintext: Vec<u8> = (0..PLAINTEXT_BYTES).map(|i| (i % 251) as u8).collect();
            let plaintext = base64::engine::general_purpose::STANDARD.encode(plaintext);
            serde_json::json!({ "KeyId": key_id, "Plaintext": plaintext })
        }
        Op::GenerateDataKey => serde_json::json!({ "KeyId": key_id, "KeySpec": "AES_256" }),
        other => {
            return Err(BenchError::Setup(format!("{} is not measured on the AWS front", other.label())));
        }
    };
    Ok(Prepared { wire, path: "/".to_owned(), body: Bytes::from(body.to_string()) })
}

/// Which HTTP front the load goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadFront {
    Aws,
    Xks,
}

async fn connect(target: &AwsTarget) -> Result<SendRequest<Full<Bytes>>, BenchError> {
    let stream = tokio::net::TcpStream::connect(&target.authority)
        .await
        .map_err(crate::io_error(format!("cannot connect to {}", target.authority)))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| BenchError::Setup(format!("HTTP handshake: {e}")))?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn caller(
    target: AwsTarget,
    operation: &'static str,
    prepared: Prepared,
    window: Window,
) -> Result<Vec<Duration>, BenchError> {
    let mut sender = connect(&target).await?;
    let mut latencies = Vec::new();
    loop {
        let started = Instant::now();
        if started >= window.end {
            return Ok(latencies);
        }
        let request = target.signed(&prepared)?;
        let call = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| BenchError::Setup(format!("{operation}: {e}")))?;
            let status = response.status();
            let answer = response
                .into_body()
                .collect()
                .await
                .map_err(|e| BenchError::Setup(format!("{operation}: {e}")))?;
            if !status.is_success() {
                let text = String::from_utf8_lossy(&answer.to_bytes()).into_owned();
                return Err(BenchError::Setup(format!("{operation} failed: {status}: {text}")));
            }
            Ok(())
        };
        tokio::time::timeout(CALL_TIMEOUT, call).await.map_err(|_| BenchError::Timeout(operation))??;
        let finished = Instant::now();
        if window.counts(finished) {
            latencies.push(finished.duration_since(started));
        }
    }
}

/// `clients` callers sending `op` through `front` for the window; every latency, sorted.
pub async fn measure(
    target: &AwsTarget,
    front: LoadFront,
    op: Op,
    key_id: &str,
    clients: usize,
    window: Window,
) -> Result<Vec<Duration>, BenchError> {
    let prepared = request_of(front, op, key_id)?;
    let mut callers = JoinSet::new();
    for _ in 0..clients {
        callers.spawn(caller(target.clone(), op.rpc_name(), prepared.clone(), window));
    }
    crate::load::gather(callers).await
}

//! The SigV4 verifier against requests signed by `aws_sigv4` itself (as the AWS SDKs sign them),
//! altered one way at a time, and against AWS's published test vector for a POST.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::HeaderValue;
use http::request::Parts;

use super::*;
use crate::secure_mem::SecretBuf;

pub(crate) const REGION: &str = "eu-west-1";
pub(crate) const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
pub(crate) const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const BODY: &[u8] = br#"{"KeyId":"alias/orders","Plaintext":"aGVsbG8="}"#;

/// 2026-12-07T02:00:00Z
pub(crate) fn signing_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_608_800)
}

/// What a client signs: KMS's JSON 1.1 headers.
fn client_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("host", "localhost:8443"),
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "TrentService.Encrypt"),
    ]
}

/// A request as `aws_sigv4` signs it for a client, as the server receives it (origin-form URI).
pub(crate) fn signed_with(
    credentials: Credentials,
    service: &str,
    headers: &[(&'static str, &'static str)],
    body: &[u8],
) -> Parts {
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(service)
        .time(signing_time())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "POST",
        "https://localhost:8443/",
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut builder = http::Request::builder().method("POST").uri("/");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request.into_parts().0
}

pub(crate) fn signed_by(key_id: &str, secret: &str) -> Parts {
    signed_with(Credentials::new(key_id, secret, None, None, "test"), "kms", &client_headers(), BODY)
}

/// Access keys held in a map.
pub(crate) struct Keys(HashMap<&'static str, (&'static str, &'static str)>);

impl Keys {
    pub(crate) fn one() -> Self {
        Self([(KEY_ID, ("uid:1000", SECRET))].into_iter().collect())
    }
}

impl CredentialSource for Keys {
    fn credential(&self, access_key_id: &str) -> crate::Result<Option<Credential>> {
        Ok(self.0.get(access_key_id).map(|(principal, secret)| Credential {
            principal: (*principal).to_owned(),
            secret: SecretBuf::copy_from(secret.as_bytes()).unwrap(),
        }))
    }
}

struct Sealed;

impl CredentialSource for Sealed {
    fn credential(&self, _: &str) -> crate::Result<Option<Credential>> {
        Err(crate::Error::Sealed)
    }
}

fn check(parts: &Parts, body: &[u8], now: SystemTime) -> Result<Verified, SignatureRefusal> {
    verify(parts, body, now, REGION, &Keys::one())
}

#[track_caller]
fn refused(outcome: Result<Verified, SignatureRefusal>, name: &str) -> SignatureRefusal {
    let refusal = outcome.expect_err("the request should have been refused");
    assert_eq!(refusal.exception_name(), name, "{refusal:?}: {}", refusal.message());
    let message = refusal.message();
    assert!(!message.contains(SECRET), "the message shows the secret: {message}");
    refusal
}

fn set(parts: &mut Parts, name: &'static str, value: &str) {
    parts.headers.insert(name, HeaderValue::from_str(value).unwrap());
}

fn authorization(parts: &Parts) -> String {
    parts.headers["authorization"].to_str().unwrap().to_owned()
}

#[test]
fn a_request_signed_by_aws_sigv4_verifies_as_its_principal() {
    let verified = check(&signed_by(KEY_ID, SECRET), BODY, signing_time()).unwrap();
    assert_eq!(verified, Verified { access_key_id: KEY_ID.into(), principal: "uid:1000".into() });
}

#[test]
fn a_wrong_secret_is_an_invalid_signature() {
    let parts = signed_by(KEY_ID, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ");
    let refusal = refused(check(&parts, BODY, signing_time()), "InvalidSignatureException");
    assert!(matches!(refusal, SignatureRefusal::Mismatch));
    let signature = authorization(&signed_by(KEY_ID, SECRET)).rsplit('=').next().unwrap().to_owned();
    assert!(!refusal.message().contains(&signature), "the message shows the expected signature");
}

#[test]
fn only_five_minutes_either_way_are_accepted() {
    let parts = signed_by(KEY_ID, SECRET);
    let minutes = |n: u64| Duration::from_secs(60 * n);
    check(&parts, BODY, signing_time() + minutes(5)).unwrap();
    check(&parts, BODY, signing_time() - minutes(5)).unwrap();
    let late = refused(check(&parts, BODY, signing_time() + minutes(6)), "InvalidSignatureException");
    assert!(late.message().starts_with("Signature expired: 20261207T020000Z"), "{}", late.message());
    let early = refused(check(&parts, BODY, signing_time() - minutes(6)), "InvalidSignatureException");
    assert!(matches!(early, SignatureRefusal::Expired(_)), "{early:?}");
}

#[test]
fn an_altered_body_or_signed_header_is_an_invalid_signature() {
    let parts = signed_by(KEY_ID, SECRET);
    let altered = br#"{"KeyId":"alias/orders","Plaintext":"aGVsbG9="}"#;
    refused(check(&parts, altered, signing_time()), "InvalidSignatureException");
    let mut target = parts.clone();
    set(&mut target, "x-amz-target", "TrentService.Decrypt");
    refused(check(&target, BODY, signing_time()), "InvalidSignatureException");
    let mut host = parts;
    set(&mut host, "host", "elsewhere:8443");
    refused(check(&host, BODY, signing_time()), "InvalidSignatureException");
}

#[test]
fn an_unsigned_header_may_be_added_but_no_signed_one_removed() {
    let mut added = signed_by(KEY_ID, SECRET);
    set(&mut added, "accept-encoding", "identity");
    set(&mut added, "x-forwarded-for", "10.0.0.1");
    check(&added, BODY, signing_time()).unwrap();
    let mut removed = signed_by(KEY_ID, SECRET);
    removed.headers.remove("content-type");
    refused(check(&removed, BODY, signing_time()), "InvalidSignatureException");
}

#[test]
fn a_scope_for_another_region_service_or_day_is_an_invalid_signature() {
    let parts = signed_by(KEY_ID, SECRET);
    let refusal =
        refused(verify(&parts, BODY, signing_time(), "us-east-1", &Keys::one()), "InvalidSignatureException");
    assert!(refusal.message().contains("region"), "{}", refusal.message());
    let s3 = signed_with(Credentials::new(KEY_ID, SECRET, None, None, "test"), "s3", &client_headers(), BODY);
    let refusal = refused(check(&s3, BODY, signing_time()), "InvalidSignatureException");
    assert!(refusal.message().contains("'kms'"), "{}", refusal.message());
    let mut other_day = parts;
    let header = authorization(&other_day).replace("/20261207/", "/20261206/");
    set(&mut other_day, "authorization", &header);
    let refusal = refused(check(&other_day, BODY, signing_time()), "InvalidSignatureException");
    assert!(matches!(refusal, SignatureRefusal::Scope(_)), "{refusal:?}");
}

#[test]
fn a_malformed_or_missing_authorization_is_refused_by_name() {
    let parts = signed_by(KEY_ID, SECRET);
    let mut missing = parts.clone();
    missing.headers.remove("authorization");
    refused(check(&missing, BODY, signing_time()), "MissingAuthenticationTokenException");
    let header = authorization(&parts);
    let without_signature = header.split(", Signature=").next().unwrap().to_owned();
    let short_scope = header.replace("/eu-west-1/kms/", "/eu-west-1/");
    let without_host = header.replace("SignedHeaders=content-type;host;", "SignedHeaders=content-type;");
    let cases = [
        without_signature.as_str(),
        "AWS4-HMAC-SHA256",
        "Basic dXNlcjpwYXNz",
        short_scope.as_str(),
        without_host.as_str(),
        &header.replace("Signature=", "Signature=zz"),
        &header.replace("Credential=", "Credentials="),
    ];
    for case in cases {
        let mut malformed = parts.clone();
        set(&mut malformed, "authorization", case);
        refused(check(&malformed, BODY, signing_time()), "IncompleteSignatureException");
    }
    let mut undated = parts;
    undated.headers.remove("x-amz-date");
    refused(check(&undated, BODY, signing_time()), "IncompleteSignatureException");
}

#[test]
fn an_unknown_access_key_is_an_unrecognized_client() {
    let parts = signed_by("AKIAZZZZZZZZZZZZZZZZ", SECRET);
    let refusal = refused(check(&parts, BODY, signing_time()), "UnrecognizedClientException");
    assert!(matches!(refusal, SignatureRefusal::UnknownAccessKey));
}

#[test]
fn temporary_credentials_are_refused() {
    let credentials = Credentials::new(KEY_ID, SECRET, Some("FwoGZXIvYXdzEJr".into()), None, "test");
    let parts = signed_with(credentials, "kms", &client_headers(), BODY);
    let refusal = refused(check(&parts, BODY, signing_time()), "UnrecognizedClientException");
    assert!(matches!(refusal, SignatureRefusal::SessionToken));
}

#[test]
fn a_signed_content_hash_must_be_the_bodys() {
    let mut headers = client_headers();
    headers
        .push(("x-amz-content-sha256", "0000000000000000000000000000000000000000000000000000000000000000"));
    let lying = signed_with(Credentials::new(KEY_ID, SECRET, None, None, "test"), "kms", &headers, BODY);
    refused(check(&lying, BODY, signing_time()), "InvalidSignatureException");
    let digest: String = sha2::Sha256::digest(BODY).iter().map(|b| format!("{b:02x}")).collect();
    let mut headers = client_headers();
    let digest: &'static str = Box::leak(digest.into_boxed_str());
    headers.push(("x-amz-content-sha256", digest));
    let honest = signed_with(Credentials::new(KEY_ID, SECRET, None, None, "test"), "kms", &headers, BODY);
    check(&honest, BODY, signing_time()).unwrap();
}

#[test]
fn a_sealed_store_is_an_internal_error_not_a_verdict() {
    let refusal = refused(
        verify(&signed_by(KEY_ID, SECRET), BODY, signing_time(), REGION, &Sealed),
        "KMSInternalException",
    );
    assert!(matches!(refusal, SignatureRefusal::Unavailable(crate::Error::Sealed)));
}

/// AWS's SigV4 test suite, `post-x-www-form-urlencoded` (as shipped in the aws-sigv4 crate's
/// `aws-signing-test-suite/v4`): signed for the service `service` in `us-east-1`.
#[test]
fn aws_published_post_vector_verifies() {
    let keys =
        Keys([("AKIDEXAMPLE", ("uid:7", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))].into_iter().collect());
    let mut builder = http::Request::builder().method("POST").uri("/");
    for (name, value) in [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Host", "example.amazonaws.com"),
        ("Content-Length", "13"),
        ("X-Amz-Date", "20150830T123600Z"),
        ("x-amz-content-sha256", "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, \
             Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
        ),
    ] {
        builder = builder.header(name, value);
    }
    let parts = builder.body(()).unwrap().into_parts().0;
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
    let body = b"Param1=value1";
    let verified = verify_for_service(&parts, body, now, "us-east-1", "service", &keys).unwrap();
    assert_eq!(verified.principal, "uid:7");
    let outcome = verify_for_service(&parts, b"Param1=value2", now, "us-east-1", "service", &keys);
    assert!(matches!(outcome, Err(SignatureRefusal::Mismatch)));
}

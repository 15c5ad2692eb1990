//! AWS Signature Version 4 verification for the AWS KMS front: who signed a request, by the
//! access key it names, and whether the signature holds.
//!
//! The `Authorization` header and the credential scope are parsed here; the signature is then
//! computed again with AWS's own signing code (`aws_sigv4::http_request::sign`) over exactly the
//! headers the request says it signed, and compared in constant time. The canonicalisation (URI
//! encoding and normalisation, header trimming, query ordering) is thus the SDKs' own, not a copy.
//! Refusals carry AWS's exception names and messages, never the secret or the expected signature.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::request::Parts;
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

use super::amz_date::{self, AmzDate};
pub(crate) use crate::service::Credential;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SERVICE: &str = "kms";
const TERMINATOR: &str = "aws4_request";
/// AWS accepts a request signed up to 5 minutes before or after its own clock.
const MAX_SKEW: Duration = Duration::from_secs(5 * 60);
const X_AMZ_DATE: &str = "x-amz-date";
const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";
const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";
const HOST: &str = "host";
/// A hex SHA-256 signature.
const SIGNATURE_HEX_LEN: usize = 64;

/// Where the verifier finds an access key's principal and secret.
pub(crate) trait CredentialSource {
    fn credential(&self, access_key_id: &str) -> crate::Result<Option<Credential>>;
}

/// A request whose signature holds: the access key that signed it and its principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    pub(crate) access_key_id: String,
    pub(crate) principal: String,
}

/// Why a request's signature was refused.
#[derive(Debug)]
pub(crate) enum SignatureRefusal {
    /// No `Authorization` header.
    Missing,
    /// The header, its credential scope or the headers it needs are malformed or missing.
    Incomplete(String),
    /// No access key has this id (or it was deleted).
    UnknownAccessKey,
    /// The signature does not match the request.
    Mismatch,
    /// The credential scope names another day, region or service (AWS answers these as an
    /// invalid signature, with a message naming the part).
    Scope(String),
    /// The request was signed more than 5 minutes from now.
    Expired(String),
    /// A security token (`x-amz-security-token`): Arca makes no temporary credentials.
    SessionToken,
    /// The access keys cannot be read now (a sealed store, a storage failure).
    Unavailable(crate::Error),
}

impl SignatureRefusal {
    /// The AWS exception this refusal answers with.
    pub(crate) fn exception_name(&self) -> &'static str {
        match self {
            Self::Missing => "MissingAuthenticationTokenException",
            Self::Incomplete(_) => "IncompleteSignatureException",
            Self::UnknownAccessKey | Self::SessionToken => "UnrecognizedClientException",
            Self::Mismatch | Self::Scope(_) | Self::Expired(_) => "InvalidSignatureException",
            Self::Unavailable(_) => "KMSInternalException",
        }
    }

    /// The message, in AWS's words where AWS has some.
    pub(crate) fn message(&self) -> String {
        match self {
            Self::Missing => "Missing Authentication Token".to_owned(),
            Self::Incomplete(message) | Self::Scope(message) | Self::Expired(message) => message.clone(),
            Self::UnknownAccessKey => "The security token included in the request is invalid.".to_owned(),
            Self::Mismatch => "The request signature we calculated does not match the signature you \
                               provided. Check your AWS Secret Access Key and signing method. Consult \
                               the service documentation for details."
                .to_owned(),
            Self::SessionToken => "The security token included in the request is invalid: this service \
                                   makes no temporary credentials; sign with an access key made by \
                                   `arcactl access-key create`."
                .to_owned(),
            Self::Unavailable(error) => format!("The access keys cannot be read now: {error}"),
        }
    }
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Debug)]
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    terminator: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn incomplete(message: impl Into<String>) -> SignatureRefusal {
    SignatureRefusal::Incomplete(message.into())
}

fn single_header<'p>(parts: &'p Parts, name: &str) -> Result<Option<&'p str>, SignatureRefusal> {
    let mut values = parts.headers.get_all(name).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(incomplete(format!("The request holds more than one '{name}' header.")));
    }
    value.to_str().map(Some).map_err(|_| incomplete(format!("The '{name}' header is not printable ASCII.")))
}

/// `Credential`, `SignedHeaders` and `Signature`, in that order; every missing one is named.
fn named_fields(rest: &str) -> Result<[&str; 3], SignatureRefusal> {
    const NAMES: [&str; 3] = ["Credential", "SignedHeaders", "Signature"];
    let mut values = [None; 3];
    for field in rest.split(',').map(str::trim) {
        let known = field
            .split_once('=')
            .and_then(|(name, value)| Some((NAMES.iter().position(|known| *known == name)?, value)));
        let Some((index, value)) = known else {
            let shown: String = field.chars().take(32).collect();
            return Err(incomplete(format!("Authorization header holds an unknown field '{shown}'.")));
        };
        if let Some(slot) = values.get_mut(index) {
            *slot = Some(value);
        }
    }
    if let [Some(credential), Some(signed_headers), Some(signature)] = values {
        return Ok([credential, signed_headers, signature]);
    }
    let missing = NAMES.iter().zip(values).filter(|(_, value)| value.is_none());
    let each = missing.map(|(name, _)| format!("Authorization header requires '{name}' parameter."));
    Err(incomplete(each.collect::<Vec<_>>().join(" ")))
}

impl<'a> Authorization<'a> {
    fn parse(header: &'a str) -> Result<Self, SignatureRefusal> {
        let rest = header
            .strip_prefix(ALGORITHM)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or_else(|| incomplete(format!("Authorization header must use the {ALGORITHM} algorithm.")))?;
        let [credential, signed_headers, signature] = named_fields(rest)?;
        let scope: Vec<&str> = credential.split('/').collect();
        let [access_key_id, date, region, service, terminator] = scope.as_slice() else {
            return Err(incomplete(
                "Credential must have the form ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request.",
            ));
        };
        Ok(Self {
            access_key_id,
            date,
            region,
            service,
            terminator,
            signed_headers: signed_headers.split(';').collect(),
            signature,
        })
    }

    /// The scope names this daemon's region, the `kms` service and the request's own day.
    fn check_scope(&self, date: &AmzDate, region: &str, service: &str) -> Result<(), SignatureRefusal> {
        if self.access_key_id.is_empty() {
            return Err(incomplete("Credential names no access key id."));
        }
        if *self.date != date.date() {
            return Err(SignatureRefusal::Scope(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'.",
                self.date.chars().take(8).collect::<String>(),
                date.date()
            )));
        }
        if self.region != region {
            return Err(SignatureRefusal::Scope(format!(
                "Credential should be scoped to a valid region, not '{}'.",
                crate::error::Echo(self.region)
            )));
        }
        if self.service != service {
            return Err(SignatureRefusal::Scope(format!(
                "Credential should be scoped to correct service: '{service}'."
            )));
        }
        if self.terminator != TERMINATOR {
            return Err(SignatureRefusal::Scope(format!(
                "Credential should be scoped with a valid terminator: '{TERMINATOR}'."
            )));
        }
        Ok(())
    }

    fn check_signed_headers(&self) -> Result<(), SignatureRefusal> {
        if self
            .signed_headers
            .iter()
            .any(|name| name.is_empty() || name.bytes().any(|b| b.is_ascii_uppercase()))
        {
            return Err(incomplete("SignedHeaders must be lowercase header names separated by ';'."));
        }
        for required in [HOST, X_AMZ_DATE] {
            if !self.signed_headers.contains(&required) {
                return Err(incomplete(format!("SignedHeaders must include '{required}'.")));
            }
        }
        let is_hex = self.signature.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if self.signature.len() != SIGNATURE_HEX_LEN || !is_hex {
            return Err(incomplete("Signature must be 64 lowercase hexadecimal characters."));
        }
        Ok(())
    }
}

/// Checks the SigV4 signature of a request for the `kms` service in `region`, at `now`.
pub(crate) fn verify(
    request: &Parts,
    body: &[u8],
    now: SystemTime,
    region: &str,
    keys: &dyn CredentialSource,
) -> Result<Verified, SignatureRefusal> {
    verify_for_service(request, body, now, region, SERVICE, keys)
}

/// [`verify`] for any service name (AWS's published test vectors sign for `service`).
pub(crate) fn verify_for_service(
    request: &Parts,
    body: &[u8],
    now: SystemTime,
    region: &str,
    service: &str,
    keys: &dyn CredentialSource,
) -> Result<Verified, SignatureRefusal> {
    let header =
        single_header(request, http::header::AUTHORIZATION.as_str())?.ok_or(SignatureRefusal::Missing)?;
    let authorization = Authorization::parse(header)?;
    let amz_date = single_header(request, X_AMZ_DATE)?
        .ok_or_else(|| incomplete("Authorization header requires existence of a 'X-Amz-Date' header."))?;
    let date = AmzDate::parse(amz_date)
        .ok_or_else(|| incomplete("X-Amz-Date must have the form YYYYMMDD'T'HHMMSS'Z'."))?;
    authorization.check_scope(&date, region, service)?;
    authorization.check_signed_headers()?;
    check_freshness(&date, now)?;
    if request.headers.contains_key(X_AMZ_SECURITY_TOKEN) {
        return Err(SignatureRefusal::SessionToken);
    }
    check_content_sha256(request, &authorization, body)?;
    let credential = keys
        .credential(authorization.access_key_id)
        .map_err(SignatureRefusal::Unavailable)?
        .ok_or(SignatureRefusal::UnknownAccessKey)?;
    let expected = expected_signature(request, body, &authorization, &date, &credential, service)?;
    if !bool::from(expected.as_bytes().ct_eq(authorization.signature.as_bytes())) {
        return Err(SignatureRefusal::Mismatch);
    }
    Ok(Verified { access_key_id: authorization.access_key_id.to_owned(), principal: credential.principal })
}

/// Within [`MAX_SKEW`] of `now`, either way.
fn check_freshness(date: &AmzDate, now: SystemTime) -> Result<(), SignatureRefusal> {
    let (signed, window) = (amz_date::format(date.time), MAX_SKEW.as_secs() / 60);
    if date.time.checked_add(MAX_SKEW).is_some_and(|latest| latest < now) {
        let earliest = amz_date::format(now.checked_sub(MAX_SKEW).unwrap_or(now));
        return Err(SignatureRefusal::Expired(format!(
            "Signature expired: {signed} is now earlier than {earliest} ({} - {window} min.)",
            amz_date::format(now)
        )));
    }
    if now.checked_add(MAX_SKEW).is_some_and(|latest| date.time > latest) {
        let latest = amz_date::format(now.checked_add(MAX_SKEW).unwrap_or(now));
        return Err(SignatureRefusal::Expired(format!(
            "Signature not yet current: {signed} is still later than {latest} ({} + {window} min.)",
            amz_date::format(now)
        )));
    }
    Ok(())
}

/// A signed `x-amz-content-sha256` must be the body's hash (KMS accepts no unsigned payload).
fn check_content_sha256(
    request: &Parts,
    authorization: &Authorization<'_>,
    body: &[u8],
) -> Result<(), SignatureRefusal> {
    if !authorization.signed_headers.contains(&X_AMZ_CONTENT_SHA256) {
        return Ok(());
    }
    let Some(claimed) = single_header(request, X_AMZ_CONTENT_SHA256)? else { return Ok(()) };
    let actual: String = sha2::Sha256::digest(body).iter().map(|byte| format!("{byte:02x}")).collect();
    if claimed != actual {
        return Err(SignatureRefusal::Mismatch);
    }
    Ok(())
}

/// The signature AWS's signer makes for this request with the stored secret, over the headers
/// the request names as signed (`x-amz-date` comes from the time given to the signer).
fn expected_signature(
    request: &Parts,
    body: &[u8],
    authorization: &Authorization<'_>,
    date: &AmzDate,
    credential: &Credential,
    service: &str,
) -> Result<String, SignatureRefusal> {
    let headers = signed_header_values(request, &authorization.signed_headers)?;
    let uri = request.uri.path_and_query().map_or("/", |path| path.as_str());
    let signable = SignableRequest::new(
        request.method.as_str(),
        uri,
        headers.iter().map(|(name, value)| (*name, value.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|_| SignatureRefusal::Mismatch)?;
    let secret = std::str::from_utf8(credential.secret.as_slice()).map_err(|_| {
        SignatureRefusal::Unavailable(crate::Error::Integrity("an access key secret is not text".into()))
    })?;
    let identity = Credentials::new(authorization.access_key_id, secret, None, None, "arca").into();
    let mut settings = SigningSettings::default();
    // Every header the request signed counts, `authorization`-like names included.
    settings.excluded_headers = Some(Vec::new());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(authorization.region)
        .name(service)
        .time(date.time)
        .settings(settings)
        .build()
        .map_err(|error| SignatureRefusal::Unavailable(crate::Error::Crypto(error.to_string())))?
        .into();
    let output = sign(signable, &params).map_err(|_| SignatureRefusal::Mismatch)?;
    Ok(output.signature().to_owned())
}

/// Each signed header's values as sent (the signer joins repeats and trims), `host` from the
/// URI's authority when an HTTP/2 request carries none. A signed header the request lacks is
/// left out, so the signature computed no longer matches.
fn signed_header_values<'n>(
    request: &Parts,
    signed: &[&'n str],
) -> Result<Vec<(&'n str, String)>, SignatureRefusal> {
    let mut headers = Vec::with_capacity(signed.len());
    for name in signed.iter().copied().filter(|name| *name != X_AMZ_DATE) {
        let before = headers.len();
        for value in request.headers.get_all(name) {
            let text = value.to_str().map_err(|_| SignatureRefusal::Mismatch)?;
            headers.push((name, text.to_owned()));
        }
        if name == HOST && headers.len() == before {
            let authority =
                request.uri.authority().ok_or_else(|| incomplete("The request names no host."))?;
            headers.push((name, authority.as_str().to_owned()));
        }
    }
    Ok(headers)
}

#[cfg(test)]
#[path = "sigv4_tests.rs"]
pub(crate) mod tests;

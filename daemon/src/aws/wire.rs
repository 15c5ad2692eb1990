//! The AWS JSON 1.1 wire: request bodies read into typed shapes (blobs are base64, timestamps
//! epoch seconds), answers and errors written as the SDKs parse them (`{"__type": …,
//! "message": …}`), and the validation messages AWS words.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// The content type of every request and answer.
pub(crate) const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The target header's service prefix: `X-Amz-Target: TrentService.Encrypt`.
pub(crate) const TARGET_PREFIX: &str = "TrentService.";

/// A blob member: base64 text on the wire, bytes here. Its Debug never shows the bytes (a
/// plaintext or a data key travels in one).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Blob(pub(crate) Vec<u8>);

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        BASE64
            .decode(text.as_bytes())
            .map(Blob)
            .map_err(|_| serde::de::Error::custom("a blob member is not base64"))
    }
}

/// Reads a request body; an empty body is the empty object, as the SDKs send for calls without
/// members.
pub(crate) fn decode<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|error| {
        // serde's message names the member and the expected type, never the value.
        Error::invalid(format!("the request body does not match the operation's input: {error}"))
    })
}

/// `"DryRun": true` asks AWS to check a call without making it; Arca does not offer that, and a
/// request asking for it is refused rather than carried out.
pub(crate) fn refuse_dry_run(body: &[u8]) -> Result<()> {
    if !body.windows(6).any(|window| window == b"DryRun") {
        return Ok(());
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct DryRun {
        #[serde(default)]
        dry_run: bool,
    }
    match serde_json::from_slice::<DryRun>(body) {
        Ok(DryRun { dry_run: true }) => {
            Err(Error::Unsupported("DryRun is not offered: the call was not made".into()))
        }
        _ => Ok(()),
    }
}

pub(crate) fn encode<T: Serialize>(answer: &T) -> Result<Bytes> {
    serde_json::to_vec(answer)
        .map(Bytes::from)
        .map_err(|error| Error::Crypto(format!("cannot encode the answer: {error}")))
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "__type")]
    kind: &'a str,
    message: &'a str,
}

pub(crate) fn error_body(name: &str, message: &str) -> Bytes {
    let body = ErrorBody { kind: name, message };
    serde_json::to_vec(&body).map(Bytes::from).unwrap_or_default()
}

/// A required member: present and not empty, or AWS's validation message naming it.
pub(crate) fn required<'a>(value: &'a str, member: &str) -> Result<&'a str> {
    if value.is_empty() {
        return Err(missing(member));
    }
    Ok(value)
}

pub(crate) fn required_blob<'a>(value: &'a Option<Blob>, member: &str) -> Result<&'a [u8]> {
    value.as_ref().map(|blob| blob.0.as_slice()).ok_or_else(|| missing(member))
}

pub(crate) fn missing(member: &str) -> Error {
    Error::invalid(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
        lower_first(member)
    ))
}

/// AWS names members in validation messages with a lower-case first letter (`keyId`).
fn lower_first(member: &str) -> String {
    let mut chars = member.chars();
    chars.next().map(|first| first.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// A `Limit` member: 1..=`max`, `default` when absent.
pub(crate) fn limit(value: Option<i64>, default: usize, max: usize) -> Result<usize> {
    match value {
        None => Ok(default),
        Some(n) if n >= 1 && n as u64 <= max as u64 => Ok(n as usize),
        Some(n) => Err(Error::invalid(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {max}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "PascalCase", default)]
    struct Shape {
        key_id: String,
        plaintext: Option<Blob>,
    }

    #[test]
    fn blobs_are_base64_and_absent_members_default() {
        let shape: Shape = decode(br#"{"KeyId":"k","Plaintext":"aGk=","Unknown":1}"#).unwrap();
        assert_eq!(shape.key_id, "k");
        assert_eq!(shape.plaintext.unwrap().0, b"hi");
        let empty: Shape = decode(b"").unwrap();
        assert!(empty.plaintext.is_none());
        assert!(matches!(decode::<Shape>(br#"{"Plaintext":"%%%"}"#), Err(Error::InvalidArgument(_))));
        assert!(matches!(decode::<Shape>(br#"{"KeyId":7}"#), Err(Error::InvalidArgument(_))));
        assert!(matches!(decode::<Shape>(b"{"), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn a_dry_run_is_refused_not_carried_out() {
        assert!(matches!(refuse_dry_run(br#"{"KeyId":"k","DryRun":true}"#), Err(Error::Unsupported(_))));
        assert!(refuse_dry_run(br#"{"KeyId":"k","DryRun":false}"#).is_ok());
        assert!(refuse_dry_run(br#"{"KeyId":"k"}"#).is_ok());
    }

    #[test]
    fn validation_messages_name_the_member_as_aws_does() {
        assert!(missing("KeyId").to_string().contains("Value null at 'keyId'"));
        assert_eq!(limit(None, 100, 1000).unwrap(), 100);
        assert_eq!(limit(Some(1000), 100, 1000).unwrap(), 1000);
        assert!(limit(Some(0), 100, 1000).is_err());
        assert!(limit(Some(1001), 100, 1000).is_err());
        assert_eq!(format!("{:?}", Blob(vec![1, 2, 3])), "Blob(3 bytes)");
    }
}

//! Reading what the user gives: argument values and files; and writing --out files.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use arca_proto::v1 as pb;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};

use crate::cli::{CiphertextSource, MacSource, MessageSource, Pair, SignatureSource};
use crate::error::CliError;

/// Bytes decoded from a base64 argument.
#[derive(Debug, Clone)]
pub(crate) struct Bytes(pub Vec<u8>);

pub(crate) fn parse_base64(text: &str) -> Result<Bytes, String> {
    STANDARD.decode(text.trim()).map(Bytes).map_err(|e| format!("not base64 (standard alphabet): {e}"))
}

pub(crate) fn parse_pair(text: &str) -> Result<Pair, String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

pub(crate) fn parse_request_id(text: &str) -> Result<String, String> {
    let valid = !text.is_empty() && text.len() <= 128 && AsciiMetadataValue::try_from(text).is_ok();
    if valid { Ok(text.to_owned()) } else { Err("expected 1..128 visible ASCII characters".to_owned()) }
}

/// A proto enum value by its name; number 0 (`…_UNSPECIFIED`) is refused, and the error lists the
/// names this build knows (the enums are numbered 0, 1, 2… without gaps).
fn proto_enum<E>(
    text: &str,
    what: &str,
    from_name: fn(&str) -> Option<E>,
    name: fn(&E) -> &'static str,
) -> Result<E, String>
where
    E: Copy + Into<i32> + TryFrom<i32>,
{
    from_name(text).filter(|value| (*value).into() != 0).ok_or_else(|| {
        let names: Vec<&str> = (1..).map_while(|n| E::try_from(n).ok()).map(|value| name(&value)).collect();
        format!("unknown {what} {text:?} (one of {})", names.join(", "))
    })
}

pub(crate) fn parse_key_spec(text: &str) -> Result<pb::KeySpec, String> {
    proto_enum(text, "key spec", pb::KeySpec::from_str_name, pb::KeySpec::as_str_name)
}

pub(crate) fn parse_key_usage(text: &str) -> Result<pb::KeyUsage, String> {
    proto_enum(text, "key usage", pb::KeyUsage::from_str_name, pb::KeyUsage::as_str_name)
}

pub(crate) fn parse_key_state(text: &str) -> Result<pb::KeyState, String> {
    proto_enum(text, "key state", pb::KeyState::from_str_name, pb::KeyState::as_str_name)
}

pub(crate) fn parse_origin(text: &str) -> Result<pb::KeyOrigin, String> {
    proto_enum(text, "key origin", pb::KeyOrigin::from_str_name, pb::KeyOrigin::as_str_name)
}

/// `K=V`: the tag with this value; `K`: the tag with any value.
pub(crate) fn parse_tag_filter(text: &str) -> Result<pb::TagFilter, String> {
    let (tag_key, tag_value) = match text.split_once('=') {
        Some((key, value)) => (key, Some(value.to_owned())),
        None => (text, None),
    };
    if tag_key.is_empty() {
        return Err(format!("expected KEY=VALUE or KEY, got {text:?}"));
    }
    Ok(pb::TagFilter { tag_key: tag_key.to_owned(), tag_value })
}

/// Seconds since the Unix epoch, or a UTC date `YYYY-MM-DD` or time `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn parse_valid_to(text: &str) -> Result<i64, String> {
    let invalid =
        || format!("expected seconds since the epoch, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, got {text:?}");
    if let Ok(seconds) = text.parse::<i64>() {
        return if seconds > 0 { Ok(seconds) } else { Err(invalid()) };
    }
    let (date, time) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time.strip_suffix('Z').ok_or_else(invalid)?)),
        None => (text, None),
    };
    let numbers = |part: &str, separator: char| -> Option<Vec<i64>> {
        part.split(separator).map(|n| n.parse::<i64>().ok()).collect()
    };
    let (year, month, day) = match numbers(date, '-').as_deref() {
        Some(&[year, month, day]) if (1..=12).contains(&month) && (1..=31).contains(&day) => {
            (year, month, day)
        }
        _ => return Err(invalid()),
    };
    let second_of_day = match time.map(|time| numbers(time, ':')) {
        None => 0,
        Some(Some(parts)) => match parts.as_slice() {
            &[h, m, s] if (0..24).contains(&h) && (0..60).contains(&m) && (0..60).contains(&s) => {
                h * 3600 + m * 60 + s
            }
            _ => return Err(invalid()),
        },
        Some(None) => return Err(invalid()),
    };
    Ok(arca_proto::civil::days_from_civil(year, month, day) * 86_400 + second_of_day)
}

/// An RSA or ECC spec, the ones GenerateDataKeyPair takes.
pub(crate) fn parse_key_pair_spec(text: &str) -> Result<pb::KeySpec, String> {
    use pb::KeySpec::{
        EccNistEdwards25519, EccNistP256, EccNistP384, EccNistP521, EccSecgP256k1, Rsa2048, Rsa3072, Rsa4096,
    };
    const PAIR_SPECS: [pb::KeySpec; 8] = [
        Rsa2048,
        Rsa3072,
        Rsa4096,
        EccNistP256,
        EccNistP384,
        EccNistP521,
        EccSecgP256k1,
        EccNistEdwards25519,
    ];
    parse_key_spec(text).ok().filter(|spec| PAIR_SPECS.contains(spec)).ok_or_else(|| {
        let names: Vec<&str> = PAIR_SPECS.iter().map(pb::KeySpec::as_str_name).collect();
        format!("unknown key pair spec {text:?} (one of {})", names.join(", "))
    })
}

pub(crate) fn parse_encryption_algorithm(text: &str) -> Result<pb::EncryptionAlgorithm, String> {
    let (from_name, name) = (pb::EncryptionAlgorithm::from_str_name, pb::EncryptionAlgorithm::as_str_name);
    proto_enum(text, "encryption algorithm", from_name, name)
}

pub(crate) fn parse_signing_algorithm(text: &str) -> Result<pb::SigningAlgorithm, String> {
    let (from_name, name) = (pb::SigningAlgorithm::from_str_name, pb::SigningAlgorithm::as_str_name);
    proto_enum(text, "signing algorithm", from_name, name)
}

pub(crate) fn parse_message_type(text: &str) -> Result<pb::MessageType, String> {
    proto_enum(text, "message type", pb::MessageType::from_str_name, pb::MessageType::as_str_name)
}

pub(crate) fn parse_mac_algorithm(text: &str) -> Result<pb::MacAlgorithm, String> {
    proto_enum(text, "MAC algorithm", pb::MacAlgorithm::from_str_name, pb::MacAlgorithm::as_str_name)
}

/// `AES_128`/`AES_256`, or the full proto names `DATA_KEY_SPEC_AES_128`/`DATA_KEY_SPEC_AES_256`.
pub(crate) fn parse_data_key_spec(text: &str) -> Result<pb::DataKeySpec, String> {
    let full =
        if text.starts_with("DATA_KEY_SPEC_") { text.to_owned() } else { format!("DATA_KEY_SPEC_{text}") };
    pb::DataKeySpec::from_str_name(&full)
        .filter(|spec| *spec != pb::DataKeySpec::Unspecified)
        .ok_or_else(|| format!("unknown data key spec {text:?} (AES_128 or AES_256)"))
}

/// The request id as a metadata value (validated by clap already).
pub(crate) fn request_id_value(text: Option<&str>) -> Result<Option<AsciiMetadataValue>, CliError> {
    text.map(|id| {
        MetadataValue::try_from(id).map_err(|_| CliError::Input(format!("invalid request id {id:?}")))
    })
    .transpose()
}

/// Builds a proto map, refusing a key given twice.
pub(crate) fn pairs_to_map(pairs: Vec<Pair>, what: &str) -> Result<HashMap<String, String>, CliError> {
    let mut map = HashMap::with_capacity(pairs.len());
    for (key, value) in pairs {
        if map.contains_key(&key) {
            return Err(CliError::Input(format!("{what} key {key:?} given twice")));
        }
        map.insert(key, value);
    }
    Ok(map)
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(CliError::io(format!("cannot read {}", path.display())))
}

pub(crate) fn ciphertext(source: CiphertextSource) -> Result<Vec<u8>, CliError> {
    match (source.ciphertext_base64, source.ciphertext_file) {
        (Some(Bytes(blob)), _) => Ok(blob),
        (None, Some(path)) => read_file(&path),
        (None, None) => Err(CliError::Input("give --ciphertext-base64 or --ciphertext-file".to_owned())),
    }
}

pub(crate) fn message(source: MessageSource) -> Result<Vec<u8>, CliError> {
    match (source.message, source.message_base64, source.message_file) {
        (Some(text), _, _) => Ok(text.into_bytes()),
        (None, Some(Bytes(bytes)), _) => Ok(bytes),
        (None, None, Some(path)) => read_file(&path),
        (None, None, None) => {
            Err(CliError::Input("give --message, --message-base64 or --message-file".to_owned()))
        }
    }
}

pub(crate) fn signature(source: SignatureSource) -> Result<Vec<u8>, CliError> {
    match (source.signature_base64, source.signature_file) {
        (Some(Bytes(signature)), _) => Ok(signature),
        (None, Some(path)) => read_file(&path),
        (None, None) => Err(CliError::Input("give --signature-base64 or --signature-file".to_owned())),
    }
}

pub(crate) fn mac(source: MacSource) -> Result<Vec<u8>, CliError> {
    match (source.mac_base64, source.mac_file) {
        (Some(Bytes(mac)), _) => Ok(mac),
        (None, Some(path)) => read_file(&path),
        (None, None) => Err(CliError::Input("give --mac-base64 or --mac-file".to_owned())),
    }
}

/// Writes secret or opaque output bytes to a new or truncated file readable only by its owner.
/// A regular file is flushed to disk; anything else (`/dev/null`, a pipe, a terminal) is just
/// written, as fsync means nothing there and fails on some devices.
pub(crate) fn write_out(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let context = || format!("cannot write {}", path.display());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(CliError::io(context()))?;
    file.write_all(bytes).map_err(CliError::io(context()))?;
    if file.metadata().map_err(CliError::io(context()))?.is_file() {
        file.sync_all().map_err(CliError::io(context()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        assert_eq!(parse_pair("a=b=c").unwrap(), ("a".to_owned(), "b=c".to_owned()));
        assert_eq!(parse_pair("a=").unwrap(), ("a".to_owned(), String::new()));
        assert!(parse_pair("=b").is_err());
        assert!(parse_pair("ab").is_err());
    }

    #[test]
    fn data_key_specs_take_short_and_proto_names() {
        assert_eq!(parse_data_key_spec("AES_128").unwrap(), pb::DataKeySpec::Aes128);
        assert_eq!(parse_data_key_spec("DATA_KEY_SPEC_AES_256").unwrap(), pb::DataKeySpec::Aes256);
        assert!(parse_data_key_spec("UNSPECIFIED").is_err());
        assert!(parse_data_key_spec("AES_512").is_err());
    }

    #[test]
    fn proto_enums_are_parsed_by_name_and_unspecified_is_refused() {
        assert_eq!(parse_signing_algorithm("ECDSA_SHA_256").unwrap(), pb::SigningAlgorithm::EcdsaSha256);
        assert_eq!(parse_message_type("DIGEST").unwrap(), pb::MessageType::Digest);
        assert_eq!(
            parse_encryption_algorithm("RSAES_OAEP_SHA_256").unwrap(),
            pb::EncryptionAlgorithm::RsaesOaepSha256
        );
        assert!(parse_mac_algorithm("MAC_ALGORITHM_UNSPECIFIED").is_err());
        let error = parse_key_usage("SIGN").unwrap_err();
        assert!(
            error.ends_with("(one of ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC, KEY_AGREEMENT)"),
            "{error}"
        );
        assert_eq!(parse_key_pair_spec("ECC_NIST_P384").unwrap(), pb::KeySpec::EccNistP384);
        assert_eq!(parse_key_pair_spec("ECC_NIST_P521").unwrap(), pb::KeySpec::EccNistP521);
        assert_eq!(parse_key_pair_spec("ECC_NIST_EDWARDS25519").unwrap(), pb::KeySpec::EccNistEdwards25519);
        assert!(parse_key_pair_spec("ECC_X25519").is_err());
        assert!(parse_key_pair_spec("HMAC_256").is_err());
        assert!(parse_key_pair_spec("AES_256").is_err());
    }

    #[test]
    fn valid_to_takes_seconds_and_utc_dates() {
        assert_eq!(parse_valid_to("1764072754").unwrap(), 1_764_072_754);
        assert_eq!(parse_valid_to("2000-02-29").unwrap(), 951_782_400);
        assert_eq!(parse_valid_to("2025-11-25T12:12:34Z").unwrap(), 1_764_072_754);
        assert_eq!(parse_valid_to("1970-01-01T00:00:01Z").unwrap(), 1);
        for bad in ["0", "-5", "2025-13-01", "2025-11-25T12:12:34", "2025-11-25T25:00:00Z", "soon", ""] {
            assert!(parse_valid_to(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tag_filters_take_a_value_or_not() {
        let exact = parse_tag_filter("team=a=b").unwrap();
        assert_eq!((exact.tag_key.as_str(), exact.tag_value.as_deref()), ("team", Some("a=b")));
        assert_eq!(parse_tag_filter("team").unwrap().tag_value, None);
        assert!(parse_tag_filter("=x").is_err());
        assert_eq!(parse_key_state("PENDING_IMPORT").unwrap(), pb::KeyState::PendingImport);
        assert_eq!(parse_origin("EXTERNAL").unwrap(), pb::KeyOrigin::External);
        assert!(parse_origin("KEY_ORIGIN_UNSPECIFIED").is_err());
    }

    #[test]
    fn duplicate_context_keys_are_refused() {
        let pairs = vec![("a".to_owned(), "1".to_owned()), ("a".to_owned(), "2".to_owned())];
        assert!(pairs_to_map(pairs, "context").is_err());
    }
}

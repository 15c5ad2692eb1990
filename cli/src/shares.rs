//! Custodian shares of a generated passphrase, as text: `arca-share-N-M-SPLIT-DIGITS`, where N is
//! the share's number, M how many shares unseal, SPLIT 8 hex digits naming the split (random, so
//! that shares of two splits are never mixed) and DIGITS the share's bytes and a 4-byte checksum
//! in hex. The checksum covers every field, so a mistyped or damaged share is refused by name
//! instead of rebuilding a wrong passphrase. It is a typo check, not an authenticator: a custodian
//! can forge a well-formed share, which rebuilds a wrong passphrase that the daemon refuses.

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::error::CliError;
use crate::shamir::{self, RawShare, ShamirError};

/// Every share starts with this.
pub(crate) const PREFIX: &str = "arca-share-";
/// The split id's length in bytes.
pub(crate) const SPLIT_ID_LEN: usize = 4;
/// The checksum's length in bytes.
const CHECK_LEN: usize = 4;
/// Hashed first into the checksum, to version the format.
const CHECK_DOMAIN: &[u8] = b"arca-share v1\0";

/// One custodian's share.
pub(crate) struct Share {
    pub index: u8,
    pub threshold: u8,
    pub split: [u8; SPLIT_ID_LEN],
    pub y: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Share")
            .field("index", &self.index)
            .field("threshold", &self.threshold)
            .field("split", &split_name(&self.split))
            .field("y", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParseError {
    #[error("not an Arca share ({0}; expected arca-share-N-M-SPLIT-DIGITS)")]
    Malformed(&'static str),
    #[error("share {index} is mistyped or damaged: its checksum does not match")]
    Checksum { index: u8 },
}

/// Splits a passphrase into `count` shares, any `threshold` of which rebuild it, and checks that
/// they do before handing them out.
pub(crate) fn split_passphrase(
    passphrase: &str,
    threshold: u8,
    count: u8,
) -> Result<Vec<Zeroizing<String>>, CliError> {
    let mut split = [0u8; SPLIT_ID_LEN];
    getrandom::fill(&mut split).map_err(|e| CliError::Random(e.to_string()))?;
    let raw = shamir::split(passphrase.as_bytes(), threshold, count).map_err(split_error)?;
    let lines: Vec<_> =
        raw.into_iter().map(|RawShare { x, y }| encode(&Share { index: x, threshold, split, y })).collect();
    let parsed = lines.iter().map(|line| parse(line)).collect::<Result<Vec<_>, _>>();
    let raw = parsed.map_err(|e| CliError::Input(format!("internal error: {e}")))?;
    let lowest = raw.iter().take(usize::from(threshold));
    let highest = raw.iter().skip(usize::from(count - threshold));
    for subset in [lowest.collect::<Vec<_>>(), highest.collect()] {
        let subset: Vec<RawShare> =
            subset.into_iter().map(|share| RawShare { x: share.index, y: share.y.clone() }).collect();
        let rebuilt = shamir::combine(&subset).map_err(split_error)?;
        if !bool::from(rebuilt.as_slice().ct_eq(passphrase.as_bytes())) {
            return Err(CliError::Input("internal error: the shares do not rebuild the passphrase".into()));
        }
    }
    Ok(lines)
}

fn split_error(error: ShamirError) -> CliError {
    match error {
        ShamirError::Random(cause) => CliError::Random(cause),
        ShamirError::Bounds => CliError::Input("--threshold must be 2 to --shares, which is 2 to 255".into()),
        other => CliError::Input(other.to_string()),
    }
}

/// `arca-share-N-M-SPLIT-DIGITS`.
pub(crate) fn encode(share: &Share) -> Zeroizing<String> {
    let check = checksum(share.index, share.threshold, &share.split, &share.y);
    let head = format!("{PREFIX}{}-{}-{}-", share.index, share.threshold, split_name(&share.split));
    let mut text = Zeroizing::new(String::with_capacity(head.len() + 2 * (share.y.len() + CHECK_LEN)));
    text.push_str(&head);
    for byte in share.y.iter().chain(&check) {
        text.push(char::from(hex_digit(byte >> 4)));
        text.push(char::from(hex_digit(byte & 0xf)));
    }
    text
}

/// Parses one share; whitespace anywhere in it is ignored, and so is case.
pub(crate) fn parse(text: &str) -> Result<Share, ParseError> {
    let mut compact = Zeroizing::new(String::with_capacity(text.len()));
    compact.extend(text.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_lowercase()));
    let rest = compact.strip_prefix(PREFIX).ok_or(ParseError::Malformed("no arca-share- prefix"))?;
    let mut fields = rest.splitn(4, '-');
    let mut next = || fields.next().ok_or(ParseError::Malformed("too few fields"));
    let (index, threshold, split, digits) = (next()?, next()?, next()?, next()?);
    let index = number(index).filter(|n| *n >= 1).ok_or(ParseError::Malformed("N is not 1 to 255"))?;
    let threshold =
        number(threshold).filter(|n| *n >= 2).ok_or(ParseError::Malformed("M is not 2 to 255"))?;
    let split = decode(split)
        .and_then(|bytes| <[u8; SPLIT_ID_LEN]>::try_from(bytes.as_slice()).ok())
        .ok_or(ParseError::Malformed("SPLIT is not 8 hex digits"))?;
    let mut y = decode(digits)
        .filter(|bytes| bytes.len() > CHECK_LEN)
        .ok_or(ParseError::Malformed("DIGITS are not hex digits, or too few"))?;
    let body_len = y.len().saturating_sub(CHECK_LEN);
    let given = y.split_off(body_len);
    let check = checksum(index, threshold, &split, &y);
    if !bool::from(check.as_slice().ct_eq(&given)) {
        return Err(ParseError::Checksum { index });
    }
    Ok(Share { index, threshold, split, y })
}

/// A split id as it is printed: 8 hex digits.
pub(crate) fn split_name(split: &[u8; SPLIT_ID_LEN]) -> String {
    split.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Decimal digits only (no sign), 0 to 255.
fn number(text: &str) -> Option<u8> {
    if text.is_empty() || !text.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn checksum(index: u8, threshold: u8, split: &[u8; SPLIT_ID_LEN], y: &[u8]) -> [u8; CHECK_LEN] {
    let digest =
        Sha256::new().chain_update(CHECK_DOMAIN).chain_update([index, threshold]).chain_update(split);
    let digest = digest.chain_update(y).finalize();
    let mut check = [0u8; CHECK_LEN];
    check.iter_mut().zip(digest.iter()).for_each(|(out, byte)| *out = *byte);
    check
}

/// The lowercase hex digit of `nibble` (0..=15), without a table or a branch on its value.
fn hex_digit(nibble: u8) -> u8 {
    let above_nine = (9u8.wrapping_sub(nibble) >> 7).wrapping_neg();
    b'0' + nibble + (above_nine & (b'a' - b'0' - 10))
}

/// The value of a hex digit (either case), computed with masks rather than a table.
fn hex_value(digit: u8) -> Option<u8> {
    let decimal = digit.wrapping_sub(b'0');
    let letter = (digit | 0x20).wrapping_sub(b'a');
    let is_decimal = u8::from(decimal < 10).wrapping_neg();
    let is_letter = u8::from(letter < 6).wrapping_neg();
    let value = (decimal & is_decimal) | (letter.wrapping_add(10) & is_letter);
    ((is_decimal | is_letter) != 0).then_some(value)
}

/// Hex digits to bytes, wiped when dropped.
fn decode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(text.len() / 2));
    for pair in text.as_bytes().chunks_exact(2) {
        let (high, low) = match pair {
            [high, low] => (hex_value(*high)?, hex_value(*low)?),
            _ => return None,
        };
        bytes.push(high << 4 | low);
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSPHRASE: &str = "k7wq2-abcde-fghjk-mnpqr-stuvw-xyz23";

    #[test]
    fn hex_digits_round_trip_in_both_cases() {
        for nibble in 0..16u8 {
            let digit = hex_digit(nibble);
            assert_eq!(char::from(digit), char::from_digit(nibble.into(), 16).unwrap());
            assert_eq!(hex_value(digit), Some(nibble));
            assert_eq!(hex_value(digit.to_ascii_uppercase()), Some(nibble));
        }
        for other in [b'g', b'G', b'/', b':', b'@', b'`', b'-', b' ', 0, 0x10, 0xc6] {
            assert_eq!(hex_value(other), None, "{other:#x}");
        }
    }

    #[test]
    fn shares_print_and_parse_back() {
        let lines = split_passphrase(PASSPHRASE, 3, 5).unwrap();
        assert_eq!(lines.len(), 5);
        let split = lines[0].split('-').nth(4).unwrap().to_owned();
        for (number, line) in (1..).zip(&lines) {
            assert!(line.starts_with(&format!("arca-share-{number}-3-{split}-")), "{}", **line);
            assert_eq!(line.len(), format!("arca-share-{number}-3-{split}-").len() + 2 * (35 + 4));
            assert!(!line.contains(PASSPHRASE) && !line.contains("k7wq2"));
            let share = parse(line).unwrap();
            assert_eq!((share.index, share.threshold, split_name(&share.split)), (number, 3, split.clone()));
            let spaced = format!("  {}  \r", line.to_uppercase());
            assert_eq!(parse(&spaced).unwrap().y, share.y, "case and surrounding blanks do not matter");
        }
        let other = split_passphrase(PASSPHRASE, 3, 5).unwrap();
        assert_ne!(other[0].split('-').nth(4).unwrap(), split, "every split has its own id");
    }

    #[test]
    fn any_mistyped_character_is_caught_by_the_checksum() {
        let line = split_passphrase(PASSPHRASE, 2, 3).unwrap().remove(1);
        let head = "arca-share-2-2-".len();
        for position in head..line.len() {
            if line.as_bytes()[position] == b'-' {
                continue;
            }
            let mut typo = line.as_bytes().to_vec();
            typo[position] = if typo[position] == b'7' { b'8' } else { b'7' };
            let typo = String::from_utf8(typo).unwrap();
            assert_eq!(parse(&typo).unwrap_err(), ParseError::Checksum { index: 2 }, "{typo}");
        }
        let renumbered = line.replacen("arca-share-2-", "arca-share-3-", 1);
        assert_eq!(parse(&renumbered).unwrap_err(), ParseError::Checksum { index: 3 });
        let threshold = line.replacen("-2-2-", "-2-3-", 1);
        assert_eq!(parse(&threshold).unwrap_err(), ParseError::Checksum { index: 2 });
    }

    #[test]
    fn malformed_shares_say_what_is_wrong() {
        let line = split_passphrase(PASSPHRASE, 2, 2).unwrap().remove(0);
        let malformed = |text: &str| match parse(text) {
            Err(ParseError::Malformed(why)) => why,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(malformed(PASSPHRASE), "no arca-share- prefix");
        assert_eq!(malformed("arca-share-1-2"), "too few fields");
        assert_eq!(malformed(&line.replacen("-1-", "-0-", 1)), "N is not 1 to 255");
        assert_eq!(malformed(&line.replacen("-1-", "-256-", 1)), "N is not 1 to 255");
        assert_eq!(malformed(&line.replacen("-1-", "-+1-", 1)), "N is not 1 to 255");
        assert_eq!(malformed(&line.replacen("-1-2-", "-1-1-", 1)), "M is not 2 to 255");
        assert_eq!(
            malformed(&format!("{}x", &line[..line.len() - 1])),
            "DIGITS are not hex digits, or too few"
        );
        assert_eq!(malformed(&line[..line.len() - 1]), "DIGITS are not hex digits, or too few");
        assert_eq!(malformed("arca-share-1-2-0011223-aabbccddeeff"), "SPLIT is not 8 hex digits");
        assert_eq!(malformed("arca-share-1-2-00112233-aabbccdd"), "DIGITS are not hex digits, or too few");
    }

    #[test]
    fn the_bounds_of_threshold_and_count_are_checked() {
        for (threshold, count) in [(1, 5), (0, 2), (4, 3), (255, 254)] {
            let error = split_passphrase(PASSPHRASE, threshold, count).unwrap_err().to_string();
            assert!(error.contains("--threshold must be 2 to --shares"), "{threshold} of {count}: {error}");
        }
        assert_eq!(split_passphrase(PASSPHRASE, 2, 2).unwrap().len(), 2);
        assert_eq!(split_passphrase(PASSPHRASE, 255, 255).unwrap().len(), 255);
    }

    #[test]
    fn debug_output_redacts_the_share() {
        let share = parse(&split_passphrase(PASSPHRASE, 2, 2).unwrap()[0]).unwrap();
        let text = format!("{share:?}");
        assert!(text.contains("<redacted>") && text.contains("index: 1"), "{text}");
    }
}

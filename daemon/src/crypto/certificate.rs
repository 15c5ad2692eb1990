//! The fields of an X.509 certificate that C_CreateObject stores beside it (CKA_SUBJECT,
//! CKA_ISSUER, CKA_SERIAL_NUMBER, CKA_PUBLIC_KEY_INFO), read with Arca's strict DER reader.
//!
//! The `der` crate's time types stop at 1970 (they convert to Unix time), while certificates
//! legitimately carry earlier dates: Go writes a `NotBefore` of 0001-01-01 by default, and
//! UTCTime covers 1950–2049. So the validity is checked here as DER dates of any year from 0001
//! to 9999 (UTCTime or GeneralizedTime) and never converted. Anything else malformed is an
//! `Encoding` error.

use super::der::io::{BIT_STRING, INTEGER, Reader, SEQUENCE};
use crate::crypto::{Error, Result};

const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// `[0] EXPLICIT Version`.
const VERSION: u8 = 0xA0;

/// The whole TLVs of the stored fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFields<'a> {
    pub serial_number: &'a [u8],
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    pub subject_public_key_info: &'a [u8],
}

/// Reads a DER `Certificate` (RFC 5280 §4.1).
pub fn certificate_fields(der: &[u8]) -> Result<CertificateFields<'_>> {
    parse(der).ok_or_else(|| Error::Encoding("CKA_VALUE is not a DER X.509 certificate".into()))
}

fn parse(der: &[u8]) -> Option<CertificateFields<'_>> {
    let mut certificate = Reader::new(Reader::single(der, SEQUENCE)?);
    let mut tbs = Reader::new(certificate.expect(SEQUENCE)?);
    certificate.expect(SEQUENCE)?;
    certificate.expect(BIT_STRING)?;
    if !certificate.is_empty() {
        return None;
    }
    if tbs.clone().any()?.0 == VERSION {
        tbs.any()?;
    }
    let serial_number = tbs.raw()?;
    Reader::single(serial_number, INTEGER)?;
    tbs.expect(SEQUENCE)?;
    let issuer = tbs.raw()?;
    Reader::single(issuer, SEQUENCE)?;
    validity(tbs.expect(SEQUENCE)?)?;
    let subject = tbs.raw()?;
    Reader::single(subject, SEQUENCE)?;
    let subject_public_key_info = tbs.raw()?;
    Reader::single(subject_public_key_info, SEQUENCE)?;
    // The optional unique ids and extensions follow; each must at least be a whole TLV.
    while !tbs.is_empty() {
        tbs.any()?;
    }
    Some(CertificateFields { serial_number, issuer, subject, subject_public_key_info })
}

/// `Validity ::= SEQUENCE { notBefore Time, notAfter Time }`.
fn validity(content: &[u8]) -> Option<()> {
    let mut reader = Reader::new(content);
    for _ in 0..2 {
        let (tag, time) = reader.any()?;
        let valid = match tag {
            UTC_TIME => utc_time(time),
            GENERALIZED_TIME => generalized_time(time),
            _ => false,
        };
        if !valid {
            return None;
        }
    }
    reader.is_empty().then_some(())
}

/// DER UTCTime: `YYMMDDHHMMSSZ`, years 1950–2049 (RFC 5280 §4.1.2.5.1).
fn utc_time(text: &[u8]) -> bool {
    let Some((digits, b"Z")) = text.split_last_chunk::<1>().map(|(d, z)| (d, z.as_slice())) else {
        return false;
    };
    let Some(fields) = numbers(digits, &[2, 2, 2, 2, 2, 2]) else { return false };
    let Some((short_year, rest)) = fields.split_first() else { return false };
    let year = if *short_year < 50 { 2000 + short_year } else { 1900 + short_year };
    date_time(year, rest)
}

/// DER GeneralizedTime: `YYYYMMDDHHMMSS[.fff]Z`, the fraction without trailing zeros (X.690
/// §11.7), years 0001–9999.
fn generalized_time(text: &[u8]) -> bool {
    let Some((body, b"Z")) = text.split_last_chunk::<1>().map(|(d, z)| (d, z.as_slice())) else {
        return false;
    };
    let (digits, fraction) = match body.split(|b| *b == b'.').collect::<Vec<_>>().as_slice() {
        [digits] => (*digits, None),
        [digits, fraction] => (*digits, Some(*fraction)),
        _ => return false,
    };
    if let Some(fraction) = fraction
        && (fraction.is_empty() || !fraction.iter().all(u8::is_ascii_digit) || fraction.last() == Some(&b'0'))
    {
        return false;
    }
    let Some(fields) = numbers(digits, &[4, 2, 2, 2, 2, 2]) else { return false };
    let Some((year, rest)) = fields.split_first() else { return false };
    *year >= 1 && date_time(*year, rest)
}

/// Splits ASCII digits into numbers of the given widths; the widths must cover all of `digits`.
fn numbers(digits: &[u8], widths: &[usize]) -> Option<Vec<u32>> {
    if digits.len() != widths.iter().sum::<usize>() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut rest = digits;
    let mut out = Vec::with_capacity(widths.len());
    for width in widths {
        let (field, after) = rest.split_at_checked(*width)?;
        out.push(field.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')));
        rest = after;
    }
    Some(out)
}

/// Month, day, hour, minute and second of a date in `year` (proleptic Gregorian).
fn date_time(year: u32, fields: &[u32]) -> bool {
    let [month, day, hour, minute, second] = fields else { return false };
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(day) && *hour < 24 && *minute < 60 && *second < 60
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_of_every_year_parse_and_bad_dates_do_not() {
        assert!(generalized_time(b"00010101000000Z"));
        assert!(generalized_time(b"99991231235959Z"));
        assert!(generalized_time(b"20240229120000.5Z"));
        assert!(utc_time(b"500101000000Z"));
        assert!(utc_time(b"491231235959Z"));
        assert!(!generalized_time(b"00000101000000Z"));
        assert!(!generalized_time(b"20230229000000Z"));
        assert!(!generalized_time(b"20240101000000"));
        assert!(!generalized_time(b"20240101000000.50Z"));
        assert!(!generalized_time(b"20240101000000.Z"));
        assert!(!generalized_time(b"2024010100000Z"));
        assert!(!utc_time(b"241301000000Z"));
        assert!(!utc_time(b"240101240000Z"));
        assert!(!utc_time(b"2401010000Z"));
    }

    #[test]
    fn a_certificate_from_before_1970_gives_its_fields() {
        let openssl = crate::crypto::test_util::Openssl::new();
        openssl.run(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "k.pem"]);
        openssl.run(&[
            "req", "-x509", "-new", "-key", "k.pem", "-subj", "/CN=old", "-days", "1", "-outform", "DER",
            "-out", "c.der",
        ]);
        let modern = openssl.read("c.der");
        assert!(certificate_fields(&modern).is_ok());
        // Replace the validity with 0001-01-01 .. 1969-12-31 (GeneralizedTime, then UTCTime).
        let old_validity: &[u8] = b"\x30\x20\x18\x0f00010101000000Z\x17\x0d691231235959Z";
        let start = find_validity(&modern);
        let end = start + 2 + usize::from(modern[start + 1]);
        let mut tbs_content = modern[tbs_content_start(&modern)..start].to_vec();
        tbs_content.extend_from_slice(old_validity);
        tbs_content.extend_from_slice(&modern[end..tbs_end(&modern)]);
        let mut certificate_content = tlv(SEQUENCE, &tbs_content);
        certificate_content.extend_from_slice(&modern[tbs_end(&modern)..]);
        let old = tlv(SEQUENCE, &certificate_content);
        let fields = certificate_fields(&old).unwrap();
        assert_eq!(fields.subject, certificate_fields(&modern).unwrap().subject);
        let mut truncated = old.clone();
        truncated.pop();
        assert!(certificate_fields(&truncated).is_err());
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag, 0x82];
        out.extend_from_slice(&u16::try_from(content.len()).unwrap().to_be_bytes());
        out.extend_from_slice(content);
        out
    }

    /// The offsets of a short-form certificate made by OpenSSL: SEQUENCE (0x82 length) of TBS.
    fn tbs_content_start(cert: &[u8]) -> usize {
        assert_eq!(&cert[..2], [0x30, 0x82]);
        assert_eq!(&cert[4..6], [0x30, 0x82]);
        8
    }

    fn tbs_end(cert: &[u8]) -> usize {
        8 + usize::from(u16::from_be_bytes([cert[6], cert[7]]))
    }

    /// The validity is the first SEQUENCE that starts with a UTCTime.
    fn find_validity(cert: &[u8]) -> usize {
        (0..cert.len() - 3).find(|i| cert[*i] == 0x30 && cert[i + 2] == UTC_TIME).unwrap()
    }
}

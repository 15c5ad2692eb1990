//! Just enough DER to hand public keys and signatures to OpenSSL and to read what OpenSSL writes.

/// CKA_EC_PARAMS for P-256: the DER OID 1.2.840.10045.3.1.7.
pub const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const RSA_ENCRYPTION: [u8; 11] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const EC_PUBLIC_KEY: [u8; 9] = [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];

pub const SEQUENCE: u8 = 0x30;
pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const BIT_STRING: u8 = 0x03;

/// One TLV.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

pub fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

/// A non-negative big-endian integer as a DER INTEGER.
pub fn integer(magnitude: &[u8]) -> Vec<u8> {
    let trimmed = strip_zeros(magnitude);
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(INTEGER, &content)
}

/// Drops leading zero bytes (OpenSSL's INTEGER sign byte, or padding).
pub fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Left-pads with zeros to `len` bytes (EC scalars and coordinates are fixed-size).
pub fn left_pad(bytes: &[u8], len: usize) -> Vec<u8> {
    let bytes = strip_zeros(bytes);
    let mut out = vec![0; len.saturating_sub(bytes.len())];
    out.extend_from_slice(bytes);
    out
}

/// SubjectPublicKeyInfo of an RSA key from CKA_MODULUS and CKA_PUBLIC_EXPONENT.
pub fn rsa_spki(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    let key = sequence(&[&integer(modulus), &integer(exponent)]);
    let algorithm = sequence(&[&RSA_ENCRYPTION, &[0x05, 0x00]]);
    sequence(&[&algorithm, &bit_string(&key)])
}

/// SubjectPublicKeyInfo of an EC key from CKA_EC_PARAMS and the raw point.
pub fn ec_spki(params: &[u8], point: &[u8]) -> Vec<u8> {
    let algorithm = sequence(&[&EC_PUBLIC_KEY, params]);
    sequence(&[&algorithm, &bit_string(point)])
}

fn bit_string(content: &[u8]) -> Vec<u8> {
    let mut bits = vec![0];
    bits.extend_from_slice(content);
    tlv(BIT_STRING, &bits)
}

/// PKCS#11 ECDSA signatures are r || s; X.509 and OpenSSL want ECDSA-Sig-Value.
pub fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    sequence(&[&integer(r), &integer(s)])
}

/// ECDSA-Sig-Value (DER) to r || s with `half` bytes each.
pub fn ecdsa_raw(signature: &[u8], half: usize) -> Option<Vec<u8>> {
    let (_, content, _) = read(signature)?;
    let fields = elements(content)?;
    let [(INTEGER, r, _), (INTEGER, s, _)] = fields.as_slice() else { return None };
    let mut out = left_pad(r, half);
    out.extend(left_pad(s, half));
    Some(out)
}

/// CKA_EC_POINT is the DER OCTET STRING around the point; returns the point.
pub fn unwrap_ec_point(value: &[u8]) -> Option<Vec<u8>> {
    let (tag, content, rest) = read(value)?;
    (tag == OCTET_STRING && rest.is_empty() && content.first() == Some(&0x04)).then(|| content.to_vec())
}

/// Reads one TLV: (tag, content, rest).
pub fn read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, tail) = rest.split_at(count);
        rest = tail;
        bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// One element of a constructed value: (tag, content, the whole TLV).
pub type Element<'a> = (u8, &'a [u8], &'a [u8]);

/// The elements of a SEQUENCE (or any constructed value's content).
pub fn elements(content: &[u8]) -> Option<Vec<Element<'_>>> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (tag, value, tail) = read(rest)?;
        out.push((tag, value, &rest[..rest.len() - tail.len()]));
        rest = tail;
    }
    Some(out)
}

/// The DER prefix of a DigestInfo for a hash of `bits` (SHA-256/384/512).
pub fn digest_info(bits: u32, digest: &[u8]) -> Vec<u8> {
    let (oid_last, len) = match bits {
        384 => (2, 0x30),
        512 => (3, 0x40),
        _ => (1, 0x20),
    };
    let mut out = vec![
        0x30,
        0x11 + len,
        0x30,
        0x0d,
        0x06,
        0x09,
        0x60,
        0x86,
        0x48,
        0x01,
        0x65,
        0x03,
        0x04,
        0x02,
        oid_last,
    ];
    out.extend([0x05, 0x00, 0x04, len]);
    out.extend_from_slice(digest);
    out
}

/// The subject Name of an X.509 certificate, as DER.
pub fn certificate_subject(cert: &[u8]) -> Option<Vec<u8>> {
    let (_, certificate, _) = read(cert)?;
    let (_, tbs, _) = read(certificate)?;
    let fields = elements(tbs)?;
    // [0] version is present in v3 certificates; then serial, signature, issuer, validity, subject.
    let skip = usize::from(fields.first()?.0 == 0xA0);
    fields.get(skip + 4).map(|(_, _, whole)| whole.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_get_a_sign_byte_when_needed() {
        assert_eq!(integer(&[0x00, 0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(integer(&[0x01, 0x00, 0x01]), [0x02, 0x03, 0x01, 0x00, 0x01]);
        assert_eq!(integer(&[]), [0x02, 0x01, 0x00]);
    }

    #[test]
    fn long_lengths_use_the_long_form() {
        let encoded = tlv(OCTET_STRING, &[0; 300]);
        assert_eq!(&encoded[..4], &[0x04, 0x82, 0x01, 0x2C]);
        assert_eq!(read(&encoded).map(|(_, c, r)| (c.len(), r.len())), Some((300, 0)));
    }

    #[test]
    fn digest_info_matches_the_rfc_8017_prefix() {
        let info = digest_info(256, &[0; 32]);
        assert_eq!(hex(&info[..19]), "3031300d060960864801650304020105000420");
        assert_eq!(info.len(), 51);
        assert_eq!(digest_info(512, &[0; 64]).len(), 83);
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

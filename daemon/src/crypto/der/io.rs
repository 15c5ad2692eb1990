//! A minimal strict DER reader and writer for the few structures `der` handles: single-byte tags,
//! definite minimal lengths, non-negative minimal INTEGERs. The writer fills a caller's buffer
//! (a `SecretBuf` for private keys) after the caller computed its exact length.

pub(in crate::crypto) const SEQUENCE: u8 = 0x30;
pub(in crate::crypto) const INTEGER: u8 = 0x02;
pub(in crate::crypto) const BIT_STRING: u8 = 0x03;
pub(in crate::crypto) const OCTET_STRING: u8 = 0x04;
pub(in crate::crypto) const NULL: u8 = 0x05;
pub(in crate::crypto) const OID: u8 = 0x06;

/// Reads consecutive TLVs from a byte string.
#[derive(Debug, Clone, Copy)]
pub(in crate::crypto) struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(in crate::crypto) fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub(in crate::crypto) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next TLV as (tag, content).
    pub(in crate::crypto) fn any(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.data.split_first()?;
        if tag & 0x1f == 0x1f {
            return None; // high-tag-number form: not used by these structures
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 {
                return None; // indefinite, or absurdly long
            }
            let (octets, after) = rest.split_at_checked(count)?;
            if octets.first() == Some(&0) {
                return None;
            }
            let len = octets.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            if len < 0x80 {
                return None;
            }
            rest = after;
            len
        };
        let (content, after) = rest.split_at_checked(len)?;
        self.data = after;
        Some((tag, content))
    }

    /// The content of the next TLV, which must have `tag`.
    pub(in crate::crypto) fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.any()? {
            (found, content) if found == tag => Some(content),
            _ => None,
        }
    }

    /// The whole next TLV, header included.
    pub(in crate::crypto) fn raw(&mut self) -> Option<&'a [u8]> {
        let before = self.data;
        self.any()?;
        before.get(..before.len() - self.data.len())
    }

    /// A non-negative INTEGER's magnitude without leading zero bytes (empty for zero).
    pub(in crate::crypto) fn unsigned(&mut self) -> Option<&'a [u8]> {
        let content = self.expect(INTEGER)?;
        match content {
            [] => None,
            [first, ..] if first & 0x80 != 0 => None,
            [0, second, ..] if second & 0x80 == 0 => None,
            [0, rest @ ..] => Some(rest),
            _ => Some(content),
        }
    }

    /// The content of the one TLV that makes up all of `data`.
    pub(in crate::crypto) fn single(data: &'a [u8], tag: u8) -> Option<&'a [u8]> {
        let mut reader = Reader::new(data);
        let content = reader.expect(tag)?;
        reader.is_empty().then_some(content)
    }
}

pub(in crate::crypto) fn strip_leading_zeros(value: &[u8]) -> &[u8] {
    let start = value.iter().position(|b| *b != 0).unwrap_or(value.len());
    value.get(start..).unwrap_or_default()
}

/// The content length of an INTEGER holding the unsigned big-endian `value`.
pub(in crate::crypto) fn uint_content_len(value: &[u8]) -> usize {
    match strip_leading_zeros(value).first() {
        None => 1,
        Some(top) => strip_leading_zeros(value).len() + usize::from(top & 0x80 != 0),
    }
}

/// The length of a TLV with `content_len` bytes of content.
pub(in crate::crypto) fn tlv_len(content_len: usize) -> usize {
    let len_octets = if content_len < 0x80 {
        1
    } else {
        1 + (usize::BITS - content_len.leading_zeros()).div_ceil(8) as usize
    };
    1 + len_octets + content_len
}

/// Writes DER into a buffer of exactly the right length.
pub(in crate::crypto) struct Writer<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub(in crate::crypto) fn new(out: &'a mut [u8]) -> Self {
        Self { out, pos: 0 }
    }

    pub(in crate::crypto) fn bytes(&mut self, bytes: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(bytes.len())?;
        self.out.get_mut(self.pos..end)?.copy_from_slice(bytes);
        self.pos = end;
        Some(())
    }

    pub(in crate::crypto) fn header(&mut self, tag: u8, content_len: usize) -> Option<()> {
        self.bytes(&[tag])?;
        if content_len < 0x80 {
            return self.bytes(&[content_len as u8]);
        }
        let octets = content_len.to_be_bytes();
        let significant = strip_leading_zeros(&octets);
        self.bytes(&[0x80 | significant.len() as u8])?;
        self.bytes(significant)
    }

    pub(in crate::crypto) fn uint(&mut self, value: &[u8]) -> Option<()> {
        let value = strip_leading_zeros(value);
        self.header(INTEGER, uint_content_len(value))?;
        if value.first().is_none_or(|top| top & 0x80 != 0) {
            self.bytes(&[0])?;
        }
        self.bytes(value)
    }

    pub(in crate::crypto) fn tlv(&mut self, tag: u8, content: &[u8]) -> Option<()> {
        self.header(tag, content.len())?;
        self.bytes(content)
    }

    /// True once the buffer is exactly full.
    pub(in crate::crypto) fn is_full(&self) -> bool {
        self.pos == self.out.len()
    }
}

/// Encodes public (non-secret) DER into a vector with `write`, which must fill `len` bytes.
pub(in crate::crypto) fn encode(
    len: usize,
    write: impl FnOnce(&mut Writer<'_>) -> Option<()>,
) -> Option<Vec<u8>> {
    let mut out = vec![0; len];
    let mut writer = Writer::new(&mut out);
    write(&mut writer)?;
    writer.is_full().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_in_short_and_long_form() {
        for len in [0usize, 1, 127, 128, 255, 256, 65535, 65536] {
            let content = vec![0xab; len];
            let der = encode(tlv_len(len), |w| w.tlv(OCTET_STRING, &content)).unwrap();
            assert_eq!(der.len(), tlv_len(len));
            assert_eq!(Reader::single(&der, OCTET_STRING).unwrap(), &content[..]);
        }
    }

    #[test]
    fn integers_are_minimal_and_unsigned() {
        for (value, der) in [
            (&[][..], &[2, 1, 0][..]),
            (&[0, 0], &[2, 1, 0]),
            (&[0x7f], &[2, 1, 0x7f]),
            (&[0x80], &[2, 2, 0, 0x80]),
            (&[0, 1, 2], &[2, 2, 1, 2]),
        ] {
            let out = encode(tlv_len(uint_content_len(value)), |w| w.uint(value)).unwrap();
            assert_eq!(out, der);
            assert_eq!(Reader::new(&out).unsigned().unwrap(), strip_leading_zeros(value));
        }
        for bad in [&[2, 0][..], &[2, 1, 0x80], &[2, 2, 0, 1], &[2, 2, 0xff, 0xff]] {
            assert_eq!(Reader::new(bad).unsigned(), None, "{bad:?}");
        }
    }

    #[test]
    fn malformed_headers_are_refused() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x80, 0, 0],
            &[0x30, 0x81, 0x05, 0, 0, 0, 0, 0],
            &[0x30, 0x82, 0x00, 0x90],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x30, 0x03, 0],
            &[0x1f, 0x01, 0],
        ] {
            assert_eq!(Reader::new(bad).any(), None, "{bad:?}");
        }
        assert_eq!(Reader::single(&[0x04, 0x01, 0xaa, 0x00], OCTET_STRING), None);
        assert_eq!(Reader::single(&[0x04, 0x01, 0xaa], OID), None);
    }
}

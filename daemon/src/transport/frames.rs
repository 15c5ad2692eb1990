//! The little of HTTP/2 framing (RFC 9113 §4, §6.2, §6.10) the authority rewrite needs: frame
//! headers, and header blocks gathered from a HEADERS frame and its CONTINUATIONs and written back
//! as frames of their own.

/// Why a connection was ended: the client broke HTTP/2 framing or HPACK, or sent more header
/// bytes than the limit allows.
#[derive(Debug, thiserror::Error)]
pub(super) enum RewriteError {
    #[error("HTTP/2 framing error from the client: {0}")]
    Framing(&'static str),
    #[error("HPACK decoding error from the client: {0:?}")]
    Hpack(loona_hpack::decoder::DecoderError),
    #[error("request headers larger than {0} bytes")]
    HeadersTooLarge(usize),
}

/// The client connection preface (RFC 9113 §3.4).
pub(super) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The largest frame payload the server accepts: SETTINGS_MAX_FRAME_SIZE, which the server
/// leaves at the protocol's initial value.
pub(super) const MAX_FRAME_SIZE: usize = 16_384;

const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
const PRIORITY_FIELDS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FrameKind {
    Headers,
    Continuation,
    Other,
}

impl FrameKind {
    fn of(code: u8) -> Self {
        match code {
            0x1 => Self::Headers,
            0x9 => Self::Continuation,
            _ => Self::Other,
        }
    }

    pub(super) fn carries_headers(self) -> bool {
        self != Self::Other
    }
}

/// The nine bytes before every frame's payload.
#[derive(Debug, Clone, Copy)]
pub(super) struct FrameHeader {
    pub length: usize,
    pub kind: FrameKind,
    flags: u8,
    stream: u32,
}

impl FrameHeader {
    pub(super) const LENGTH: usize = 9;

    /// The header at the start of `bytes`, when all nine bytes are there.
    pub(super) fn parse(bytes: &[u8]) -> Option<Self> {
        let &[l0, l1, l2, kind, flags, s0, s1, s2, s3] = bytes.get(..Self::LENGTH)? else { return None };
        Some(Self {
            length: (usize::from(l0) << 16) | (usize::from(l1) << 8) | usize::from(l2),
            kind: FrameKind::of(kind),
            flags,
            stream: u32::from_be_bytes([s0 & 0x7f, s1, s2, s3]),
        })
    }

    fn write(out: &mut Vec<u8>, length: usize, kind: u8, flags: u8, stream: u32) {
        let length = u32::try_from(length).unwrap_or(u32::MAX).to_be_bytes();
        out.extend_from_slice(length.get(1..).unwrap_or_default());
        out.extend_from_slice(&[kind, flags]);
        out.extend_from_slice(&stream.to_be_bytes());
    }
}

/// A header block being gathered: HEADERS, then CONTINUATIONs until END_HEADERS.
#[derive(Debug)]
pub(super) struct HeaderBlock {
    stream: u32,
    end_stream: bool,
    priority: Option<[u8; PRIORITY_FIELDS]>,
    pub fragment: Vec<u8>,
    pub ended: bool,
}

impl HeaderBlock {
    /// Reads a HEADERS frame: drops its padding and keeps its priority fields.
    pub(super) fn start(header: &FrameHeader, payload: &[u8]) -> Result<Self, RewriteError> {
        let malformed = || RewriteError::Framing("malformed HEADERS frame");
        let (padding, rest) = match header.flags & PADDED {
            0 => (0, payload),
            _ => payload.split_first().map(|(pad, rest)| (usize::from(*pad), rest)).ok_or_else(malformed)?,
        };
        let (priority, rest) = match header.flags & PRIORITY {
            0 => (None, rest),
            _ => {
                let fields = rest.get(..PRIORITY_FIELDS).ok_or_else(malformed)?;
                let mut priority = [0; PRIORITY_FIELDS];
                priority.copy_from_slice(fields);
                (Some(priority), rest.get(PRIORITY_FIELDS..).unwrap_or_default())
            }
        };
        let fragment =
            rest.get(..rest.len().checked_sub(padding).ok_or_else(malformed)?).ok_or_else(malformed)?;
        Ok(Self {
            stream: header.stream,
            end_stream: header.flags & END_STREAM != 0,
            priority,
            fragment: fragment.to_vec(),
            ended: header.flags & END_HEADERS != 0,
        })
    }

    pub(super) fn continue_with(&mut self, header: &FrameHeader, payload: &[u8]) -> Result<(), RewriteError> {
        if header.stream != self.stream {
            return Err(RewriteError::Framing("CONTINUATION on another stream"));
        }
        self.fragment.extend_from_slice(payload);
        self.ended = header.flags & END_HEADERS != 0;
        Ok(())
    }

    /// Writes `encoded` (the re-encoded block) as a HEADERS frame with this block's stream,
    /// END_STREAM and priority, followed by CONTINUATIONs when it does not fit in one frame.
    pub(super) fn write_frames(&self, encoded: &[u8], out: &mut Vec<u8>) {
        let priority = self.priority.as_ref().map_or(&[][..], |p| p.as_slice());
        let first_room = MAX_FRAME_SIZE - priority.len();
        let (first, mut rest) = encoded.split_at(first_room.min(encoded.len()));
        let mut flags = if self.end_stream { END_STREAM } else { 0 };
        flags |= if self.priority.is_some() { PRIORITY } else { 0 };
        flags |= if rest.is_empty() { END_HEADERS } else { 0 };
        FrameHeader::write(out, priority.len() + first.len(), 0x1, flags, self.stream);
        out.extend_from_slice(priority);
        out.extend_from_slice(first);
        while !rest.is_empty() {
            let (chunk, after) = rest.split_at(MAX_FRAME_SIZE.min(rest.len()));
            let flags = if after.is_empty() { END_HEADERS } else { 0 };
            FrameHeader::write(out, chunk.len(), 0x9, flags, self.stream);
            out.extend_from_slice(chunk);
            rest = after;
        }
    }
}

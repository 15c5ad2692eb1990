//! Stock gRPC clients built on grpc-core (Python, C++, Ruby, …) and grpc-java send the socket
//! path (percent-encoded, or raw) as the HTTP/2 `:authority` of calls over a Unix socket. The
//! HTTP/2 server under tonic refuses any `:authority` that is not a valid URI authority and resets
//! the stream, and it has no setting to relax that. So the Unix listener puts this wrapper between
//! the socket and the server: it reads the client's HTTP/2 frames, decodes each header block
//! (HEADERS and its CONTINUATIONs) with an HPACK decoder that follows the client's dynamic table,
//! replaces an `:authority` the server would refuse by `localhost`, and re-encodes the block with
//! an encoder of its own whose table the server's decoder follows. Every other frame passes
//! through byte for byte; what the server writes goes to the client untouched. Over a Unix socket
//! the authority names nothing (the socket does), so the rewrite loses no information.
//!
//! A client sends the same authority on every call of a connection, so the first header block
//! decides: when its authority is one the server accepts (tonic, Go, hyper, curl), the block goes
//! on as the client encoded it and so does every byte after it, unread, with the server's table
//! following the client's own encoder; the decoding and re-encoding, which cost more than the rest
//! of a small call's HTTP/2 handling, are paid only by the clients that need them.
//! docs/decisions.md, "Authority rewriting on the Unix socket", says why it is done this way.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tonic::transport::server::Connected;

pub(super) use super::frames::RewriteError;
use super::frames::{FrameHeader, FrameKind, HeaderBlock, PREFACE};

/// What replaces an authority the server cannot parse.
const LOCAL_AUTHORITY: &[u8] = b"localhost";
/// The HPACK table size the server announces (the HTTP/2 default, which hyper does not change):
/// the most the client's encoder may use, and what the server's decoder expects of ours.
const HEADER_TABLE_SIZE: usize = 4096;
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 8 * 1024;

/// A decoded header field: name and value.
type Field = (Vec<u8>, Vec<u8>);

enum Stage {
    /// Matching the client connection preface; `usize` bytes of it seen so far.
    Preface(usize),
    /// Reading frames.
    Frames,
    /// Passed through untouched: not HTTP/2 with prior knowledge (for the server to refuse), or
    /// a client whose first header block the server accepts as it is.
    Opaque,
}

/// The client-to-server half of an HTTP/2 connection, rewritten frame by frame.
pub(super) struct AuthorityRewriter {
    stage: Stage,
    /// A frame header, or a whole HEADERS/CONTINUATION frame, still being gathered.
    partial: Vec<u8>,
    /// Payload bytes of the current pass-through frame not yet forwarded.
    passing: usize,
    block: Option<HeaderBlock>,
    /// A header block has been re-encoded: every later one must be, by the same encoder.
    rewriting: bool,
    decoder: loona_hpack::Decoder<'static>,
    encoder: loona_hpack::Encoder<'static>,
    max_header_list_size: usize,
}

impl std::fmt::Debug for AuthorityRewriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorityRewriter").field("passing", &self.passing).finish_non_exhaustive()
    }
}

impl AuthorityRewriter {
    pub(super) fn new(max_header_list_size: usize) -> Self {
        let mut decoder = loona_hpack::Decoder::new();
        decoder.set_max_allowed_table_size(HEADER_TABLE_SIZE);
        Self {
            stage: Stage::Preface(0),
            partial: Vec::new(),
            passing: 0,
            block: None,
            rewriting: false,
            decoder,
            encoder: loona_hpack::Encoder::new(),
            max_header_list_size,
        }
    }

    /// True once every byte the client sends passes untouched.
    pub(super) fn passes_through(&self) -> bool {
        matches!(self.stage, Stage::Opaque)
    }

    /// Consumes bytes the client sent and appends what the server should read to `out`.
    pub(super) fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), RewriteError> {
        while !input.is_empty() {
            input = match self.stage {
                Stage::Preface(seen) => self.match_preface(seen, input, out),
                Stage::Opaque => {
                    out.extend_from_slice(input);
                    &[]
                }
                Stage::Frames if self.passing > 0 => {
                    let (now, rest) = input.split_at(self.passing.min(input.len()));
                    out.extend_from_slice(now);
                    self.passing -= now.len();
                    rest
                }
                Stage::Frames => self.gather(input, out)?,
            };
        }
        Ok(())
    }

    fn match_preface<'a>(&mut self, seen: usize, input: &'a [u8], out: &mut Vec<u8>) -> &'a [u8] {
        let expected = PREFACE.get(seen..).unwrap_or_default();
        let length = expected.len().min(input.len());
        let (now, rest) = input.split_at(length);
        out.extend_from_slice(now);
        self.stage = match (expected.starts_with(now), seen + length == PREFACE.len()) {
            (false, _) => Stage::Opaque,
            (true, true) => Stage::Frames,
            (true, false) => Stage::Preface(seen + length),
        };
        rest
    }

    /// Gathers a frame header, then either passes the frame on or gathers it whole.
    fn gather<'a>(&mut self, input: &'a [u8], out: &mut Vec<u8>) -> Result<&'a [u8], RewriteError> {
        let wanted = match FrameHeader::parse(&self.partial) {
            None => FrameHeader::LENGTH,
            Some(header) => FrameHeader::LENGTH + header.length,
        };
        let take = wanted.saturating_sub(self.partial.len()).min(input.len());
        let (now, rest) = input.split_at(take);
        self.partial.extend_from_slice(now);
        if self.partial.len() < wanted {
            return Ok(rest);
        }
        let Some(header) = FrameHeader::parse(&self.partial) else { return Ok(rest) };
        if self.partial.len() == FrameHeader::LENGTH {
            if !header.kind.carries_headers() {
                if self.block.is_some() {
                    return Err(RewriteError::Framing("a frame interrupted a header block"));
                }
                out.append(&mut self.partial);
                self.passing = header.length;
                return Ok(rest);
            }
            if header.length > super::frames::MAX_FRAME_SIZE {
                return Err(RewriteError::Framing("a header frame exceeds the maximum frame size"));
            }
            if header.length > 0 {
                return Ok(rest);
            }
        }
        let frame = std::mem::take(&mut self.partial);
        self.header_frame(&header, frame.get(FrameHeader::LENGTH..).unwrap_or_default(), out)?;
        Ok(rest)
    }

    fn header_frame(
        &mut self,
        header: &FrameHeader,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), RewriteError> {
        match header.kind {
            FrameKind::Headers if self.block.is_none() => {
                self.block = Some(HeaderBlock::start(header, payload)?)
            }
            FrameKind::Headers => return Err(RewriteError::Framing("HEADERS inside a header block")),
            FrameKind::Continuation => match self.block.as_mut() {
                Some(block) => block.continue_with(header, payload)?,
                None => return Err(RewriteError::Framing("CONTINUATION without HEADERS")),
            },
            FrameKind::Other => return Err(RewriteError::Framing("unexpected frame")),
        }
        let Some(block) = self.block.as_ref() else { return Ok(()) };
        if block.fragment.len() > self.max_header_list_size {
            return Err(RewriteError::HeadersTooLarge(self.max_header_list_size));
        }
        if block.ended
            && let Some(block) = self.block.take()
        {
            let (fields, replaced) = self.decode(&block.fragment)?;
            if replaced || self.rewriting {
                self.rewriting = true;
                let encoded = self.encoder.encode(fields.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
                block.write_frames(&encoded, out);
            } else {
                // The client's first call names an authority the server accepts: its block goes
                // on as encoded, so the server's table is the client's, and so does the rest.
                block.write_frames(&block.fragment, out);
                self.stage = Stage::Opaque;
            }
        }
        Ok(())
    }

    /// The header list of a block, with an unusable `:authority` replaced (and whether one
    /// was). The list is bounded
    /// the way HTTP/2 counts it (name + value + 32 per field), so a small block referring many
    /// times to a large table entry cannot expand without limit.
    fn decode(&mut self, fragment: &[u8]) -> Result<(Vec<Field>, bool), RewriteError> {
        let limit = self.max_header_list_size;
        let (mut fields, mut size, mut replaced) = (Vec::new(), 0usize, false);
        self.decoder
            .decode_with_cb(fragment, |name, value| {
                size = size.saturating_add(name.len() + value.len() + 32);
                if size <= limit {
                    let value = match (name.as_ref(), usable_authority(&value)) {
                        (b":authority", false) => {
                            tracing::debug!(authority = %String::from_utf8_lossy(&value), "rewriting :authority");
                            replaced = true;
                            LOCAL_AUTHORITY.to_vec()
                        }
                        _ => value.into_owned(),
                    };
                    fields.push((name.into_owned(), value));
                }
            })
            .map_err(RewriteError::Hpack)?;
        if size > limit {
            return Err(RewriteError::HeadersTooLarge(limit));
        }
        Ok((fields, replaced))
    }
}

/// Whether the HTTP/2 server accepts `value` as an authority.
fn usable_authority(value: &[u8]) -> bool {
    http::uri::Authority::try_from(value).is_ok()
}

/// A Unix socket whose client-to-server bytes go through an [`AuthorityRewriter`].
#[derive(Debug)]
pub(crate) struct AuthorityRewrite<S> {
    inner: S,
    rewriter: AuthorityRewriter,
    chunk: Vec<u8>,
    ready: Vec<u8>,
    ready_from: usize,
}

impl<S> AuthorityRewrite<S> {
    pub(crate) fn new(inner: S, max_header_list_size: usize) -> Self {
        Self {
            inner,
            rewriter: AuthorityRewriter::new(max_header_list_size),
            chunk: Vec::new(),
            ready: Vec::new(),
            ready_from: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for AuthorityRewrite<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let pending = this.ready.get(this.ready_from..).unwrap_or_default();
            if !pending.is_empty() {
                let length = pending.len().min(buf.remaining());
                buf.put_slice(pending.get(..length).unwrap_or_default());
                this.ready_from += length;
                return Poll::Ready(Ok(()));
            }
            this.ready.clear();
            this.ready_from = 0;
            if this.rewriter.passes_through() {
                (this.chunk, this.ready) = (Vec::new(), Vec::new());
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            this.chunk.resize(READ_CHUNK, 0);
            let mut chunk = ReadBuf::new(&mut this.chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut chunk) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Ready(Ok(())) if chunk.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {}
            }
            if let Err(error) = this.rewriter.feed(chunk.filled(), &mut this.ready) {
                tracing::debug!(%error, "ending a Unix socket connection");
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, error)));
            }
        }
    }
}

writes_through_to_inner!(AuthorityRewrite);

impl<S: Connected> Connected for AuthorityRewrite<S> {
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

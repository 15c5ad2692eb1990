//! The authority rewrite against frames built here and an independent HPACK decoder standing in
//! for the server: what the server reads must decode, with the server's own table, to exactly
//! what the client sent, `:authority` aside.

use super::authority::{AuthorityRewriter, RewriteError};
use super::frames::PREFACE;

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

const SETTINGS_FRAME: [u8; 15] = [0, 0, 6, 0x4, 0, 0, 0, 0, 0, 0, 0x3, 0, 0, 0, 100];

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec())).collect()
}

fn grpc_call(authority: &str, path: &str) -> Fields {
    fields(&[
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", authority),
        ("te", "trailers"),
        ("content-type", "application/grpc"),
        ("user-agent", "grpc-python/1.85.1 grpc-c/52.0.0 (linux; chttp2)"),
    ])
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(payload.len()).unwrap().to_be_bytes()[1..].to_vec();
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// What the server side sees: (stream, flags of the first frame, decoded fields) per header
/// block, and every other frame's bytes.
struct ServerView {
    blocks: Vec<(u32, u8, Fields)>,
    others: Vec<Vec<u8>>,
}

fn server_view(bytes: &[u8]) -> ServerView {
    assert!(bytes.starts_with(PREFACE), "the preface passes first");
    let mut rest = &bytes[PREFACE.len()..];
    let mut decoder = loona_hpack::Decoder::new();
    let (mut blocks, mut others) = (Vec::new(), Vec::new());
    let mut open: Option<(u32, u8, Vec<u8>)> = None;
    while !rest.is_empty() {
        let length = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        let (kind, flags) = (rest[3], rest[4]);
        let stream = u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]);
        let payload = &rest[9..9 + length];
        assert!(length <= 16_384, "frames fit the server's maximum frame size");
        match kind {
            0x1 => {
                assert_eq!(flags & 0x8, 0, "no padding is forwarded");
                let skip = if flags & 0x20 != 0 { 5 } else { 0 };
                open = Some((stream, flags, payload[skip..].to_vec()));
            }
            0x9 => open.as_mut().expect("CONTINUATION after HEADERS").2.extend_from_slice(payload),
            _ => others.push(rest[..9 + length].to_vec()),
        }
        if (kind == 0x1 || kind == 0x9) && flags & 0x4 != 0 {
            let (stream, first_flags, block) = open.take().unwrap();
            blocks.push((stream, first_flags, decoder.decode(&block).unwrap()));
        }
        rest = &rest[9 + length..];
    }
    ServerView { blocks, others }
}

fn rewrite(input: &[u8]) -> Result<Vec<u8>, RewriteError> {
    let mut rewriter = AuthorityRewriter::new(16 * 1024);
    let mut out = Vec::new();
    rewriter.feed(input, &mut out)?;
    Ok(out)
}

#[test]
fn a_socket_path_authority_becomes_localhost_and_everything_else_is_kept() {
    let mut client = loona_hpack::Encoder::new();
    let call = grpc_call("%2Frun%2Farca%2Farca.sock", "/arca.v1.KeyManagement/Encrypt");
    // PADDED and PRIORITY, as some clients send: padding dropped, priority kept.
    let mut payload = vec![3];
    payload.extend_from_slice(&[0, 0, 0, 0, 15]);
    payload.extend(client.encode(call.iter().map(|(n, v)| (&n[..], &v[..]))));
    payload.extend_from_slice(&[0, 0, 0]);
    let data = frame(0x0, 0x1, 1, b"\0\0\0\0\x02hi");
    let input = [PREFACE, &SETTINGS_FRAME, &frame(0x1, 0x4 | 0x8 | 0x20, 1, &payload), &data].concat();

    let view = server_view(&rewrite(&input).unwrap());
    let mut expected = call.clone();
    expected[3].1 = b"localhost".to_vec();
    assert_eq!(view.blocks, vec![(1, 0x4 | 0x20, expected)]);
    assert_eq!(view.others, vec![SETTINGS_FRAME.to_vec(), data], "other frames pass untouched");
}

#[test]
fn the_dynamic_tables_stay_in_step_across_calls_split_anywhere() {
    let mut client = loona_hpack::Encoder::new();
    let mut input = [PREFACE, &SETTINGS_FRAME].concat();
    let mut expected = Vec::new();
    for (n, authority) in ["/run/arca/arca.sock", "localhost:1234", "/run/arca/arca.sock"].iter().enumerate()
    {
        let stream = 1 + 2 * u32::try_from(n).unwrap();
        let mut call = grpc_call(authority, "/arca.v1.KeyManagement/Decrypt");
        call.push((b"x-request-id".to_vec(), format!("req-{n}").into_bytes()));
        call.push((b"x-tenant".to_vec(), b"payments".to_vec()));
        let block = client.encode(call.iter().map(|(n, v)| (&n[..], &v[..])));
        // HEADERS plus a CONTINUATION, ending the stream.
        let (head, tail) = block.split_at(block.len() / 2);
        input.extend(frame(0x1, 0x1, stream, head));
        input.extend(frame(0x9, 0x4, stream, tail));
        if authority.starts_with('/') {
            call[3].1 = b"localhost".to_vec();
        }
        expected.push((stream, 0x1 | 0x4, call));
    }
    let whole = rewrite(&input).unwrap();
    assert_eq!(server_view(&whole).blocks, expected);

    let mut rewriter = AuthorityRewriter::new(16 * 1024);
    let mut bytewise = Vec::new();
    for byte in &input {
        rewriter.feed(std::slice::from_ref(byte), &mut bytewise).unwrap();
    }
    assert_eq!(bytewise, whole, "the output does not depend on how reads split the input");
    assert!(!rewriter.passes_through(), "a connection that needed a rewrite is rewritten to its end");
}

#[test]
fn a_first_call_the_server_accepts_lets_the_connection_pass_untouched() {
    let mut client = loona_hpack::Encoder::new();
    let data = |stream| frame(0x0, 0x1, stream, b"\0\0\0\0\x02hi");
    let mut input = [PREFACE, &SETTINGS_FRAME].concat();
    let mut calls = Vec::new();
    // A client keeps its authority; one that changed it would be refused by the server as if
    // nothing stood between them.
    for (stream, authority) in [(1, "localhost:1234"), (3, "localhost:1234"), (5, "/run/arca/arca.sock")] {
        let mut call = grpc_call(authority, "/arca.v1.KeyManagement/Decrypt");
        call.push((b"x-request-id".to_vec(), format!("req-{stream}").into_bytes()));
        let block = client.encode(call.iter().map(|(n, v)| (&n[..], &v[..])));
        input.extend(frame(0x1, 0x4, stream, &block));
        input.extend(data(stream));
        calls.push((stream, 0x4, call));
    }
    let mut rewriter = AuthorityRewriter::new(16 * 1024);
    let mut out = Vec::new();
    for piece in input.chunks(7) {
        rewriter.feed(piece, &mut out).unwrap();
    }
    assert_eq!(out, input, "every byte passes as the client sent it");
    assert!(rewriter.passes_through());
    assert_eq!(server_view(&out).blocks, calls);
}

#[test]
fn a_block_larger_than_one_frame_is_written_as_continuations() {
    let mut client = loona_hpack::Encoder::new();
    let mut call = grpc_call("/run/arca/arca.sock", "/arca.v1.Admin/Status");
    for n in 0..8 {
        call.push((format!("x-big-{n}").into_bytes(), vec![b'a'; 2500]));
    }
    let block = client.encode(call.iter().map(|(n, v)| (&n[..], &v[..])));
    let (head, tail) = block.split_at(16_000);
    let input = [PREFACE, &frame(0x1, 0x1, 1, head), &frame(0x9, 0x4, 1, tail)].concat();
    let mut rewriter = AuthorityRewriter::new(64 * 1024);
    let mut out = Vec::new();
    rewriter.feed(&input, &mut out).unwrap();
    call[3].1 = b"localhost".to_vec();
    let continuations = out.windows(4).filter(|w| w[3] == 0x9).count();
    assert!(continuations >= 1, "a 20 KB block needs a CONTINUATION");
    // HEADERS without END_HEADERS: the block goes on in CONTINUATIONs.
    assert!(server_view(&out).blocks == vec![(1, 0x1, call)], "the block is not what the client sent");
}

#[test]
fn framing_errors_and_oversized_headers_end_the_connection() {
    let mut client = loona_hpack::Encoder::new();
    let block = client.encode(grpc_call("/s", "/p").iter().map(|(n, v)| (&n[..], &v[..])));
    let interrupted = [PREFACE, &frame(0x1, 0, 1, &block), &SETTINGS_FRAME].concat();
    assert!(matches!(rewrite(&interrupted), Err(RewriteError::Framing(_))));
    let orphan = [PREFACE, &frame(0x9, 0x4, 1, &block)].concat();
    assert!(matches!(rewrite(&orphan), Err(RewriteError::Framing(_))));
    let bad_padding = [PREFACE, &frame(0x1, 0x4 | 0x8, 1, &[200, 1, 2])].concat();
    assert!(matches!(rewrite(&bad_padding), Err(RewriteError::Framing(_))));
    let garbage = [PREFACE, &frame(0x1, 0x4, 1, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff])].concat();
    assert!(matches!(rewrite(&garbage), Err(RewriteError::Hpack(_))));

    // A 3,000-byte entry put in the table once, then named 10 times in 10 bytes: 30 KB of headers.
    let mut bomb = vec![0x40, 6];
    bomb.extend_from_slice(b"x-fill");
    // 3000 = 127 + 57 + 22 * 128: the 7-bit prefix full, then 57 with the continuation bit, then 22.
    bomb.extend_from_slice(&[0x7f, 0x80 | 57, 22]);
    bomb.extend(std::iter::repeat_n(b'a', 3000));
    bomb.extend(std::iter::repeat_n(0x80 | 62, 10));
    let input = [PREFACE, &frame(0x1, 0x4, 1, &bomb)].concat();
    assert!(matches!(rewrite(&input), Err(RewriteError::HeadersTooLarge(16_384))));
}

#[test]
fn what_is_not_http2_passes_through_for_the_server_to_refuse() {
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(rewrite(request).unwrap(), request);
}

#[test]
fn hostile_bytes_never_panic() {
    // A fixed xorshift sequence: random frame headers and payloads after the preface.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let length = usize::try_from(next() % 64).unwrap();
        let kind = [0x0, 0x1, 0x9, 0x4][usize::try_from(next() % 4).unwrap()];
        let payload: Vec<u8> = (0..length).map(|_| next().to_le_bytes()[0]).collect();
        let flags = next().to_le_bytes()[0];
        let input = [PREFACE, &frame(kind, flags, 1, &payload), &frame(0x9, 0x4, 1, &payload)].concat();
        let _ = rewrite(&input);
    }
}

/// Through the socket wrapper, read a few bytes at a time: a first block the server accepts
/// (padded, with priority, continued in a CONTINUATION) reaches the server as the client's own
/// HPACK bytes, and everything after it, part of it buffered with the block and the rest read
/// straight from the socket, arrives whole and in order.
#[tokio::test]
async fn the_switch_to_pass_through_loses_and_reorders_nothing() {
    use tokio::io::AsyncReadExt as _;

    let mut client = loona_hpack::Encoder::new();
    let first = grpc_call("localhost", "/arca.v1.KeyManagement/Encrypt");
    let block = client.encode(first.iter().map(|(n, v)| (&n[..], &v[..])));
    let (head, tail) = block.split_at(block.len() / 2);
    let mut payload = vec![2];
    payload.extend_from_slice(&[0, 0, 0, 0, 15]);
    payload.extend_from_slice(head);
    payload.extend_from_slice(&[0, 0]);
    let mut after = frame(0x0, 0x1, 1, b"\0\0\0\0\x02hi");
    let mut later = Vec::new();
    for stream in [3, 5, 7] {
        let call = grpc_call("/run/arca/arca.sock", "/arca.v1.KeyManagement/Decrypt");
        let block = client.encode(call.iter().map(|(n, v)| (&n[..], &v[..])));
        after.extend(frame(0x1, 0x4, stream, &block));
        after.extend(frame(0x0, 0x1, stream, &vec![b'x'; 20_000][..16_000]));
        later.push((stream, 0x4, call));
    }
    let input =
        [PREFACE, &SETTINGS_FRAME, &frame(0x1, 0x8 | 0x20, 1, &payload), &frame(0x9, 0x4, 1, tail), &after]
            .concat();

    let mut socket = super::authority::AuthorityRewrite::new(&input[..], 16 * 1024);
    let (mut out, mut piece) = (Vec::new(), [0u8; 5]);
    loop {
        let read = socket.read(&mut piece).await.unwrap();
        if read == 0 {
            break;
        }
        out.extend_from_slice(&piece[..read]);
    }
    let view = server_view(&out);
    let mut expected = vec![(1, 0x20 | 0x4, first)];
    expected.extend(later);
    assert_eq!(view.blocks, expected, "the server decodes what the client encoded");
    assert!(out.ends_with(&after), "what follows the first block passes byte for byte");
}

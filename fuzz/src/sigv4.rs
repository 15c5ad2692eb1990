//! SigV4 verification (the AWS KMS front's `Authorization`, `X-Amz-Date` and signed headers): a
//! request in HTTP/1.1 text form, as AWS's SigV4 test suite writes them, is verified or refused
//! by an AWS exception name, never a panic; a refusal never shows the secret; and a request that
//! verifies is refused once its body changes by one byte.

use arca_daemon::fuzzing::{SIGV4_EXAMPLE_SECRET, sigv4_verify};

const EXCEPTIONS: [&str; 5] = [
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "KMSInternalException",
];

pub fn check(data: &[u8]) {
    crate::setup();
    let (head, body) = match data.windows(2).position(|pair| pair == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let Ok(head) = std::str::from_utf8(head) else { return };
    let mut lines = head.lines();
    let Some((method, rest)) = lines.next().and_then(|line| line.split_once(' ')) else { return };
    let target = rest.strip_suffix(" HTTP/1.1").unwrap_or(rest);
    let headers: Vec<(&str, &str)> = lines.filter_map(|line| line.split_once(':')).collect();
    let Some(outcome) = sigv4_verify(method, target, &headers, body) else { return };
    match outcome {
        Ok(principal) => {
            assert_eq!(principal, "uid:7");
            let mut altered = body.to_vec();
            altered.push(b'!');
            let again = sigv4_verify(method, target, &headers, &altered);
            assert!(matches!(again, Some(Err(_))), "a signature held for two bodies");
        }
        Err((name, message)) => {
            assert!(EXCEPTIONS.contains(&name), "unknown exception {name}");
            assert!(!message.contains(SIGV4_EXAMPLE_SECRET), "a refusal shows the secret: {message}");
        }
    }
}

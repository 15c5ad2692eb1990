//! KMS ciphertext blobs (`Decrypt`, `ReEncrypt`, `GenerateDataKeyWithoutPlaintext` output handed
//! back). A blob is refused or split into fields that are the bytes at their offsets; a blob
//! opens under the fixed fuzzing key only if it was sealed under it, and then to as many bytes
//! as it carries. The input is also sealed as a plaintext: it must open to itself, and not at
//! all once any byte of the blob is changed.

use std::collections::BTreeMap;

use arca_daemon::crypto::blob::{self, MIN_BLOB_LEN};
use arca_daemon::crypto::context::EncryptionContext;
use arca_daemon::secure_mem::SecretBuf;

/// The key the seed blobs were sealed under (not a secret: it exists to make seeds that open).
pub const FUZZ_KEY: [u8; 32] = [0x42; 32];

pub fn context() -> EncryptionContext {
    BTreeMap::from([("purpose".to_owned(), "fuzzing".to_owned())])
}

pub fn check(data: &[u8]) {
    crate::setup();
    let Ok(key) = SecretBuf::copy_from(&FUZZ_KEY) else { return };
    parse_hostile(data, &key);
    round_trip(data, &key);
}

fn parse_hostile(data: &[u8], key: &SecretBuf) {
    let Ok(parsed) = blob::parse(data) else {
        assert!(data.len() < MIN_BLOB_LEN || data.first() != Some(&blob::FORMAT_VERSION));
        return;
    };
    assert!(data.len() >= MIN_BLOB_LEN);
    assert_eq!(parsed.key_id.as_slice(), &data[1..17]);
    assert_eq!(parsed.key_version.to_be_bytes().as_slice(), &data[17..21]);
    if let Ok(plaintext) = parsed.open(key, &context()) {
        assert_eq!(plaintext.len(), data.len() - MIN_BLOB_LEN);
    }
}

fn round_trip(plaintext: &[u8], key: &SecretBuf) {
    let id = [7; 16];
    let sealed = blob::seal(&id, 3, key, plaintext, &context()).expect("sealing works");
    assert_eq!(sealed.len(), MIN_BLOB_LEN + plaintext.len());
    let parsed = blob::parse(&sealed).expect("a sealed blob parses");
    assert_eq!((parsed.key_id, parsed.key_version), (id, 3));
    let opened = parsed.open(key, &context()).expect("a sealed blob opens");
    assert_eq!(opened.as_slice(), plaintext);
    // Change one byte, chosen by the input, past the format byte.
    let mut tampered = sealed;
    let at = 1 + plaintext.first().map_or(0, |b| usize::from(*b)) % (tampered.len() - 1);
    tampered[at] ^= 0x01;
    if let Ok(parsed) = blob::parse(&tampered) {
        assert!(parsed.open(key, &context()).is_err(), "a changed byte {at} went unnoticed");
    }
}

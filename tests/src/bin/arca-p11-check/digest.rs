//! Digests, HMAC, C_DigestKey and C_GenerateRandom, checked against fixed vectors and OpenSSL.

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::session::Session;

use crate::keys;
use crate::openssl;
use crate::suite::{At, Ctx, Fail, Outcome, ensure, expect_rv, hex, message, odd_chunks};

/// SHA-2 of `data` computed by OpenSSL.
pub fn sha(bits: u32, data: &[u8]) -> Result<Vec<u8>, Fail> {
    openssl::digest(bits, data)
}

fn digest_mechanism(bits: u32) -> Mechanism<'static> {
    match bits {
        384 => Mechanism::Sha384,
        512 => Mechanism::Sha512,
        _ => Mechanism::Sha256,
    }
}

fn hmac_mechanism(bits: u32) -> Mechanism<'static> {
    match bits {
        160 => Mechanism::Sha1Hmac,
        224 => Mechanism::Sha224Hmac,
        384 => Mechanism::Sha384Hmac,
        512 => Mechanism::Sha512Hmac,
        _ => Mechanism::Sha256Hmac,
    }
}

/// FIPS 180-2 digests of "abc".
const ABC: [(u32, &str); 3] = [
    (256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (384, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
    (
        512,
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    ),
];

fn multi_digest(s: &Session, bits: u32, data: &[u8]) -> Result<Vec<u8>, Fail> {
    s.digest_init(&digest_mechanism(bits)).at("C_DigestInit")?;
    for chunk in odd_chunks(data) {
        s.digest_update(chunk).at("C_DigestUpdate")?;
    }
    s.digest_final().at("C_DigestFinal")
}

pub fn digests(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let long = message(1000);
    for (bits, expected) in ABC {
        let single = s.digest(&digest_mechanism(bits), b"abc").at(&format!("C_Digest(SHA-{bits})"))?;
        ensure!(hex(&single) == expected, "SHA-{bits}(\"abc\") = {}", hex(&single));
        let multi = multi_digest(&s, bits, b"abc")?;
        ensure!(hex(&multi) == expected, "multi-part SHA-{bits}(\"abc\") = {}", hex(&multi));
        let reference = sha(bits, &long)?;
        ensure!(
            multi_digest(&s, bits, &long)? == reference,
            "multi-part SHA-{bits} of 1000 bytes differs from OpenSSL"
        );
        let single = s.digest(&digest_mechanism(bits), &long).at("C_Digest")?;
        ensure!(single == reference, "SHA-{bits} of 1000 bytes differs from OpenSSL");
        let empty = s.digest(&digest_mechanism(bits), &[]).at("C_Digest(empty)")?;
        ensure!(empty == sha(bits, &[])?, "SHA-{bits} of nothing differs from OpenSSL");
    }
    Ok(())
}

pub fn hmac(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let msg = message(333);
    for bits in [160u32, 224, 256, 384, 512] {
        let value = message(bits as usize / 8 + 3);
        let key = keys::import_secret(&s, &value, "hmac", &[])?;
        let mechanism = hmac_mechanism(bits);
        let reference = openssl::hmac(bits, &value, &msg)?;
        let single = s.sign(&mechanism, key, &msg).at(&format!("C_Sign(SHA{bits}_HMAC)"))?;
        ensure!(single == reference, "HMAC-SHA{bits} differs from OpenSSL");
        s.sign_init(&mechanism, key).at("C_SignInit")?;
        for chunk in odd_chunks(&msg) {
            s.sign_update(chunk).at("C_SignUpdate")?;
        }
        ensure!(s.sign_final().at("C_SignFinal")? == reference, "multi-part HMAC-SHA{bits} differs");
        s.verify(&mechanism, key, &msg, &reference).at("C_Verify")?;
        s.verify_init(&mechanism, key).at("C_VerifyInit")?;
        for chunk in odd_chunks(&msg) {
            s.verify_update(chunk).at("C_VerifyUpdate")?;
        }
        s.verify_final(&reference).at("C_VerifyFinal")?;
        let mut wrong = reference.clone();
        if let Some(byte) = wrong.last_mut() {
            *byte ^= 1;
        }
        expect_rv(
            s.verify(&mechanism, key, &msg, &wrong),
            &[RvError::SignatureInvalid],
            "C_Verify(wrong MAC)",
        )?;
        let short = &reference[..reference.len() - 1];
        expect_rv(
            s.verify(&mechanism, key, &msg, short),
            &[RvError::SignatureLenRange],
            "C_Verify(short MAC)",
        )?;
        s.destroy_object(key).at("C_DestroyObject")?;
    }
    Ok(())
}

pub fn generate_random(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let a = s.generate_random_vec(32).at("C_GenerateRandom(32)")?;
    let b = s.generate_random_vec(32).at("C_GenerateRandom(32)")?;
    ensure!(a.len() == 32 && b.len() == 32, "wrong lengths");
    ensure!(a != b, "two random blocks are equal");
    ensure!(a.iter().any(|x| *x != 0), "random block is all zeros");
    let big = s.generate_random_vec(4096).at("C_GenerateRandom(4096)")?;
    let distinct = big.iter().collect::<std::collections::BTreeSet<_>>().len();
    ensure!(distinct > 200, "4096 random bytes take only {distinct} values");
    let mut slice = [0u8; 17];
    s.generate_random_slice(&mut slice).at("C_GenerateRandom(17)")?;
    ensure!(slice.iter().any(|x| *x != 0), "17 random bytes are all zeros");
    Ok(())
}

pub fn digest_key(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let value = message(32);
    let key = keys::import_secret(&s, &value, "digest-key", &[])?;
    s.digest_init(&Mechanism::Sha256).at("C_DigestInit")?;
    s.digest_update(b"before").at("C_DigestUpdate")?;
    s.digest_key(key).at("C_DigestKey")?;
    s.digest_update(b"after").at("C_DigestUpdate")?;
    let got = s.digest_final().at("C_DigestFinal")?;
    let expected = sha(256, &[b"before".as_slice(), &value, b"after"].concat())?;
    ensure!(got == expected, "C_DigestKey did not digest the key's value");
    Ok(())
}

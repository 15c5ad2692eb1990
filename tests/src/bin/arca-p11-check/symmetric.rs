//! AES modes, single- and multi-part, against NIST vectors (GCM) and `openssl enc` (the rest).

use std::os::raw::c_ulong;

use cryptoki::error::RvError;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;

use crate::keys;
use crate::openssl;
use crate::suite::{
    At, Ctx, Fail, Outcome, SoftHsm, ensure, expect_rv, expect_spec, hex, message, odd_chunks, unhex,
};

pub fn encrypt_multi(
    s: &Session,
    mechanism: &Mechanism,
    key: ObjectHandle,
    data: &[u8],
) -> Result<Vec<u8>, Fail> {
    s.encrypt_init(mechanism, key).at("C_EncryptInit")?;
    let mut out = Vec::new();
    for chunk in odd_chunks(data) {
        out.extend(s.encrypt_update(chunk).at("C_EncryptUpdate")?);
    }
    out.extend(s.encrypt_final().at("C_EncryptFinal")?);
    Ok(out)
}

pub fn decrypt_multi(
    s: &Session,
    mechanism: &Mechanism,
    key: ObjectHandle,
    data: &[u8],
) -> Result<Vec<u8>, Fail> {
    s.decrypt_init(mechanism, key).at("C_DecryptInit")?;
    let mut out = Vec::new();
    for chunk in odd_chunks(data) {
        out.extend(s.decrypt_update(chunk).at("C_DecryptUpdate")?);
    }
    out.extend(s.decrypt_final().at("C_DecryptFinal")?);
    Ok(out)
}

/// Encrypts single- and multi-part, compares both with `expected`, and decrypts both ways.
fn round_trip(
    s: &Session,
    mechanism: &Mechanism,
    key: ObjectHandle,
    plain: &[u8],
    expected: &[u8],
) -> Outcome {
    let name = mechanism.mechanism_type();
    let single = s.encrypt(mechanism, key, plain).at(&format!("C_Encrypt({name})"))?;
    ensure!(single == expected, "{name} single-part: {} expected {}", hex(&single), hex(expected));
    let multi = encrypt_multi(s, mechanism, key, plain)?;
    ensure!(multi == expected, "{name} multi-part: {} expected {}", hex(&multi), hex(expected));
    let back = s.decrypt(mechanism, key, expected).at(&format!("C_Decrypt({name})"))?;
    ensure!(back == plain, "{name} single-part decryption is wrong");
    let back = decrypt_multi(s, mechanism, key, expected)?;
    ensure!(back == plain, "{name} multi-part decryption is wrong");
    Ok(())
}

/// The GCM test cases 4 (AES-128) and 16 (AES-256) of McGrew & Viega, "The Galois/Counter Mode".
const GCM_PLAIN: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
const GCM_AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
const GCM_IV: &str = "cafebabefacedbaddecaf888";
const GCM_CASES: [(&str, &str); 2] = [
    (
        "feffe9928665731c6d6a8f9467308308",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091\
         5bc94fbc3221a5db94fae95ae7121a47",
    ),
    (
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662\
         76fc6ece0f4e1768cddf8853bb2d551b",
    ),
];

pub fn aes_gcm(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let (plain, aad) = (unhex(GCM_PLAIN), unhex(GCM_AAD));
    for (key_hex, expected) in GCM_CASES {
        let key = keys::import_aes(&s, &unhex(key_hex), "gcm", &[])?;
        let mut iv = unhex(GCM_IV);
        let mechanism = Mechanism::AesGcm(GcmParams::new(&mut iv, &aad, 128.into()).at("GcmParams")?);
        let expected = unhex(expected);
        round_trip(&s, &mechanism, key, &plain, &expected)?;
        let mut tampered = expected.clone();
        if let Some(byte) = tampered.get_mut(5) {
            *byte ^= 0x80;
        }
        let single = s.decrypt(&mechanism, key, &tampered);
        let deviation = SoftHsm::Gives(RvError::GeneralError);
        expect_spec(ctx, single, RvError::EncryptedDataInvalid, deviation, "C_Decrypt(GCM, tampered)")?;
        let multi = decrypt_multi(&s, &mechanism, key, &tampered);
        ensure!(multi.is_err(), "multi-part GCM decryption accepted a tampered ciphertext");
        let mut iv = unhex(GCM_IV);
        let other_aad = Mechanism::AesGcm(GcmParams::new(&mut iv, b"other", 128.into()).at("GcmParams")?);
        expect_spec(
            ctx,
            s.decrypt(&other_aad, key, &expected),
            RvError::EncryptedDataInvalid,
            deviation,
            "C_Decrypt(GCM, wrong AAD)",
        )?;
    }
    // A generated key and a 96-bit tag.
    let key = keys::gen_aes(&s, 32, false, "gcm-gen", &[])?;
    let mut iv = [7u8; 12];
    let mechanism = Mechanism::AesGcm(GcmParams::new(&mut iv, b"header", 96.into()).at("GcmParams")?);
    let data = message(70);
    let sealed = s.encrypt(&mechanism, key, &data).at("C_Encrypt(GCM, 96-bit tag)")?;
    ensure!(
        sealed.len() == data.len() + 12,
        "GCM with a 96-bit tag gave {} bytes for {}",
        sealed.len(),
        data.len()
    );
    ensure!(decrypt_multi(&s, &mechanism, key, &sealed)? == data, "GCM 96-bit tag round trip");
    Ok(())
}

pub fn aes_cbc_pad(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let value: Vec<u8> = (1..=16).collect();
    let key = keys::import_aes(&s, &value, "cbc-pad", &[])?;
    let iv = [0x42u8; 16];
    for len in [0usize, 15, 16, 37] {
        let data = message(len);
        let expected = openssl::cipher("aes-128-cbc", &value, Some(&iv), true, &data)?;
        round_trip(&s, &Mechanism::AesCbcPad(iv), key, &data, &expected)?;
    }
    let bad = s.decrypt(&Mechanism::AesCbcPad(iv), key, &[0u8; 20]);
    expect_rv(bad, &[RvError::EncryptedDataLenRange], "C_Decrypt(CBC_PAD, 20 bytes)")?;
    Ok(())
}

pub fn aes_cbc(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let value: Vec<u8> = (50..74).collect();
    let key = keys::import_aes(&s, &value, "cbc", &[])?;
    let iv = [0x24u8; 16];
    let data = message(48);
    let expected = openssl::cipher("aes-192-cbc", &value, Some(&iv), false, &data)?;
    round_trip(&s, &Mechanism::AesCbc(iv), key, &data, &expected)?;
    let short = s.encrypt(&Mechanism::AesCbc(iv), key, &data[..47]);
    expect_rv(short, &[RvError::DataLenRange], "C_Encrypt(CBC, 47 bytes)")?;
    let multi = encrypt_multi(&s, &Mechanism::AesCbc(iv), key, &data[..47]);
    ensure!(
        matches!(&multi, Err(Fail::Failed(why)) if why.contains("CKR_DATA_LEN_RANGE")),
        "multi-part CBC of 47 bytes: {multi:?}"
    );
    let bad = s.decrypt(&Mechanism::AesCbc(iv), key, &expected[..47]);
    expect_rv(bad, &[RvError::EncryptedDataLenRange], "C_Decrypt(CBC, 47 bytes)")?;
    Ok(())
}

pub fn aes_ecb(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let value: Vec<u8> = (200..232).collect();
    let key = keys::import_aes(&s, &value, "ecb", &[])?;
    let data = message(64);
    let expected = openssl::cipher("aes-256-ecb", &value, None, false, &data)?;
    round_trip(&s, &Mechanism::AesEcb, key, &data, &expected)?;
    expect_rv(
        s.encrypt(&Mechanism::AesEcb, key, &data[..30]),
        &[RvError::DataLenRange],
        "C_Encrypt(ECB, 30 bytes)",
    )?;
    Ok(())
}

/// CK_AES_CTR_PARAMS (cryptoki 0.12 has no CKM_AES_CTR variant: it goes in as a raw parameter).
#[repr(C)]
#[derive(Debug)]
pub struct CtrParams {
    pub counter_bits: c_ulong,
    pub counter_block: [u8; 16],
}

pub fn ctr_mechanism(params: &CtrParams) -> Mechanism<'_> {
    Mechanism::VendorDefined(VendorDefinedMechanism::new(MechanismType::AES_CTR, Some(params)))
}

pub fn aes_ctr(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let value: Vec<u8> = (9..25).collect();
    let key = keys::import_aes(&s, &value, "ctr", &[])?;
    let mut block = [0u8; 16];
    block[..8].copy_from_slice(&[0xF0, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7]);
    block[15] = 0xFE; // the counter wraps into byte 14 within the message
    let params = CtrParams { counter_bits: 128, counter_block: block };
    let data = message(75);
    let expected = openssl::cipher("aes-128-ctr", &value, Some(&block), false, &data)?;
    round_trip(&s, &ctr_mechanism(&params), key, &data, &expected)
}

/// PKCS#11 3.0 message-based AES-GCM (C_MessageEncryptInit … C_MessageDecryptFinal): the vectors
/// of the `cryptoki` crate's own tests, an IV the token completes (CKG_GENERATE_RANDOM behind a
/// fixed prefix), a forged tag, and a message outside an operation. Skipped on a 2.40 module.
pub fn aes_gcm_message(ctx: &Ctx) -> Outcome {
    use cryptoki::context::Function;
    use cryptoki::mechanism::MessageParam;
    use cryptoki::mechanism::aead::{GcmMessageParams, GeneratorFunction};

    if !ctx.pkcs11.is_fn_supported(Function::MessageEncryptInit) {
        return crate::suite::skip("the module has no PKCS#11 3.0 message-based functions");
    }
    let s = ctx.s();
    let key = keys::import_aes(&s, &[0; 16], "gcm-message", &[])?;
    let (mut iv, mut tag) = ([0u8; 12], [0u8; 12]);
    let plain = [0u8; 16];
    let aad = [0u8; 16];
    let params =
        GcmMessageParams::new(&mut iv, 96.into(), GeneratorFunction::NoGenerate, &mut tag).at("params")?;
    let outside = s.encrypt_message(&MessageParam::AesGcmMessage(params), &aad, &plain);
    expect_rv(outside, &[RvError::OperationNotInitialized], "C_EncryptMessage before C_MessageEncryptInit")?;
    let params =
        GcmMessageParams::new(&mut iv, 96.into(), GeneratorFunction::NoGenerate, &mut tag).at("params")?;
    s.message_encrypt_init(&Mechanism::AesGcmMessage(params), key).at("C_MessageEncryptInit")?;
    let params =
        GcmMessageParams::new(&mut iv, 96.into(), GeneratorFunction::NoGenerate, &mut tag).at("params")?;
    let sealed =
        s.encrypt_message(&MessageParam::AesGcmMessage(params), &aad, &plain).at("C_EncryptMessage")?;
    ensure!(hex(&sealed) == "0388dace60b6a392f328c2b971b2fe78", "ciphertext {}", hex(&sealed));
    ensure!(hex(&tag) == "d24e503a1bb037071c71b35d", "tag {}", hex(&tag));
    // The token completes an IV whose first 4 bytes are the application's.
    let (mut generated, mut generated_tag) = ([0xA5u8; 12], [0u8; 16]);
    let params = GcmMessageParams::new(
        &mut generated,
        32.into(),
        GeneratorFunction::GenerateRandom,
        &mut generated_tag,
    )
    .at("params")?;
    let other = s
        .encrypt_message(&MessageParam::AesGcmMessage(params), b"", b"attack at dawn")
        .at("C_EncryptMessage(CKG_GENERATE_RANDOM)")?;
    ensure!(generated[..4] == [0xA5; 4], "the fixed part of the IV changed: {}", hex(&generated));
    ensure!(generated[4..] != [0xA5; 8], "the token did not generate the IV's remaining bytes");
    s.message_encrypt_final().at("C_MessageEncryptFinal")?;

    let params =
        GcmMessageParams::new(&mut iv, 96.into(), GeneratorFunction::NoGenerate, &mut tag).at("params")?;
    s.message_decrypt_init(&Mechanism::AesGcmMessage(params), key).at("C_MessageDecryptInit")?;
    let params =
        GcmMessageParams::new(&mut iv, 96.into(), GeneratorFunction::NoGenerate, &mut tag).at("params")?;
    let opened =
        s.decrypt_message(&MessageParam::AesGcmMessage(params), &aad, &sealed).at("C_DecryptMessage")?;
    ensure!(opened == plain, "decrypted {}", hex(&opened));
    let params =
        GcmMessageParams::new(&mut generated, 0.into(), GeneratorFunction::NoGenerate, &mut generated_tag)
            .at("params")?;
    let opened = s
        .decrypt_message(&MessageParam::AesGcmMessage(params), b"", &other)
        .at("C_DecryptMessage (token IV)")?;
    ensure!(opened == b"attack at dawn", "decrypted {}", hex(&opened));
    tag[0] ^= 1;
    let params =
        GcmMessageParams::new(&mut iv, 96.into(), GeneratorFunction::NoGenerate, &mut tag).at("params")?;
    let forged = s.decrypt_message(&MessageParam::AesGcmMessage(params), &aad, &sealed);
    expect_rv(forged, &[RvError::EncryptedDataInvalid], "C_DecryptMessage with a forged tag")?;
    s.message_decrypt_final().at("C_MessageDecryptFinal")?;
    Ok(())
}

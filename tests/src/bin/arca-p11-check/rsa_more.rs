//! RSA beyond the common subset: 1024-bit key pairs and the key-size range, CKM_RSA_X_509, PSS
//! with SHA-1 and SHA-224 and any salt that fits, OAEP with SHA-224 and labels. OpenSSL checks
//! every signature and ciphertext.

use cryptoki::error::RvError;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::AttributeType;

use crate::digest::sha;
use crate::keys;
use crate::openssl::{self, Scratch};
use crate::suite::{
    At, Ctx, Fail, Outcome, SoftHsm, ensure, expect_rv, expect_spec, get_ulong, message, skip,
};

fn md(bits: u32) -> String {
    if bits == 1 { "sha1".to_owned() } else { format!("sha{bits}") }
}

fn hash_and_mgf(bits: u32) -> (MechanismType, PkcsMgfType) {
    match bits {
        1 => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
        224 => (MechanismType::SHA224, PkcsMgfType::MGF1_SHA224),
        _ => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
    }
}

fn pss(bits: u32, salt: u64) -> PkcsPssParams {
    let (hash_alg, mgf) = hash_and_mgf(bits);
    PkcsPssParams { hash_alg, mgf, s_len: salt.into() }
}

/// `openssl pkeyutl` with a public key (SPKI DER) and options; returns its output.
fn pkeyutl(
    spki: &[u8],
    verb: &str,
    input: &[u8],
    extra: &[&str],
    options: &[String],
) -> Result<Vec<u8>, crate::suite::Fail> {
    let scratch = Scratch::new()?;
    let key = scratch.write("pub.der", spki)?;
    let data = scratch.write("in", input)?;
    let (key, data) = (key.to_string_lossy().into_owned(), data.to_string_lossy().into_owned());
    let mut args = vec!["pkeyutl", verb, "-pubin", "-keyform", "DER", "-inkey", &key, "-in", &data];
    args.extend_from_slice(extra);
    for option in options {
        args.extend(["-pkeyopt", option.as_str()]);
    }
    openssl::run(&args)
}

fn openssl_verify_pss(spki: &[u8], bits: u32, salt: u64, digest: &[u8], signature: &[u8]) -> Outcome {
    openssl::verify_digest_pss(spki, bits, salt, digest, signature)
}

/// A 1024-bit key pair (SoftHSM2's default test size): generated, sized, and used for PKCS#1
/// v1.5 signatures and encryption and OAEP, OpenSSL on the other side.
pub fn rsa_1024_key_pair(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let pair = keys::gen_rsa(&s, 1024, false, "rsa-1024")?;
    let bits = get_ulong(&s, pair.public, AttributeType::ModulusBits)?;
    ensure!(bits == 1024, "CKA_MODULUS_BITS is {bits}");
    let spki = keys::rsa_spki(&s, pair.public)?;
    let msg = message(300);
    let signature =
        s.sign(&Mechanism::Sha256RsaPkcs, pair.private, &msg).at("C_Sign(SHA256_RSA_PKCS, 1024)")?;
    ensure!(signature.len() == 128, "a 1024-bit signature of {} bytes", signature.len());
    openssl::verify_message(&spki, openssl::SigOpts { bits: 256, pss: false }, &msg, &signature)?;
    s.verify(&Mechanism::Sha256RsaPkcs, pair.public, &msg, &signature).at("C_Verify")?;
    let from_openssl = openssl::rsa_encrypt(&spki, None, b"pkcs1 to a 1024-bit key")?;
    let opened = s.decrypt(&Mechanism::RsaPkcs, pair.private, &from_openssl).at("C_Decrypt(CKM_RSA_PKCS)")?;
    ensure!(opened == b"pkcs1 to a 1024-bit key", "OpenSSL's PKCS#1 ciphertext decrypts wrongly");
    let oaep = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA1,
        PkcsMgfType::MGF1_SHA1,
        PkcsOaepSource::empty(),
    ));
    let from_openssl = openssl::rsa_encrypt(&spki, Some(1), b"oaep")?;
    ensure!(s.decrypt(&oaep, pair.private, &from_openssl).at("C_Decrypt(OAEP, 1024)")? == b"oaep", "OAEP");
    let digest = sha(1, &msg)?;
    let mechanism = Mechanism::RsaPkcsPss(pss(1, 20));
    let signature = s.sign(&mechanism, pair.private, &digest).at("C_Sign(CKM_RSA_PKCS_PSS, SHA-1)")?;
    openssl_verify_pss(&spki, 1, 20, &digest, &signature)
}

/// CKA_MODULUS_BITS outside C_GetMechanismInfo's range is CKR_ATTRIBUTE_VALUE_INVALID (PKCS#11
/// lists it for C_GenerateKeyPair; CKR_KEY_SIZE_RANGE is for operations on existing keys); on
/// Arca also 1000, 5000 and 1028 (Arca generates multiples of 8).
pub fn rsa_key_size_range(ctx: &Ctx) -> Outcome {
    let info = ctx
        .pkcs11
        .get_mechanism_info(ctx.slot, MechanismType::RSA_PKCS_KEY_PAIR_GEN)
        .at("C_GetMechanismInfo")?;
    let (min, max) = (info.min_key_size() as u64, info.max_key_size() as u64);
    let mut sizes = vec![min - 8, max + 8];
    if ctx.arca() {
        ensure!((min, max) == (1024, 4096), "Arca's RSA sizes are {min} to {max}");
        sizes.extend([1000, 5000, 1028]);
    }
    let spec = "CKR_ATTRIBUTE_VALUE_INVALID";
    for bits in sizes {
        match keys::gen_rsa(&ctx.s(), bits, false, "rsa-size") {
            Err(Fail::Failed(why)) if why.contains(spec) => {}
            // SoftHSM 2.6.1 does not check the size: OpenSSL fails outside its own range.
            Err(Fail::Failed(why)) if !ctx.arca() && why.contains("CKR_GENERAL_ERROR") => {
                ctx.note(format!(
                    "SoftHSM deviation: {bits} bits gave CKR_GENERAL_ERROR, PKCS#11 says {spec}"
                ));
            }
            Err(Fail::Failed(why)) => return crate::suite::fail(format!("{bits} bits: {why}")),
            other => return crate::suite::fail(format!("{bits} bits: expected {spec}, got {other:?}")),
        }
    }
    Ok(())
}

/// C_CreateObject of OpenSSL's 1024- and 1536-bit private keys: the token's PKCS#1 v1.5 signature
/// is OpenSSL's, and OAEP decrypts; a 1016-bit key is CKR_ATTRIBUTE_VALUE_INVALID on Arca.
pub fn import_rsa_legacy_sizes(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    for bits in [1024, 1536] {
        let key = openssl::rsa_key(bits)?;
        let template = crate::objects::rsa_private_template(&key.parts, "import-rsa-legacy");
        let private = s.create_object(&template).at(&format!("C_CreateObject(RSA private key, {bits})"))?;
        let msg = message(77);
        let signature = s.sign(&Mechanism::Sha256RsaPkcs, private, &msg).at("C_Sign(SHA256_RSA_PKCS)")?;
        ensure!(signature == openssl::sign_message(&key.file, 256, &msg)?, "{bits}: differs from OpenSSL's");
        let sealed = openssl::rsa_encrypt(&key.file.spki, Some(1), b"legacy")?;
        let oaep = Mechanism::RsaPkcsOaep(crate::rsa::oaep(1));
        ensure!(s.decrypt(&oaep, private, &sealed).at("C_Decrypt(OAEP)")? == b"legacy", "{bits}: OAEP");
    }
    if ctx.arca() {
        // Below Arca's range (SoftHSM2's starts at 512 bits and takes it).
        let small = openssl::rsa_key(1016)?;
        let created = s.create_object(&crate::objects::rsa_private_template(&small.parts, "import-rsa-1016"));
        expect_rv(created, &[RvError::AttributeValueInvalid], "C_CreateObject(RSA private key, 1016 bits)")?;
    }
    Ok(())
}

/// CKM_RSA_X_509: signatures OpenSSL recovers unpadded, encryption both ways, the input left-padded
/// with zeros, and input longer than the modulus refused with CKR_DATA_LEN_RANGE.
pub fn rsa_x_509(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let pair = ctx.rsa()?;
    let spki = keys::rsa_spki(&s, pair.public)?;
    let none = ["rsa_padding_mode:none".to_owned()];
    let mut block = message(256);
    block[0] = 0;
    let signature = s.sign(&Mechanism::RsaX509, pair.private, &block).at("C_Sign(CKM_RSA_X_509)")?;
    ensure!(
        pkeyutl(&spki, "-verifyrecover", &signature, &[], &none)? == block,
        "OpenSSL recovers other bytes"
    );
    s.verify(&Mechanism::RsaX509, pair.public, &block, &signature).at("C_Verify(CKM_RSA_X_509)")?;
    let short = s.sign(&Mechanism::RsaX509, pair.private, &block[1..]).at("C_Sign(CKM_RSA_X_509, k - 1)")?;
    ensure!(short == signature, "a shorter input is not left-padded with zeros");
    let sealed = pkeyutl(&spki, "-encrypt", &block, &[], &none)?;
    let opened = s.decrypt(&Mechanism::RsaX509, pair.private, &sealed).at("C_Decrypt(CKM_RSA_X_509)")?;
    ensure!(opened == block, "C_Decrypt(CKM_RSA_X_509) gives other bytes");
    let ours = s.encrypt(&Mechanism::RsaX509, pair.public, &block).at("C_Encrypt(CKM_RSA_X_509)")?;
    ensure!(ours == sealed, "unpadded encryption differs from OpenSSL's");
    if !ctx.arca() {
        // SoftHSM 2.6.1 ends the whole process on CKM_RSA_X_509 input longer than the modulus.
        ctx.note("SoftHSM: input longer than the modulus not tried (it ends the process)");
        return Ok(());
    }
    let long = s.encrypt(&Mechanism::RsaX509, pair.public, &message(257));
    expect_rv(long, &[RvError::DataLenRange], "C_Encrypt(CKM_RSA_X_509, k + 1)")?;
    let long = s.sign(&Mechanism::RsaX509, pair.private, &message(257));
    expect_rv(long, &[RvError::DataLenRange], "C_Sign(CKM_RSA_X_509, k + 1)")?;
    let mut above = vec![0xff; 256];
    above[255] = 0xfe;
    let above = s.sign(&Mechanism::RsaX509, pair.private, &above);
    expect_rv(above, &[RvError::DataInvalid], "C_Sign(CKM_RSA_X_509, k bytes above the modulus)")?;
    Ok(())
}

/// PSS with SHA-1 and SHA-224 (CKM_RSA_PKCS_PSS and CKM_SHA1_RSA_PKCS_PSS) and salts of 0, 20
/// and the most the key has room for; one byte more is CKR_MECHANISM_PARAM_INVALID.
pub fn rsa_pss_sha1_sha224(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let pair = ctx.rsa()?;
    let spki = keys::rsa_spki(&s, pair.public)?;
    let msg = message(123);
    for (bits, h_len) in [(1, 20), (224, 28), (256, 32)] {
        let digest = sha(bits, &msg)?;
        let most = 256 - h_len - 2;
        for salt in [0, 20, most] {
            let mechanism = Mechanism::RsaPkcsPss(pss(bits, salt));
            let what = format!("C_Sign(CKM_RSA_PKCS_PSS, {}, salt {salt})", md(bits));
            let signature = s.sign(&mechanism, pair.private, &digest).at(&what)?;
            openssl_verify_pss(&spki, bits, salt, &digest, &signature)?;
            s.verify(&mechanism, pair.public, &digest, &signature).at("C_Verify(PSS)")?;
        }
        let t = ctx.rw()?;
        let init = t.sign_init(&Mechanism::RsaPkcsPss(pss(bits, most + 1)), pair.private);
        let what = format!("C_SignInit(PSS, salt {})", most + 1);
        expect_spec(ctx, init, RvError::MechanismParamInvalid, SoftHsm::Succeeds, &what)?;
    }
    let mechanism = Mechanism::Sha1RsaPkcsPss(pss(1, 20));
    let signature = s.sign(&mechanism, pair.private, &msg).at("C_Sign(CKM_SHA1_RSA_PKCS_PSS)")?;
    openssl_verify_pss(&spki, 1, 20, &sha(1, &msg)?, &signature)?;
    crate::rsa::verify_multi(&s, &mechanism, pair.public, &msg, &signature)
}

/// The layout of CK_RSA_PKCS_OAEP_PARAMS, for parameters the `cryptoki` crate will not build.
#[repr(C)]
struct RawOaepParams {
    hash_alg: std::ffi::c_ulong,
    mgf: std::ffi::c_ulong,
    source: std::ffi::c_ulong,
    source_data: *const u8,
    source_data_len: std::ffi::c_ulong,
}

/// OAEP with SHA-224 and with labels both ways with OpenSSL; a label without
/// CKZ_DATA_SPECIFIED is CKR_MECHANISM_PARAM_INVALID.
pub fn rsa_oaep_sha224_label(ctx: &Ctx) -> Outcome {
    if !ctx.arca() {
        return skip("SoftHSM 2.6.1 implements CKM_RSA_PKCS_OAEP with SHA-1 and no label only");
    }
    let s = ctx.s();
    let pair = ctx.rsa()?;
    let spki = keys::rsa_spki(&s, pair.public)?;
    for (bits, label) in [(224, &b""[..]), (224, b"arca label"), (256, b"arca label"), (1, b"l")] {
        let (hash, mgf) = hash_and_mgf(bits);
        let source =
            if label.is_empty() { PkcsOaepSource::empty() } else { PkcsOaepSource::data_specified(label) };
        let mechanism = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(hash, mgf, source));
        let mut options = vec![
            "rsa_padding_mode:oaep".to_owned(),
            format!("rsa_oaep_md:{}", md(bits)),
            format!("rsa_mgf1_md:{}", md(bits)),
        ];
        if !label.is_empty() {
            options.push(format!("rsa_oaep_label:{}", crate::suite::hex(label)));
        }
        let sealed = pkeyutl(&spki, "-encrypt", b"labelled", &[], &options)?;
        let what = format!("C_Decrypt(OAEP {}, label {label:?})", md(bits));
        ensure!(
            s.decrypt(&mechanism, pair.private, &sealed).at(&what)? == b"labelled",
            "{what}: wrong plaintext"
        );
        let ours = s.encrypt(&mechanism, pair.public, b"round trip").at("C_Encrypt(OAEP)")?;
        ensure!(s.decrypt(&mechanism, pair.private, &ours).at(&what)? == b"round trip", "{what}: round trip");
        let other =
            Mechanism::RsaPkcsOaep(PkcsOaepParams::new(hash, mgf, PkcsOaepSource::data_specified(b"other")));
        expect_rv(
            s.decrypt(&other, pair.private, &sealed),
            &[RvError::EncryptedDataInvalid],
            "C_Decrypt, other label",
        )?;
    }
    let label = b"no source";
    let params = RawOaepParams {
        hash_alg: 0x250, // CKM_SHA256
        mgf: 2,          // CKG_MGF1_SHA256
        source: 0,
        source_data: label.as_ptr(),
        source_data_len: label.len() as std::ffi::c_ulong,
    };
    let mechanism =
        Mechanism::VendorDefined(VendorDefinedMechanism::new(MechanismType::RSA_PKCS_OAEP, Some(&params)));
    let init = s.encrypt(&mechanism, pair.public, b"x");
    expect_rv(
        init,
        &[RvError::MechanismParamInvalid],
        "C_EncryptInit(OAEP, label without CKZ_DATA_SPECIFIED)",
    )?;
    Ok(())
}

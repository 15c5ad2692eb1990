//! AES-CMAC, the SHA-n HMAC key generators and the secret-key derivations (concatenation, XOR,
//! extraction, AES ENCRYPT_DATA, HKDF), against NIST SP 800-38B and RFC 5869 vectors and
//! `openssl enc`. A mechanism the module does not list is skipped (SoftHSM 2.6.1 has AES-CMAC and
//! the AES ENCRYPT_DATA mechanisms, not the others). `cryptoki` 0.12 cannot name
//! CKM_AES_CMAC_GENERAL or CKM_AES_ECB_ENCRYPT_DATA: the end-to-end tests drive those.

use cryptoki::error::RvError;
use cryptoki::mechanism::ekdf::AesCbcDeriveParams;
use cryptoki::mechanism::hkdf::{HkdfParams, HkdfSalt};
use cryptoki::mechanism::misc::{ExtractParams, KeyDerivationStringData};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use crate::keys::merge;
use crate::openssl;
use crate::suite::{
    At, Ctx, Fail, Outcome, ensure, expect_rv, get_bytes, hex, label, odd_chunks, skip, unhex,
};

/// Skips a check whose mechanisms the module does not list.
fn offered(ctx: &Ctx, mechanisms: &[MechanismType]) -> Outcome {
    let list = ctx.pkcs11.get_mechanism_list(ctx.slot).at("C_GetMechanismList")?;
    match mechanisms.iter().find(|m| !list.contains(m)) {
        Some(missing) => skip(format!("the module does not offer {missing}")),
        None => Ok(()),
    }
}

/// A session secret key with `value`, usable for `uses`, readable unless `sensitive`.
fn import(
    s: &Session,
    key_type: KeyType,
    value: &[u8],
    sensitive: bool,
    uses: &[Attribute],
) -> Result<ObjectHandle, Fail> {
    let template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(key_type),
        Attribute::Value(value.to_vec()),
        Attribute::Token(false),
        Attribute::Sensitive(sensitive),
        Attribute::Extractable(true),
        Attribute::Label(label("derive-base")),
    ];
    s.create_object(&merge(template, uses)).at("C_CreateObject(secret key)")
}

/// What a derived key's template asks: a readable generic secret of `len` bytes (if given).
fn derived_template(len: Option<u64>) -> Vec<Attribute> {
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ];
    template.extend(len.map(|len| Attribute::ValueLen(len.into())));
    template
}

fn derive_value(
    s: &Session,
    mechanism: &Mechanism,
    base: ObjectHandle,
    len: Option<u64>,
) -> Result<Vec<u8>, Fail> {
    let what = format!("C_DeriveKey({})", mechanism.mechanism_type());
    let key = s.derive_key(mechanism, base, &derived_template(len)).at(&what)?;
    get_bytes(s, key, AttributeType::Value)
}

/// NIST SP 800-38B appendix D.1 (AES-128): message lengths 0, 16, 40, 64 and their tags.
const CMAC_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const CMAC_MESSAGE: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
const CMAC_TAGS: [(usize, &str); 4] = [
    (0, "bb1d6929e95937287fa37d129b756746"),
    (16, "070a16b46b4d4144f79bdd9dd04a287c"),
    (40, "dfa66747de9ae63030ca32611497c827"),
    (64, "51f0bebf7e3b9d92fc49741779363cfe"),
];

pub fn aes_cmac(ctx: &Ctx) -> Outcome {
    offered(ctx, &[MechanismType::AES_CMAC])?;
    let s = ctx.s();
    let key =
        import(&s, KeyType::AES, &unhex(CMAC_KEY), false, &[Attribute::Sign(true), Attribute::Verify(true)])?;
    let message = unhex(CMAC_MESSAGE);
    for (len, tag) in CMAC_TAGS {
        let data = &message[..len];
        let single = s.sign(&Mechanism::AesCMac, key, data).at("C_Sign(CKM_AES_CMAC)")?;
        ensure!(hex(&single) == tag, "AES-CMAC of {len} bytes: {}", hex(&single));
        s.sign_init(&Mechanism::AesCMac, key).at("C_SignInit(CKM_AES_CMAC)")?;
        for chunk in odd_chunks(data) {
            s.sign_update(chunk).at("C_SignUpdate")?;
        }
        ensure!(hex(&s.sign_final().at("C_SignFinal")?) == tag, "multi-part AES-CMAC of {len} bytes");
        s.verify(&Mechanism::AesCMac, key, data, &unhex(tag)).at("C_Verify(CKM_AES_CMAC)")?;
    }
    let mut forged = unhex(CMAC_TAGS[1].1);
    forged[0] ^= 1;
    let refused = s.verify(&Mechanism::AesCMac, key, &message[..16], &forged);
    expect_rv(refused, &[RvError::SignatureInvalid], "C_Verify(CKM_AES_CMAC, altered tag)")?;
    Ok(())
}

pub fn sha_key_gen(ctx: &Ctx) -> Outcome {
    offered(ctx, &[MechanismType::SHA256_KEY_GEN])?;
    let s = ctx.s();
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::ValueLen(32.into()),
        Attribute::Token(false),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Label(label("sha256-key-gen")),
    ];
    let key = s.generate_key(&Mechanism::Sha256KeyGen, &template).at("C_GenerateKey(CKM_SHA256_KEY_GEN)")?;
    let key_type =
        s.get_attributes(key, &[AttributeType::KeyType]).at("C_GetAttributeValue(CKA_KEY_TYPE)")?;
    ensure!(key_type == [Attribute::KeyType(KeyType::SHA256_HMAC)], "CKA_KEY_TYPE reads {key_type:?}");
    let tag = s.sign(&Mechanism::Sha256Hmac, key, b"abc").at("C_Sign(CKM_SHA256_HMAC)")?;
    s.verify(&Mechanism::Sha256Hmac, key, b"abc", &tag).at("C_Verify(CKM_SHA256_HMAC)")?;
    Ok(())
}

pub fn derive_concatenate_xor_extract(ctx: &Ctx) -> Outcome {
    use MechanismType as M;
    offered(ctx, &[M::CONCATENATE_BASE_AND_KEY, M::CONCATENATE_BASE_AND_DATA, M::XOR_BASE_AND_DATA])?;
    let s = ctx.s();
    let (a, b) = (unhex("0011223344556677"), unhex("8899aabbccddeeff0102"));
    let base = import(&s, KeyType::GENERIC_SECRET, &a, false, &[Attribute::Derive(true)])?;
    let other = import(&s, KeyType::GENERIC_SECRET, &b, false, &[Attribute::Derive(true)])?;
    let joined = derive_value(&s, &Mechanism::ConcatenateBaseAndKey(other), base, None)?;
    ensure!(joined == [a.clone(), b.clone()].concat(), "base || key: {}", hex(&joined));
    let data = KeyDerivationStringData::new(&b);
    let joined = derive_value(&s, &Mechanism::ConcatenateBaseAndData(data), base, Some(12))?;
    ensure!(joined == [a.clone(), b.clone()].concat()[..12], "base || data, cut to 12: {}", hex(&joined));
    let joined =
        derive_value(&s, &Mechanism::ConcatenateDataAndBase(KeyDerivationStringData::new(&b)), base, None)?;
    ensure!(joined == [b.clone(), a.clone()].concat(), "data || base: {}", hex(&joined));
    let xored = derive_value(&s, &Mechanism::XorBaseAndData(KeyDerivationStringData::new(&b)), base, None)?;
    let expected: Vec<u8> = a.iter().zip(&b).map(|(x, y)| x ^ y).collect();
    ensure!(xored == expected, "base XOR data: {}", hex(&xored));
    // Bits 12 onwards of 0x0011223344556677, wrapping round: 0x1223344556677001.
    let extracted = derive_value(&s, &Mechanism::ExtractKeyFromKey(ExtractParams::new(12)), base, Some(8))?;
    ensure!(extracted == unhex("1223344556677001"), "bits 12..76: {}", hex(&extracted));
    let too_long = s.derive_key(
        &Mechanism::ConcatenateBaseAndData(KeyDerivationStringData::new(&b)),
        base,
        &derived_template(Some(40)),
    );
    expect_rv(too_long, &[RvError::TemplateInconsistent], "CKA_VALUE_LEN past the concatenation")?;
    Ok(())
}

pub fn derive_aes_encrypt_data(ctx: &Ctx) -> Outcome {
    offered(ctx, &[MechanismType::AES_CBC_ENCRYPT_DATA])?;
    let s = ctx.s();
    let value = unhex("000102030405060708090a0b0c0d0e0f");
    let base = import(&s, KeyType::AES, &value, false, &[Attribute::Derive(true)])?;
    let data: Vec<u8> = (0u8..32).map(|b| b.wrapping_mul(13)).collect();
    let iv = [0x5au8; 16];
    let cbc =
        derive_value(&s, &Mechanism::AesCbcEncryptData(AesCbcDeriveParams::new(iv, &data)), base, Some(32))?;
    ensure!(
        cbc == openssl::cipher("aes-128-cbc", &value, Some(&iv), false, &data)?,
        "CBC_ENCRYPT_DATA differs from OpenSSL"
    );
    Ok(())
}

/// RFC 5869 appendix A.1.
pub fn derive_hkdf(ctx: &Ctx) -> Outcome {
    offered(ctx, &[MechanismType::HKDF_DERIVE])?;
    let s = ctx.s();
    let ikm = unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
    let (salt, info) = (unhex("000102030405060708090a0b0c"), unhex("f0f1f2f3f4f5f6f7f8f9"));
    let base = import(&s, KeyType::GENERIC_SECRET, &ikm, false, &[Attribute::Derive(true)])?;
    let params = HkdfParams::new(MechanismType::SHA256, Some(HkdfSalt::Data(&salt)), Some(&info));
    let okm = derive_value(&s, &Mechanism::HkdfDerive(params), base, Some(42))?;
    let expected = "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865";
    ensure!(hex(&okm) == expected, "HKDF-SHA256 OKM {}", hex(&okm));
    let params = HkdfParams::new(MechanismType::SHA256, Some(HkdfSalt::Data(&salt)), None);
    let prk = derive_value(&s, &Mechanism::HkdfDerive(params), base, None)?;
    let expected = "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5";
    ensure!(hex(&prk) == expected, "HKDF-SHA256 extract-only PRK {}", hex(&prk));
    Ok(())
}

/// A key derived from a sensitive base is sensitive: a template asking otherwise is refused, and
/// without one the new key's value cannot be read.
pub fn derive_keeps_protection(ctx: &Ctx) -> Outcome {
    offered(ctx, &[MechanismType::CONCATENATE_BASE_AND_DATA])?;
    let s = ctx.s();
    let base = import(&s, KeyType::GENERIC_SECRET, &[7; 16], true, &[Attribute::Derive(true)])?;
    let data = [1u8; 4];
    let mechanism = Mechanism::ConcatenateBaseAndData(KeyDerivationStringData::new(&data));
    let refused = s.derive_key(&mechanism, base, &derived_template(None));
    expect_rv(refused, &[RvError::TemplateInconsistent], "C_DeriveKey(sensitive base, CKA_SENSITIVE=false)")?;
    let template = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::Token(false)];
    let key = s.derive_key(&mechanism, base, &template).at("C_DeriveKey(sensitive base)")?;
    let got = s.get_attribute_info(key, &[AttributeType::Value]).at("C_GetAttributeValue(CKA_VALUE)")?;
    // A key made of bits of another may not be short enough to guess a byte at a time, nor do
    // what its source may not (here: decrypt, which the base was not given).
    let one_byte = s.derive_key(
        &Mechanism::ExtractKeyFromKey(ExtractParams::new(0)),
        base,
        &[Attribute::Class(ObjectClass::SECRET_KEY), Attribute::Token(false), Attribute::ValueLen(1.into())],
    );
    expect_rv(one_byte, &[RvError::TemplateInconsistent], "a 1-byte key extracted from a 16-byte one")?;
    // The floor is 16 bytes: 15 are refused, 16 (a sensitive key) are made.
    let extract = |len: u64| {
        s.derive_key(
            &Mechanism::ExtractKeyFromKey(ExtractParams::new(8)),
            base,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::Token(false),
                Attribute::ValueLen(len.into()),
            ],
        )
    };
    expect_rv(extract(15), &[RvError::TemplateInconsistent], "a 15-byte key extracted from a 16-byte one")?;
    extract(16).at("C_DeriveKey(CKM_EXTRACT_KEY_FROM_KEY, 16 bytes)")?;
    let wider = s.derive_key(
        &mechanism,
        base,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(16.into()),
            Attribute::Token(false),
            Attribute::Decrypt(true),
        ],
    );
    expect_rv(wider, &[RvError::TemplateInconsistent], "a copy that may decrypt, of a key that may not")?;
    ensure!(
        matches!(got.as_slice(), [AttributeInfo::Sensitive]),
        "CKA_VALUE of a key derived from a sensitive key: {got:?}, expected CKR_ATTRIBUTE_SENSITIVE"
    );
    Ok(())
}

/// `openssl kdf … KBKDF` with OpenSSL's fixed layout (`[i]32 ‖ label ‖ 00 ‖ context ‖ [L]32`,
/// feedback mode with the previous block first), as raw bytes.
fn openssl_kbkdf(prf: &[&str], key: &[u8], feedback_iv: Option<&[u8]>, len: usize) -> Result<Vec<u8>, Fail> {
    let (keylen, key) = (len.to_string(), format!("hexkey:{}", hex(key)));
    let (label, context) = (format!("hexsalt:{}", hex(b"label")), format!("hexinfo:{}", hex(b"context")));
    let mut args =
        vec!["kdf", "-binary", "-keylen", &keylen, "-kdfopt", &key, "-kdfopt", &label, "-kdfopt", &context];
    for option in prf {
        args.extend(["-kdfopt", option]);
    }
    let seed = feedback_iv.map(|iv| format!("hexseed:{}", hex(iv)));
    if let Some(seed) = &seed {
        args.extend(["-kdfopt", "mode:FEEDBACK", "-kdfopt", seed]);
    }
    args.push("KBKDF");
    openssl::run(&args)
}

/// SP 800-108 in counter mode (HMAC-SHA256, with an additional derived key) and feedback mode
/// (AES-CMAC), laid out as OpenSSL lays out its KBKDF input, agree with OpenSSL.
pub fn derive_sp800_108(ctx: &Ctx) -> Outcome {
    use cryptoki::mechanism::kbkdf::{
        DerivedKey, Endianness, KbkdfCounterFormat, KbkdfDkmLengthFormat, KbkdfDkmLengthMethod,
        KbkdfFeedbackParams, KbkdfParams, PrfDataParam, PrfDataParamType,
    };
    use std::num::NonZeroUsize;

    offered(ctx, &[MechanismType::SP800_108_COUNTER_KDF, MechanismType::SP800_108_FEEDBACK_KDF])?;
    let s = ctx.s();
    let Some(width) = NonZeroUsize::new(32) else {
        return crate::suite::fail("a zero width");
    };
    let counter = KbkdfCounterFormat::new(Endianness::Big, width);
    let length = KbkdfDkmLengthFormat::new(KbkdfDkmLengthMethod::SumOfKeys, Endianness::Big, width);
    let tail = [
        PrfDataParam::new(PrfDataParamType::ByteArray(b"label")),
        PrfDataParam::new(PrfDataParamType::ByteArray(&[0])),
        PrfDataParam::new(PrfDataParamType::ByteArray(b"context")),
        PrfDataParam::new(PrfDataParamType::DkmLength(&length)),
    ];

    let secret = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    let base = import(&s, KeyType::GENERIC_SECRET, &secret, false, &[Attribute::Derive(true)])?;
    let counter_layout: Vec<PrfDataParam> =
        std::iter::once(PrfDataParam::new(PrfDataParamType::IterationVariable(Some(&counter))))
            .chain(tail.iter().cloned())
            .collect();
    // DerivedKey keeps a pointer to the template: it must outlive the call.
    let additional_template = derived_template(Some(16));
    let mut additional = [DerivedKey::new(&additional_template)];
    let params = KbkdfParams::new(MechanismType::SHA256_HMAC, &counter_layout, Some(&mut additional));
    let first = derive_value(&s, &Mechanism::KbkdfCounter(params), base, Some(32))?;
    let second = match additional[0].handle() {
        Some(handle) => get_bytes(&s, handle, AttributeType::Value)?,
        None => return crate::suite::fail("no handle for the additional derived key"),
    };
    let reference = openssl_kbkdf(&["mac:HMAC", "digest:SHA256"], &secret, None, 48)?;
    let ours = [first, second].concat();
    ensure!(
        ours == reference,
        "counter mode (HMAC-SHA256, two keys): {} but OpenSSL {}",
        hex(&ours),
        hex(&reference)
    );

    let aes = unhex("2b7e151628aed2a6abf7158809cf4f3c");
    let base = import(&s, KeyType::AES, &aes, false, &[Attribute::Derive(true)])?;
    let iv = [0x42u8; 16];
    let feedback_layout: Vec<PrfDataParam> = [
        PrfDataParam::new(PrfDataParamType::IterationVariable(None)),
        PrfDataParam::new(PrfDataParamType::Counter(&counter)),
    ]
    .into_iter()
    .chain(tail.iter().cloned())
    .collect();
    let params = KbkdfFeedbackParams::new(MechanismType::AES_CMAC, &feedback_layout, Some(&iv), None);
    let derived = derive_value(&s, &Mechanism::KbkdfFeedback(params), base, Some(40))?;
    let reference = openssl_kbkdf(&["mac:CMAC", "cipher:AES-128-CBC"], &aes, Some(&iv), 40)?;
    ensure!(derived == reference, "feedback mode (AES-CMAC) differs from OpenSSL");
    Ok(())
}

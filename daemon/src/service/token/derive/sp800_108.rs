//! CKM_SP800_108_COUNTER_KDF and CKM_SP800_108_FEEDBACK_KDF: the parameter turned into the crypto
//! layer's fields, one derivation for the key and every additional derived key (in that order,
//! as PKCS#11 3.0 §2.42 lays them out in the keying material), each key with its template.

use arca_proto::limits::MAX_SP800_108_ENTRIES;
use cryptoki_sys::*;

use super::super::attributes::{Template, ulong};
use super::super::crypto_rv::p11;
use super::super::defaults::{Provenance, from_template};
use super::super::mechanisms::{PrfData, Sp800108Parameter};
use super::super::object::Object;
use super::super::operation::material;
use super::super::schema::Kind;
use super::super::stored_forms::secret_spec;
use super::{inherit_protection, param_invalid, wanted_len};
use crate::crypto::HashAlg;
use crate::crypto::kbkdf::{Field, IntegerFormat, LengthOf, MAX_KBKDF_OUTPUT, Mode, Prf, kbkdf};
use crate::error::{Error, Result};
use crate::secure_mem::SecretBuf;
use crate::service::Authorized;

fn prf(prf_type: CK_MECHANISM_TYPE) -> Result<Prf> {
    match prf_type {
        CKM_SHA_1_HMAC => Ok(Prf::Hmac(HashAlg::Sha1)),
        CKM_SHA224_HMAC => Ok(Prf::Hmac(HashAlg::Sha224)),
        CKM_SHA256_HMAC => Ok(Prf::Hmac(HashAlg::Sha256)),
        CKM_SHA384_HMAC => Ok(Prf::Hmac(HashAlg::Sha384)),
        CKM_SHA512_HMAC => Ok(Prf::Hmac(HashAlg::Sha512)),
        CKM_AES_CMAC => Ok(Prf::AesCmac),
        other => Err(param_invalid(format!("SP 800-108 PRF {other:#x}: CKM_SHA*_HMAC or CKM_AES_CMAC"))),
    }
}

fn field(data: &PrfData) -> Result<Field> {
    let format = IntegerFormat { little_endian: data.little_endian, width_bits: data.width_bits };
    match data.kind {
        CK_SP800_108_ITERATION_VARIABLE if data.absent => Ok(Field::Iteration(None)),
        CK_SP800_108_ITERATION_VARIABLE => Ok(Field::Iteration(Some(format))),
        CK_SP800_108_OPTIONAL_COUNTER => Ok(Field::Counter(format)),
        CK_SP800_108_DKM_LENGTH => match data.dkm_method {
            CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS => Ok(Field::Length(LengthOf::Keys, format)),
            CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS => Ok(Field::Length(LengthOf::Segments, format)),
            other => Err(param_invalid(format!("DKM length method {other:#x}"))),
        },
        CK_SP800_108_BYTE_ARRAY => Ok(Field::Bytes(data.bytes.clone())),
        other => Err(param_invalid(format!("SP 800-108 data parameter type {other:#x}"))),
    }
}

/// HMAC takes generic secrets and HMAC keys, AES-CMAC AES keys.
fn check_base_type(prf: Prf, base: &Object) -> Result<()> {
    let aes = base.ulong(CKA_KEY_TYPE) == Some(CKK_AES);
    if aes != (prf == Prf::AesCmac) {
        return Err(Error::p11(CKR_KEY_TYPE_INCONSISTENT, "the PRF does not take this type of base key"));
    }
    Ok(())
}

/// The keys the derivation makes: the one of `template` first, then the additional ones.
pub(super) fn derive(
    kind: CK_MECHANISM_TYPE,
    parameter: &Sp800108Parameter,
    base: &Authorized,
    template: &Template,
    sources: &[Object],
) -> Result<Vec<(SecretBuf, Template)>> {
    if parameter.additional_keys.len() > MAX_SP800_108_ENTRIES {
        return Err(param_invalid(format!("at most {MAX_SP800_108_ENTRIES} additional derived keys")));
    }
    if parameter.data.len() > MAX_SP800_108_ENTRIES {
        return Err(param_invalid(format!("at most {MAX_SP800_108_ENTRIES} data parameters")));
    }
    let prf = prf(parameter.prf_type)?;
    if let Some(base_object) = sources.first() {
        check_base_type(prf, base_object)?;
    }
    let mode = match kind {
        CKM_SP800_108_FEEDBACK_KDF => Mode::Feedback { iv: parameter.iv.clone() },
        _ => Mode::Counter,
    };
    let fields = parameter.data.iter().map(field).collect::<Result<Vec<_>>>()?;
    let templates = std::iter::once(template)
        .chain(&parameter.additional_keys)
        .map(|template| inherit_protection(template, sources))
        .collect::<Result<Vec<_>>>()?;
    let lengths = templates.iter().map(|template| wanted_len(template, None)).collect::<Result<Vec<_>>>()?;
    // Every template is checked before any key is made, so that a refusal leaves none behind.
    for (template, len) in templates.iter().zip(&lengths) {
        let spec = secret_spec(template.ulong(CKA_KEY_TYPE).or(Some(CKK_GENERIC_SECRET)), *len)?;
        from_template(Kind::Secret, Some(spec), template, &[], Provenance::Supplied)?;
    }
    let total = lengths.iter().try_fold(0usize, |sum, len| sum.checked_add(*len)).unwrap_or(usize::MAX);
    if lengths.contains(&0) || total > MAX_KBKDF_OUTPUT {
        return Err(Error::p11(
            CKR_TEMPLATE_INCONSISTENT,
            format!("the derived keys are 1 byte or more, {MAX_KBKDF_OUTPUT} together at most"),
        ));
    }
    let derived = kbkdf(prf, material(base)?, &mode, &fields, total).map_err(p11)?;
    let mut rest = derived.as_slice();
    let mut keys = Vec::with_capacity(templates.len());
    for (template, len) in templates.into_iter().zip(lengths) {
        let (value, tail) =
            rest.split_at_checked(len).ok_or_else(|| Error::Crypto("SP 800-108 output".into()))?;
        rest = tail;
        let template = template
            .with_default(CKA_VALUE_LEN, ulong(len as u64))
            .with_default(CKA_KEY_TYPE, ulong(CKK_GENERIC_SECRET));
        keys.push((SecretBuf::copy_from(value)?, template));
    }
    Ok(keys)
}

//! Token messages to service types and back.

use arca_proto::limits::{MAX_LABEL_BYTES, MAX_TEMPLATE_ATTRIBUTES, MAX_TEMPLATE_VALUE_BYTES};
use arca_proto::v1 as pb;
use cryptoki_sys::*;

use crate::error::{Error, Result};
use crate::service::token::attributes::Template;
use crate::service::token::{
    HkdfParameter, Lookup, Mechanism, OperationKind, Output, Parameter, PrfData, Sp800108Parameter, Space,
    TokenInfo,
};

pub(crate) fn template(attributes: Vec<pb::Attribute>) -> Result<Template> {
    check_template_size(&attributes)?;
    Template::parse(attributes.into_iter().map(|a| (a.r#type, a.value)))
}

/// The size limits of `arca_proto::limits`, which the module checks too.
fn check_template_size(attributes: &[pb::Attribute]) -> Result<()> {
    if attributes.len() > MAX_TEMPLATE_ATTRIBUTES {
        return Err(Error::p11(
            CKR_TEMPLATE_INCONSISTENT,
            format!("a template has at most {MAX_TEMPLATE_ATTRIBUTES} attributes"),
        ));
    }
    if attributes.iter().any(|a| a.r#type == CKA_LABEL && a.value.len() > MAX_LABEL_BYTES) {
        return Err(Error::p11(
            CKR_ATTRIBUTE_VALUE_INVALID,
            format!("CKA_LABEL has at most {MAX_LABEL_BYTES} bytes"),
        ));
    }
    let total = attributes.iter().fold(0usize, |sum, a| sum.saturating_add(a.value.len()));
    if total > MAX_TEMPLATE_VALUE_BYTES {
        return Err(Error::p11(
            CKR_ATTRIBUTE_VALUE_INVALID,
            format!("the values of a template add up to at most {MAX_TEMPLATE_VALUE_BYTES} bytes"),
        ));
    }
    Ok(())
}

pub(crate) fn mechanism(mechanism: Option<pb::Mechanism>) -> Result<Mechanism> {
    use pb::mechanism::Parameter as P;
    let mechanism = mechanism.ok_or_else(|| Error::p11(CKR_ARGUMENTS_BAD, "a mechanism is required"))?;
    let parameter = match mechanism.parameter {
        None => Parameter::None,
        Some(P::Iv(iv)) => Parameter::Iv(iv),
        Some(P::Gcm(g)) => Parameter::Gcm { iv: g.iv, iv_bits: g.iv_bits, aad: g.aad, tag_bits: g.tag_bits },
        Some(P::Ctr(c)) => Parameter::Ctr { counter_bits: c.counter_bits, counter_block: c.counter_block },
        Some(P::Oaep(o)) => {
            Parameter::Oaep { hash: o.hash_alg, mgf: o.mgf, source: o.source, source_data: o.source_data }
        }
        Some(P::Pss(p)) => Parameter::Pss { hash: p.hash_alg, mgf: p.mgf, salt_len: p.salt_len },
        Some(P::Ecdh1(e)) => {
            Parameter::Ecdh { kdf: e.kdf, shared_data: e.shared_data, public_data: e.public_data }
        }
        Some(P::DerivationData(data)) => Parameter::DerivationData(data),
        Some(P::AesCbcEncryptData(p)) => Parameter::AesCbcEncryptData { iv: p.iv, data: p.data },
        Some(P::Hkdf(h)) => Parameter::Hkdf(HkdfParameter {
            extract: h.extract,
            expand: h.expand,
            prf_hash: h.prf_hash,
            salt_type: h.salt_type,
            salt: h.salt,
            salt_key: h.salt_key,
            info: h.info,
        }),
        Some(P::Sp800108(p)) => Parameter::Sp800108(Sp800108Parameter {
            prf_type: p.prf_type,
            data: p
                .data
                .into_iter()
                .map(|d| PrfData {
                    kind: d.r#type,
                    absent: d.absent,
                    little_endian: d.little_endian,
                    width_bits: d.width_bits,
                    dkm_method: d.dkm_method,
                    bytes: d.bytes,
                })
                .collect(),
            iv: p.iv,
            additional_keys: p
                .additional_keys
                .into_iter()
                .map(|k| template(k.template))
                .collect::<Result<_>>()?,
        }),
        Some(P::Ulong(value)) => Parameter::Ulong(value),
        Some(P::Raw(bytes)) => Parameter::Raw(bytes),
    };
    Ok(Mechanism { kind: mechanism.r#type, parameter })
}

pub(crate) fn operation_kind(kind: i32) -> Result<OperationKind> {
    match pb::OperationKind::try_from(kind) {
        Ok(pb::OperationKind::OperationEncrypt) => Ok(OperationKind::Encrypt),
        Ok(pb::OperationKind::OperationDecrypt) => Ok(OperationKind::Decrypt),
        Ok(pb::OperationKind::OperationSign) => Ok(OperationKind::Sign),
        Ok(pb::OperationKind::OperationVerify) => Ok(OperationKind::Verify),
        Ok(pb::OperationKind::OperationDigest) => Ok(OperationKind::Digest),
        _ => Err(Error::p11(CKR_ARGUMENTS_BAD, format!("unknown operation kind {kind}"))),
    }
}

pub(crate) fn space(space: Option<pb::OutputSpace>) -> Space {
    let space = space.unwrap_or_default();
    Space { length_only: space.length_only, capacity: usize::try_from(space.capacity).unwrap_or(usize::MAX) }
}

pub(crate) fn output(output: Output) -> Result<pb::OutputResponse> {
    Ok(match output {
        Output::Data(data) => {
            pb::OutputResponse { length: data.len() as u64, output: data, buffer_too_small: false }
        }
        Output::Length { needed, too_small } => {
            pb::OutputResponse { output: Vec::new(), length: needed as u64, buffer_too_small: too_small }
        }
    })
}

/// C_GetTokenInfo's answer; the module fills in what is fixed (manufacturer, model, versions).
pub(crate) fn token_info(info: TokenInfo) -> pb::TokenInfo {
    pb::TokenInfo {
        label: String::from_utf8_lossy(&info.label).into_owned(),
        serial_number: info.serial,
        flags: info.flags,
        session_count: info.sessions,
        rw_session_count: info.rw_sessions,
        max_pin_len: 255,
        min_pin_len: 4,
        total_public_memory: u64::MAX,
        free_public_memory: u64::MAX,
        total_private_memory: u64::MAX,
        free_private_memory: u64::MAX,
    }
}

/// One result per requested attribute type, in request order.
pub(crate) fn attribute_results(types: &[u64], found: Vec<Lookup>) -> Vec<pb::AttributeResult> {
    use pb::attribute_result::Outcome;
    types
        .iter()
        .zip(found)
        .map(|(kind, lookup)| {
            let (outcome, value) = match lookup {
                Lookup::Value(value) => (Outcome::AttributeOk, value),
                Lookup::Sensitive => (Outcome::AttributeSensitive, Vec::new()),
                Lookup::Invalid => (Outcome::AttributeTypeInvalid, Vec::new()),
            };
            pb::AttributeResult { r#type: *kind, outcome: outcome.into(), value }
        })
        .collect()
}

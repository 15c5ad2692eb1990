//! The SP 800-108 key derivation parameters (`CK_SP800_108_KDF_PARAMS`,
//! `CK_SP800_108_FEEDBACK_KDF_PARAMS`): their data parameters and the templates of the additional
//! derived keys are read here, and after a successful `C_DeriveKey` the handles of those keys
//! are written to each `CK_DERIVED_KEY.phKey`.

use std::ffi::c_void;

use arca_proto::limits::MAX_SP800_108_ENTRIES;
use arca_proto::v1::mechanism::Parameter;
use arca_proto::v1::{DerivedKeyTemplate, PrfDataParameter, Sp800108Parameters};
use cryptoki_sys::*;

use super::{slice, template, write};
use crate::error::Error;

/// The parts both parameter structures share.
struct Common {
    prf_type: CK_MECHANISM_TYPE,
    data: (*mut CK_PRF_DATA_PARAM, CK_ULONG),
    additional: (*mut CK_DERIVED_KEY, CK_ULONG),
}

/// Reads the structure at `ptr` if it is exactly `len` bytes long.
unsafe fn structure<T>(ptr: *const c_void, len: usize) -> Result<T, Error> {
    if ptr.is_null() || len != size_of::<T>() {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: non-NULL with `size_of::<T>()` readable bytes (the caller's contract for `len`); a
    // plain C structure is valid for any bytes; alignment is not required.
    Ok(unsafe { ptr.cast::<T>().read_unaligned() })
}

unsafe fn common(ptr: *const c_void, len: usize, feedback: bool) -> Result<(Common, Vec<u8>), Error> {
    if feedback {
        // SAFETY: `structure` checks the size; `pIV` is valid for `ulIVLen` bytes.
        unsafe {
            let p = structure::<CK_SP800_108_FEEDBACK_KDF_PARAMS>(ptr, len)?;
            let iv = slice(p.pIV.cast_const(), p.ulIVLen, Error::MechanismParamInvalid)?.to_vec();
            let common = Common {
                prf_type: p.prfType,
                data: (p.pDataParams, p.ulNumberOfDataParams),
                additional: (p.pAdditionalDerivedKeys, p.ulAdditionalDerivedKeys),
            };
            Ok((common, iv))
        }
    } else {
        // SAFETY: `structure` checks the size.
        let p = unsafe { structure::<CK_SP800_108_KDF_PARAMS>(ptr, len) }?;
        let common = Common {
            prf_type: p.prfType,
            data: (p.pDataParams, p.ulNumberOfDataParams),
            additional: (p.pAdditionalDerivedKeys, p.ulAdditionalDerivedKeys),
        };
        Ok((common, Vec::new()))
    }
}

/// The entries of an array the parameter points to, at most `MAX_SP800_108_ENTRIES`.
unsafe fn entries<'a, T>(ptr: *const T, count: CK_ULONG) -> Result<&'a [T], Error> {
    if usize::try_from(count).map_or(true, |count| count > MAX_SP800_108_ENTRIES) {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: the application's structure promises `count` readable entries at `ptr`.
    unsafe { slice(ptr, count, Error::MechanismParamInvalid) }
}

/// One `CK_PRF_DATA_PARAM`, its value decoded by its type.
unsafe fn data_parameter(entry: &CK_PRF_DATA_PARAM) -> Result<PrfDataParameter, Error> {
    let mut out = PrfDataParameter { r#type: entry.type_, ..PrfDataParameter::default() };
    let (value, len) = (entry.pValue.cast_const(), entry.ulValueLen as usize);
    match entry.type_ {
        CK_SP800_108_ITERATION_VARIABLE if value.is_null() && len == 0 => out.absent = true,
        CK_SP800_108_ITERATION_VARIABLE | CK_SP800_108_OPTIONAL_COUNTER => {
            // SAFETY: `structure` checks the size the application gave for `pValue`.
            let format = unsafe { structure::<CK_SP800_108_COUNTER_FORMAT>(value, len) }?;
            out.little_endian = format.bLittleEndian != 0;
            out.width_bits = format.ulWidthInBits;
        }
        CK_SP800_108_DKM_LENGTH => {
            // SAFETY: as above.
            let format = unsafe { structure::<CK_SP800_108_DKM_LENGTH_FORMAT>(value, len) }?;
            out.dkm_method = format.dkmLengthMethod;
            out.little_endian = format.bLittleEndian != 0;
            out.width_bits = format.ulWidthInBits;
        }
        CK_SP800_108_BYTE_ARRAY => {
            // SAFETY: the application promises `ulValueLen` readable bytes at `pValue`.
            out.bytes = unsafe { slice(value.cast::<u8>(), entry.ulValueLen, Error::MechanismParamInvalid) }?
                .to_vec();
        }
        _ => return Err(Error::MechanismParamInvalid),
    }
    Ok(out)
}

/// The parameter of CKM_SP800_108_COUNTER_KDF (`feedback` false) or _FEEDBACK_KDF.
pub(super) unsafe fn read(ptr: *const c_void, len: usize, feedback: bool) -> Result<Parameter, Error> {
    // SAFETY: the caller's contract for (`ptr`, `len`); every inner pointer is the application's,
    // valid for the count or length beside it.
    unsafe {
        let (common, iv) = common(ptr, len, feedback)?;
        let data = entries(common.data.0.cast_const(), common.data.1)?
            .iter()
            .map(|entry| data_parameter(entry))
            .collect::<Result<Vec<_>, _>>()?;
        let additional_keys = entries(common.additional.0.cast_const(), common.additional.1)?
            .iter()
            .map(|key| {
                if key.phKey.is_null() {
                    return Err(Error::MechanismParamInvalid);
                }
                template(key.pTemplate.cast_const(), key.ulAttributeCount)
                    .map(|template| DerivedKeyTemplate { template })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Parameter::Sp800108(Sp800108Parameters { prf_type: common.prf_type, data, iv, additional_keys }))
    }
}

/// Writes the handles of the additional derived keys to their `phKey`s (the parameter was read
/// successfully by [`read`] before the call).
pub(super) unsafe fn write_additional_handles(
    mechanism: *const CK_MECHANISM,
    handles: &[CK_OBJECT_HANDLE],
) -> Result<(), Error> {
    if handles.is_empty() {
        return Ok(());
    }
    // SAFETY: the same mechanism and parameter the call was made with, still the application's.
    unsafe {
        let mechanism = super::read(mechanism)?;
        let feedback = match mechanism.mechanism {
            CKM_SP800_108_FEEDBACK_KDF => true,
            CKM_SP800_108_COUNTER_KDF => false,
            // Only SP 800-108 derives more than one key: any other answer is the daemon's error.
            _ => return Err(Error::Protocol),
        };
        let (common, _) =
            common(mechanism.pParameter.cast_const(), mechanism.ulParameterLen as usize, feedback)?;
        let keys = entries(common.additional.0.cast_const(), common.additional.1)?;
        if keys.len() != handles.len() {
            return Err(Error::Protocol);
        }
        for (key, handle) in keys.iter().zip(handles) {
            write(key.phKey, *handle)?;
        }
    }
    Ok(())
}

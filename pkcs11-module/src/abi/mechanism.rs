//! Reading a `CK_MECHANISM` and its parameter out of the application's memory.
//!
//! `pParameter` NULL with `ulParameterLen > 0` is `CKR_ARGUMENTS_BAD`. A structure parameter
//! whose `ulParameterLen` is not the structure's size, or whose inner pointer is NULL beside a
//! non-zero length, is `CKR_MECHANISM_PARAM_INVALID`.
//!
//! `CK_GCM_PARAMS` is accepted in two layouts: the PKCS#11 2.40 errata / 3.0 one with
//! `ulIvBits` (48 bytes on LP64), and the earlier 2.40 header's one without it (40 bytes), which
//! some applications still pass; for the latter `iv_bits` is sent as `8 × ulIvLen`.

use std::ffi::c_void;

use arca_proto::v1::mechanism::Parameter;
use arca_proto::v1::{
    AesCbcEncryptDataParameters, Ecdh1DeriveParameters, GcmParameters, HkdfParameters, Mechanism,
    OaepParameters,
};
use cryptoki_sys::*;

use super::{length, read, slice};
use crate::error::Error;
use crate::marshal::mechanism::{self as params, Kind};

/// `CK_GCM_PARAMS` as the PKCS#11 2.40 header first published it, without `ulIvBits`. Not in
/// `cryptoki-sys`, which follows the corrected layout.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct GcmParamsWithoutIvBits {
    p_iv: *mut CK_BYTE,
    ul_iv_len: CK_ULONG,
    p_aad: *mut CK_BYTE,
    ul_aad_len: CK_ULONG,
    ul_tag_bits: CK_ULONG,
}

/// The mechanism at `ptr` (which must not be NULL) in wire form.
pub unsafe fn read_mechanism(ptr: *const CK_MECHANISM) -> Result<Mechanism, Error> {
    // SAFETY: `read` checks NULL; the caller guarantees a readable CK_MECHANISM otherwise.
    let mechanism = unsafe { read(ptr) }?;
    let len = length(mechanism.ulParameterLen, 1)?;
    let parameter = mechanism.pParameter.cast_const();
    if parameter.is_null() && len > 0 {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: the caller guarantees `len` readable bytes at the non-NULL `parameter`.
    let parameter = unsafe { read_parameter(params::kind(mechanism.mechanism), parameter, len) }?;
    Ok(params::mechanism(mechanism.mechanism, parameter))
}

unsafe fn read_parameter(kind: Kind, ptr: *const c_void, len: usize) -> Result<Option<Parameter>, Error> {
    let parameter = match kind {
        // SAFETY: the caller guarantees `len` readable bytes at `ptr` when it is non-NULL.
        Kind::Gcm => unsafe { gcm(ptr, len) }?,
        // SAFETY: as above.
        Kind::Oaep => unsafe { oaep(ptr, len) }?,
        // SAFETY: as above.
        Kind::Ecdh1 => unsafe { ecdh1(ptr, len) }?,
        // SAFETY: as above.
        Kind::DerivationData => unsafe { derivation_data(ptr, len) }?,
        // SAFETY: as above.
        Kind::AesCbcEncryptData => unsafe { aes_cbc_encrypt_data(ptr, len) }?,
        // SAFETY: as above.
        Kind::Hkdf => unsafe { hkdf(ptr, len) }?,
        // SAFETY: as above.
        Kind::Sp800108Counter => unsafe { super::sp800_108::read(ptr, len, false) }?,
        // SAFETY: as above.
        Kind::Sp800108Feedback => unsafe { super::sp800_108::read(ptr, len, true) }?,
        _ => {
            // SAFETY: as above.
            let bytes = unsafe { slice(ptr.cast::<u8>(), len as CK_ULONG, Error::ArgumentsBad) }?;
            return params::from_bytes(kind, bytes);
        }
    };
    Ok(Some(parameter))
}

/// Reads a `T` from a parameter of exactly `size_of::<T>()` bytes.
unsafe fn structure<T>(ptr: *const c_void, len: usize) -> Result<T, Error> {
    if ptr.is_null() || len != size_of::<T>() {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: non-NULL with `size_of::<T>()` readable bytes (the caller's contract for `len`);
    // `T` is a plain C structure, valid for any bytes; alignment is not required.
    Ok(unsafe { ptr.cast::<T>().read_unaligned() })
}

/// Copies a buffer a parameter structure points to.
unsafe fn field(ptr: *const CK_BYTE, len: CK_ULONG) -> Result<Vec<u8>, Error> {
    // SAFETY: the application's structure promises `len` readable bytes at `ptr`.
    unsafe { slice(ptr, len, Error::MechanismParamInvalid) }.map(<[u8]>::to_vec)
}

unsafe fn gcm(ptr: *const c_void, len: usize) -> Result<Parameter, Error> {
    let parameters = if len == size_of::<GcmParamsWithoutIvBits>() {
        // SAFETY: `structure` checks the size; the inner buffers are the application's, valid
        // for the lengths it gives beside them.
        unsafe {
            let p = structure::<GcmParamsWithoutIvBits>(ptr, len)?;
            GcmParameters {
                iv: field(p.p_iv, p.ul_iv_len)?,
                iv_bits: p.ul_iv_len.saturating_mul(8),
                aad: field(p.p_aad, p.ul_aad_len)?,
                tag_bits: p.ul_tag_bits,
            }
        }
    } else {
        // SAFETY: as above.
        unsafe {
            let p = structure::<CK_GCM_PARAMS>(ptr, len)?;
            GcmParameters {
                iv: field(p.pIv, p.ulIvLen)?,
                iv_bits: p.ulIvBits,
                aad: field(p.pAAD, p.ulAADLen)?,
                tag_bits: p.ulTagBits,
            }
        }
    };
    Ok(Parameter::Gcm(parameters))
}

unsafe fn oaep(ptr: *const c_void, len: usize) -> Result<Parameter, Error> {
    // SAFETY: `structure` checks the size; `pSourceData` is valid for `ulSourceDataLen` bytes.
    unsafe {
        let p = structure::<CK_RSA_PKCS_OAEP_PARAMS>(ptr, len)?;
        let source_data = field(p.pSourceData.cast::<CK_BYTE>(), p.ulSourceDataLen)?;
        Ok(Parameter::Oaep(OaepParameters { hash_alg: p.hashAlg, mgf: p.mgf, source: p.source, source_data }))
    }
}

unsafe fn ecdh1(ptr: *const c_void, len: usize) -> Result<Parameter, Error> {
    // SAFETY: `structure` checks the size; both data pointers are valid for their lengths.
    unsafe {
        let p = structure::<CK_ECDH1_DERIVE_PARAMS>(ptr, len)?;
        Ok(Parameter::Ecdh1(Ecdh1DeriveParameters {
            kdf: p.kdf,
            shared_data: field(p.pSharedData, p.ulSharedDataLen)?,
            public_data: field(p.pPublicData, p.ulPublicDataLen)?,
        }))
    }
}

unsafe fn derivation_data(ptr: *const c_void, len: usize) -> Result<Parameter, Error> {
    // SAFETY: `structure` checks the size; `pData` is valid for `ulLen` bytes.
    unsafe {
        let p = structure::<CK_KEY_DERIVATION_STRING_DATA>(ptr, len)?;
        Ok(Parameter::DerivationData(field(p.pData, p.ulLen)?))
    }
}

unsafe fn aes_cbc_encrypt_data(ptr: *const c_void, len: usize) -> Result<Parameter, Error> {
    // SAFETY: `structure` checks the size; `pData` is valid for `length` bytes.
    unsafe {
        let p = structure::<CK_AES_CBC_ENCRYPT_DATA_PARAMS>(ptr, len)?;
        Ok(Parameter::AesCbcEncryptData(AesCbcEncryptDataParameters {
            iv: p.iv.to_vec(),
            data: field(p.pData, p.length)?,
        }))
    }
}

unsafe fn hkdf(ptr: *const c_void, len: usize) -> Result<Parameter, Error> {
    // SAFETY: `structure` checks the size; `pSalt` and `pInfo` are valid for their lengths.
    unsafe {
        let p = structure::<CK_HKDF_PARAMS>(ptr, len)?;
        Ok(Parameter::Hkdf(HkdfParameters {
            extract: p.bExtract != 0,
            expand: p.bExpand != 0,
            prf_hash: p.prfHashMechanism,
            salt_type: p.ulSaltType,
            salt: field(p.pSalt, p.ulSaltLen)?,
            salt_key: p.hSaltKey,
            info: field(p.pInfo, p.ulInfoLen)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::null_mut;

    fn read_with<T>(kind: CK_MECHANISM_TYPE, parameter: &mut T, len: usize) -> Result<Mechanism, Error> {
        let mechanism = CK_MECHANISM {
            mechanism: kind,
            pParameter: std::ptr::from_mut(parameter).cast(),
            ulParameterLen: len as CK_ULONG,
        };
        // SAFETY: the mechanism and its parameter are live locals of the sizes given.
        unsafe { read_mechanism(&mechanism) }
    }

    #[test]
    fn no_mechanism_is_arguments_bad() {
        // SAFETY: the mechanism and its parameter are live locals of the sizes given.
        assert_eq!(unsafe { read_mechanism(std::ptr::null()) }, Err(Error::ArgumentsBad));
    }

    #[test]
    fn null_parameter_with_a_length_is_arguments_bad() {
        let mechanism = CK_MECHANISM { mechanism: CKM_AES_CBC, pParameter: null_mut(), ulParameterLen: 16 };
        // SAFETY: the mechanism and its parameter are live locals of the sizes given.
        assert_eq!(unsafe { read_mechanism(&mechanism) }, Err(Error::ArgumentsBad));
    }

    #[test]
    fn no_parameter_is_none() {
        let mechanism =
            CK_MECHANISM { mechanism: CKM_SHA256_RSA_PKCS, pParameter: null_mut(), ulParameterLen: 0 };
        // SAFETY: the mechanism and its parameter are live locals of the sizes given.
        let read = unsafe { read_mechanism(&mechanism) }.unwrap();
        assert_eq!(read, Mechanism { r#type: CKM_SHA256_RSA_PKCS, parameter: None });
    }

    #[test]
    fn cbc_iv() {
        let mut iv = [5u8; 16];
        let read = read_with(CKM_AES_CBC_PAD, &mut iv, 16).unwrap();
        assert_eq!(read.parameter, Some(Parameter::Iv(vec![5; 16])));
        assert_eq!(read_with(CKM_AES_CBC, &mut iv, 8), Err(Error::MechanismParamInvalid));
    }

    #[test]
    fn gcm_both_layouts() {
        let mut iv = [1u8; 12];
        let mut aad = *b"header";
        let mut params = CK_GCM_PARAMS {
            pIv: iv.as_mut_ptr(),
            ulIvLen: 12,
            ulIvBits: 96,
            pAAD: aad.as_mut_ptr(),
            ulAADLen: 6,
            ulTagBits: 128,
        };
        let expected = GcmParameters { iv: vec![1; 12], iv_bits: 96, aad: b"header".to_vec(), tag_bits: 128 };
        let read = read_with(CKM_AES_GCM, &mut params, size_of::<CK_GCM_PARAMS>()).unwrap();
        assert_eq!(read.parameter, Some(Parameter::Gcm(expected.clone())));
        let mut legacy = GcmParamsWithoutIvBits {
            p_iv: iv.as_mut_ptr(),
            ul_iv_len: 12,
            p_aad: aad.as_mut_ptr(),
            ul_aad_len: 6,
            ul_tag_bits: 128,
        };
        let read = read_with(CKM_AES_GCM, &mut legacy, size_of::<GcmParamsWithoutIvBits>()).unwrap();
        assert_eq!(read.parameter, Some(Parameter::Gcm(expected)));
        assert_eq!(read_with(CKM_AES_GCM, &mut params, 24), Err(Error::MechanismParamInvalid));
        params.pIv = null_mut();
        let bad = read_with(CKM_AES_GCM, &mut params, size_of::<CK_GCM_PARAMS>());
        assert_eq!(bad, Err(Error::MechanismParamInvalid));
    }

    #[test]
    fn oaep_copies_the_source_data() {
        let mut label = *b"label";
        let mut params = CK_RSA_PKCS_OAEP_PARAMS {
            hashAlg: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            source: CKZ_DATA_SPECIFIED,
            pSourceData: label.as_mut_ptr().cast(),
            ulSourceDataLen: 5,
        };
        let read = read_with(CKM_RSA_PKCS_OAEP, &mut params, size_of::<CK_RSA_PKCS_OAEP_PARAMS>()).unwrap();
        let expected = OaepParameters {
            hash_alg: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            source: CKZ_DATA_SPECIFIED,
            source_data: b"label".to_vec(),
        };
        assert_eq!(read.parameter, Some(Parameter::Oaep(expected)));
        assert_eq!(read_with(CKM_RSA_PKCS_OAEP, &mut params, 8), Err(Error::MechanismParamInvalid));
    }

    #[test]
    fn ecdh1_copies_both_buffers() {
        let mut point = [4u8, 1, 2, 3];
        let mut params = CK_ECDH1_DERIVE_PARAMS {
            kdf: CKD_NULL,
            ulSharedDataLen: 0,
            pSharedData: null_mut(),
            ulPublicDataLen: 4,
            pPublicData: point.as_mut_ptr(),
        };
        let read = read_with(CKM_ECDH1_DERIVE, &mut params, size_of::<CK_ECDH1_DERIVE_PARAMS>()).unwrap();
        let expected =
            Ecdh1DeriveParameters { kdf: CKD_NULL, shared_data: vec![], public_data: vec![4, 1, 2, 3] };
        assert_eq!(read.parameter, Some(Parameter::Ecdh1(expected)));
    }

    #[test]
    fn pss_and_mac_general_and_ctr() {
        let mut pss = CK_RSA_PKCS_PSS_PARAMS { hashAlg: CKM_SHA384, mgf: CKG_MGF1_SHA384, sLen: 48 };
        let read = read_with(CKM_SHA384_RSA_PKCS_PSS, &mut pss, size_of::<CK_RSA_PKCS_PSS_PARAMS>()).unwrap();
        assert!(
            matches!(read.parameter, Some(Parameter::Pss(p)) if p.salt_len == 48 && p.hash_alg == CKM_SHA384)
        );
        let mut mac_len: CK_MAC_GENERAL_PARAMS = 20;
        let read = read_with(CKM_SHA256_HMAC_GENERAL, &mut mac_len, size_of::<CK_ULONG>()).unwrap();
        assert_eq!(read.parameter, Some(Parameter::Ulong(20)));
        let mut ctr = CK_AES_CTR_PARAMS { ulCounterBits: 64, cb: [3; 16] };
        let read = read_with(CKM_AES_CTR, &mut ctr, size_of::<CK_AES_CTR_PARAMS>()).unwrap();
        assert!(
            matches!(read.parameter, Some(Parameter::Ctr(c)) if c.counter_bits == 64 && c.counter_block == [3; 16])
        );
    }
}

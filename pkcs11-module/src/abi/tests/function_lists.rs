//! The function lists and interfaces: complete, and reachable before `C_Initialize`.

use std::ptr::null_mut;

use cryptoki_sys::*;

use crate::abi::function_list::{
    C_GetFunctionList, C_GetInterface, C_GetInterfaceList, FUNCTION_LIST, FUNCTION_LIST_3_0,
};

/// The function pointers of a list (every word after the version), as addresses.
fn entries<T>(list: &T) -> Vec<usize> {
    let words = size_of::<T>() / size_of::<usize>();
    let base = std::ptr::from_ref(list).cast::<usize>();
    // SAFETY: `list` is a function list, `words` pointer-sized words long.
    (1..words).map(|i| unsafe { base.add(i).read() }).collect()
}

#[test]
fn every_entry_of_both_lists_is_a_function() {
    assert_eq!(size_of::<CK_FUNCTION_LIST>(), 8 * (1 + 68));
    assert_eq!(size_of::<CK_FUNCTION_LIST_3_0>(), 8 * (1 + 92));
    let old = entries(&FUNCTION_LIST);
    let new = entries(&FUNCTION_LIST_3_0);
    assert_eq!((old.len(), new.len()), (68, 92));
    assert!(old.iter().all(|&p| p != 0), "a 2.40 entry is None");
    assert!(new.iter().all(|&p| p != 0), "a 3.0 entry is None");
    // The 3.0 list starts with the 2.40 functions; only C_GetInfo differs (it reports 3.0).
    let differing = old.iter().zip(&new).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 1);
    assert_eq!((FUNCTION_LIST.version.major, FUNCTION_LIST.version.minor), (2, 40));
    assert_eq!((FUNCTION_LIST_3_0.version.major, FUNCTION_LIST_3_0.version.minor), (3, 0));
}

#[test]
fn get_function_list_returns_the_2_40_table() {
    let mut list: *mut CK_FUNCTION_LIST = null_mut();
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetFunctionList(&mut list) }, CKR_OK);
    assert!(std::ptr::eq(list, &FUNCTION_LIST));
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetFunctionList(null_mut()) }, CKR_ARGUMENTS_BAD);
}

#[test]
fn interface_list_follows_the_two_call_convention() {
    let mut count: CK_ULONG = 0;
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetInterfaceList(null_mut(), &mut count) }, CKR_OK);
    assert_eq!(count, 2);
    let empty = CK_INTERFACE { pInterfaceName: null_mut(), pFunctionList: null_mut(), flags: 0 };
    let mut interfaces = [empty; 2];
    count = 1;
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetInterfaceList(interfaces.as_mut_ptr(), &mut count) }, CKR_BUFFER_TOO_SMALL);
    assert_eq!(count, 2);
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetInterfaceList(interfaces.as_mut_ptr(), &mut count) }, CKR_OK);
    // SAFETY: the module's interface names are NUL-terminated statics.
    let name = unsafe { std::ffi::CStr::from_ptr(interfaces[0].pInterfaceName.cast()) };
    assert_eq!(name, c"PKCS 11");
    // SAFETY: the module returned a valid interface and function list.
    let first = unsafe { &*interfaces[0].pFunctionList.cast::<CK_FUNCTION_LIST_3_0>() };
    // SAFETY: the module returned a valid interface and function list.
    let second = unsafe { &*interfaces[1].pFunctionList.cast::<CK_FUNCTION_LIST>() };
    assert_eq!((first.version.major, second.version.major, second.version.minor), (3, 2, 40));
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetInterfaceList(null_mut(), null_mut()) }, CKR_ARGUMENTS_BAD);
}

#[test]
fn get_interface_by_name_and_version() {
    let _serial = super::serial();
    let mut interface: *mut CK_INTERFACE = null_mut();
    let version_of = |interface: *mut CK_INTERFACE| {
        // SAFETY: the module returned a valid interface and function list.
        let list = unsafe { &*(*interface).pFunctionList.cast::<CK_FUNCTION_LIST>() };
        (list.version.major, list.version.minor)
    };
    // No name, no version: the default, 3.0.
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetInterface(null_mut(), null_mut(), &mut interface, 0) }, CKR_OK);
    assert_eq!(version_of(interface), (3, 0));
    let mut v240 = CK_VERSION { major: 2, minor: 40 };
    let name = c"PKCS 11".as_ptr().cast::<CK_UTF8CHAR>().cast_mut();
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetInterface(name, &mut v240, &mut interface, 0) }, CKR_OK);
    assert_eq!(version_of(interface), (2, 40));
    let mut v31 = CK_VERSION { major: 3, minor: 1 };
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetInterface(name, &mut v31, &mut interface, 0) }, CKR_ARGUMENTS_BAD);
    let other = c"Vendor".as_ptr().cast::<CK_UTF8CHAR>().cast_mut();
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetInterface(other, null_mut(), &mut interface, 0) }, CKR_ARGUMENTS_BAD);
    let fork_safe = CKF_INTERFACE_FORK_SAFE;
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetInterface(name, null_mut(), &mut interface, fork_safe) }, CKR_ARGUMENTS_BAD);
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetInterface(name, null_mut(), null_mut(), 0) }, CKR_ARGUMENTS_BAD);
}

#[test]
fn a_caller_may_write_to_the_interface_it_gets() {
    let _serial = super::serial();
    // OpenSC's pkcs11-spy replaces the function list of the interface it receives.
    static OTHER: u8 = 0;
    let mut interface: *mut CK_INTERFACE = null_mut();
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetInterface(null_mut(), null_mut(), &mut interface, 0) }, CKR_OK);
    // SAFETY: the module returned a valid interface and function list.
    unsafe { (*interface).pFunctionList = (&raw const OTHER).cast_mut().cast() };
    // The module's own answers are unaffected, and the next caller gets the real list again.
    let mut again: *mut CK_INTERFACE = null_mut();
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetInterface(null_mut(), null_mut(), &mut again, 0) }, CKR_OK);
    // SAFETY: the module returned a valid interface.
    let list = unsafe { (*again).pFunctionList };
    assert!(std::ptr::eq(list.cast_const(), (&raw const FUNCTION_LIST_3_0).cast()));
    let mut count: CK_ULONG = 2;
    let empty = CK_INTERFACE { pInterfaceName: null_mut(), pFunctionList: null_mut(), flags: 0 };
    let mut interfaces = [empty; 2];
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    assert_eq!(unsafe { C_GetInterfaceList(interfaces.as_mut_ptr(), &mut count) }, CKR_OK);
    assert!(std::ptr::eq(interfaces[0].pFunctionList.cast_const(), (&raw const FUNCTION_LIST_3_0).cast()));
}

use super::*;

#[test]
fn method_ids_are_unique_and_paths_name_the_grpc_methods() {
    let mut ids: Vec<u8> = ALL_METHODS.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), ALL_METHODS.len(), "duplicate wire ids");
    assert_eq!(ALL_METHODS.len(), 34, "every rpc of service Token has an id");
    assert_eq!(LOGIN.path, "/arca.v1.Token/Login");
    assert_eq!(OPERATION_ONE_SHOT.name(), "OperationOneShot");
    assert_eq!((ATTACH.id, ATTACH.name()), (1, "Attach"));
}

#[test]
fn the_preface_is_told_apart_from_http2() {
    assert!(opens_wire(PREFACE[0]));
    assert!(!opens_wire(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[0]));
}

#[test]
fn a_status_keeps_its_code_message_and_ascii_metadata() {
    let mut status = tonic::Status::invalid_argument("bad mechanism");
    status.metadata_mut().insert(crate::CKR_HEADER, "0x00000070".parse().unwrap());
    status.metadata_mut().insert(crate::REQUEST_ID_HEADER, "r-1".parse().unwrap());
    let back = WireStatus::decode(WireStatus::from_status(&status).encode_to_vec().as_slice())
        .unwrap()
        .into_status();
    assert_eq!(back.code(), tonic::Code::InvalidArgument);
    assert_eq!(back.message(), "bad mechanism");
    assert_eq!(back.metadata().get(crate::CKR_HEADER).unwrap(), "0x00000070");
    assert_eq!(back.metadata().get(crate::REQUEST_ID_HEADER).unwrap(), "r-1");
}

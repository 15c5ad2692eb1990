//! The one table of the Token service's methods: each method's wire id, its gRPC path and its
//! messages. The module calls through these constants over either transport; the wire server
//! dispatches by id to the same `Token` trait methods tonic's router calls.

use super::Method;
use crate::v1::*;

/// Calls `$callback!` with the unary Token methods, one line each:
/// `id CONSTANT trait_method "GrpcName" Request => Response;`. (`Attach`, which streams, is
/// [`ATTACH`] and is served apart.)
#[macro_export]
#[doc(hidden)]
macro_rules! with_unary_token_methods {
    ($callback:ident) => {
        $callback! {
            2 GET_TOKEN_INFO get_token_info "GetTokenInfo" GetTokenInfoRequest => TokenInfo;
            3 GET_MECHANISM_LIST get_mechanism_list "GetMechanismList"
                GetMechanismListRequest => GetMechanismListResponse;
            4 GET_MECHANISM_INFO get_mechanism_info "GetMechanismInfo" GetMechanismInfoRequest => MechanismInfo;
            5 INIT_TOKEN init_token "InitToken" InitTokenRequest => Empty;
            6 INIT_PIN init_pin "InitPin" InitPinRequest => Empty;
            7 SET_PIN set_pin "SetPin" SetPinRequest => Empty;
            8 LOGIN login "Login" LoginRequest => Empty;
            9 UNLOCK_SO_PIN unlock_so_pin "UnlockSoPin" UnlockSoPinRequest => Empty;
            10 LOGOUT logout "Logout" LogoutRequest => Empty;
            11 OPEN_SESSION open_session "OpenSession" OpenSessionRequest => OpenSessionResponse;
            12 CLOSE_SESSION close_session "CloseSession" SessionRequest => Empty;
            13 CLOSE_ALL_SESSIONS close_all_sessions "CloseAllSessions" CloseAllSessionsRequest => Empty;
            14 GET_SESSION_INFO get_session_info "GetSessionInfo" SessionRequest => SessionInfo;
            15 CREATE_OBJECT create_object "CreateObject" CreateObjectRequest => ObjectResponse;
            16 COPY_OBJECT copy_object "CopyObject" CopyObjectRequest => ObjectResponse;
            17 DESTROY_OBJECT destroy_object "DestroyObject" ObjectRequest => Empty;
            18 GET_OBJECT_SIZE get_object_size "GetObjectSize" ObjectRequest => GetObjectSizeResponse;
            19 GET_ATTRIBUTE_VALUE get_attribute_value "GetAttributeValue"
                GetAttributeValueRequest => GetAttributeValueResponse;
            20 SET_ATTRIBUTE_VALUE set_attribute_value "SetAttributeValue" SetAttributeValueRequest => Empty;
            21 FIND_OBJECTS_INIT find_objects_init "FindObjectsInit" FindObjectsInitRequest => Empty;
            22 FIND_OBJECTS find_objects "FindObjects" FindObjectsRequest => FindObjectsResponse;
            23 FIND_OBJECTS_FINAL find_objects_final "FindObjectsFinal" SessionRequest => Empty;
            24 GENERATE_KEY generate_key "GenerateKey" GenerateKeyRequest => ObjectResponse;
            25 GENERATE_KEY_PAIR generate_key_pair "GenerateKeyPair"
                GenerateKeyPairRequest => GenerateKeyPairResponse;
            26 WRAP_KEY wrap_key "WrapKey" WrapKeyRequest => OutputResponse;
            27 UNWRAP_KEY unwrap_key "UnwrapKey" UnwrapKeyRequest => ObjectResponse;
            28 DERIVE_KEY derive_key "DeriveKey" DeriveKeyRequest => ObjectResponse;
            29 GENERATE_RANDOM generate_random "GenerateRandom" TokenRandomRequest => OutputResponse;
            30 OPERATION_INIT operation_init "OperationInit" OperationInitRequest => OperationInitResponse;
            31 OPERATION_ONE_SHOT operation_one_shot "OperationOneShot" OperationDataRequest => OutputResponse;
            32 OPERATION_UPDATE operation_update "OperationUpdate" OperationDataRequest => OutputResponse;
            33 DIGEST_KEY digest_key "DigestKey" DigestKeyRequest => Empty;
            34 OPERATION_FINAL operation_final "OperationFinal" OperationDataRequest => OutputResponse;
        }
    };
}

/// `Token.Attach`: its first event is the wire answer; the connection then holds the application.
pub const ATTACH: Method<AttachRequest, AttachEvent> = Method::new(1, "/arca.v1.Token/Attach");

macro_rules! method_constants {
    ($($id:literal $constant:ident $method:ident $name:literal $request:ident => $response:ident;)*) => {
        $(
            #[doc = concat!("`Token.", $name, "`.")]
            pub const $constant: Method<$request, $response> =
                Method::new($id, concat!("/arca.v1.Token/", $name));
        )*

        /// Every method's id and gRPC name, `Attach` first.
        pub const ALL_METHODS: &[(u8, &str)] = &[(1, "Attach"), $(($id, $name)),*];
    };
}

with_unary_token_methods!(method_constants);

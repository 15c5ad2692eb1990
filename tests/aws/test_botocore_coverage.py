"""Reads botocore's own KMS service model and checks arcad against all of it: every operation
it implements is exercised by this suite, every other one answers UnsupportedOperationException.
Prints the count."""

import pathlib
import re

import botocore.session

from raw import request, send, sign

# Operations arcad serves (the names of the AWS KMS API it implements).
IMPLEMENTED = {
    "CancelKeyDeletion", "CreateAlias", "CreateGrant", "CreateKey", "Decrypt", "DeleteAlias",
    "DeleteImportedKeyMaterial", "DeriveSharedSecret", "DescribeKey", "DisableKey", "DisableKeyRotation",
    "EnableKey", "EnableKeyRotation", "Encrypt", "GenerateDataKey", "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext", "GenerateDataKeyWithoutPlaintext", "GenerateMac", "GenerateRandom",
    "GetKeyPolicy", "GetKeyRotationStatus", "GetParametersForImport", "GetPublicKey", "ImportKeyMaterial",
    "ListAliases", "ListGrants", "ListKeyPolicies", "ListKeyRotations", "ListKeys", "ListResourceTags",
    "ListRetirableGrants", "PutKeyPolicy", "ReEncrypt", "RetireGrant", "RevokeGrant", "RotateKeyOnDemand",
    "ScheduleKeyDeletion", "Sign", "TagResource", "UntagResource", "UpdateAlias", "UpdateKeyDescription",
    "Verify", "VerifyMac",
}


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_the_model_is_covered(dev_credentials):
    model = botocore.session.get_session().get_service_model("kms")
    operations = set(model.operation_names)
    answers = {name: send(sign(request(name, {}), *dev_credentials))[:2] for name in sorted(operations)}
    unsupported = {name for name, (status, payload) in answers.items() if payload.get("__type") == "UnsupportedOperationException"}
    assert all(answers[name][0] == 400 for name in unsupported)
    implemented = operations - unsupported
    assert implemented == IMPLEMENTED, (implemented ^ IMPLEMENTED)
    suite = "".join(path.read_text() for path in pathlib.Path(__file__).parent.glob("test_*.py") if path.name != pathlib.Path(__file__).name)
    untested = sorted(name for name in implemented if f".{snake(name)}(" not in suite)
    assert not untested, f"implemented but not exercised: {untested}"
    print(f"\nbotocore {botocore.__version__} KMS model: {len(operations)} operations; arcad implements {len(implemented)}, "
          f"the other {len(unsupported)} answer UnsupportedOperationException: {sorted(unsupported)}")

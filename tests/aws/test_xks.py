"""The external key store (XKS proxy) API, driven as AWS KMS drives it: real HTTP, SigV4 by
botocore's own signer (service kms-xks-proxy) and by curl's --aws-sigv4, every operation and
every error the specification names."""

import base64
import datetime
import hashlib
import json
import os
import subprocess
import uuid

import pytest
import urllib3

from conftest import arcactl, endpoint, issue_access_key
from raw import audit_records, sign

from botocore.awsrequest import AWSRequest

XKS = "/kms/xks/v1"
HTTP = urllib3.PoolManager()


def b64(data):
    return base64.b64encode(data).decode()


def metadata(operation="Encrypt", **extra):
    return {"awsPrincipalArn": "arn:aws:iam::111122223333:user/Alice", "kmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/x",
            "kmsOperation": operation, "kmsRequestId": str(uuid.uuid4()), **extra}


def call(path, body, credentials, base=None, when=None, region="us-east-1", service="kms-xks-proxy", method="POST", raw_body=None, **pool):
    data = raw_body if raw_body is not None else json.dumps(body).encode()
    request = AWSRequest(method=method, url=(base or endpoint()) + path, data=data, headers={"Content-Type": "application/json"})
    if credentials:
        sign(request, *credentials, when=when, region=region, service=service)
    prepared = request.prepare()
    http = pool.get("http", HTTP)
    response = http.request(method, prepared.url, body=prepared.body, headers=dict(prepared.headers), retries=False)
    return response.status, (json.loads(response.data) if response.data else {})


@pytest.fixture(scope="module")
def xks_principal():
    return f"uid:{50000 + uuid.uuid4().int % 10000}"


@pytest.fixture(scope="module")
def xks(xks_principal):
    """An access key for the XKS principal (what an administrator gives AWS KMS)."""
    return issue_access_key(xks_principal)


def key_for(kms, principal, actions, spec="SYMMETRIC_DEFAULT", usage="ENCRYPT_DECRYPT"):
    """A key whose policy lets `principal` do `actions` (none: not exposed to it)."""
    key = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["KeyId"]
    statements = [{"Effect": "Allow", "Principal": {"Arca": "uid:0"}, "Action": "arca:*", "Resource": "*"}]
    if actions:
        statements.append({"Effect": "Allow", "Principal": {"Arca": principal}, "Action": [f"arca:{a}" for a in actions], "Resource": "*"})
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    return key


def encrypt(key, credentials, plaintext=b"Hello World!", aad=None, cdiv=True, **kw):
    body = {"requestMetadata": metadata(), "plaintext": b64(plaintext), "encryptionAlgorithm": "AES_GCM"}
    if aad is not None:
        body["additionalAuthenticatedData"] = b64(aad)
    if cdiv:
        body["ciphertextDataIntegrityValueAlgorithm"] = "SHA_256"
    return call(f"{XKS}/keys/{key}/encrypt", body, credentials, **kw)


def decrypt(key, credentials, sealed, aad=None, **changes):
    body = {"requestMetadata": metadata("Decrypt"), "encryptionAlgorithm": "AES_GCM", **{k: sealed[k] for k in
            ("ciphertext", "ciphertextMetadata", "initializationVector", "authenticationTag")}}
    if aad is not None:
        body["additionalAuthenticatedData"] = b64(aad)
    body.update(changes)
    return call(f"{XKS}/keys/{key}/decrypt", body, credentials)


def expect(answer, status, name):
    assert answer[0] == status and answer[1].get("errorName") == name, answer
    message = answer[1].get("errorMessage", "")
    assert len(message) < 512 and all(0x20 <= ord(c) <= 0x7E for c in message)


def test_metadata_encrypt_decrypt_and_the_integrity_value(kms, xks, xks_principal):
    key = key_for(kms, xks_principal, ["Encrypt", "Decrypt"])
    status, meta = call(f"{XKS}/keys/{key}/metadata", {"requestMetadata": metadata("CreateKey")}, xks)
    assert (status, meta) == (200, {"keySpec": "AES_256", "keyUsage": ["ENCRYPT", "DECRYPT"], "keyStatus": "ENABLED"})
    aad = b"project=nile,department=marketing"
    status, sealed = encrypt(key, xks, aad=aad)
    assert status == 200, sealed
    parts = {k: base64.b64decode(sealed[k]) for k in ("ciphertext", "ciphertextMetadata", "initializationVector", "authenticationTag")}
    assert len(parts["ciphertext"]) == len(b"Hello World!") and len(parts["initializationVector"]) == 12
    assert len(parts["authenticationTag"]) == 16 and len(parts["ciphertextMetadata"]) <= 20
    expected = hashlib.sha256(aad + parts["ciphertextMetadata"] + parts["initializationVector"] + parts["ciphertext"] + parts["authenticationTag"]).digest()
    assert base64.b64decode(sealed["ciphertextDataIntegrityValue"]) == expected
    status, opened = decrypt(key, xks, sealed, aad=aad)
    assert (status, base64.b64decode(opened["plaintext"])) == (200, b"Hello World!")
    status, plain = encrypt(key, xks, cdiv=False)
    assert status == 200 and "ciphertextDataIntegrityValue" not in plain


def test_every_request_is_audited_with_its_request_metadata(kms, xks, xks_principal):
    key = key_for(kms, xks_principal, ["Encrypt"])
    body = {"requestMetadata": metadata("GenerateDataKey", kmsViaService="ebs"), "plaintext": b64(b"secret words"), "encryptionAlgorithm": "AES_GCM"}
    assert call(f"{XKS}/keys/{key}/encrypt", body, xks)[0] == 200
    record = [r for r in audit_records() if r["operation"] == "XksEncrypt"][-1]
    assert record["request_metadata"]["kmsRequestId"] == body["requestMetadata"]["kmsRequestId"]
    assert record["request_metadata"]["kmsViaService"] == "ebs" and record["principal"] == xks_principal
    assert record["source"].startswith("xks/") and record["key"] == key
    with open(os.environ["ARCA_AUDIT_LOG"], encoding="utf-8") as log:
        assert b64(b"secret words") not in log.read()


def test_encrypt_only_decrypt_only_and_unexposed_keys(kms, xks, xks_principal):
    encrypt_only = key_for(kms, xks_principal, ["Encrypt"])
    decrypt_only = key_for(kms, xks_principal, ["Decrypt"])
    hidden = key_for(kms, xks_principal, [])
    assert call(f"{XKS}/keys/{encrypt_only}/metadata", {"requestMetadata": metadata()}, xks)[1]["keyUsage"] == ["ENCRYPT"]
    assert call(f"{XKS}/keys/{decrypt_only}/metadata", {"requestMetadata": metadata()}, xks)[1]["keyUsage"] == ["DECRYPT"]
    status, sealed = encrypt(encrypt_only, xks)
    assert status == 200
    expect(decrypt(encrypt_only, xks, sealed), 403, "AccessDeniedException")
    expect(encrypt(decrypt_only, xks), 403, "AccessDeniedException")
    expect(call(f"{XKS}/keys/{hidden}/metadata", {"requestMetadata": metadata()}, xks), 403, "AccessDeniedException")
    expect(encrypt(hidden, xks), 403, "AccessDeniedException")


def test_aliases_name_keys_and_unknown_keys_are_not_found(kms, xks, xks_principal):
    key = key_for(kms, xks_principal, ["Encrypt", "Decrypt"])
    name = f"xks-{key[:8]}"
    kms.create_alias(AliasName=f"alias/{name}", TargetKeyId=key)
    assert encrypt(name, xks)[0] == 200
    expect(encrypt(str(uuid.uuid4()), xks), 404, "KeyNotFoundException")
    expect(encrypt("no-such-alias", xks), 404, "KeyNotFoundException")
    expect(encrypt("bad%21id", xks), 400, "ValidationException")


def test_disabled_pending_deletion_and_rotated_keys(kms, xks, xks_principal):
    key = key_for(kms, xks_principal, ["Encrypt", "Decrypt"])
    status, sealed = encrypt(key, xks)
    kms.rotate_key_on_demand(KeyId=key)
    assert decrypt(key, xks, sealed)[0] == 200, "a rotation keeps older ciphertexts open"
    kms.disable_key(KeyId=key)
    assert call(f"{XKS}/keys/{key}/metadata", {"requestMetadata": metadata()}, xks)[1]["keyStatus"] == "DISABLED"
    expect(encrypt(key, xks), 400, "InvalidStateException")
    expect(decrypt(key, xks, sealed), 400, "InvalidStateException")
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    expect(call(f"{XKS}/keys/{key}/metadata", {"requestMetadata": metadata()}, xks), 400, "InvalidStateException")


def test_keys_xks_cannot_serve_are_invalid_key_usage(kms, xks, xks_principal):
    mac = key_for(kms, xks_principal, ["Encrypt", "Decrypt"], spec="HMAC_256", usage="GENERATE_VERIFY_MAC")
    expect(encrypt(mac, xks), 400, "InvalidKeyUsageException")
    rsa = key_for(kms, xks_principal, ["Encrypt", "Decrypt"], spec="RSA_2048", usage="ENCRYPT_DECRYPT")
    expect(encrypt(rsa, xks), 400, "InvalidKeyUsageException")


def test_tampered_ciphertexts_are_invalid(kms, xks, xks_principal):
    key = key_for(kms, xks_principal, ["Encrypt", "Decrypt"])
    status, sealed = encrypt(key, xks, aad=b"aad")
    flipped = bytearray(base64.b64decode(sealed["authenticationTag"]))
    flipped[0] ^= 1
    expect(decrypt(key, xks, sealed, aad=b"aad", authenticationTag=b64(bytes(flipped))), 400, "InvalidCiphertextException")
    expect(decrypt(key, xks, sealed, aad=b"other"), 400, "InvalidCiphertextException")
    expect(decrypt(key, xks, sealed), 400, "InvalidCiphertextException")
    # The metadata moved into the AAD does not open it: the lengths are bound too.
    moved = base64.b64decode(sealed["ciphertextMetadata"])
    expect(decrypt(key, xks, sealed, aad=b"aad" + moved, ciphertextMetadata=b64(b"")), 400, "InvalidCiphertextException")
    expect(decrypt(key, xks, sealed, aad=b"aad", initializationVector=b64(b"\0" * 16)), 400, "InvalidCiphertextException")


def test_validation_and_size_limits(kms, xks, xks_principal):
    key = key_for(kms, xks_principal, ["Encrypt", "Decrypt"])
    assert encrypt(key, xks, plaintext=b"p" * 4300, aad=b"a" * 8192)[0] == 200
    expect(encrypt(key, xks, plaintext=b"p" * 4301), 501, "UnsupportedOperationException")
    expect(encrypt(key, xks, aad=b"a" * 8193), 501, "UnsupportedOperationException")
    path = f"{XKS}/keys/{key}/encrypt"
    bad = [
        {"plaintext": b64(b"x"), "encryptionAlgorithm": "AES_GCM"},
        {"requestMetadata": metadata(), "plaintext": b64(b"x"), "encryptionAlgorithm": "AES_CBC"},
        {"requestMetadata": metadata(), "plaintext": b64(b"x"), "encryptionAlgorithm": "AES_GCM", "ciphertextDataIntegrityValueAlgorithm": "MD5"},
        {"requestMetadata": metadata(), "encryptionAlgorithm": "AES_GCM"},
        {"requestMetadata": metadata(), "plaintext": "%%%", "encryptionAlgorithm": "AES_GCM"},
    ]
    for body in bad:
        expect(call(path, body, xks), 400, "ValidationException")
    expect(call(path, None, xks, raw_body=b"{not json"), 400, "ValidationException")


def test_health_and_paths(xks):
    status, health = call(f"{XKS}/health", {"requestMetadata": {"kmsOperation": "KmsHealthCheck", "kmsRequestId": "h1"}}, xks)
    assert status == 200 and health["xksProxyFleetSize"] >= 1
    assert health["xksProxyVendor"] and health["xksProxyModel"] and health["ekmVendor"]
    assert [d["healthStatus"] for d in health["ekmFleetDetails"]] == ["ACTIVE"]
    expect(call(f"{XKS}/keys/k/sign", {"requestMetadata": metadata()}, xks), 404, "InvalidUriPathException")
    expect(call(f"{XKS}/nothing", {}, xks), 404, "InvalidUriPathException")
    assert call(f"{XKS}/health", None, xks, method="GET", raw_body=b"")[0] == 405


def test_signatures_are_checked(kms, xks, xks_principal):
    key = key_for(kms, xks_principal, ["Encrypt", "Decrypt"])
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    expect(encrypt(key, (xks[0], "wrong-secret")), 401, "AuthenticationFailedException")
    expect(encrypt(key, ("AKIAUNKNOWNUNKNOWN00", "secret")), 401, "AuthenticationFailedException")
    expect(encrypt(key, xks, when=now - datetime.timedelta(minutes=6)), 401, "AuthenticationFailedException")
    expect(encrypt(key, xks, when=now + datetime.timedelta(minutes=6)), 401, "AuthenticationFailedException")
    expect(encrypt(key, xks, service="kms"), 401, "AuthenticationFailedException")
    expect(encrypt(key, xks, region="eu-west-1"), 401, "AuthenticationFailedException")
    expect(encrypt(key, None), 401, "AuthenticationFailedException")
    refused = [r for r in audit_records() if r["operation"] == "XksEncrypt" and r["principal"] == "unknown"]
    assert len(refused) >= 7 and all(r["error_code"] == "AuthenticationFailedException" for r in refused[-7:])


def test_two_credentials_at_once_for_rotation(kms, xks, xks_principal):
    key = key_for(kms, xks_principal, ["Encrypt", "Decrypt"])
    second = issue_access_key(xks_principal)
    assert encrypt(key, xks)[0] == 200 and encrypt(key, second)[0] == 200
    arcactl("access-key", "delete", second[0])
    expect(encrypt(key, second), 401, "AuthenticationFailedException")
    assert encrypt(key, xks)[0] == 200


def test_curl_with_its_own_sigv4(kms, xks, xks_principal):
    key = key_for(kms, xks_principal, ["Encrypt", "Decrypt"])
    body = json.dumps({"requestMetadata": metadata(), "plaintext": b64(b"from curl"), "encryptionAlgorithm": "AES_GCM"})
    out = subprocess.run(
        ["curl", "-sS", "--aws-sigv4", "aws:amz:us-east-1:kms-xks-proxy", "--user", f"{xks[0]}:{xks[1]}", "-X", "POST",
         "-H", "Content-Type: application/json", "--data", body, f"{endpoint()}{XKS}/keys/{key}/encrypt"],
        check=True, capture_output=True, text=True,
    )
    sealed = json.loads(out.stdout)
    status, opened = decrypt(key, xks, sealed)
    assert (status, base64.b64decode(opened["plaintext"])) == (200, b"from curl")


def tls_pool(with_client_certificate):
    cert = {"cert_file": os.environ["ARCA_XKS_CLIENT_CERT"], "key_file": os.environ["ARCA_XKS_CLIENT_KEY"]} if with_client_certificate else {}
    return urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=os.environ["ARCA_AWS_CA"], **cert)


def test_mutual_tls_and_the_path_prefix_and_throttling():
    """The HTTPS daemon: XKS under /tenant-a, a client certificate of one subject required, a
    crypto quota of 5 calls a second."""
    base, credentials = os.environ["ARCA_AWS_TLS_ENDPOINT"], tuple(os.environ["ARCA_XKS_TLS_CREDENTIALS"].split(":", 1))
    prefix = "/tenant-a" + XKS
    health = {"requestMetadata": {"kmsOperation": "KmsHealthCheck", "kmsRequestId": "h"}}
    assert call(prefix + "/health", health, credentials, base=base, http=tls_pool(True))[0] == 200
    expect(call(prefix + "/health", health, credentials, base=base, http=tls_pool(False)), 401, "AuthenticationFailedException")
    expect(call(XKS + "/health", health, credentials, base=base, http=tls_pool(True)), 404, "InvalidUriPathException")
    key = os.environ["ARCA_XKS_TLS_KEY"]
    pool = tls_pool(True)
    answers = []
    while len(answers) < 500 and (not answers or answers[-1][0] != 429):
        answers.append(encrypt(key, credentials, base=base + "/tenant-a", http=pool, cdiv=False))
    assert answers[0][0] == 200, answers[0]
    expect(answers[-1], 429, "ThrottlingException")


def test_a_sealed_store_is_an_internal_error():
    base = os.environ["ARCA_AWS_SEALED_ENDPOINT"]
    health = {"requestMetadata": {"kmsOperation": "KmsHealthCheck", "kmsRequestId": "h"}}
    expect(call(XKS + "/health", health, ("AKIAAAAAAAAAAAAAAAAA", "secret"), base=base, http=tls_pool(False)), 500, "InternalException")

"""SigV4 as AWS checks it: every way a request's signature can be wrong is refused with AWS's
exception name, and each refusal is in the audit log."""

import datetime

import pytest

from conftest import client_with, issue_access_key, arcactl
from raw import audit_records, request, send, sign

BODY = {"NumberOfBytes": 16}


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


@pytest.fixture(scope="module")
def credentials():
    return issue_access_key("uid:0")


def refused(status, payload, name):
    assert status == 400 or status == 403, (status, payload)
    assert payload["__type"] == name, payload
    assert name in {r.get("error_code") for r in audit_records()[-20:] if r["principal"] == "unknown"}


def test_a_correctly_signed_request_is_served(credentials):
    status, payload, headers = send(sign(request("GenerateRandom", BODY), *credentials))
    assert status == 200 and len(payload["Plaintext"]) > 0
    assert headers.get("x-amzn-RequestId")


def test_wrong_secret(credentials):
    status, payload, _ = send(sign(request("GenerateRandom", BODY), credentials[0], "not-the-secret"))
    refused(status, payload, "InvalidSignatureException")


def test_expired_and_future_dates(credentials):
    for skew in (-6, 6):
        when = now() + datetime.timedelta(minutes=skew)
        status, payload, _ = send(sign(request("GenerateRandom", BODY), *credentials, when=when))
        refused(status, payload, "InvalidSignatureException")
        # AWS's own words: "Signature expired: …" and "Signature not yet current: …".
        assert ("Signature expired" if skew < 0 else "Signature not yet current") in payload["message"], payload


def test_replay_inside_the_window_is_served_outside_refused(credentials):
    inside = sign(request("GenerateRandom", BODY), *credentials, when=now() - datetime.timedelta(minutes=4))
    assert send(inside)[0] == 200
    assert send(inside)[0] == 200
    outside = sign(request("GenerateRandom", BODY), *credentials, when=now() - datetime.timedelta(minutes=16))
    status, payload, _ = send(outside)
    refused(status, payload, "InvalidSignatureException")


def test_altered_body(credentials):
    signed = sign(request("GenerateRandom", BODY), *credentials)
    status, payload, _ = send(signed, body=b'{"NumberOfBytes": 1024}')
    refused(status, payload, "InvalidSignatureException")


def test_altered_signed_header(credentials):
    signed = sign(request("GenerateRandom", BODY), *credentials)
    signed.headers.replace_header("X-Amz-Target", "TrentService.ListKeys")
    status, payload, _ = send(signed)
    refused(status, payload, "InvalidSignatureException")


def test_unknown_and_revoked_keys(credentials):
    status, payload, _ = send(sign(request("GenerateRandom", BODY), "AKIAUNKNOWNUNKNOWN00", "secret"))
    refused(status, payload, "UnrecognizedClientException")
    key_id, secret = issue_access_key("uid:0")
    client = client_with(key_id, secret)
    assert len(client.generate_random(NumberOfBytes=8)["Plaintext"]) == 8
    arcactl("access-key", "delete", key_id)
    status, payload, _ = send(sign(request("GenerateRandom", BODY), key_id, secret))
    refused(status, payload, "UnrecognizedClientException")
    with pytest.raises(Exception) as excinfo:
        client.generate_random(NumberOfBytes=8)
    assert excinfo.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_unsigned_and_malformed_authorization(credentials):
    status, payload, _ = send(request("GenerateRandom", BODY))
    refused(status, payload, "MissingAuthenticationTokenException")
    malformed = request("GenerateRandom", BODY, headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x", "X-Amz-Date": "20260101T000000Z"})
    status, payload, _ = send(malformed)
    refused(status, payload, "IncompleteSignatureException")


def test_scope_of_another_region_or_service(credentials):
    for region, service in (("eu-west-1", "kms"), ("us-east-1", "s3")):
        status, payload, _ = send(sign(request("GenerateRandom", BODY), *credentials, region=region, service=service))
        assert status in (400, 403) and payload["__type"] in ("InvalidSignatureException", "IncompleteSignatureException"), payload

"""The exceptions arcad answers that the operation tests do not meet on their way: unoffered
operations, malformed requests, throttling (and the SDK's retries absorbing it), a sealed
appliance."""

import os

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from conftest import REGION, error_code
from raw import request, send, sign


def test_operations_not_offered_are_unsupported(kms):
    with pytest.raises(kms.exceptions.UnsupportedOperationException):
        kms.replicate_key(KeyId="1234abcd-12ab-34cd-56ef-1234567890ab", ReplicaRegion="eu-west-1")
    with pytest.raises(kms.exceptions.UnsupportedOperationException):
        kms.describe_custom_key_stores()
    with pytest.raises(kms.exceptions.UnsupportedOperationException):
        kms.create_key(KeySpec="SM2", KeyUsage="SIGN_VERIFY")
    with pytest.raises(kms.exceptions.UnsupportedOperationException):
        kms.create_key(MultiRegion=True)


def test_a_dry_run_is_refused_and_changes_nothing(kms, key, stranger):
    with pytest.raises(kms.exceptions.UnsupportedOperationException):
        kms.create_grant(KeyId=key, GranteePrincipal=stranger.principal, Operations=["Encrypt"], DryRun=True)
    assert kms.list_grants(KeyId=key)["Grants"] == []


def test_an_invented_operation_is_unsupported_and_a_bad_target_unknown(dev_credentials):
    status, payload, _ = send(sign(request("MakeCoffee", {}), *dev_credentials))
    assert (status, payload["__type"]) == (400, "UnsupportedOperationException")
    status, payload, _ = send(sign(request("", {}, headers={"X-Amz-Target": "Other.Encrypt"}), *dev_credentials))
    assert (status, payload["__type"]) == (400, "UnknownOperationException")


def test_malformed_bodies_and_missing_members_are_validation_errors(dev_credentials):
    for body in (b"{", b'{"KeyId": 7}', b'{"KeyId": "alias/x", "Plaintext": "%%%"}'):
        status, payload, _ = send(sign(request("Encrypt", body), *dev_credentials))
        assert (status, payload["__type"]) == (400, "ValidationException"), payload
    status, payload, _ = send(sign(request("Encrypt", {"Plaintext": "aGk="}), *dev_credentials))
    assert payload["__type"] == "ValidationException" and "keyId" in payload["message"]


def test_a_body_over_the_limit_is_refused(dev_credentials):
    """max_request_bytes (64 KiB by default): a body of exactly that size is read, one byte more
    is refused before the call."""
    def body_of(size):
        head, tail = b'{"KeyId":"', b'"}'
        return head + b"k" * (size - len(head) - len(tail)) + tail
    status, payload, _ = send(sign(request("DescribeKey", body_of(64 * 1024)), *dev_credentials))
    assert status == 400 and payload["__type"] == "NotFoundException", payload
    status, payload, _ = send(sign(request("DescribeKey", body_of(64 * 1024 + 1)), *dev_credentials))
    assert status == 413 and payload["__type"] == "RequestEntityTooLargeException"


def test_request_headers_are_bounded_by_max_header_list_size(dev_credentials):
    """[connections] max_header_list_size (16 KiB by default) bounds the request line and headers:
    a request with 12 KiB of headers is served, one with more than 16 KiB is refused with 431."""
    for size, expected in ((12 * 1024, 200), (16 * 1024 + 1, 431)):
        signed = sign(request("GenerateRandom", {"NumberOfBytes": 8}), *dev_credentials)
        signed.headers["X-Padding"] = "p" * size
        status, _, _ = send_raw(signed)
        assert status == expected, (size, status)


def send_raw(aws_request):
    import urllib3

    prepared = aws_request.prepare()
    response = urllib3.PoolManager().request(
        "POST", prepared.url, body=prepared.body, headers=dict(prepared.headers), retries=False
    )
    return response.status, response.data, response.headers


def test_bad_limits_are_validation_errors(kms):
    with pytest.raises(ClientError) as excinfo:
        kms.list_keys(Limit=1001)
    assert error_code(excinfo) == "ValidationException"


def tls_client(max_attempts):
    config = botocore.config.Config(retries={"mode": "standard", "max_attempts": max_attempts})
    session = boto3.session.Session(profile_name=os.environ["ARCA_AWS_TLS_PROFILE"], region_name=REGION)
    return session.client("kms", endpoint_url=os.environ["ARCA_AWS_TLS_ENDPOINT"], config=config, verify=os.environ["ARCA_AWS_CA"])


def test_a_burst_past_the_quota_is_throttled_and_the_sdk_retries_absorb_it():
    """The HTTPS daemon allows 5 crypto calls a second."""
    strict = tls_client(1)
    with pytest.raises(ClientError) as excinfo:
        for _ in range(500):
            strict.generate_random(NumberOfBytes=8)
    assert error_code(excinfo) == "ThrottlingException"
    patient = tls_client(10)
    for _ in range(15):
        assert len(patient.generate_random(NumberOfBytes=8)["Plaintext"]) == 8


def test_a_store_not_yet_initialised_is_an_internal_error():
    session = boto3.session.Session(region_name=REGION)
    client = session.client(
        "kms",
        endpoint_url=os.environ["ARCA_AWS_SEALED_ENDPOINT"],
        aws_access_key_id="AKIAAAAAAAAAAAAAAAAA",
        aws_secret_access_key="secret",
        config=botocore.config.Config(retries={"mode": "standard", "max_attempts": 1}),
        verify=os.environ["ARCA_AWS_CA"],
    )
    with pytest.raises(kms_internal(client)):
        client.list_keys()


def kms_internal(client):
    return client.exceptions.KMSInternalException

"""Requests made by hand, signed by botocore's own SigV4 signer, for what an SDK never sends:
tampered signatures, old dates, unknown operations, malformed bodies."""

import datetime
import json
import os
from unittest import mock

import botocore.auth
import botocore.credentials
import urllib3
from botocore.awsrequest import AWSRequest

from conftest import REGION, endpoint

HTTP = urllib3.PoolManager()


def request(target, body, headers=None):
    return AWSRequest(
        method="POST",
        url=endpoint() + "/",
        data=body if isinstance(body, bytes) else json.dumps(body).encode(),
        headers={"X-Amz-Target": f"TrentService.{target}", "Content-Type": "application/x-amz-json-1.1", **(headers or {})},
    )


def sign(aws_request, access_key, secret, when=None, region=REGION, service="kms"):
    credentials = botocore.credentials.Credentials(access_key, secret)
    signer = botocore.auth.SigV4Auth(credentials, service, region)
    now = when or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        signer.add_auth(aws_request)
    return aws_request


def send(aws_request, body=None):
    """Sends a prepared request (optionally with another body than the one signed)."""
    prepared = aws_request.prepare()
    response = HTTP.request(
        "POST", prepared.url, body=body if body is not None else prepared.body, headers=dict(prepared.headers), retries=False
    )
    payload = json.loads(response.data) if response.data else {}
    return response.status, payload, response.headers


def audit_records():
    with open(os.environ["ARCA_AUDIT_LOG"], encoding="utf-8") as log:
        return [json.loads(line) for line in log if line.strip()]

"""Fixtures for the AWS KMS protocol tests: boto3 clients of arcad's AWS front.

tests/tests/aws_clients.rs starts the daemons and runs pytest with:
  ARCA_AWS_ENDPOINT          the --dev daemon's endpoint (plain HTTP on loopback)
  AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE   its dev access key (written by arcad --dev)
  ARCACTL, ARCA_SOCKET       to issue and revoke access keys for other principals
  ARCA_AUDIT_LOG             the dev daemon's audit log
  ARCA_AWS_TLS_ENDPOINT, ARCA_AWS_CA, ARCA_AWS_TLS_PROFILE   an HTTPS daemon with a low
                             crypto quota (the throttling tests)
"""

import json
import os
import subprocess
import uuid

import boto3
import botocore.config
import pytest

REGION = "us-east-1"


def endpoint():
    return os.environ["ARCA_AWS_ENDPOINT"]


def arcactl(*args):
    """Runs arcactl against the dev daemon; returns its JSON output."""
    out = subprocess.run(
        [os.environ["ARCACTL"], "--output", "json", *args],
        env={**os.environ, "ARCA_SOCKET": os.environ["ARCA_SOCKET"]},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout) if out.stdout.strip() else {}


def client_with(access_key_id, secret, retries=None, endpoint_url=None, verify=None):
    config = botocore.config.Config(retries=retries or {"mode": "standard", "max_attempts": 1})
    return boto3.client(
        "kms",
        region_name=REGION,
        endpoint_url=endpoint_url or endpoint(),
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret,
        config=config,
        verify=verify,
    )


@pytest.fixture(scope="session")
def kms():
    """The dev access key's client (the daemon's own user: an administrator)."""
    session = boto3.session.Session(profile_name=os.environ.get("AWS_PROFILE", "arca-dev"), region_name=REGION)
    config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 1})
    return session.client("kms", endpoint_url=endpoint(), config=config)


@pytest.fixture(scope="session")
def dev_credentials():
    session = boto3.session.Session(profile_name=os.environ.get("AWS_PROFILE", "arca-dev"))
    credentials = session.get_credentials().get_frozen_credentials()
    return credentials.access_key, credentials.secret_key


def issue_access_key(principal):
    """An access key bound to `principal`: (id, secret)."""
    created = arcactl("access-key", "create", "--principal", principal, "--description", "pytest")
    return created["access_key_id"], created["secret_access_key"]


@pytest.fixture(scope="session")
def stranger():
    """A client whose principal no key policy names."""
    principal = f"uid:{40000 + uuid.uuid4().int % 10000}"
    key_id, secret = issue_access_key(principal)
    client = client_with(key_id, secret)
    client.principal = principal
    return client


@pytest.fixture
def key(kms):
    return kms.create_key(Description="pytest")["KeyMetadata"]["KeyId"]


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]

"""The AWS Encryption SDK for Python with a KMS master key provider pointed at arcad: a
multi-MiB stream encrypted and decrypted, and data keys cached and reused."""

import io
import os

import aws_encryption_sdk
import botocore.session
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.key_providers.kms import StrictAwsKmsMasterKeyProvider

from conftest import endpoint

STREAM_BYTES = 5 * 1024 * 1024 + 123


CALLS = []


def provider(key_arn):
    """A KMS master key provider whose clients talk to arcad: the SDKs' own endpoint setting
    (AWS_ENDPOINT_URL_KMS) is the one change, as a user makes it."""
    os.environ["AWS_ENDPOINT_URL_KMS"] = endpoint()
    session = botocore.session.Session(profile=os.environ.get("AWS_PROFILE", "arca-dev"))
    session.register("before-call.kms", lambda model, **_: CALLS.append(model.name))
    return StrictAwsKmsMasterKeyProvider(key_ids=[key_arn], botocore_session=session)


def test_a_multi_mebibyte_stream_round_trips(kms):
    key_arn = kms.create_key(Description="encryption sdk")["KeyMetadata"]["Arn"]
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    master_keys = provider(key_arn)
    plaintext = os.urandom(STREAM_BYTES)
    sealed = io.BytesIO()
    with client.stream(mode="e", source=io.BytesIO(plaintext), key_provider=master_keys, encryption_context={"purpose": "test"}) as encryptor:
        for chunk in encryptor:
            sealed.write(chunk)
    assert len(sealed.getvalue()) > STREAM_BYTES
    sealed.seek(0)
    opened = io.BytesIO()
    with client.stream(mode="d", source=sealed, key_provider=provider(key_arn)) as decryptor:
        for chunk in decryptor:
            opened.write(chunk)
        assert decryptor.header.encryption_context["purpose"] == "test"
    assert opened.getvalue() == plaintext
    assert "GenerateDataKey" in CALLS and "Decrypt" in CALLS


def test_data_key_caching_reuses_one_data_key(kms):
    key_arn = kms.create_key(Description="caching")["KeyMetadata"]["Arn"]
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    cache = aws_encryption_sdk.LocalCryptoMaterialsCache(capacity=10)
    cmm = aws_encryption_sdk.CachingCryptoMaterialsManager(
        master_key_provider=provider(key_arn), cache=cache, max_age=600.0, max_messages_encrypted=100
    )
    CALLS.clear()
    messages = [client.encrypt(source=f"message {i}".encode(), materials_manager=cmm)[0] for i in range(10)]
    assert CALLS.count("GenerateDataKey") == 1
    for i, message in enumerate(messages):
        plaintext, _ = client.decrypt(source=message, materials_manager=cmm)
        assert plaintext == f"message {i}".encode()

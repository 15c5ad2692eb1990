"""Every KMS operation arcad offers, through boto3 as an AWS KMS user calls it."""

import hashlib
import hmac
import time

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from conftest import REGION, error_code


def test_create_and_describe_key_answer_aws_shapes(kms):
    created = kms.create_key(Description="orders", Tags=[{"TagKey": "team", "TagValue": "payments"}])
    meta = created["KeyMetadata"]
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
    assert meta["Origin"] == "AWS_KMS" and meta["KeyManager"] == "CUSTOMER"
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert meta["MultiRegion"] is False
    assert meta["Arn"] == f"arn:aws:kms:{REGION}:{meta['AWSAccountId']}:key/{meta['KeyId']}"
    assert abs(meta["CreationDate"].timestamp() - time.time()) < 120
    by_arn = kms.describe_key(KeyId=meta["Arn"])["KeyMetadata"]
    assert by_arn["KeyId"] == meta["KeyId"] and by_arn["Description"] == "orders"


def test_every_form_of_key_id_names_the_key(kms, key):
    arn = kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"]
    name = f"alias/forms-{key[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key)
    alias_arn = arn.split(":key/")[0] + ":" + name
    for key_id in (key, arn, name, alias_arn):
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["KeyId"] == arn
    other_account = arn.replace(arn.split(":")[4], "999999999999")
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId=other_account)


def test_list_keys_pages_with_the_sdk_paginator(kms):
    made = {kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(5)}
    pages = list(kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) >= 3
    assert all(len(page["Keys"]) <= 2 for page in pages)
    assert all(page["Truncated"] for page in pages[:-1]) and not pages[-1]["Truncated"]
    listed = [entry["KeyId"] for page in pages for entry in page["Keys"]]
    assert len(listed) == len(set(listed))
    assert made <= set(listed)
    assert all(entry["KeyArn"].endswith(entry["KeyId"]) for page in pages for entry in page["Keys"])


def test_encrypt_decrypt_with_context(kms, key):
    context = {"order": "17", "tenant": "acme"}
    sealed = kms.encrypt(KeyId=key, Plaintext=b"attack at dawn", EncryptionContext=context)
    assert sealed["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    opened = kms.decrypt(CiphertextBlob=sealed["CiphertextBlob"], EncryptionContext=context)
    assert opened["Plaintext"] == b"attack at dawn"
    assert opened["KeyId"] == sealed["KeyId"]
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=sealed["CiphertextBlob"], EncryptionContext={"order": "18"})
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=b"\x00" * 40)


def test_decrypt_naming_another_key_is_incorrect_key(kms, key):
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(kms.exceptions.IncorrectKeyException):
        kms.decrypt(CiphertextBlob=blob, KeyId=other)


def test_re_encrypt_moves_a_ciphertext_between_keys(kms, key):
    destination = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"moved", EncryptionContext={"a": "1"})["CiphertextBlob"]
    moved = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"a": "1"},
        DestinationKeyId=destination,
        DestinationEncryptionContext={"b": "2"},
    )
    assert moved["SourceKeyId"].endswith(key) and moved["KeyId"].endswith(destination)
    assert kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"b": "2"})["Plaintext"] == b"moved"


def test_data_keys(kms, key):
    pair = kms.generate_data_key(KeyId=key, KeySpec="AES_256", EncryptionContext={"f": "1"})
    assert len(pair["Plaintext"]) == 32
    assert kms.decrypt(CiphertextBlob=pair["CiphertextBlob"], EncryptionContext={"f": "1"})["Plaintext"] == pair["Plaintext"]
    assert len(kms.generate_data_key(KeyId=key, NumberOfBytes=64)["Plaintext"]) == 64
    assert len(kms.generate_data_key(KeyId=key, KeySpec="AES_128")["Plaintext"]) == 16
    bare = kms.generate_data_key_without_plaintext(KeyId=key, KeySpec="AES_256")
    assert "Plaintext" not in bare
    assert len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 32


def test_data_key_pairs(kms, key):
    pair = kms.generate_data_key_pair(KeyId=key, KeyPairSpec="ECC_NIST_P256")
    private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
    public = serialization.load_der_public_key(pair["PublicKey"])
    assert private.public_key().public_numbers() == public.public_numbers()
    assert kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"])["Plaintext"] == pair["PrivateKeyPlaintext"]
    bare = kms.generate_data_key_pair_without_plaintext(KeyId=key, KeyPairSpec="RSA_2048")
    assert "PrivateKeyPlaintext" not in bare and bare["KeyPairSpec"] == "RSA_2048"


def test_generate_random(kms):
    assert len(kms.generate_random(NumberOfBytes=1024)["Plaintext"]) == 1024
    with pytest.raises(ClientError) as excinfo:
        kms.generate_random(NumberOfBytes=1025)
    assert error_code(excinfo) == "ValidationException"


@pytest.mark.parametrize(
    "spec,algorithm",
    [("ECC_NIST_P256", "ECDSA_SHA_256"), ("ECC_NIST_P384", "ECDSA_SHA_384"), ("RSA_2048", "RSASSA_PSS_SHA_256"), ("RSA_3072", "RSASSA_PKCS1_V1_5_SHA_384")],
)
def test_sign_verify_and_the_public_key(kms, spec, algorithm):
    signer = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert algorithm in signer["SigningAlgorithms"]
    message = b"the report"
    signature = kms.sign(KeyId=signer["KeyId"], Message=message, SigningAlgorithm=algorithm)["Signature"]
    assert kms.verify(KeyId=signer["KeyId"], Message=message, Signature=signature, SigningAlgorithm=algorithm)["SignatureValid"]
    digest = hashlib.new("sha" + algorithm[-3:], message).digest()
    assert kms.verify(
        KeyId=signer["KeyId"], Message=digest, MessageType="DIGEST", Signature=signature, SigningAlgorithm=algorithm
    )["SignatureValid"]
    public = kms.get_public_key(KeyId=signer["KeyId"])
    assert public["KeyUsage"] == "SIGN_VERIFY" and public["KeySpec"] == spec
    loaded = serialization.load_der_public_key(public["PublicKey"])
    chosen = getattr(hashes, "SHA" + algorithm[-3:])()
    if spec.startswith("ECC"):
        loaded.verify(signature, message, ec.ECDSA(chosen))
    elif "PSS" in algorithm:
        loaded.verify(signature, message, padding.PSS(padding.MGF1(chosen), chosen.digest_size), chosen)
    else:
        loaded.verify(signature, message, padding.PKCS1v15(), chosen)
    with pytest.raises(kms.exceptions.KMSInvalidSignatureException):
        kms.verify(KeyId=signer["KeyId"], Message=b"another report", Signature=signature, SigningAlgorithm=algorithm)


def test_rsa_encryption_keys_take_oaep_from_their_public_key(kms):
    key = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    assert key["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    blob = public.encrypt(b"sealed outside", padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    opened = kms.decrypt(KeyId=key["KeyId"], CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert opened["Plaintext"] == b"sealed outside"
    inside = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"in", EncryptionAlgorithm="RSAES_OAEP_SHA_1")["CiphertextBlob"]
    assert kms.decrypt(KeyId=key["KeyId"], CiphertextBlob=inside, EncryptionAlgorithm="RSAES_OAEP_SHA_1")["Plaintext"] == b"in"


def test_macs(kms):
    key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    assert key["MacAlgorithms"] == ["HMAC_SHA_256"]
    mac = kms.generate_mac(KeyId=key["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert kms.verify_mac(KeyId=key["KeyId"], Message=b"m", Mac=mac, MacAlgorithm="HMAC_SHA_256")["MacValid"]
    with pytest.raises(kms.exceptions.KMSInvalidMacException):
        kms.verify_mac(KeyId=key["KeyId"], Message=b"n", Mac=mac, MacAlgorithm="HMAC_SHA_256")


def test_wrong_usage_is_invalid_key_usage(kms, key):
    with pytest.raises(kms.exceptions.InvalidKeyUsageException):
        kms.sign(KeyId=key, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")


def test_aliases(kms, key):
    name = f"alias/life-{key[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key)
    with pytest.raises(kms.exceptions.AlreadyExistsException):
        kms.create_alias(AliasName=name, TargetKeyId=key)
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.update_alias(AliasName=name, TargetKeyId=other)
    listed = kms.list_aliases(KeyId=other)["Aliases"]
    assert [entry["AliasName"] for entry in listed] == [name]
    assert listed[0]["AliasArn"].endswith(":" + name) and listed[0]["TargetKeyId"] == other
    all_names = [entry["AliasName"] for page in kms.get_paginator("list_aliases").paginate() for entry in page["Aliases"]]
    assert name in all_names
    kms.delete_alias(AliasName=name)
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId=name)
    with pytest.raises(kms.exceptions.InvalidAliasNameException):
        kms.create_alias(AliasName="alias/aws/reserved", TargetKeyId=key)


def test_enable_disable(kms, key):
    kms.disable_key(KeyId=key)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(kms.exceptions.DisabledException):
        kms.encrypt(KeyId=key, Plaintext=b"x")
    kms.enable_key(KeyId=key)
    kms.encrypt(KeyId=key, Plaintext=b"x")


def test_rotation(kms, key):
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["KeyRotationEnabled"] and status["RotationPeriodInDays"] == 90
    before = kms.encrypt(KeyId=key, Plaintext=b"old")["CiphertextBlob"]
    assert kms.rotate_key_on_demand(KeyId=key)["KeyId"].endswith(key)
    rotations = kms.list_key_rotations(KeyId=key)["Rotations"]
    assert len(rotations) == 1 and rotations[0]["KeyId"] == key
    assert kms.decrypt(CiphertextBlob=before)["Plaintext"] == b"old"
    kms.disable_key_rotation(KeyId=key)
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is False


def test_scheduled_deletion(kms, key):
    scheduled = kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingDeletion" and scheduled["PendingWindowInDays"] == 7
    assert scheduled["DeletionDate"].timestamp() > time.time() + 6 * 86400
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    with pytest.raises(kms.exceptions.KMSInvalidStateException):
        kms.encrypt(KeyId=key, Plaintext=b"x")
    assert kms.cancel_key_deletion(KeyId=key)["KeyId"].endswith(key)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(kms.exceptions.KMSInvalidStateException):
        kms.cancel_key_deletion(KeyId=key)


def test_key_policies(kms, key, stranger):
    assert kms.list_key_policies(KeyId=key)["PolicyNames"] == ["default"]
    policy = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    with pytest.raises(ClientError) as excinfo:
        stranger.encrypt(KeyId=key, Plaintext=b"x")
    assert error_code(excinfo) == "AccessDeniedException"
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy)
    assert kms.get_key_policy(KeyId=key)["Policy"] == policy
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.get_key_policy(KeyId=key, PolicyName="other")


def test_grants(kms, key, stranger):
    grant = kms.create_grant(KeyId=key, GranteePrincipal=stranger.principal, Operations=["Encrypt", "Decrypt"], RetiringPrincipal=stranger.principal)
    blob = stranger.encrypt(KeyId=key, Plaintext=b"granted", GrantTokens=[grant["GrantToken"]])["CiphertextBlob"]
    assert stranger.decrypt(CiphertextBlob=blob)["Plaintext"] == b"granted"
    listed = kms.list_grants(KeyId=key)["Grants"]
    assert [g["GrantId"] for g in listed] == [grant["GrantId"]]
    assert listed[0]["Operations"] == ["Encrypt", "Decrypt"] and listed[0]["GranteePrincipal"] == stranger.principal
    retirable = stranger.list_retirable_grants(RetiringPrincipal=stranger.principal)["Grants"]
    assert grant["GrantId"] in [g["GrantId"] for g in retirable]
    stranger.retire_grant(GrantToken=grant["GrantToken"])
    with pytest.raises(ClientError) as excinfo:
        stranger.encrypt(KeyId=key, Plaintext=b"x")
    assert error_code(excinfo) == "AccessDeniedException"
    second = kms.create_grant(KeyId=key, GranteePrincipal=stranger.principal, Operations=["Encrypt"])
    kms.revoke_grant(KeyId=key, GrantId=second["GrantId"])
    assert kms.list_grants(KeyId=key)["Grants"] == []


def test_grant_tokens_are_checked(kms, key):
    with pytest.raises(kms.exceptions.InvalidGrantTokenException):
        kms.encrypt(KeyId=key, Plaintext=b"x", GrantTokens=["not-a-token"])
    with pytest.raises(ClientError) as excinfo:
        kms.encrypt(KeyId=key, Plaintext=b"x", GrantTokens=["t"] * 11)
    assert error_code(excinfo) == "ValidationException"


def test_import_key_material(kms):
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    assert key["KeyState"] == "PendingImport" and key["Origin"] == "EXTERNAL"
    params = kms.get_parameters_for_import(KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    wrapping = serialization.load_der_public_key(params["PublicKey"])
    material = bytes(range(32))
    wrapped = wrapping.encrypt(material, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    kms.import_key_material(
        KeyId=key["KeyId"], ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE"
    )
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"imported")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"
    kms.delete_imported_key_material(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(kms.exceptions.KMSInvalidStateException):
        kms.decrypt(CiphertextBlob=blob)


def test_tags(kms, key):
    kms.tag_resource(KeyId=key, Tags=[{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "team", "TagValue": "a"}])
    kms.tag_resource(KeyId=key, Tags=[{"TagKey": "team", "TagValue": "b"}])
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key)["Tags"]}
    assert tags == {"env": "prod", "team": "b"}
    kms.untag_resource(KeyId=key, TagKeys=["env", "absent"])
    assert kms.list_resource_tags(KeyId=key)["Tags"] == [{"TagKey": "team", "TagValue": "b"}]
    with pytest.raises(kms.exceptions.TagException):
        kms.tag_resource(KeyId=key, Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}])


def test_update_key_description(kms, key):
    kms.update_key_description(KeyId=key, Description="renamed")
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["Description"] == "renamed"


def test_derive_shared_secret(kms):
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    assert key["KeyAgreementAlgorithms"] == ["ECDH"]
    peer = ec.generate_private_key(ec.SECP256R1())
    peer_public = peer.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    derived = kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer_public)
    ours = serialization.load_der_public_key(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    assert derived["SharedSecret"] == peer.exchange(ec.ECDH(), ours)
    other_curve = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ClientError) as excinfo:
        kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=other_curve)
    assert error_code(excinfo) == "ValidationException"


def test_ciphertexts_cross_fronts(kms, key):
    """A blob made over gRPC (arcactl) opens over the AWS protocol, and the reverse."""
    import os
    import subprocess
    import tempfile

    arcactl = os.environ["ARCACTL"]
    env = {**os.environ, "ARCA_SOCKET": os.environ["ARCA_SOCKET"]}
    with tempfile.TemporaryDirectory() as directory:
        grpc_blob = os.path.join(directory, "grpc.bin")
        subprocess.run(
            [arcactl, "encrypt", "--key-id", key, "--plaintext", "from grpc", "--context", "k=v", "--out", grpc_blob],
            env=env, check=True, capture_output=True,
        )
        with open(grpc_blob, "rb") as blob:
            assert kms.decrypt(CiphertextBlob=blob.read(), EncryptionContext={"k": "v"})["Plaintext"] == b"from grpc"
        aws_blob = os.path.join(directory, "aws.bin")
        with open(aws_blob, "wb") as blob:
            blob.write(kms.encrypt(KeyId=key, Plaintext=b"from aws", EncryptionContext={"k": "v"})["CiphertextBlob"])
        plain = os.path.join(directory, "plain.txt")
        subprocess.run(
            [arcactl, "decrypt", "--ciphertext-file", aws_blob, "--context", "k=v", "--out", plain],
            env=env, check=True, capture_output=True,
        )
        with open(plain, "rb") as opened:
            assert opened.read() == b"from aws"


def test_hmac_224_over_imported_material_is_pythons_hmac(kms):
    key = kms.create_key(KeySpec="HMAC_224", KeyUsage="GENERATE_VERIFY_MAC", Origin="EXTERNAL")["KeyMetadata"]
    assert key["KeySpec"] == "HMAC_224" and key["MacAlgorithms"] == ["HMAC_SHA_224"]
    params = kms.get_parameters_for_import(KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    wrapping = serialization.load_der_public_key(params["PublicKey"])
    material = bytes(range(28))
    wrapped = wrapping.encrypt(material, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    kms.import_key_material(
        KeyId=key["KeyId"], ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE"
    )
    mac = kms.generate_mac(KeyId=key["KeyId"], Message=b"arca", MacAlgorithm="HMAC_SHA_224")["Mac"]
    assert mac == hmac.new(material, b"arca", hashlib.sha224).digest()
    assert kms.verify_mac(KeyId=key["KeyId"], Message=b"arca", Mac=mac, MacAlgorithm="HMAC_SHA_224")["MacValid"]
    with pytest.raises(ClientError):
        kms.generate_mac(KeyId=key["KeyId"], Message=b"arca", MacAlgorithm="HMAC_SHA_256")

"""ECC_NIST_P521 and ECC_SECG_P256K1 keys through boto3, as AWS KMS defines them: P-521 signs with
ECDSA_SHA_512 or agrees keys (DeriveSharedSecret), secp256k1 signs with ECDSA_SHA_256 only. The
OpenSSL command line is the outside judge of the signatures, the public keys and the secrets."""

import hashlib
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import error_code


def openssl(*args, cwd):
    return subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True).stdout


@pytest.mark.parametrize(
    "spec,algorithm,curve",
    [("ECC_NIST_P521", "ECDSA_SHA_512", "secp521r1"), ("ECC_SECG_P256K1", "ECDSA_SHA_256", "secp256k1")],
)
def test_sign_verify_and_openssl_checks_the_public_key(kms, tmp_path, spec, algorithm, curve):
    signer = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert signer["KeySpec"] == spec and signer["SigningAlgorithms"] == [algorithm]
    message = b"the quarterly report"
    signature = kms.sign(KeyId=signer["KeyId"], Message=message, SigningAlgorithm=algorithm)["Signature"]
    assert kms.verify(KeyId=signer["KeyId"], Message=message, Signature=signature, SigningAlgorithm=algorithm)[
        "SignatureValid"
    ]
    digest = hashlib.new("sha" + algorithm[-3:], message).digest()
    by_digest = kms.sign(KeyId=signer["KeyId"], Message=digest, MessageType="DIGEST", SigningAlgorithm=algorithm)
    public = kms.get_public_key(KeyId=signer["KeyId"])
    assert public["KeySpec"] == spec and public["SigningAlgorithms"] == [algorithm]
    (tmp_path / "pub.der").write_bytes(public["PublicKey"])
    (tmp_path / "msg").write_bytes(message)
    text = openssl("pkey", "-pubin", "-inform", "DER", "-in", "pub.der", "-text", "-noout", cwd=tmp_path)
    assert curve.encode() in text or (curve == "secp521r1" and b"P-521" in text), text
    for name, sig in (("sig", signature), ("sig2", by_digest["Signature"])):
        (tmp_path / name).write_bytes(sig)
        out = openssl(
            "dgst", "-sha" + algorithm[-3:], "-keyform", "DER", "-verify", "pub.der", "-signature", name, "msg", cwd=tmp_path
        )
        assert b"Verified OK" in out
    (tmp_path / "msg").write_bytes(b"another report")
    refused = subprocess.run(
        ["openssl", "dgst", "-sha" + algorithm[-3:], "-keyform", "DER", "-verify", "pub.der", "-signature", "sig", "msg"],
        cwd=tmp_path,
        capture_output=True,
    )
    assert refused.returncode != 0
    other = "ECDSA_SHA_384"
    with pytest.raises(ClientError) as excinfo:
        kms.sign(KeyId=signer["KeyId"], Message=message, SigningAlgorithm=other)
    # Arca answers an algorithm of another key spec as it does for P-256 and P-384.
    assert error_code(excinfo) in ("ValidationException", "InvalidKeyUsageException")


def test_p521_derives_the_secret_openssl_derives(kms, tmp_path):
    key = kms.create_key(KeySpec="ECC_NIST_P521", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    assert key["KeyAgreementAlgorithms"] == ["ECDH"]
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521", "-out", "peer.pem", cwd=tmp_path)
    peer_public = openssl("pkey", "-in", "peer.pem", "-pubout", "-outform", "DER", cwd=tmp_path)
    derived = kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer_public)
    (tmp_path / "ours.der").write_bytes(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    expected = openssl(
        "pkeyutl", "-derive", "-inkey", "peer.pem", "-peerkey", "ours.der", "-peerform", "DER", cwd=tmp_path
    )
    assert len(derived["SharedSecret"]) == 66 and derived["SharedSecret"] == expected


def test_secp256k1_keys_do_not_agree(kms):
    with pytest.raises(ClientError) as excinfo:
        kms.create_key(KeySpec="ECC_SECG_P256K1", KeyUsage="KEY_AGREEMENT")
    assert error_code(excinfo) == "ValidationException"


def test_ed25519_signs_raw_messages_that_openssl_verifies(kms, tmp_path):
    signer = kms.create_key(KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert signer["SigningAlgorithms"] == ["ED25519_SHA_512"]
    message = b"release 1.4.2"
    signature = kms.sign(KeyId=signer["KeyId"], Message=message, SigningAlgorithm="ED25519_SHA_512")["Signature"]
    assert len(signature) == 64
    assert kms.verify(KeyId=signer["KeyId"], Message=message, Signature=signature, SigningAlgorithm="ED25519_SHA_512")[
        "SignatureValid"
    ]
    (tmp_path / "pub.der").write_bytes(kms.get_public_key(KeyId=signer["KeyId"])["PublicKey"])
    (tmp_path / "msg").write_bytes(message)
    (tmp_path / "sig").write_bytes(signature)
    args = ["pkeyutl", "-verify", "-rawin", "-pubin", "-keyform", "DER", "-inkey", "pub.der", "-in", "msg", "-sigfile", "sig"]
    assert b"Signature Verified Successfully" in openssl(*args, cwd=tmp_path)
    with pytest.raises(kms.exceptions.KMSInvalidSignatureException):
        kms.verify(KeyId=signer["KeyId"], Message=b"release 1.4.3", Signature=signature, SigningAlgorithm="ED25519_SHA_512")
    digest = hashlib.sha512(message).digest()
    with pytest.raises(ClientError) as excinfo:
        kms.sign(KeyId=signer["KeyId"], Message=digest, MessageType="DIGEST", SigningAlgorithm="ED25519_SHA_512")
    assert error_code(excinfo) == "ValidationException"
    with pytest.raises(ClientError):
        kms.sign(KeyId=signer["KeyId"], Message=message, SigningAlgorithm="ED25519_PH_SHA_512")


@pytest.mark.parametrize("spec,curve", [("ECC_NIST_P521", "P-521"), ("ECC_SECG_P256K1", "secp256k1")])
def test_data_key_pairs_on_the_new_curves(kms, key, tmp_path, spec, curve):
    pair = kms.generate_data_key_pair(KeyId=key, KeyPairSpec=spec)
    (tmp_path / "private.der").write_bytes(pair["PrivateKeyPlaintext"])
    public = openssl("pkey", "-inform", "DER", "-in", "private.der", "-pubout", "-outform", "DER", cwd=tmp_path)
    assert public == pair["PublicKey"]
    text = openssl("pkey", "-inform", "DER", "-in", "private.der", "-text", "-noout", cwd=tmp_path)
    assert curve.encode() in text or (curve == "P-521" and b"secp521r1" in text), text

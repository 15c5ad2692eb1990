#!/usr/bin/env bash
# aws-cli against arcad's AWS front: every operation arcad offers, in the idioms AWS's own
# documentation shows (fileb://, --query … --output text | base64 -d). Run by
# tests/tests/aws_clients.rs with ARCA_AWS_ENDPOINT, AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE,
# AWS_DEFAULT_REGION and AWS (the aws executable) set. Any failed check exits non-zero.
set -euo pipefail

kms() { "$AWS" kms --endpoint-url "$ARCA_AWS_ENDPOINT" "$@"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
expect_error() { # expect_error NAME command...
  local name=$1; shift
  if out=$("$@" 2>&1); then fail "expected $name from: $*"; fi
  grep -q "($name)" <<<"$out" || fail "expected $name, got: $out"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# Keys, aliases, description, tags
KEY=$(kms create-key --description "cli key" --tags TagKey=team,TagValue=a --query KeyMetadata.KeyId --output text)
ARN=$(kms describe-key --key-id "$KEY" --query KeyMetadata.Arn --output text)
[[ $ARN == arn:aws:kms:*:key/$KEY ]] || fail "ARN $ARN"
kms list-keys --query 'Keys[].KeyId' --output text | grep -q "$KEY" || fail "list-keys"
kms create-alias --alias-name alias/cli-orders --target-key-id "$KEY"
kms list-aliases --key-id "$KEY" --query 'Aliases[0].AliasName' --output text | grep -qx alias/cli-orders || fail "list-aliases"
KEY2=$(kms create-key --query KeyMetadata.KeyId --output text)
kms update-alias --alias-name alias/cli-orders --target-key-id "$KEY2"
kms update-alias --alias-name alias/cli-orders --target-key-id "$KEY"
kms update-key-description --key-id "$KEY" --description "renamed"
[[ $(kms describe-key --key-id alias/cli-orders --query KeyMetadata.Description --output text) == renamed ]] || fail "description"
kms tag-resource --key-id "$KEY" --tags TagKey=env,TagValue=prod
kms untag-resource --key-id "$KEY" --tag-keys team
[[ $(kms list-resource-tags --key-id "$KEY" --query 'Tags[].TagKey' --output text) == env ]] || fail "tags"

# Encrypt and decrypt as AWS's documentation shows them
printf 'attack at dawn' > plain.txt
kms encrypt --key-id alias/cli-orders --plaintext fileb://plain.txt --encryption-context order=17 \
  --query CiphertextBlob --output text | base64 -d > blob.bin
kms decrypt --ciphertext-blob fileb://blob.bin --encryption-context order=17 \
  --query Plaintext --output text | base64 -d > opened.txt
cmp plain.txt opened.txt || fail "round trip"
expect_error InvalidCiphertextException kms decrypt --ciphertext-blob fileb://blob.bin --encryption-context order=18
kms re-encrypt --ciphertext-blob fileb://blob.bin --source-encryption-context order=17 --destination-key-id "$KEY2" \
  --query CiphertextBlob --output text | base64 -d > moved.bin
kms decrypt --ciphertext-blob fileb://moved.bin --query Plaintext --output text | base64 -d | cmp - plain.txt || fail "re-encrypt"

# Data keys and random bytes
kms generate-data-key --key-id "$KEY" --key-spec AES_256 --query CiphertextBlob --output text | base64 -d > dk.bin
[[ $(kms decrypt --ciphertext-blob fileb://dk.bin --query Plaintext --output text | base64 -d | wc -c) -eq 32 ]] || fail "data key"
kms generate-data-key-without-plaintext --key-id "$KEY" --number-of-bytes 48 --query CiphertextBlob --output text > /dev/null
kms generate-data-key-pair --key-id "$KEY" --key-pair-spec ECC_NIST_P256 --query PublicKey --output text | base64 -d > pair.der
openssl pkey -pubin -inform DER -in pair.der -noout || fail "data key pair public key"
kms generate-data-key-pair-without-plaintext --key-id "$KEY" --key-pair-spec RSA_2048 --query KeyPairSpec --output text | grep -qx RSA_2048
[[ $(kms generate-random --number-of-bytes 64 --query Plaintext --output text | base64 -d | wc -c) -eq 64 ]] || fail "random"

# Signatures, checked by OpenSSL with the public key from get-public-key
SIGNER=$(kms create-key --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY --query KeyMetadata.KeyId --output text)
printf 'the report' > report.txt
kms sign --key-id "$SIGNER" --message fileb://report.txt --message-type RAW --signing-algorithm ECDSA_SHA_256 \
  --query Signature --output text | base64 -d > report.sig
kms get-public-key --key-id "$SIGNER" --query PublicKey --output text | base64 -d > signer.der
openssl dgst -sha256 -verify <(openssl pkey -pubin -inform DER -in signer.der) -signature report.sig report.txt | grep -q OK
[[ $(kms verify --key-id "$SIGNER" --message fileb://report.txt --signature fileb://report.sig \
  --signing-algorithm ECDSA_SHA_256 --query SignatureValid --output text) == True ]] || fail "verify"
printf 'another report' > other.txt
expect_error KMSInvalidSignatureException kms verify --key-id "$SIGNER" --message fileb://other.txt \
  --signature fileb://report.sig --signing-algorithm ECDSA_SHA_256

# MACs
MACKEY=$(kms create-key --key-spec HMAC_256 --key-usage GENERATE_VERIFY_MAC --query KeyMetadata.KeyId --output text)
kms generate-mac --key-id "$MACKEY" --message fileb://report.txt --mac-algorithm HMAC_SHA_256 --query Mac --output text | base64 -d > report.mac
[[ $(kms verify-mac --key-id "$MACKEY" --message fileb://report.txt --mac fileb://report.mac --mac-algorithm HMAC_SHA_256 \
  --query MacValid --output text) == True ]] || fail "verify-mac"

# Key agreement
AGREE=$(kms create-key --key-spec ECC_NIST_P256 --key-usage KEY_AGREEMENT --query KeyMetadata.KeyId --output text)
openssl ecparam -name prime256v1 -genkey -noout -out peer.pem
openssl pkey -in peer.pem -pubout -outform DER -out peer.der
kms derive-shared-secret --key-id "$AGREE" --key-agreement-algorithm ECDH --public-key fileb://peer.der \
  --query SharedSecret --output text | base64 -d > secret.kms
kms get-public-key --key-id "$AGREE" --query PublicKey --output text | base64 -d > agree.der
openssl pkeyutl -derive -inkey peer.pem -peerkey <(openssl pkey -pubin -inform DER -in agree.der) -out secret.local
cmp secret.kms secret.local || fail "derive-shared-secret"

# Life cycle: enable/disable, rotation, policies, grants, deletion
kms disable-key --key-id "$KEY2"
expect_error DisabledException kms encrypt --key-id "$KEY2" --plaintext fileb://plain.txt
kms enable-key --key-id "$KEY2"
kms enable-key-rotation --key-id "$KEY" --rotation-period-in-days 180
[[ $(kms get-key-rotation-status --key-id "$KEY" --query RotationPeriodInDays --output text) == 180 ]] || fail "rotation status"
kms rotate-key-on-demand --key-id "$KEY" > /dev/null
[[ $(kms list-key-rotations --key-id "$KEY" --query 'length(Rotations)' --output text) == 1 ]] || fail "list-key-rotations"
kms disable-key-rotation --key-id "$KEY"
kms decrypt --ciphertext-blob fileb://blob.bin --encryption-context order=17 --query Plaintext --output text > /dev/null
[[ $(kms list-key-policies --key-id "$KEY" --query 'PolicyNames[0]' --output text) == default ]] || fail "list-key-policies"
kms get-key-policy --key-id "$KEY" --policy-name default --query Policy --output text > policy.json
kms put-key-policy --key-id "$KEY" --policy-name default --policy file://policy.json
GRANT=$(kms create-grant --key-id "$KEY" --grantee-principal uid:4242 --retiring-principal uid:4242 --operations Encrypt Decrypt --query GrantId --output text)
[[ $(kms list-grants --key-id "$KEY" --query 'Grants[0].GrantId' --output text) == "$GRANT" ]] || fail "list-grants"
kms list-retirable-grants --retiring-principal uid:4242 --query 'Grants[].GrantId' --output text | grep -q "$GRANT"
kms retire-grant --key-id "$KEY" --grant-id "$GRANT"
GRANT2=$(kms create-grant --key-id "$KEY" --grantee-principal uid:4242 --operations Encrypt --query GrantId --output text)
kms revoke-grant --key-id "$KEY" --grant-id "$GRANT2"
kms schedule-key-deletion --key-id "$KEY2" --pending-window-in-days 7 --query KeyState --output text | grep -qx PendingDeletion
expect_error KMSInvalidStateException kms encrypt --key-id "$KEY2" --plaintext fileb://plain.txt
kms cancel-key-deletion --key-id "$KEY2" > /dev/null

# Imported key material
EXT=$(kms create-key --origin EXTERNAL --query KeyMetadata.KeyId --output text)
kms get-parameters-for-import --key-id "$EXT" --wrapping-algorithm RSAES_OAEP_SHA_256 --wrapping-key-spec RSA_2048 > params.json
python3 -c 'import json,base64,sys; p=json.load(open("params.json")); open("token.bin","wb").write(base64.b64decode(p["ImportToken"])); open("wrap.der","wb").write(base64.b64decode(p["PublicKey"]))'
openssl rand 32 > material.bin
openssl pkeyutl -encrypt -pubin -keyform DER -inkey wrap.der -in material.bin -out material.enc \
  -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
kms import-key-material --key-id "$EXT" --import-token fileb://token.bin --encrypted-key-material fileb://material.enc \
  --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE
[[ $(kms describe-key --key-id "$EXT" --query KeyMetadata.KeyState --output text) == Enabled ]] || fail "import"
kms delete-imported-key-material --key-id "$EXT"
[[ $(kms describe-key --key-id "$EXT" --query KeyMetadata.KeyState --output text) == PendingImport ]] || fail "delete import"

kms delete-alias --alias-name alias/cli-orders
expect_error NotFoundException kms describe-key --key-id alias/cli-orders
expect_error UnsupportedOperationException kms describe-custom-key-stores
echo "aws-cli: all checks passed"

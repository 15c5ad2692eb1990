#!/usr/bin/env bash
# Runs every test of the workspace: formatting and lints, unit tests, and the end-to-end tests
# that start real arcad processes. Installs what the tests need when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# A run from a clean checkout gains nothing from incremental compilation, whose caches are several
# times the size of the build itself.
export CARGO_INCREMENTAL=0

scripts/install-deps.sh
scripts/install-client-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The end-to-end tests run arcad, arcactl and libarca_pkcs11.so (a cdylib, which `--bins` would
# skip), so build the whole workspace first.
cargo build --workspace --locked
# The fuzz targets once over every committed input (every crash ever found is among them); see
# docs/fuzzing.md. Stable toolchain, reusing the build above: no nightly or cargo-fuzz needed.
scripts/fuzz.sh smoke
cargo test --workspace --locked
# The end-to-end suites once more with every `--dev` daemon's store in PostgreSQL, each in a
# database of a throw-away cluster the harness starts (tests/src/postgres.rs). Left out: suites of
# the embedded file itself (disk_full, key_residue, hardening, packaging, audit_rotation,
# connections), which have no PostgreSQL counterpart, and shared_store, which runs on it already.
postgres_suites=(
  access_keys administrators arcactl arcactl_asymmetric arcactl_governance arcactl_grants_import
  arcactl_operations arcactl_shares arcactl_token asymmetric audit audit_integrity aws_clients
  bad_input governance import import_key_pairs input_hygiene key_agreement key_tags kms_errors
  kms_round_trips lifecycle operations persistence pkcs11_clients pkcs11_conformance pkcs11_tool
  policy sealing stock_clients token_api token_limits token_so transport
)
ARCA_TEST_STORE=postgres cargo test -p arca-tests --locked "${postgres_suites[@]/#/--test=}"

#!/usr/bin/env bash
# Runs every test of the workspace: formatting and lints, unit tests, and the end-to-end tests
# that start real arcad processes. Installs what the tests need when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

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

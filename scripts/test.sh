#!/usr/bin/env bash
# Runs every test of the workspace: formatting and lints, unit tests, and the end-to-end tests
# that start real arcad processes. Installs what the tests need when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The end-to-end tests run the arcad and arcactl binaries, so build them first.
cargo build --workspace --bins --locked
cargo test --workspace --locked
